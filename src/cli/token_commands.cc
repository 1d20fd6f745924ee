// lockstep token create --role ROLE [--repos PATTERNS] [--name NAME]
// lockstep token list [--output json]
// lockstep token revoke NAME
//
// These work on the data directory directly (the server sees changes on its next
// request), so the first admin token can be made before any token exists.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <ctime>
#include <iostream>
#include <memory>

#include "base/strings.h"
#include "cli/cli.h"
#include "os/clock.h"
#include "os/file.h"
#include "os/random.h"
#include "state/token_store.h"

namespace lockstep::cli {

namespace {

struct TokenArgs {
  std::string role;
  std::string repos = "**";
  std::string name;
};

Result<std::unique_ptr<state::TokenStore>> OpenStore(const Globals& g, const os::Clock* clock) {
  LS_RETURN_IF_ERROR(os::MakePrivateDir(g.data_dir));
  return state::TokenStore::Open((g.data_dir / "state.db").string(), clock);
}

}  // namespace

void AddTokenCommands(CLI::App& app, Globals& g, ExitCode* exit) {
  static os::SystemClock clock;
  // Callbacks own the storage the options write into, so it lives as long as `app`.
  auto args = std::make_shared<TokenArgs>();
  CLI::App* token = app.add_subcommand("token", "create, list and revoke access tokens");
  token->require_subcommand(1);

  CLI::App* create = token->add_subcommand("create", "mint a token and print it (shown once)");
  create->add_option("--role", args->role, "pull, push or admin")->required();
  create
      ->add_option("--repos", args->repos,
                   "repositories the token covers: comma-separated globs where '*' stays "
                   "within one path segment and '**' crosses any number (e.g. "
                   "'apps/*,base', 'teams/**')")
      ->capture_default_str();
  create->add_option("--name", args->name, "unique name (default: ROLE-<random>)");
  AddDataOption(*create, g);
  create->callback([args, &g, exit] {
    Result<Role> role = ParseRole(args->role);
    if (!role.ok()) return void(*exit = Fail(role.status()));
    Result<RepoPatterns> repos = RepoPatterns::Parse(args->repos);
    if (!repos.ok()) return void(*exit = Fail(repos.status()));
    std::string name = args->name.empty() ? args->role + "-" + os::RandomHex(3) : args->name;
    auto store = OpenStore(g, &clock);
    if (!store.ok()) return void(*exit = Fail(store.status()));
    Result<std::string> minted = (*store)->Create(name, *role, *repos);
    if (!minted.ok()) return void(*exit = Fail(minted.status()));
    // Which server knows it: the one serving this data directory.
    std::cerr << "lockstep: created token '" << name << "' (role " << args->role
              << ", repositories " << repos->str() << ") for the server of " << g.data_dir.string()
              << "; it is shown only now:\n";
    std::cout << *minted << "\n";
  });

  CLI::App* list = token->add_subcommand("list", "list tokens (never their secrets)");
  AddDataOption(*list, g);
  AddOutputOption(*list, g);
  list->callback([&g, exit] {
    auto store = OpenStore(g, &clock);
    if (!store.ok()) return void(*exit = Fail(store.status()));
    auto tokens = (*store)->List();
    if (!tokens.ok()) return void(*exit = Fail(tokens.status()));
    if (g.output == "json") {
      boost::json::array out;
      for (const auto& t : *tokens) {
        out.push_back({{"name", t.name},
                       {"role", RoleName(t.role)},
                       {"repos", t.repos},
                       {"created_at", FormatRfc3339(t.created_at)}});
      }
      std::cout << boost::json::serialize(out) << "\n";
      return;
    }
    std::printf("%-24s %-6s %-30s %s\n", "NAME", "ROLE", "REPOSITORIES", "CREATED");
    for (const auto& t : *tokens) {
      std::printf("%-24s %-6s %-30s %s\n", t.name.c_str(), std::string(RoleName(t.role)).c_str(),
                  t.repos.c_str(), FormatRfc3339(t.created_at).c_str());
    }
  });

  CLI::App* revoke = token->add_subcommand("revoke", "revoke a token by name; effective at once");
  auto revoke_name = std::make_shared<std::string>();
  revoke->add_option("NAME", *revoke_name, "token name")->required();
  AddDataOption(*revoke, g);
  revoke->callback([revoke_name, &g, exit] {
    auto store = OpenStore(g, &clock);
    if (!store.ok()) return void(*exit = Fail(store.status()));
    Status s = (*store)->Revoke(*revoke_name);
    if (!s.ok()) return void(*exit = Fail(s));
    std::cerr << "lockstep: revoked token '" << *revoke_name << "'\n";
  });
}

}  // namespace lockstep::cli
