// The plan-and-apply workflow through the CLI, end to end on real runc: plans of every
// kind of change in text and JSON with their exit codes, saved plans written to a file and
// applied from it at an exact commit, stale plans refused, environments that need approval
// refusing `apply ENV`, a one-step apply refused while the remote cannot be fetched, another
// environment applied while one is locked, and a lock ended by `unlock` while an apply holds it
// (audited).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <map>

#include "tests/support/deploy_repo.h"
#include "tests/support/http.h"
#include "tests/support/images.h"
#include "tests/support/lockstep_server.h"
#include "tests/support/peer_registry.h"
#include "tests/support/runtime_fixture.h"

namespace lockstep::testing {
namespace {

namespace fs = std::filesystem;
namespace bj = boost::json;
using namespace std::chrono_literals;

// busybox httpd answering "$VERSION" at /, and at /health unless HEALTHY is "no".
constexpr const char* kWeb = R"(kind = "service"
image = "apps/web"
entrypoint = ["/bin/sh", "-c", '''mkdir -p /tmp/www && echo "$VERSION" > /tmp/www/index.html && { [ "$HEALTHY" = no ] || echo ok > /tmp/www/health; } && exec /bin/busybox httpd -f -p 127.0.0.1:$PORT -h /tmp/www''']
[env]
VERSION = "one"
HEALTHY = "yes"
[service]
drain = "1s"
health = { path = "/health", interval = "100ms", timeout = "500ms" }
)";

class EngineWorkflow : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "the local runtime needs root";
    repo_ = std::make_unique<DeployRepoDirs>(scratch_.path());
    server_ = std::make_unique<LockstepServer>(
        ServerOptions{.config_toml = "[deploy]\nrepo = \"" + repo_->bare().string() +
                                     "\"\nhealth_timeout = \"30s\"\nfetch_interval = \"1h\"\n"});
    MakeBusyboxTree(scratch_.path() / "tree");
    v1_ = Pack("1.0.0");
    WriteFile(scratch_.path() / "tree" / "etc" / "release", "2\n");
    v2_ = Pack("2.0.0");
    ASSERT_NE(v1_, v2_);
    port_ = FreePort();
    repo_->Write("lockstep.toml", R"(registry = "embedded"
[[environment]]
name = "dev"
volumes = ["uploads"]

[[environment]]
name = "prod"
promote_from = "dev"
approval = "required"
approvals = 2
)");
    repo_->Write("services/web.toml", kWeb);
    Pin("dev", "web", v1_, "1.0.0", "[service]\nport = " + std::to_string(port_) + "\n");
  }

  void TearDown() override {
    if (server_ == nullptr) return;
    server_->Kill9();
    RemoveLocalRuntime(server_->data_dir() / "runtime");
    server_.reset();
  }

  std::string Pack(const std::string& version) {
    RunResult pack = Lockstep({"pack", (scratch_.path() / "tree").string(), "--repo",
                               server_->host() + "/apps/web", "--version", version, "--push",
                               "--insecure", "--quiet"});
    EXPECT_EQ(pack.exit_code, 0) << pack.Describe();
    return pack.OutLine();
  }

  void Pin(const std::string& env, const std::string& service, const std::string& digest,
           const std::string& version, const std::string& more = "") {
    repo_->Write("environments/" + env + "/" + service + ".toml",
                 "version = \"" + version + "\"\ndigest = \"" + digest + "\"\n" + more);
  }

  RunResult Cli(std::vector<std::string> args) {
    args.push_back("--server");
    args.push_back(server_->url(""));
    return Lockstep(args);
  }

  // The same with the token named `name` (made on first use, holding `grants`).
  RunResult CliAs(const std::string& name, std::vector<std::string> args,
                  const std::string& grants = "approver:prod") {
    if (!tokens_.contains(name)) tokens_[name] = server_->CreateToken(grants, name);
    args.push_back("--server");
    args.push_back(server_->url(""));
    return Lockstep(args, {"LOCKSTEP_TOKEN=" + tokens_[name]});
  }

  // Waits (at most 30 s) for the server to attest that `digest` soaked in dev: what an
  // apply of prod, which promotes from dev, needs of each digest it brings.
  void AwaitSoakInDev(const std::string& digest) {
    bj::value found;
    ASSERT_TRUE(WaitFor(
        [&] {
          found = Json(Cli({"attestations", "web", digest, "--output", "json"}));
          for (const bj::value& a : found.at("attestations").as_array()) {
            if (a.at("kind").as_string() == "soak" && a.at("environment").as_string() == "dev") {
              return true;
            }
          }
          return false;
        },
        30s))
        << found << server_->Logs();
  }

  // Prod's two approvals of `plan_id`, by bob and carol.
  void ApproveTwice(const std::string& plan_id) {
    for (const char* approver : {"bob", "carol"}) {
      RunResult approved = CliAs(approver, {"approve", plan_id});
      ASSERT_EQ(approved.exit_code, 0) << approved.Describe();
    }
  }

  std::string Through() { return Get("http://127.0.0.1:" + std::to_string(port_) + "/").body; }

  bj::value Json(const RunResult& r) {
    bj::error_code ec;
    bj::value v = bj::parse(r.out, ec);
    EXPECT_FALSE(ec) << r.Describe();
    return v;
  }

  // The plan's entry of `service`.
  static const bj::value* ServiceOf(const bj::value& plan, const std::string& service) {
    for (const bj::value& s : plan.at("services").as_array()) {
      if (s.at("service").as_string() == service) return &s;
    }
    return nullptr;
  }

  // The plan's change of `key` for `service`, as "from -> to".
  static std::string KeyChange(const bj::value& plan, const std::string& service,
                               const std::string& key) {
    const bj::value* s = ServiceOf(plan, service);
    if (s == nullptr) return "(no " + service + ")";
    for (const bj::value& c : s->at("changes").as_array()) {
      if (c.at("key").as_string() == key) {
        return std::string(c.at("from").as_string()) + " -> " + std::string(c.at("to").as_string());
      }
    }
    return "(no change of " + key + ")";
  }

  ScratchDir scratch_;
  std::unique_ptr<DeployRepoDirs> repo_;
  std::unique_ptr<LockstepServer> server_;
  std::string v1_, v2_;
  std::map<std::string, std::string> tokens_;  // by name
  uint16_t port_ = 0;
};

TEST_F(EngineWorkflow, APlanOfEveryKindOfChangeInTextAndJsonWithItsExitCode) {
  repo_->Write("services/old.toml", std::string(kWeb));
  uint16_t old_port = FreePort();
  Pin("dev", "old", v1_, "1.0.0", "[service]\nport = " + std::to_string(old_port) + "\n");
  repo_->CommitAndPush("first");
  RunResult first = Cli({"apply", "dev"});
  ASSERT_EQ(first.exit_code, 0) << first.Describe() << server_->Logs();

  // One commit: web gets a new artifact, an env var, a memory limit and a volume; old goes;
  // a function comes.
  Pin("dev", "web", v2_, "2.0.0",
      "[env]\nVERSION = \"two\"\n[limits]\nmemory = \"96Mi\"\n[grants]\nvolumes = { uploads = "
      "\"rw\" }\n[service]\nport = " +
          std::to_string(port_) + "\n");
  fs::remove(repo_->work() / "environments" / "dev" / "old.toml");
  fs::remove(repo_->work() / "services" / "old.toml");
  repo_->Write("services/report.toml",
               "kind = \"function\"\nimage = \"apps/web\"\nentrypoint = [\"/bin/true\"]\n");
  Pin("dev", "report", v1_, "1.0.0");
  repo_->CommitAndPush("every kind");

  RunResult json = Cli({"plan", "dev", "--output", "json"});
  EXPECT_EQ(json.exit_code, 2) << json.Describe();
  bj::value plan = Json(json);
  ASSERT_NE(ServiceOf(plan, "web"), nullptr) << plan;
  EXPECT_EQ(ServiceOf(plan, "web")->at("action").as_string(), "change");
  EXPECT_EQ(ServiceOf(plan, "web")->at("from").at("digest").as_string(), v1_);
  EXPECT_EQ(ServiceOf(plan, "web")->at("to").at("digest").as_string(), v2_);
  EXPECT_EQ(ServiceOf(plan, "web")->at("to").at("version").as_string(), "2.0.0");
  EXPECT_EQ(KeyChange(plan, "web", "env.VERSION"), "one -> two");
  EXPECT_EQ(KeyChange(plan, "web", "limits.memory"), "256Mi -> 96Mi");
  EXPECT_EQ(KeyChange(plan, "web", "grants.volumes.uploads"), " -> rw");
  ASSERT_NE(ServiceOf(plan, "old"), nullptr) << plan;
  EXPECT_EQ(ServiceOf(plan, "old")->at("action").as_string(), "remove");
  EXPECT_TRUE(ServiceOf(plan, "old")->at("to").is_null());
  ASSERT_NE(ServiceOf(plan, "report"), nullptr) << plan;
  EXPECT_EQ(ServiceOf(plan, "report")->at("action").as_string(), "add");
  EXPECT_EQ(ServiceOf(plan, "report")->at("kind").as_string(), "function");
  EXPECT_EQ(plan.at("approval").as_string(), "none");

  RunResult text = Cli({"plan", "dev"});
  EXPECT_EQ(text.exit_code, 2) << text.Describe();
  for (const char* expected : {"env.VERSION", "limits.memory", "grants.volumes.uploads", "2.0.0",
                               "old", "report", "lockstep apply "}) {
    EXPECT_NE(text.out.find(expected), std::string::npos) << expected << "\n" << text.out;
  }
  EXPECT_EQ(text.out.find("\x1b["), std::string::npos) << "no colour off a terminal";

  RunResult apply = Cli({"apply", "dev"});
  ASSERT_EQ(apply.exit_code, 0) << apply.Describe() << server_->Logs();
  EXPECT_EQ(Through(), "two\n");
  HttpResponse gone = Get("http://127.0.0.1:" + std::to_string(old_port) + "/");
  EXPECT_EQ(gone.status, 503) << "old's port has no route: " << gone.Describe();
  EXPECT_EQ(Cli({"plan", "dev"}).exit_code, 0) << "nothing left to do";

  // A broken repository: exit 1, every problem with its file and line.
  repo_->Write("environments/dev/report.toml",
               "version = \"1.0.0\"\ndigest = \"" + v1_ + "\"\n[limits]\nmemroy = \"64Mi\"\n");
  repo_->CommitAndPush("typo");
  RunResult broken = Cli({"plan", "dev"});
  EXPECT_EQ(broken.exit_code, 1) << broken.Describe();
  EXPECT_NE(broken.err.find("environments/dev/report.toml:4:1"), std::string::npos) << broken.err;
  EXPECT_NE(broken.err.find("did you mean \"memory\""), std::string::npos) << broken.err;
  EXPECT_EQ(Through(), "two\n") << "nothing changed";
}

TEST_F(EngineWorkflow, ASavedPlanOfAnExactCommitIsAppliedFromItsFileAndAStaleOneIsRefused) {
  std::string one = repo_->CommitAndPush("one");
  std::string text(kWeb);
  text.replace(text.find("VERSION = \"one\""), 15, "VERSION = \"two\"");
  repo_->Write("services/web.toml", text);
  std::string two = repo_->CommitAndPush("two");

  fs::path file = scratch_.path() / "dev.plan.json";
  RunResult plan = Cli({"plan", "dev", "--commit", one, "--out", file.string()});
  ASSERT_EQ(plan.exit_code, 2) << plan.Describe();
  std::ifstream in(file);
  bj::value saved = bj::parse(std::string(std::istreambuf_iterator<char>(in), {}));
  EXPECT_EQ(saved.at("commit").as_string(), one) << saved;
  std::string stale_id(saved.at("plan_id").as_string());
  RunResult stale_too = Cli({"plan", "dev", "--output", "json"});
  std::string other_id(Json(stale_too).at("plan_id").as_string());

  RunResult apply = Cli({"apply", file.string(), "--reason", "from the file"});
  ASSERT_EQ(apply.exit_code, 0) << apply.Describe() << server_->Logs();
  EXPECT_EQ(Through(), "one\n") << "the plan's commit, not the branch's head";
  bj::value status = Json(Cli({"status", "dev", "--output", "json"}));
  EXPECT_EQ(status.at("commit").as_string(), one) << status;

  // The other plan was made before that apply: the serial moved, so it is refused.
  RunResult stale = Cli({"apply", other_id});
  EXPECT_EQ(stale.exit_code, 1) << stale.Describe();
  EXPECT_NE(stale.err.find("serial"), std::string::npos) << stale.err;
  EXPECT_EQ(Through(), "one\n");
  EXPECT_EQ(Cli({"apply", stale_id}).exit_code, 1) << "applied once, then stale";

  RunResult head = Cli({"apply", "dev"});
  ASSERT_EQ(head.exit_code, 0) << head.Describe();
  EXPECT_EQ(Through(), "two\n");
  EXPECT_EQ(Json(Cli({"status", "dev", "--output", "json"})).at("commit").as_string(), two);
  bj::value history = Json(Cli({"history", "dev", "--output", "json"}));
  EXPECT_EQ(history.at("deployments").as_array()[1].at("why").as_string(), "from the file")
      << history;
  RunResult not_a_plan = Cli({"apply", (scratch_.path() / "missing.json").string()});
  EXPECT_EQ(not_a_plan.exit_code, 1);
  EXPECT_NE(not_a_plan.err.find("neither a plan id"), std::string::npos) << not_a_plan.err;
}

TEST_F(EngineWorkflow, AServerRestartedOnAnotherPortHasNothingToDo) {
  repo_->CommitAndPush("one");
  RunResult apply = Cli({"apply", "dev"});
  ASSERT_EQ(apply.exit_code, 0) << apply.Describe() << server_->Logs();
  uint16_t before = server_->port();
  server_->Restart();  // graceful; a new port, so the embedded registry's address moves
  ASSERT_NE(server_->port(), before);
  RunResult plan = Cli({"plan", "dev"});
  EXPECT_EQ(plan.exit_code, 0) << "releases name the embedded registry, not its address: "
                               << plan.Describe();
  EXPECT_EQ(Through(), "one\n") << "the instance was kept";
}

TEST_F(EngineWorkflow, ARemoteThatCannotBeFetchedStopsAOneStepApplyButNotAPlan) {
  repo_->CommitAndPush("one");
  ASSERT_EQ(Cli({"plan", "dev"}).exit_code, 2) << "fetched once";
  const fs::path away = scratch_.path() / "remote-gone";
  fs::rename(repo_->bare(), away);
  RunResult apply = Cli({"apply", "dev"});
  EXPECT_EQ(apply.exit_code, 1) << apply.Describe();
  EXPECT_NE(apply.err.find("could not be fetched"), std::string::npos) << apply.err;
  EXPECT_NE(apply.err.find("nothing was applied"), std::string::npos) << apply.err;
  EXPECT_EQ(Cli({"status", "dev"}).exit_code, 1) << "dev was never applied";

  RunResult plan = Cli({"plan", "dev", "--output", "json"});
  ASSERT_EQ(plan.exit_code, 2) << plan.Describe();
  bj::value p = Json(plan);
  EXPECT_NE(std::string(p.at("warning").as_string()).find("of what was fetched before"),
            std::string::npos)
      << p;
  RunResult saved = Cli({"apply", std::string(p.at("plan_id").as_string())});
  EXPECT_EQ(saved.exit_code, 0) << "a plan a person read is applied: " << saved.Describe();
  EXPECT_EQ(Through(), "one\n");

  fs::rename(away, repo_->bare());
  RunResult again = Cli({"apply", "dev"});
  EXPECT_EQ(again.exit_code, 0) << again.Describe();
}

TEST_F(EngineWorkflow, AnEnvironmentThatNeedsApprovalIsAppliedOnlyFromASavedPlan) {
  Pin("prod", "web", v1_, "1.0.0", "[service]\nport = " + std::to_string(FreePort()) + "\n");
  repo_->CommitAndPush("prod too");
  ASSERT_EQ(Cli({"apply", "dev"}).exit_code, 0) << "what prod brings soaks in dev first";
  AwaitSoakInDev(v1_);
  RunResult refused = Cli({"apply", "prod"});
  EXPECT_EQ(refused.exit_code, 1) << refused.Describe();
  EXPECT_NE(refused.err.find("prod requires approval"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("lockstep apply PLAN_ID"), std::string::npos) << refused.err;
  RunResult nothing = Cli({"status", "prod"});
  EXPECT_EQ(nothing.exit_code, 1) << "nothing was applied: " << nothing.Describe();

  // alice plans prod; her own approval does not count, and prod asks for two.
  const std::string alice = "deployer:prod;approver:prod";
  RunResult plan = CliAs("alice", {"plan", "prod", "--output", "json"}, alice);
  ASSERT_EQ(plan.exit_code, 2) << plan.Describe();
  bj::value p = Json(plan);
  EXPECT_EQ(p.at("approval").as_string(), "required");
  EXPECT_EQ(p.at("approvals_needed").as_int64(), 2);
  const std::string id(p.at("plan_id").as_string());
  RunResult text = CliAs("alice", {"plan", "prod"}, alice);
  EXPECT_NE(text.out.find("needs 2 approval(s): ask approvers of prod (not you, its author) to "
                          "run lockstep approve "),
            std::string::npos)
      << text.Describe();
  RunResult own = CliAs("alice", {"approve", id}, alice);
  EXPECT_EQ(own.exit_code, 1) << own.Describe();
  EXPECT_NE(own.err.find("its author's approval does not count"), std::string::npos) << own.err;
  RunResult viewer = CliAs("vic", {"approve", id}, "viewer");
  EXPECT_EQ(viewer.exit_code, 1) << viewer.Describe();
  EXPECT_NE(viewer.err.find("token vic (viewer) may not approve plans of the plan's environment: "
                            "that needs admin or approver covering the plan's environment"),
            std::string::npos)
      << viewer.err;

  RunResult bob = CliAs("bob", {"approve", id, "--comment", "change window open"});
  ASSERT_EQ(bob.exit_code, 0) << bob.Describe();
  EXPECT_NE(bob.out.find("has 1 of 2 approvals (bob "), std::string::npos) << bob.out;
  EXPECT_EQ(CliAs("bob", {"approve", id}).exit_code, 1) << "bob counts once";
  // Waiting: alice's two (json and text) and the one `apply prod` saved.
  auto pending = [&] {
    RunResult listed = Cli({"plans", "prod", "--output", "json"});
    EXPECT_EQ(listed.exit_code, 0) << listed.Describe();
    std::map<std::string, std::string> by_id;
    bj::value plans = Json(listed);
    for (const bj::value& e : plans.at("plans").as_array()) {
      by_id[std::string(e.at("plan_id").as_string())] = e.at("state").as_string();
    }
    return by_id;
  };
  ASSERT_EQ(pending().size(), 3u);
  EXPECT_EQ(pending()[id], "pending");
  RunResult early = CliAs("alice", {"apply", id}, alice);
  EXPECT_EQ(early.exit_code, 1) << early.Describe();
  EXPECT_NE(early.err.find("needs 2 approvals from approvers of prod other than its author "
                           "alice; it has 1 (bob at "),
            std::string::npos)
      << early.err;
  EXPECT_EQ(Cli({"status", "prod"}).exit_code, 1) << "nothing was applied";

  // An approval counts while its token still approves prod.
  ASSERT_EQ(CliAs("carol", {"approve", id}).exit_code, 0);
  ASSERT_EQ(server_->Cli({"token", "revoke", "carol"}).exit_code, 0);
  RunResult revoked = CliAs("alice", {"apply", id}, alice);
  EXPECT_EQ(revoked.exit_code, 1) << revoked.Describe();
  EXPECT_NE(revoked.err.find("no longer approvers of prod: carol"), std::string::npos)
      << revoked.err;
  ASSERT_EQ(CliAs("dave", {"approve", id}).exit_code, 0);
  RunResult apply = CliAs("alice", {"apply", id, "--reason", "release 1.0.0"}, alice);
  EXPECT_EQ(apply.exit_code, 0) << apply.Describe() << server_->Logs();
  RunResult history = Cli({"history", "prod"});
  EXPECT_NE(history.out.find("approved by bob "), std::string::npos) << history.out;
  EXPECT_NE(history.out.find(", dave "), std::string::npos) << history.out;
  bj::value h = Json(Cli({"history", "prod", "--output", "json"}));
  const bj::array& approvals = h.at("deployments").as_array()[0].at("approvals").as_array();
  ASSERT_EQ(approvals.size(), 2u) << h;
  EXPECT_EQ(approvals[0].at("by").as_string(), "bob");
  EXPECT_EQ(approvals[0].at("comment").as_string(), "change window open");
  EXPECT_GT(approvals[1].at("at").as_int64(), 0);
  EXPECT_FALSE(pending().contains(id)) << "the applied plan waits no more";

  // A changed plan is another plan, approved on its own; a rejected one never goes out.
  Pin("prod", "web", v2_, "2.0.0", "[service]\nport = " + std::to_string(FreePort()) + "\n");
  repo_->CommitAndPush("prod 2.0.0");
  RunResult next = CliAs("alice", {"plan", "prod", "--output", "json"}, alice);
  const std::string next_id(Json(next).at("plan_id").as_string());
  ASSERT_NE(next_id, id);
  ASSERT_EQ(CliAs("bob", {"reject", next_id, "--comment", "not on a Friday"}).exit_code, 0);
  ASSERT_EQ(CliAs("dave", {"approve", next_id}).exit_code, 1) << "a rejected plan stays so";
  RunResult rejected = CliAs("alice", {"apply", next_id}, alice);
  EXPECT_EQ(rejected.exit_code, 1) << rejected.Describe();
  EXPECT_NE(rejected.err.find("was rejected by bob"), std::string::npos) << rejected.err;
  EXPECT_NE(rejected.err.find("not on a Friday"), std::string::npos) << rejected.err;
  bj::value audit = Json(Cli({"audit", "--output", "json"}));
  std::string actions;
  for (const bj::value& a : audit.at("audit").as_array()) {
    actions += std::string(a.at("actor").as_string()) + " " +
               std::string(a.at("action").as_string()) + "\n";
  }
  EXPECT_NE(actions.find("bob reject"), std::string::npos) << actions;
  EXPECT_NE(actions.find("dave approve"), std::string::npos) << actions;
  EXPECT_EQ(actions.find("alice approve"), std::string::npos) << actions;

  // A plan of a commit from before prod's policy still needs what the branch asks now.
  std::string policy = repo_->Read("lockstep.toml");
  std::string loose = policy;
  const std::string rule = "approval = \"required\"\napprovals = 2\n";
  ASSERT_NE(loose.find(rule), std::string::npos) << loose;
  loose.erase(loose.find(rule), rule.size());
  repo_->Write("lockstep.toml", loose);
  const std::string before = repo_->CommitAndPush("prod without approval, for a moment");
  repo_->Write("lockstep.toml", policy);
  repo_->CommitAndPush("the approval of prod back");
  RunResult old = CliAs("alice", {"plan", "prod", "--commit", before, "--output", "json"}, alice);
  ASSERT_EQ(old.exit_code, 2) << old.Describe();
  EXPECT_EQ(Json(old).at("approval").as_string(), "required") << "the branch's policy holds";
  RunResult sneak =
      CliAs("alice", {"apply", std::string(Json(old).at("plan_id").as_string())}, alice);
  EXPECT_EQ(sneak.exit_code, 1) << sneak.Describe();
  EXPECT_NE(sneak.err.find("needs 2 approvals"), std::string::npos) << sneak.err;
}

TEST_F(EngineWorkflow, UnlockEndsAnApplysLockAtOnceTheApplyUndoesItselfAndItIsAudited) {
  repo_->CommitAndPush("one");
  ASSERT_EQ(Cli({"apply", "dev"}).exit_code, 0);
  // A release that never gets healthy holds the lock for the health timeout (30 s).
  Pin("dev", "web", v1_, "1.0.0",
      "[env]\nHEALTHY = \"no\"\nVERSION = \"two\"\n[service]\nport = " + std::to_string(port_) +
          "\n");
  repo_->CommitAndPush("never healthy");
  RunResult started = Cli({"apply", "dev", "--detach", "--output", "json"});
  ASSERT_EQ(started.exit_code, 0) << started.Describe();
  int64_t id = Json(started).at("deployment_id").as_int64();
  bj::value status;
  ASSERT_TRUE(WaitFor([&] {
    status = Json(Cli({"status", "dev", "--output", "json"}));
    return status.is_object() && !status.at("locked_by").is_null();
  })) << status;
  EXPECT_NE(std::string(status.at("locked_by").as_string()).find("apply of plan"),
            std::string::npos)
      << status;
  RunResult blocked = Cli({"apply", "dev"});
  EXPECT_EQ(blocked.exit_code, 1) << blocked.Describe();
  EXPECT_NE(blocked.err.find("locked by apply of plan"), std::string::npos) << blocked.err;

  // Another environment is applied meanwhile: leases are per environment.
  uint16_t prod_port = FreePort();
  Pin("prod", "web", v1_, "1.0.0", "[service]\nport = " + std::to_string(prod_port) + "\n");
  repo_->CommitAndPush("prod");
  RunResult prod_plan = Cli({"plan", "prod", "--output", "json"});
  ASSERT_EQ(prod_plan.exit_code, 2) << prod_plan.Describe();
  std::string prod_id(Json(prod_plan).at("plan_id").as_string());
  ApproveTwice(prod_id);
  AwaitSoakInDev(v1_);
  RunResult prod = Cli({"apply", prod_id});
  EXPECT_EQ(prod.exit_code, 0) << prod.Describe() << server_->Logs();
  EXPECT_EQ(Get("http://127.0.0.1:" + std::to_string(prod_port) + "/").body, "one\n");
  EXPECT_FALSE(Json(Cli({"status", "dev", "--output", "json"})).at("locked_by").is_null())
      << "dev is still being applied";

  RunResult unlock = Cli({"unlock", "dev"});
  ASSERT_EQ(unlock.exit_code, 0) << unlock.Describe();
  EXPECT_TRUE(Json(Cli({"status", "dev", "--output", "json"})).at("locked_by").is_null());
  // The cut-off apply writes nothing more: it fails, and what it staged is gone.
  bj::value deployment;
  ASSERT_TRUE(WaitFor([&] {
    HttpResponse d = Get(server_->url("/api/v1/deployments/" + std::to_string(id)));
    deployment = bj::parse(d.body);
    return deployment.at("deployment").at("outcome").as_string() != "running";
  })) << deployment;
  EXPECT_EQ(deployment.at("deployment").at("outcome").as_string(), "failed") << deployment;
  EXPECT_NE(std::string(deployment.at("deployment").at("reason").as_string()).find("was lost"),
            std::string::npos)
      << "it failed because its lock was ended, not for health: " << deployment;
  EXPECT_EQ(Through(), "one\n") << "nothing switched";

  RunResult audit = Cli({"audit", "--output", "json"});
  ASSERT_EQ(audit.exit_code, 0) << audit.Describe();
  bool unlocked = false;
  bj::value entries = Json(audit);
  for (const bj::value& e : entries.at("audit").as_array()) {
    if (e.at("action").as_string() == "unlock" && e.at("target").as_string() == "dev") {
      unlocked = true;
      EXPECT_NE(std::string(e.at("detail").as_string()).find("apply of plan"), std::string::npos)
          << e;
      EXPECT_FALSE(e.at("actor").as_string().empty()) << e;
    }
  }
  EXPECT_TRUE(unlocked) << audit.out;
  EXPECT_EQ(Cli({"unlock", "dev"}).exit_code, 1) << "nothing holds it now";
}

}  // namespace
}  // namespace lockstep::testing
