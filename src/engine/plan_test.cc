#include "engine/plan.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace lockstep::engine {
namespace {

const std::string kOld = "sha256:" + std::string(64, 'a');
const std::string kNew = "sha256:" + std::string(64, 'b');
const std::string kCommit = "0123456789abcdef0123456789abcdef01234567";

// The deploy repository of a small shop, pinning web at `digest` with `extra` lines in prod's
// file.
std::map<std::string, deploy::DeployedService> Desired(const std::string& digest,
                                                       const std::string& extra = "") {
  deploy::RepoFiles files = {
      {"lockstep.toml", "[[environment]]\nname = \"prod\"\nvolumes = [\"uploads\"]\n"},
      {"services/web.toml",
       "kind = \"service\"\nimage = \"shop/web\"\n[env]\nLOG_LEVEL = \"info\"\n"
       "[limits]\nmemory = \"64Mi\"\n"},
      {"services/nightly.toml", "kind = \"function\"\nimage = \"shop/nightly\"\n"},
      {"environments/prod/web.toml",
       "version = \"1.0.0\"\ndigest = \"" + digest + "\"\n" + extra + "\n[service]\nport = 8080\n"},
      {"environments/prod/nightly.toml", "version = \"2.0.0\"\ndigest = \"" + kOld + "\"\n"},
  };
  deploy::ReadResult r = deploy::ReadRepo(files, "127.0.0.1:5000");
  EXPECT_TRUE(r.problems.empty()) << (r.problems.empty() ? "" : r.problems[0].str());
  return r.repo.deployed["prod"];
}

Plan PlanOf(const std::map<std::string, deploy::DeployedService>& desired,
            const std::map<std::string, deploy::DeployedService>& recorded,
            const std::vector<runtime::ObservedInstance>& observed = {}) {
  return MakePlan("prod", kCommit, "lineage-1", 7, desired, recorded, observed);
}

const ServicePlan& Of(const Plan& p, const std::string& service) {
  for (const ServicePlan& s : p.services) {
    if (s.service == service) return s;
  }
  throw std::runtime_error("no " + service + " in the plan");
}

TEST(Plan, NothingRecordedAddsEveryService) {
  Plan p = PlanOf(Desired(kOld), {});
  EXPECT_TRUE(p.HasChanges());
  EXPECT_EQ(Of(p, "web").action, Action::kAdd);
  EXPECT_EQ(Of(p, "web").to_digest, kOld);
  EXPECT_EQ(Of(p, "nightly").action, Action::kAdd);
  EXPECT_EQ(p.lineage, "lineage-1");
  EXPECT_EQ(p.serial, 7);
}

TEST(Plan, WhatIsRecordedAlreadyIsNoChange) {
  Plan p = PlanOf(Desired(kOld), Desired(kOld));
  EXPECT_FALSE(p.HasChanges());
  EXPECT_EQ(Of(p, "web").action, Action::kNone);
  EXPECT_NE(PlanText(p, false).find("prod at 0123456789ab: no changes"), std::string::npos);
}

TEST(Plan, ANewDigestIsAnArtifactChangeWithNoConfigChange) {
  Plan p = PlanOf(Desired(kNew), Desired(kOld));
  const ServicePlan& web = Of(p, "web");
  EXPECT_EQ(web.action, Action::kChange);
  EXPECT_EQ(web.from_digest, kOld);
  EXPECT_EQ(web.to_digest, kNew);
  EXPECT_TRUE(web.changes.empty());
  EXPECT_NE(web.from_release, web.to_release);
  EXPECT_EQ(Of(p, "nightly").action, Action::kNone);
}

TEST(Plan, EachConfigKeyThatChangedIsNamedWithBothValues) {
  Plan p = PlanOf(Desired(kOld,
                          "[env]\nLOG_LEVEL = \"debug\"\nNEW = \"1\"\n[limits]\nmemory = \"1Gi\"\n"
                          "[grants]\nvolumes = { uploads = \"rw\" }\nnetwork = \"host\""),
                  Desired(kOld));
  const ServicePlan& web = Of(p, "web");
  EXPECT_EQ(web.action, Action::kChange);
  EXPECT_EQ(web.changes, (std::vector<KeyChange>{
                             {"env.LOG_LEVEL", "info", "debug"},
                             {"env.NEW", "", "1"},
                             {"grants.network", "none", "host"},
                             {"grants.volumes.uploads", "", "rw"},
                             {"limits.memory", "64Mi", "1Gi"},
                         }));
  std::string text = PlanText(p, false);
  EXPECT_NE(text.find("~ web (service)\n    env.LOG_LEVEL: info → debug\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("    env.NEW: (unset) → 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("prod at 0123456789ab: 0 to add, 1 to change, 0 to remove"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("\x1b["), std::string::npos) << "no colour unless asked";
  EXPECT_NE(PlanText(p, true).find("\x1b[33m~ web\x1b[0m"), std::string::npos);
}

TEST(Plan, AServiceNoLongerInTheRepositoryIsRemoved) {
  auto desired = Desired(kOld);
  desired.erase("nightly");
  Plan p = PlanOf(desired, Desired(kOld));
  EXPECT_EQ(Of(p, "nightly").action, Action::kRemove);
  EXPECT_EQ(Of(p, "nightly").from_version, "2.0.0");
  EXPECT_TRUE(Of(p, "nightly").to_release.empty());
  EXPECT_NE(PlanText(p, false).find("- nightly (function): 2.0.0 (sha256:aaaaaaaaaaaa) is removed"),
            std::string::npos)
      << PlanText(p, false);
}

TEST(Plan, WhatRunsIsComparedWithTheRecord) {
  auto recorded = Desired(kOld);
  std::string id = ReleaseId(recorded.at("web").release);
  runtime::ObservedInstance ok{.instance_id = "i1",
                               .environment = "prod",
                               .service = "web",
                               .release_id = id,
                               .status = "running",
                               .health = runtime::HealthState::kHealthy,
                               .routed = true};
  EXPECT_FALSE(PlanOf(recorded, recorded, {ok}).HasDrift());
  EXPECT_EQ(Of(PlanOf(recorded, recorded, {}), "web").drift, "no instance of it is routed");
  runtime::ObservedInstance other = ok;
  other.release_id = "r999";
  Plan p = PlanOf(recorded, recorded, {other});
  EXPECT_TRUE(p.HasDrift());
  EXPECT_FALSE(p.HasChanges()) << "drift alone is no change of the repository";
  EXPECT_EQ(Of(p, "web").drift, "instance i1 runs release r999, not the recorded " + id);
  runtime::ObservedInstance sick = ok;
  sick.health = runtime::HealthState::kUnhealthy;
  EXPECT_EQ(Of(PlanOf(recorded, recorded, {sick}), "web").drift,
            "instance i1 fails its health check");
  EXPECT_TRUE(Of(p, "nightly").drift.empty()) << "functions have no instance to drift";
}

TEST(Plan, AnAddedServiceHasNoFromSideInJson) {
  boost::json::object o = boost::json::parse(PlanJson(PlanOf(Desired(kOld), {}), "p")).as_object();
  const boost::json::object& web = o.at("services").as_array()[1].as_object();
  EXPECT_EQ(web.at("action").as_string(), "add");
  EXPECT_TRUE(web.at("from").is_null());
  EXPECT_EQ(web.at("to").at("version").as_string(), "1.0.0");
}

TEST(Plan, WhatTheReleaseIdLeavesOutStillCounts) {
  // The release id names the artifact and its config, not where the image is fetched from:
  // two releases with one id can still differ, and the plan compares values, not ids.
  auto desired = Desired(kOld);
  desired.at("web").release.image.registry = "mirror.example:5000";
  Plan p = PlanOf(desired, Desired(kOld));
  ASSERT_EQ(Of(p, "web").from_release, Of(p, "web").to_release);
  EXPECT_EQ(Of(p, "web").action, Action::kChange);
  EXPECT_EQ(Of(p, "web").changes, (std::vector<KeyChange>{{"image", "127.0.0.1:5000/shop/web",
                                                           "mirror.example:5000/shop/web"}}));
}

TEST(Plan, ARoutedInstanceOfAServiceNobodyRecordedIsDrift) {
  runtime::ObservedInstance stray{.instance_id = "i9",
                                  .environment = "prod",
                                  .service = "shadow",
                                  .release_id = "r1",
                                  .status = "running",
                                  .routed = true};
  Plan p = PlanOf(Desired(kOld), Desired(kOld), {stray});
  EXPECT_TRUE(p.HasDrift());
  EXPECT_FALSE(p.HasChanges());
  EXPECT_EQ(Of(p, "shadow").drift,
            "instance i9 is routed, though the service is neither recorded nor in the repository");
}

TEST(Plan, TheJsonFormNamesEverySideAndChange) {
  Plan p = PlanOf(Desired(kNew, "[env]\nLOG_LEVEL = \"debug\""), Desired(kOld));
  boost::json::object o = boost::json::parse(PlanJson(p, "p-1")).as_object();
  EXPECT_EQ(o.at("format").as_int64(), 1);
  EXPECT_EQ(o.at("commit").as_string(), kCommit);
  EXPECT_EQ(o.at("lineage").as_string(), "lineage-1");
  EXPECT_EQ(o.at("plan_id").as_string(), "p-1");
  EXPECT_EQ(o.at("serial").as_int64(), 7);
  EXPECT_TRUE(o.at("changes").as_bool());
  const boost::json::array& services = o.at("services").as_array();
  ASSERT_EQ(services.size(), 2u);
  const boost::json::object& web = services[1].as_object();  // sorted: nightly, web
  EXPECT_EQ(web.at("service").as_string(), "web");
  EXPECT_EQ(web.at("kind").as_string(), "service");
  EXPECT_EQ(web.at("action").as_string(), "change");
  EXPECT_EQ(web.at("from").at("digest").as_string(), kOld);
  EXPECT_EQ(web.at("to").at("digest").as_string(), kNew);
  EXPECT_EQ(web.at("changes").as_array()[0].at("key").as_string(), "env.LOG_LEVEL");
  EXPECT_EQ(web.at("drift").as_string(), "no instance of it is routed") << "nothing observed";
  EXPECT_TRUE(services[0].at("drift").is_null()) << "a function has no instance to drift";
  EXPECT_TRUE(o.at("drift").as_bool());
}

TEST(Plan, ARecordReadBackIsTheServiceItWas) {
  for (const auto& [name, s] : Desired(kOld, "[env]\nX = \"1\"")) {
    Result<deploy::DeployedService> back =
        FromRecord(name, s.version, ToJson(s.release), DetailsJson(s));
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(ConfigKeys(*back), ConfigKeys(s)) << name;
    EXPECT_EQ(ReleaseId(back->release), ReleaseId(s.release)) << name;
  }
  EXPECT_FALSE(FromRecord("web", "1", "{", "{}").ok());
  std::string web = ToJson(Desired(kOld).at("web").release);
  for (const char* hostile : {"{}", "{\"public_port\":70000,\"drain_ms\":0,\"schedule\":\"\"}",
                              "{\"public_port\":0,\"drain_ms\":0,\"schedule\":\"\"}",
                              "{\"public_port\":8080,\"drain_ms\":-1,\"schedule\":\"\"}",
                              "{\"public_port\":8080,\"drain_ms\":1e3,\"schedule\":\"\"}",
                              "{\"public_port\":8080,\"drain_ms\":0,\"schedule\":7}"}) {
    EXPECT_FALSE(FromRecord("web", "1", web, hostile).ok()) << hostile;
  }
  EXPECT_FALSE(FromRecord("web", "1", ToJson(Desired(kOld).at("web").release), "[").ok());
}

}  // namespace
}  // namespace lockstep::engine

namespace lockstep::engine {
namespace {

TEST(PlanTighten, TheBranchsHeadAsksAtLeastWhatThePlansCommitAsked) {
  deploy::Environment head{.name = "prod", .promote_from = "staging"};
  head.approval = deploy::Approval::kRequired;
  head.approvals = 2;
  head.soak_seconds = 600;
  Plan old;  // planned at a commit from before prod's policy
  old.Tighten(head);
  EXPECT_TRUE(old.approval_required);
  EXPECT_EQ(old.approvals_needed, 2);
  EXPECT_EQ(old.promote_from, "staging");
  EXPECT_EQ(old.soak_seconds, 600);
  Plan stricter;
  stricter.approval_required = true;
  stricter.approvals_needed = 3;
  stricter.soak_seconds = 900;
  stricter.Tighten(head);
  EXPECT_EQ(stricter.approvals_needed, 3) << "never loosened";
  EXPECT_EQ(stricter.soak_seconds, 900);
  Plan rollback;
  rollback.kind = "rollback";
  rollback.Tighten(head);
  EXPECT_FALSE(rollback.approval_required) << "a rollback puts back what ran: no approval";
}

}  // namespace
}  // namespace lockstep::engine
