// lockstep token create --role ROLE[:PATTERNS] [--role ...] [--repos PATTERNS] [--name NAME]
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
  std::vector<std::string> roles;
  std::string repos;
  std::string name;
};

// The grants of `--role` options; `--repos` covers the repository roles given without
// patterns of their own.
Result<std::vector<Grant>> GrantsOf(const TokenArgs& args) {
  std::vector<Grant> out;
  bool used_repos = false;
  for (std::string text : args.roles) {
    if (!args.repos.empty() && text.find(':') == std::string::npos) {
      Result<Role> role = ParseRole(text);
      if (role.ok() && ScopeOf(*role) == Scope::kRepository) {
        text += ":" + args.repos;
        used_repos = true;
      }
    }
    LS_ASSIGN_OR_RETURN(Grant grant, Grant::Parse(text));
    out.push_back(std::move(grant));
  }
  if (!args.repos.empty() && !used_repos) {
    return InvalidArgument(
        "--repos covers the repositories of a ci or pull role given without "
        "its own patterns; no such --role is given");
  }
  return out;
}

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
  create
      ->add_option("--role", args->roles,
                   "ROLE or ROLE:PATTERNS, repeatable: admin; deployer:ENVS and approver:ENVS "
                   "(environment globs, e.g. 'dev,staging-*'); ci:REPOS and pull:REPOS "
                   "(repository globs where '*' stays within one path segment and '**' crosses "
                   "any number, e.g. 'apps/**'); viewer. Without patterns a role covers all")
      ->required();
  create->add_option("--repos", args->repos,
                     "repositories of the ci and pull roles given without patterns");
  create->add_option("--name", args->name, "unique name (default: ROLE-<random>)");
  AddDataOption(*create, g);
  create->callback([args, &g, exit] {
    Result<std::vector<Grant>> grants = GrantsOf(*args);
    if (!grants.ok()) return void(*exit = Fail(grants.status()));
    std::string name = args->name.empty()
                           ? std::string(RoleName(grants->front().role)) + "-" + os::RandomHex(3)
                           : args->name;
    auto store = OpenStore(g, &clock);
    if (!store.ok()) return void(*exit = Fail(store.status()));
    Result<std::string> minted = (*store)->Create(name, *grants);
    if (!minted.ok()) return void(*exit = Fail(minted.status()));
    AuditLocally(g, "create token", name, GrantsString(*grants));
    // Which server knows it: the one serving this data directory.
    std::cerr << "lockstep: created token '" << name << "' (" << GrantsString(*grants)
              << ") for the server of " << g.data_dir.string() << "; it is shown only now:\n";
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
        boost::json::array grants;
        for (const Grant& grant : t.grants) grants.emplace_back(grant.str());
        out.push_back({{"name", t.name},
                       {"roles", std::move(grants)},
                       {"created_at", FormatRfc3339(t.created_at)}});
      }
      std::cout << boost::json::serialize(out) << "\n";
      return;
    }
    std::printf("%-24s %-21s %s\n", "NAME", "CREATED", "ROLES");
    for (const auto& t : *tokens) {
      std::printf("%-24s %-21s %s\n", t.name.c_str(), FormatRfc3339(t.created_at).c_str(),
                  GrantsString(t.grants).c_str());
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
    AuditLocally(g, "revoke token", *revoke_name, "");
    std::cerr << "lockstep: revoked token '" << *revoke_name << "'\n";
  });
}

}  // namespace lockstep::cli
