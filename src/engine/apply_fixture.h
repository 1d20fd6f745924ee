// What the engine's unit tests of applies share: a SQLite store in a scratch directory,
// FakeTarget, and prod's desired state built from repository files. (Test-only.)
#pragma once

#include <gtest/gtest.h>

#include "engine/engine.h"
#include "engine/saved_plan.h"
#include "os/testing/temp_dir.h"
#include "runtime/fake_target.h"

namespace lockstep::engine::fixture {

inline const std::string kCommit = "0123456789abcdef0123456789abcdef01234567";

inline std::string Digest(char c) { return "sha256:" + std::string(64, c); }

// prod runs web and api (services) and nightly (a function), pinned to these digests; a
// digest of 0 leaves the service out. `api_extra` is added to prod's api file.
inline std::map<std::string, deploy::DeployedService> Desired(char web, char api, char nightly,
                                                              const std::string& api_extra = "") {
  deploy::RepoFiles files = {
      {"lockstep.toml", "[[environment]]\nname = \"prod\"\n"},
  };
  auto pin = [&](const std::string& service, char digest, const std::string& more) {
    if (digest == 0) return;
    files["services/" + service + ".toml"] = std::string("kind = \"") +
                                             (service == "nightly" ? "function" : "service") +
                                             "\"\nimage = \"shop/" + service + "\"\n";
    files["environments/prod/" + service + ".toml"] = "version = \"1." + std::string(1, digest) +
                                                      "\"\ndigest = \"" + Digest(digest) + "\"\n" +
                                                      more;
  };
  pin("web", web, "[service]\nport = 8080\n");
  pin("api", api, api_extra + "\n[service]\nport = 8081\n");
  pin("nightly", nightly, "");
  deploy::ReadResult r = deploy::ReadRepo(files, "127.0.0.1:5000");
  EXPECT_TRUE(r.problems.empty()) << (r.problems.empty() ? "" : r.problems[0].str());
  return r.repo.deployed["prod"];
}

class ApplyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(state::OpenSqliteStateStore((dir_.path() / "engine.db").string(), &clock_))
                 .value();
    engine_ = std::make_unique<Engine>(
        PlanSources{nullptr, store_.get(), &target_, "127.0.0.1:5000"}, clock_,
        ApplyOptions{.health_timeout = std::chrono::seconds(5),
                     .approval_max_age = std::chrono::hours(1)});
  }

  // Plans prod to run `desired` and saves the plan, made by alice; `approvals` > 0: prod
  // requires that many.
  std::string Save(const std::map<std::string, deploy::DeployedService>& desired,
                   int64_t rollback_window = 0, int approvals = 0) {
    Result<Plan> plan = PlanDesired(*store_, target_, "prod", kCommit, desired);
    EXPECT_TRUE(plan.ok()) << plan.status().ToString();
    if (plan.ok()) {
      plan->rollback_window_seconds = rollback_window;
      plan->approval_required = approvals > 0;
      plan->approvals_needed = approvals;
    }
    auto tx = std::move(store_->Begin()).value();
    std::string id = std::move(tx->PutPlan(ToPlanRecord(*plan, "alice"))).value();
    EXPECT_TRUE(tx->Commit().ok());
    return id;
  }

  // Applies a saved plan to its end; the deployment as recorded.
  state::DeploymentRecord ApplyPlan(const std::string& plan_id) {
    Result<int64_t> id = engine_->StartApply(plan_id, {"alice", "test"});
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    if (!id.ok()) return {};
    engine_->Wait(*id);
    auto tx = std::move(store_->Begin()).value();
    return std::move(tx->Deployment(*id)).value();
  }

  std::map<std::string, state::CurrentRecord> Current() {
    auto tx = std::move(store_->Begin()).value();
    return std::move(tx->Current("prod")).value();
  }
  int64_t Serial() {
    auto tx = std::move(store_->Begin()).value();
    auto env = std::move(tx->FindEnvironment("prod")).value();
    return env ? env->serial : -1;
  }
  std::vector<std::string> Steps(int64_t deployment) {
    std::vector<std::string> out;
    std::vector<state::JournalEntry> journal = std::move(store_->Journal(deployment, 0)).value();
    for (const state::JournalEntry& e : journal) {
      out.push_back(e.step + (e.service.empty() ? "" : " " + e.service));
    }
    return out;
  }
  std::vector<std::string> SwitchCalls() {
    std::vector<std::string> out;
    for (const std::string& c : target_.Calls()) {
      if (c.starts_with("switch ")) out.push_back(c);
    }
    return out;
  }
  std::string RoutedInstance(const std::string& service) {
    std::vector<runtime::ObservedInstance> observed = std::move(target_.Observe("prod")).value();
    for (const runtime::ObservedInstance& o : observed) {
      if (o.service == service && o.routed) return o.instance_id;
    }
    return "";
  }
  bool Locked() {
    std::optional<state::Lease> lease = std::move(store_->LeaseOf("prod")).value();
    return lease.has_value();
  }
  size_t InstanceCount() { return std::move(target_.Observe("prod")).value().size(); }

  os::testing::TempDir dir_;
  os::FakeClock clock_;
  runtime::FakeTarget target_;
  std::unique_ptr<state::StateStore> store_;
  std::unique_ptr<Engine> engine_;
};

}  // namespace lockstep::engine::fixture
