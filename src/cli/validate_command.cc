// lockstep validate [PATH] [--output json] — checks a deploy repository's work tree
// offline: every problem at once, each as FILE:LINE:COLUMN: what is wrong and what to do.
// Exit 0 when it is valid, 1 when it is not.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <iostream>
#include <memory>

#include "cli/image_commands.h"
#include "deploy/repo.h"

namespace lockstep::cli {

namespace {

struct ValidateArgs {
  std::string path = ".";
};

boost::json::value ProblemJson(const deploy::Problem& p) {
  return {{"file", p.file}, {"line", p.line}, {"column", p.column}, {"message", p.message}};
}

ExitCode Validate(const ValidateArgs& args, const Globals& g) {
  deploy::WorkTree tree = deploy::ReadWorkTree(args.path);
  std::vector<deploy::Problem> problems = std::move(tree.problems);
  deploy::ReadResult read = deploy::ReadRepo(tree.files);
  problems.insert(problems.end(), read.problems.begin(), read.problems.end());
  const deploy::DeployRepo& repo = read.repo;
  size_t deployments = 0;
  for (const auto& [env, services] : repo.deployed) deployments += services.size();
  if (g.output == "json") {
    boost::json::array list;
    for (const deploy::Problem& p : problems) list.push_back(ProblemJson(p));
    boost::json::object out{{"path", args.path}, {"valid", problems.empty()}, {"problems", list}};
    if (problems.empty()) {
      boost::json::array envs;
      for (const deploy::Environment& e : repo.environments) envs.emplace_back(e.name);
      out["environments"] = envs;
      out["deployments"] = deployments;
    }
    std::cout << boost::json::serialize(out) << "\n";
    return problems.empty() ? ExitCode::kOk : ExitCode::kError;
  }
  if (!problems.empty()) {
    for (const deploy::Problem& p : problems) std::cerr << p.str() << "\n";
    std::cerr << "lockstep: " << args.path << ": " << problems.size()
              << (problems.size() == 1 ? " problem" : " problems")
              << "; nothing was read from this repository\n";
    return ExitCode::kError;
  }
  std::string names;
  for (const deploy::Environment& e : repo.environments)
    names += (names.empty() ? "" : ", ") + e.name;
  std::cout << args.path << ": valid: " << repo.environments.size() << " environments (" << names
            << "), " << deployments << " deployed services\n";
  return ExitCode::kOk;
}

}  // namespace

void AddValidateCommand(CLI::App& app, Globals& g, ExitCode* exit) {
  auto args = std::make_shared<ValidateArgs>();
  CLI::App* sub = app.add_subcommand(
      "validate", "check a deploy repository's work tree (offline): every problem at once");
  sub->add_option("PATH", args->path, "the deploy repository's root (default: .)");
  AddOutputOption(*sub, g);
  sub->callback([args, &g, exit] { *exit = Validate(*args, g); });
}

}  // namespace lockstep::cli
