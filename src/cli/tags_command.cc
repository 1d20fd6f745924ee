// lockstep tags REPO [--output json] — every tag of a repository.
#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <iostream>
#include <memory>

#include "cli/image_commands.h"
#include "cli/registry_access.h"

namespace lockstep::cli {

namespace {
struct TagsArgs {
  std::string repo;
  RegistryFlags flags;
};
}  // namespace

void AddTagsCommand(CLI::App& app, Globals& g, ExitCode* exit) {
  auto args = std::make_shared<TagsArgs>();
  CLI::App* sub = app.add_subcommand("tags", "list the tags of a repository");
  sub->add_option("REPO", args->repo, "[REGISTRY/]REPOSITORY")->required();
  AddRegistryFlags(*sub, args->flags);
  AddOutputOption(*sub, g);
  sub->callback([args, &g, exit] {
    Result<ImageRef> ref = ParseImageRef(args->repo);
    if (!ref.ok()) return void(*exit = Fail(ref.status()));
    Result<RegistryAccess> access = RegistryAccess::Create(args->flags);
    if (!access.ok()) return void(*exit = Fail(access.status()));
    Result<std::vector<std::string>> tags = access->For(ref->registry).Tags(ref->repository);
    if (!tags.ok()) return void(*exit = Fail(tags.status()));
    if (g.output == "json") {
      boost::json::array out;
      for (const auto& t : *tags) out.emplace_back(t);
      std::cout << boost::json::serialize(
                       boost::json::object{{"repository", ref->repository}, {"tags", out}})
                << "\n";
      return;
    }
    for (const auto& t : *tags) std::cout << t << "\n";
  });
}

}  // namespace lockstep::cli
