#include "runtime/fake_target.h"

#include <gtest/gtest.h>

namespace lockstep::runtime {
namespace {

Release Service(const std::string& version) {
  Release r;
  r.image = ImageRef::Parse("registry.local/apps/web@sha256:" + std::string(64, 'a'), "").value();
  r.config.kind = ReleaseKind::kService;
  r.config.env = {{"VERSION", version}};
  return r;
}

TEST(FakeTarget, KeepsTheRulesOfARealTarget) {
  Router router;
  FakeTarget target(&router);
  std::string v1 = target.Prepare(Service("1"))->release_id;
  EXPECT_TRUE(target.Prepare(Service("1"))->already_prepared);
  std::string a = *target.Start({"prod", "web"}, v1);
  ASSERT_TRUE(target.SwitchRoutes("prod", {{"web", {a, 8080}}}).ok());
  EXPECT_EQ(router.Current()->RouteOf("prod", "web")->instance_id, a);
  EXPECT_EQ(target.Retire(a, {}).code(), Code::kFailedPrecondition) << "a routed instance";

  target.SetHealthOnStart(HealthState::kStarting);
  std::string b = *target.Start({"prod", "web"}, target.Prepare(Service("2"))->release_id);
  EXPECT_EQ(target.SwitchRoutes("prod", {{"web", {b, 0}}}).code(), Code::kFailedPrecondition);
  target.SetHealth(b, HealthState::kHealthy);
  ASSERT_TRUE(target.SwitchRoutes("prod", {{"web", {b, 0}}}).ok());
  EXPECT_EQ(router.Current()->PortOf("prod", "web"), 8080);
  EXPECT_TRUE(target.Retire(a, {}).ok());
  EXPECT_EQ(target.Observe("prod")->size(), 1u);
  EXPECT_EQ(target.Calls().back(), "retire " + a);
}

TEST(FakeTarget, InjectedFailuresHappenOnceAndChangeNothing) {
  FakeTarget target;
  std::string v1 = target.Prepare(Service("1"))->release_id;
  std::string a = *target.Start({"prod", "web"}, v1);
  target.FailNext(FakeTarget::Step::kSwitch, Unavailable("injected"));
  EXPECT_EQ(target.SwitchRoutes("prod", {{"web", {a, 8080}}}).code(), Code::kUnavailable);
  EXPECT_FALSE(target.Observe("prod")->front().routed);
  EXPECT_TRUE(target.SwitchRoutes("prod", {{"web", {a, 8080}}}).ok());
  EXPECT_TRUE(target.Observe("prod")->front().routed);
}

TEST(FakeTarget, AnInstanceWhoseRetireFailedIsNeverRoutedAgain) {
  FakeTarget target;
  std::string a = *target.Start({"prod", "web"}, target.Prepare(Service("1"))->release_id);
  target.FailNext(FakeTarget::Step::kRetire, Unavailable("injected"));
  EXPECT_EQ(target.Retire(a, {}).code(), Code::kUnavailable);
  EXPECT_EQ(target.SwitchRoutes("prod", {{"web", {a, 8080}}}).code(), Code::kFailedPrecondition);
  EXPECT_TRUE(target.Retire(a, {}).ok()) << "the retirement can be finished";

  std::string b = *target.Start({"prod", "web"}, target.Prepare(Service("2"))->release_id);
  ASSERT_TRUE(target.SwitchRoutes("prod", {{"web", {b, 8080}}}).ok());
  target.FailNext(FakeTarget::Step::kRetire, Unavailable("injected"));
  EXPECT_EQ(target.Retire(b, {}).code(), Code::kFailedPrecondition) << "a routed instance";
  EXPECT_EQ(target.Retire("nope", {}).code(), Code::kNotFound) << "the failure was used up once";
}

TEST(FakeTarget, InvokesFunctionsWithScriptedResults) {
  FakeTarget target;
  Release fn = Service("1");
  fn.config.kind = ReleaseKind::kFunction;
  std::string id = target.Prepare(fn)->release_id;
  EXPECT_EQ(target.Invoke({"prod", "fn"}, id, {.event = "ping"})->output, "ping");
  target.OnInvoke([](const Release&, const InvokeRequest&) {
    return Invocation{.exit_code = 137, .out_of_memory = true};
  });
  Result<Invocation> oom = target.Invoke({"prod", "fn"}, id, {});
  EXPECT_EQ(oom->exit_code, 137);
  EXPECT_TRUE(oom->out_of_memory);
  EXPECT_EQ(target.Start({"prod", "fn"}, id).status().code(), Code::kFailedPrecondition);
}

}  // namespace
}  // namespace lockstep::runtime
