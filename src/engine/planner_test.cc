// Plans from real sources: the example deploy repository committed to a bare remote and
// read through the mirror, a SQLite state store in a scratch directory, and FakeTarget.
#include "engine/planner.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "engine/example_repo.h"
#include "engine/saved_plan.h"
#include "os/process.h"
#include "os/testing/temp_dir.h"
#include "runtime/fake_target.h"

namespace lockstep::engine {
namespace {

namespace fs = std::filesystem;

using example::Sh;

class Planner : public ::testing::Test {
 protected:
  void SetUp() override {
    repo_ = std::make_unique<example::ExampleRepo>(dir_.path());
    bare_ = repo_->bare();
    work_ = repo_->work();
    mirror_ = &repo_->mirror();
    store_ = std::move(state::OpenSqliteStateStore((dir_.path() / "state.db").string(), &clock_))
                 .value();
  }

  std::string Commit(const std::string& message) { return repo_->Commit(message); }

  Plan MustPlan(const std::string& environment) {
    EXPECT_TRUE(mirror_->Fetch().ok());
    Result<PlanOrProblems> r =
        PlanEnvironment({mirror_, store_.get(), &target_, "127.0.0.1:5000"}, environment, "main");
    if (!r.ok()) {
      ADD_FAILURE() << "no plan: " << r.status().ToString();
      return {};
    }
    if (auto* problems = std::get_if<std::vector<deploy::Problem>>(&*r)) {
      ADD_FAILURE() << "no plan: " << (problems->empty() ? "" : problems->front().str());
      return {};
    }
    return std::get<Plan>(std::move(*r));
  }

  // Records `plan`'s releases as applied and runs its services on the target, as an apply
  // would (the apply itself comes with the engine's next part).
  void RecordAndRun(const Plan& plan) {
    auto tx = std::move(store_->Begin()).value();
    ASSERT_TRUE(tx->Environment(plan.environment).ok());  // an apply records it
    for (const auto& [service, s] : plan.desired) {
      std::string id = ReleaseId(s.release);
      ASSERT_TRUE(tx->PutRelease(id, ToJson(s.release)).ok());
      ASSERT_TRUE(
          tx->SetCurrent({plan.environment, service, id, s.version, DetailsJson(s), 1, 0}).ok());
      ASSERT_TRUE(target_.Prepare(s.release).ok());
      if (s.release.config.kind == ReleaseKind::kService) {
        std::string instance = target_.Start({plan.environment, service}, id).value();
        ASSERT_TRUE(
            target_.SwitchRoutes(plan.environment, {{service, {instance, s.public_port}}}).ok());
      }
    }
    ASSERT_TRUE(tx->BumpSerial(plan.environment, plan.commit).ok());
    ASSERT_TRUE(tx->Commit().ok());
  }

  os::testing::TempDir dir_;
  std::unique_ptr<example::ExampleRepo> repo_;
  fs::path bare_, work_;
  os::FakeClock clock_;
  runtime::FakeTarget target_;
  git::Mirror* mirror_ = nullptr;
  std::unique_ptr<state::StateStore> store_;
};

TEST_F(Planner, AFreshEnvironmentAddsEveryServiceItsFilesName) {
  Plan p = MustPlan("dev");
  EXPECT_EQ(p.commit, Sh("git -C '" + work_.string() + "' rev-parse HEAD"));
  EXPECT_EQ(p.serial, 0);
  EXPECT_EQ(p.lineage, "") << "not recorded yet: a plan writes nothing";
  ASSERT_EQ(p.services.size(), 2u);
  for (const ServicePlan& s : p.services) EXPECT_EQ(s.action, Action::kAdd) << s.service;
  EXPECT_EQ(p.desired.at("web").release.image.str(),
            "127.0.0.1:5000/example/web:1.0.0@sha256:"
            "6b1b3f2a7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7081");
  EXPECT_TRUE(store_->Environments()->empty()) << "a plan writes nothing";
  RecordAndRun(p);
  std::string lineage = MustPlan("dev").lineage;
  EXPECT_EQ(lineage.size(), 32u);
  EXPECT_EQ(MustPlan("dev").lineage, lineage) << "the lineage is set once";
}

TEST_F(Planner, AppliedAndRunningIsNoChangeAndANewPinIsOne) {
  RecordAndRun(MustPlan("dev"));
  Plan same = MustPlan("dev");
  EXPECT_FALSE(same.HasChanges()) << PlanText(same, false);
  EXPECT_FALSE(same.HasDrift()) << PlanText(same, false);
  EXPECT_EQ(same.serial, 1);

  std::ofstream(work_ / "environments" / "dev" / "web.toml")
      << "version = \"1.1.0\"\ndigest = \"sha256:" << std::string(64, 'c')
      << "\"\n[service]\nport = 8081\n";
  std::string commit = Commit("web 1.1.0 in dev");
  Plan next = MustPlan("dev");
  EXPECT_EQ(next.commit, commit);
  ASSERT_TRUE(next.HasChanges());
  const ServicePlan& web = next.services[1];
  ASSERT_EQ(web.service, "web");
  EXPECT_EQ(web.action, Action::kChange);
  EXPECT_EQ(web.from_version, "1.0.0");
  EXPECT_EQ(web.to_version, "1.1.0");
  EXPECT_EQ(web.to_digest, "sha256:" + std::string(64, 'c'));
  EXPECT_EQ(web.changes, (std::vector<KeyChange>{{"env.LOG_LEVEL", "debug", "info"}}))
      << "dev's own LOG_LEVEL went with the rewritten file";
  EXPECT_FALSE(MustPlan("staging").services.empty());
}

TEST_F(Planner, AHeldServiceKeepsWhatItRunsAndThePlanShowsWhatGitWouldChange) {
  RecordAndRun(MustPlan("dev"));
  {
    auto tx = std::move(store_->Begin()).value();
    ASSERT_TRUE(tx->SetHold({"dev", "web", "ann", "1.0.0 is the good one", 7, 0}).ok());
    ASSERT_TRUE(tx->Commit().ok());
  }
  std::ofstream(work_ / "environments" / "dev" / "web.toml")
      << "version = \"1.1.0\"\ndigest = \"sha256:" << std::string(64, 'c')
      << "\"\n[service]\nport = 8081\n";
  Commit("web 1.1.0 in dev");
  Plan plan = MustPlan("dev");
  EXPECT_FALSE(plan.HasChanges()) << PlanText(plan, false);
  EXPECT_EQ(plan.desired.at("web").version, "1.0.0") << "what is applied is what runs";
  ASSERT_EQ(plan.held.size(), 1u);
  EXPECT_EQ(plan.held[0].wanted.service, "web");
  EXPECT_EQ(plan.held[0].wanted.to_version, "1.1.0");
  EXPECT_EQ(plan.held[0].by, "ann");
  std::string text = PlanText(plan, false);
  EXPECT_NE(text.find("= web: held by ann (1.0.0 is the good one); git would move it"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("lockstep hold release dev web"), std::string::npos) << text;
  EXPECT_NE(PlanJson(plan, "p").find("\"held\":[{\"service\":\"web\""), std::string::npos);

  // Saved and read back, the plan still holds it.
  Result<Plan> back = FromPlanRecord(ToPlanRecord(plan, "ann"));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  ASSERT_EQ(back->held.size(), 1u);
  EXPECT_EQ(back->held[0].wanted.to_version, "1.1.0");
  EXPECT_EQ(back->kind, "apply");

  {
    auto tx = std::move(store_->Begin()).value();
    ASSERT_TRUE(tx->RemoveHold("dev", "web").ok());
    ASSERT_TRUE(tx->Commit().ok());
  }
  Plan released = MustPlan("dev");
  EXPECT_TRUE(released.HasChanges());
  EXPECT_TRUE(released.held.empty());
  EXPECT_EQ(released.desired.at("web").version, "1.1.0");
}

TEST_F(Planner, WhatRunsOtherwiseIsDrift) {
  Plan p = MustPlan("dev");
  RecordAndRun(p);
  // Someone routes another release of web by hand.
  deploy::DeployedService other = p.desired.at("web");
  other.release.config.env["HOTFIX"] = "1";
  std::string id = target_.Prepare(other.release)->release_id;
  std::string instance = target_.Start({"dev", "web"}, id).value();
  ASSERT_TRUE(target_.SwitchRoutes("dev", {{"web", {instance, 0}}}).ok());
  Plan drifted = MustPlan("dev");
  EXPECT_FALSE(drifted.HasChanges());
  ASSERT_TRUE(drifted.HasDrift());
  EXPECT_NE(PlanText(drifted, false)
                .find("! web: drifted: instance " + instance + " runs release " + id +
                      ", not the recorded"),
            std::string::npos)
      << PlanText(drifted, false);
}

TEST_F(Planner, ARepositoryWithProblemsHasNoPlanButItsProblems) {
  fs::create_symlink("/etc/passwd", work_ / "services" / "passwd.toml");
  std::ofstream(work_ / "environments" / "prod" / "web.toml", std::ios::app) << "replicas = 3\n";
  Commit("broken");
  ASSERT_TRUE(mirror_->Fetch().ok());
  Result<PlanOrProblems> r =
      PlanEnvironment({mirror_, store_.get(), &target_, "127.0.0.1:5000"}, "prod", "main");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_TRUE(std::holds_alternative<std::vector<deploy::Problem>>(*r));
  std::vector<std::string> messages;
  for (const deploy::Problem& problem : std::get<1>(*r)) messages.push_back(problem.str());
  ASSERT_EQ(messages.size(), 2u) << ::testing::PrintToString(messages);
  EXPECT_EQ(messages[0],
            "services/passwd.toml: is a symbolic link: a deploy repository holds lockstep.toml, "
            "services/*.toml and environments/*/*.toml, plain files of at most 1.0 MiB each");
  EXPECT_NE(messages[1].find("environments/prod/web.toml:"), std::string::npos);
  EXPECT_NE(messages[1].find("unknown key \"replicas\""), std::string::npos);
}

TEST_F(Planner, AnEnvironmentTheRepositoryLacksIsNamedWithThoseItHas) {
  ASSERT_TRUE(mirror_->Fetch().ok());
  Result<PlanOrProblems> r =
      PlanEnvironment({mirror_, store_.get(), &target_, "127.0.0.1:5000"}, "qa", "main");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_NE(r.status().message().find("has no environment qa (it has dev, staging, prod)"),
            std::string::npos)
      << r.status().message();
  EXPECT_TRUE(store_->Environments()->empty()) << "nothing was recorded for it";
}

}  // namespace
}  // namespace lockstep::engine
