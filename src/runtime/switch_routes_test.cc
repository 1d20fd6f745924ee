#include "runtime/switch_routes.h"

#include <gtest/gtest.h>

#include <map>

namespace lockstep::runtime {
namespace {

class SwitchRule : public ::testing::Test {
 protected:
  void Add(RoutableInstance i) { instances_[i.id] = std::move(i); }
  RoutableInstance Healthy(const std::string& id, const std::string& service) {
    return {id, "prod", service, HealthState::kHealthy, "", false, "127.0.0.1", 9000, ""};
  }
  Result<std::shared_ptr<const RoutingTable>> Switch(const RoutingTable& current,
                                                     const RouteChanges& changes) {
    return NextRoutingTable(current, "prod", changes, [this](const std::string& id) {
      auto it = instances_.find(id);
      return it == instances_.end() ? nullptr : &it->second;
    });
  }
  std::map<std::string, RoutableInstance> instances_;
};

TEST_F(SwitchRule, RoutesEveryNamedServiceInOneTable) {
  Add(Healthy("a", "web"));
  Add(Healthy("b", "api"));
  auto next = Switch({}, {{"web", {"a", 8080}}, {"api", {"b", 8081}}});
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_EQ((*next)->RouteOf("prod", "web")->instance_id, "a");
  EXPECT_EQ((*next)->RouteOf("prod", "api")->port, 9000);
  EXPECT_EQ((*next)->PortOf("prod", "api"), 8081);
}

TEST_F(SwitchRule, ARetiringInstanceIsNeverRoutedEvenWhenHealthy) {
  RoutableInstance old = Healthy("a", "web");
  old.retiring = true;
  Add(old);
  auto next = Switch({}, {{"web", {"a", 8080}}});
  EXPECT_EQ(next.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(next.status().message().find("being retired"), std::string::npos);
}

TEST_F(SwitchRule, OneRefusalRefusesTheWholeSwitch) {
  Add(Healthy("a", "web"));
  RoutableInstance sick = Healthy("b", "api");
  sick.health = HealthState::kUnhealthy;
  sick.last_error = "/healthz answered 503";
  Add(sick);
  auto next = Switch({}, {{"web", {"a", 8080}}, {"api", {"b", 8081}}});
  EXPECT_EQ(next.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(next.status().ToString().find("503"), std::string::npos);
  EXPECT_EQ(Switch({}, {{"web", {"nope", 8080}}}).status().code(), Code::kNotFound);
  EXPECT_EQ(Switch({}, {{"api", {"a", 8080}}}).status().code(), Code::kInvalidArgument)
      << "an instance of another service";
}

TEST_F(SwitchRule, AServiceKeepsItsPortAndAPortServesOneService) {
  Add(Healthy("a", "web"));
  Add(Healthy("a2", "web"));
  Add(Healthy("b", "api"));
  EXPECT_EQ(Switch({}, {{"web", {"a", 0}}}).status().code(), Code::kInvalidArgument)
      << "the first route needs a public port";
  auto first = Switch({}, {{"web", {"a", 8080}}});
  ASSERT_TRUE(first.ok());
  auto second = Switch(**first, {{"web", {"a2", 0}}});
  ASSERT_TRUE(second.ok());
  EXPECT_EQ((*second)->PortOf("prod", "web"), 8080);
  EXPECT_EQ((*second)->RouteOf("prod", "web")->instance_id, "a2");
  EXPECT_EQ((*first)->RouteOf("prod", "web")->instance_id, "a") << "the current table is kept";
  EXPECT_EQ(Switch(**second, {{"api", {"b", 8080}}}).status().code(), Code::kFailedPrecondition);
}

TEST_F(SwitchRule, AnEmptyInstanceRemovesARouteAndFreesItsPortInTheSameSwitch) {
  Add(Healthy("a", "www"));
  Add(Healthy("b", "web"));
  auto first = Switch({}, {{"www", {"a", 8080}}});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  // "web" sorts before "www": the removal must be done first for the port to be free.
  auto next = Switch(**first, {{"web", {"b", 8080}}, {"www", {"", 0}}});
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_EQ((*next)->RouteOf("prod", "www"), nullptr);
  EXPECT_EQ((*next)->PortOf("prod", "web"), 8080);
  EXPECT_EQ((*next)->by_port.size(), 1u);
}

}  // namespace
}  // namespace lockstep::runtime
