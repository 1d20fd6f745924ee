// Every endpoint of the engine's API and every path of the registry, called by a token of
// every role against lockstep serve (without --dev): no refused role gets through and no
// allowed one is refused. What each role may do is written out here, apart from the route
// tables the server consults, and the walk takes its endpoints from those tables: an
// endpoint added without a line here fails the test.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>
#include <set>

#include "api/engine/engine_api.h"
#include "api/registry/registry_api.h"
#include "tests/support/deploy_repo.h"
#include "tests/support/http.h"
#include "tests/support/lockstep_server.h"
#include "tests/support/registry_client.h"
#include "tests/support/runtime_fixture.h"

namespace lockstep::testing {
namespace {

namespace bj = boost::json;

// The tokens of the walk, by name, and what each holds.
const std::map<std::string, std::string> kTokens = {
    {"root", "admin"},
    {"dev-deployer", "deployer:dev"},
    {"dev-approver", "approver:dev"},
    {"builder", "ci:apps/**"},
    {"auditor", "viewer"},
    {"prod-pull", "pull:apps/**"},
    {"mixed", "approver:prod;deployer:staging"},
};

// Who may call each engine endpoint in environment dev, with prod as the environment the
// scoped roles do not cover.
const std::map<std::string, std::set<std::string>> kEngine = {
    {"GET environments", {"root", "dev-deployer", "dev-approver", "auditor", "mixed"}},
    {"GET environments/*", {"root", "dev-deployer", "dev-approver", "auditor", "mixed"}},
    {"GET environments/*/history", {"root", "dev-deployer", "dev-approver", "auditor", "mixed"}},
    {"GET environments/*/services/*/logs", {"root", "dev-deployer"}},
    {"POST environments/*/functions/*/invoke", {"root", "dev-deployer"}},
    {"POST environments/*/plans", {"root", "dev-deployer"}},
    {"POST environments/*/deployments", {"root", "dev-deployer"}},
    {"POST environments/*/rollbacks", {"root", "dev-deployer"}},
    {"POST environments/*/holds/*/release", {"root", "dev-deployer"}},
    {"POST environments/*/unlock", {"root"}},
    {"GET environments/*/plans", {"root", "dev-deployer", "dev-approver", "auditor", "mixed"}},
    {"GET plans/*", {"root", "dev-deployer", "dev-approver", "auditor", "mixed"}},
    {"POST plans/*/approvals", {"root", "dev-approver"}},
    {"POST deployments", {"root", "dev-deployer"}},
    {"GET deployments/*", {"root", "dev-deployer", "dev-approver", "auditor", "mixed"}},
    {"GET audit", {"root", "dev-deployer", "dev-approver", "auditor", "mixed"}},
    {"POST environments/*/promotions", {"root", "dev-deployer"}},
    {"GET attestations", {"root", "dev-deployer", "dev-approver", "auditor", "mixed"}},
    {"GET attestations/key",
     {"root", "dev-deployer", "dev-approver", "builder", "auditor", "prod-pull",
      "mixed"}},             // public: no token needed at all
    {"POST hooks/git", {}},  // the webhook's secret, never a token
};

// The same in prod, for the endpoints about an environment: root alone, and prod's approver.
const std::map<std::string, std::set<std::string>> kEngineInProd = {
    {"POST plans/*/approvals", {"root", "mixed"}},
};

// Who may call each registry path and method on apps/web; on base/os only root and auditor
// may, as the others' patterns cover apps/** alone. /v2/ and the catalog: every token.
const std::set<std::string> kAll = {"root",    "dev-deployer", "dev-approver", "builder",
                                    "auditor", "prod-pull",    "mixed"};
const std::set<std::string> kPullers = {"root", "builder", "auditor", "prod-pull"};
const std::set<std::string> kPushers = {"root", "builder"};
const std::map<std::string, std::set<std::string>> kRegistry = {
    {"GET /v2/", kAll},
    {"HEAD /v2/", kAll},
    {"GET /v2/_catalog", kAll},
    {"GET /v2/NAME/blobs/DIGEST", kPullers},
    {"HEAD /v2/NAME/blobs/DIGEST", kPullers},
    {"DELETE /v2/NAME/blobs/DIGEST", {"root"}},
    {"POST /v2/NAME/blobs/uploads/", kPushers},
    {"GET /v2/NAME/blobs/uploads/ID", kPushers},
    {"PATCH /v2/NAME/blobs/uploads/ID", kPushers},
    {"PUT /v2/NAME/blobs/uploads/ID", kPushers},
    {"DELETE /v2/NAME/blobs/uploads/ID", kPushers},
    {"GET /v2/NAME/manifests/REFERENCE", kPullers},
    {"HEAD /v2/NAME/manifests/REFERENCE", kPullers},
    {"PUT /v2/NAME/manifests/REFERENCE", kPushers},
    {"DELETE /v2/NAME/manifests/REFERENCE", {"root"}},
    {"GET /v2/NAME/tags/list", kPullers},
    {"HEAD /v2/NAME/tags/list", kPullers},
    {"GET /v2/NAME/referrers/DIGEST", kPullers},
    {"HEAD /v2/NAME/referrers/DIGEST", kPullers},
};

constexpr const char* kEmptyDigest =
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
  return text;
}

class RoleMatrix : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "the local runtime needs root";
    repo_ = std::make_unique<DeployRepoDirs>(scratch_.path());
    repo_->Write("lockstep.toml",
                 "registry = \"embedded\"\n[[environment]]\nname = \"dev\"\n\n"
                 "[[environment]]\nname = \"prod\"\napproval = \"required\"\n");
    repo_->CommitAndPush("two environments, nothing deployed");
    server_ = std::make_unique<LockstepServer>(
        ServerOptions{.dev = false,
                      .config_toml = "[deploy]\nrepo = \"" + repo_->bare().string() +
                                     "\"\nfetch_interval = \"1h\"\nwebhook_secret = "
                                     "\"a-webhook-secret-of-some-length\"\n"});
    for (const auto& [name, grants] : kTokens) tokens_[name] = server_->CreateToken(grants, name);
    // Makes the plans of the walk: no token of the walk is their author.
    planner_ = server_->CreateToken("admin", "planner");
  }

  void TearDown() override {
    if (server_ == nullptr) return;
    server_->Kill9();
    RemoveLocalRuntime(server_->data_dir() / "runtime");
    server_.reset();
  }

  HttpResponse As(const std::string& token, const std::string& method, const std::string& path,
                  const std::string& body = "") {
    return Send({.method = method,
                 .url = server_->url(path),
                 .body = body,
                 .send_body = method == "POST" || method == "PUT" || method == "PATCH",
                 .basic_user = "t",
                 .basic_password = token});
  }

  // A saved plan of `env`, made by the planner.
  std::string PlanOf(const std::string& env) {
    HttpResponse plan = As(planner_, "POST", "/api/v1/environments/" + env + "/plans");
    EXPECT_EQ(plan.status, 201) << plan.Describe();
    return std::string(bj::parse(plan.body).at("plan_id").as_string());
  }

  // The request of an engine route in `env`.
  std::pair<std::string, std::string> EngineCall(const api::EngineApi::Route& route,
                                                 const std::string& env) {
    std::string path(route.shape);
    if (path.starts_with("environments/*")) path.replace(13, 1, env);
    path = Replace(path, "services/*", "services/web");
    path = Replace(path, "functions/*", "functions/resize");
    path = Replace(path, "holds/*", "holds/web");
    path = Replace(path, "deployments/*", "deployments/1");
    std::string body;
    if (path.starts_with("plans/*")) path.replace(6, 1, plans_[env]);
    if (route.shape == std::string_view("deployments")) {
      body = "{\"plan_id\": \"" + plans_[env] + "\"}";
    } else if (route.shape.ends_with("rollbacks")) {
      body = "{\"service\": \"web\"}";
    } else if (route.shape.ends_with("promotions")) {
      body = "{\"from\": \"dev\", \"all\": true}";
    } else if (route.shape.ends_with("approvals")) {
      body = "{\"decision\": \"approve\", \"comment\": \"walking the matrix\"}";
    } else if (route.shape.ends_with("release")) {
      body = "{\"reason\": \"walking the matrix\"}";
    }
    return {"/api/v1/" + path, body};
  }

  ScratchDir scratch_;
  std::unique_ptr<DeployRepoDirs> repo_;
  std::unique_ptr<LockstepServer> server_;
  std::map<std::string, std::string> tokens_;
  std::string planner_;
  std::map<std::string, std::string> plans_;
};

TEST_F(RoleMatrix, EveryEngineEndpointAdmitsExactlyTheRolesThatMayCallIt) {
  std::set<std::string> routes;
  for (const api::EngineApi::Route& route : api::EngineApi::Routes()) {
    routes.insert(std::string(route.method) + " " + std::string(route.shape));
  }
  std::set<std::string> expected;
  for (const auto& [route, _] : kEngine) expected.insert(route);
  ASSERT_EQ(routes, expected) << "an endpoint of the table has no line here, or one is gone";

  plans_["dev"] = PlanOf("dev");
  plans_["prod"] = PlanOf("prod");
  for (const api::EngineApi::Route& route : api::EngineApi::Routes()) {
    const std::string key = std::string(route.method) + " " + std::string(route.shape);
    const std::set<std::string>& allowed = kEngine.at(key);
    for (const auto& [name, token] : tokens_) {
      auto [path, body] = EngineCall(route, "dev");
      HttpResponse r = As(token, std::string(route.method), path, body);
      if (allowed.contains(name)) {
        EXPECT_TRUE(r.status != 401 && r.status != 403 && r.status < 500)
            << name << " was refused " << key << ": " << r.Describe();
      } else {
        EXPECT_TRUE(r.status == 403 ||
                    (route.auth == api::EngineApi::Auth::kSecret && r.status == 401))
            << name << " got through " << key << ": " << r.Describe();
      }
      if (route.subject == api::EngineApi::Subject::kNone) continue;
      // The environment only root and prod's approver cover.
      std::tie(path, body) = EngineCall(route, "prod");
      r = As(token, std::string(route.method), path, body);
      auto in_prod = kEngineInProd.find(key);
      if (name == "root" || (in_prod != kEngineInProd.end() && in_prod->second.contains(name))) {
        EXPECT_TRUE(r.status != 401 && r.status != 403)
            << name << " was refused " << path << ": " << r.Describe();
      } else {
        EXPECT_EQ(r.status, 403) << name << " got through " << path << ": " << r.Describe();
      }
    }
  }
  // Nothing refused was done: the audit log holds only root's, the dev deployer's in dev and
  // prod's approver's approval there (and the tokens made for the walk).
  HttpResponse audit = As(tokens_["root"], "GET", "/api/v1/audit?limit=1000");
  ASSERT_EQ(audit.status, 200) << audit.Describe();
  bj::value entries = bj::parse(audit.body);
  for (const bj::value& a : entries.at("audit").as_array()) {
    std::string actor(a.at("actor").as_string());
    EXPECT_TRUE(actor == "root" || actor == "dev-deployer" ||
                (actor == "mixed" && a.at("action").as_string() == "approve" &&
                 a.at("target").as_string() == "prod") ||
                (actor == "local:root" && a.at("action").as_string() == "create token"))
        << a;
    if (actor == "dev-deployer") {
      EXPECT_EQ(std::string(a.at("target").as_string()).substr(0, 3), "dev") << a;
    }
  }
}

TEST_F(RoleMatrix, EveryRegistryPathAdmitsExactlyTheRolesThatMayCallIt) {
  std::set<std::string> routes;
  for (const api::RegistryApi::Route& route : api::RegistryApi::Routes()) {
    routes.insert(std::string(route.method) + " " + std::string(route.path));
  }
  std::set<std::string> expected;
  for (const auto& [route, _] : kRegistry) expected.insert(route);
  ASSERT_EQ(routes, expected) << "a path of the table has no line here, or one is gone";

  for (const api::RegistryApi::Route& route : api::RegistryApi::Routes()) {
    const std::string key = std::string(route.method) + " " + std::string(route.path);
    for (const std::string& repo : std::vector<std::string>{"apps/web", "base/os"}) {
      std::string path = Replace(std::string(route.path), "NAME", repo);
      path = Replace(path, "DIGEST", kEmptyDigest);
      path = Replace(path, "REFERENCE", "1.0.0");
      path = Replace(path, "/ID", "/an-upload-that-is-not");
      const bool about_a_repo = path != route.path;
      for (const auto& [name, token] : tokens_) {
        bool allowed = kRegistry.at(key).contains(name) &&
                       (repo == "apps/web" || !about_a_repo || name == "root" || name == "auditor");
        HttpResponse r =
            As(token, std::string(route.method), path, route.method == "PUT" ? "{}" : "");
        if (allowed) {
          EXPECT_TRUE(r.status != 401 && r.status != 403 && r.status < 500)
              << name << " was refused " << route.method << " " << path << ": " << r.Describe();
        } else {
          EXPECT_EQ(r.status, 403)
              << name << " got through " << route.method << " " << path << ": " << r.Describe();
        }
      }
    }
  }
}

TEST_F(RoleMatrix, EveryChangeIsInTheAuditLogWithTheTokensName) {
  RegistryClient builder(*server_, tokens_["builder"]);
  std::string manifest = builder.PushImageParts("apps/web", "audited");
  HttpResponse put = builder.PutManifest("apps/web", "1.0.0", manifest);
  ASSERT_EQ(put.status, 201) << put.Describe();
  std::string digest = put.Header("docker-content-digest");
  HttpResponse refused =
      RegistryClient(*server_, tokens_["auditor"]).Do("DELETE", "/v2/apps/web/manifests/" + digest);
  ASSERT_EQ(refused.status, 403) << refused.Describe();
  HttpResponse apply = As(tokens_["dev-deployer"], "POST", "/api/v1/environments/dev/deployments",
                          "{\"reason\": \"audited apply\"}");
  ASSERT_EQ(apply.status, 202) << apply.Describe();
  ASSERT_EQ(server_->Cli({"token", "revoke", "prod-pull"}).exit_code, 0);

  auto audit = [&](const std::vector<std::string>& more) {
    std::vector<std::string> args = {"audit", "--server", server_->url(""), "--output", "json"};
    args.insert(args.end(), more.begin(), more.end());
    RunResult r = Lockstep(args, {"LOCKSTEP_TOKEN=" + tokens_["auditor"]});
    EXPECT_EQ(r.exit_code, 0) << r.Describe();
    std::set<std::string> seen;
    bj::value entries = bj::parse(r.out);
    for (const bj::value& a : entries.at("audit").as_array()) {
      seen.insert(std::string(a.at("actor").as_string()) + " " +
                  std::string(a.at("action").as_string()) + " " +
                  std::string(a.at("target").as_string()));
    }
    return seen;
  };
  std::set<std::string> seen = audit({"--since", "1h"});
  EXPECT_TRUE(seen.contains("builder push manifest apps/web@" + digest))
      << ::testing::PrintToString(seen);
  EXPECT_TRUE(seen.contains("dev-deployer apply dev")) << ::testing::PrintToString(seen);
  EXPECT_TRUE(seen.contains("local:root create token auditor")) << ::testing::PrintToString(seen);
  EXPECT_TRUE(seen.contains("local:root revoke token prod-pull")) << ::testing::PrintToString(seen);
  for (const std::string& line : seen) {
    EXPECT_EQ(line.find("auditor delete"), std::string::npos) << "a refusal changed nothing";
  }
  EXPECT_TRUE(audit({"--since", "2999-01-01T00:00:00Z"}).empty());
  RunResult bad = Lockstep({"audit", "--server", server_->url(""), "--since", "yesterday"},
                           {"LOCKSTEP_TOKEN=" + tokens_["auditor"]});
  EXPECT_EQ(bad.exit_code, 1) << bad.Describe();
  EXPECT_NE(bad.err.find("neither a duration"), std::string::npos) << bad.err;
  // A registry credential reads no audit log.
  RunResult pull =
      Lockstep({"audit", "--server", server_->url("")}, {"LOCKSTEP_TOKEN=" + tokens_["builder"]});
  EXPECT_EQ(pull.exit_code, 1) << pull.Describe();
  EXPECT_NE(pull.err.find("may not read recorded state"), std::string::npos) << pull.err;
}

TEST_F(RoleMatrix, NoTokenOrAWrongOneIsUnauthenticatedEverywhere) {
  plans_["dev"] = "0";
  for (const api::EngineApi::Route& route : api::EngineApi::Routes()) {
    auto [path, body] = EngineCall(route, "dev");
    for (const char* token : {"", "lst_0000000000000000_nope"}) {
      HttpResponse r = As(token, std::string(route.method), path, body);
      if (route.auth == api::EngineApi::Auth::kOpen) {
        EXPECT_EQ(r.status, 200) << route.method << " " << path << ": " << r.Describe();
      } else {
        EXPECT_EQ(r.status, 401) << route.method << " " << path << ": " << r.Describe();
      }
    }
  }
}

}  // namespace
}  // namespace lockstep::testing
