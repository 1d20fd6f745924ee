// How `lockstep serve` gets images for its local target: from its own registry's store,
// without HTTP. An image pushed to a live server is copied out of that store by digest,
// prepared and run; an image of another registry is refused with what to do.
#include <gtest/gtest.h>

#include "os/clock.h"
#include "registry/embedded_fetch.h"
#include "registry/registry.h"
#include "runtime/local/cgroups.h"
#include "tests/support/images.h"
#include "tests/support/runtime_fixture.h"

namespace lockstep::testing {
namespace {

namespace fs = std::filesystem;

TEST(EmbeddedFetch, RunsAnImageStraightFromTheServersOwnStore) {
  LockstepServer server(ServerOptions{.config_toml = "[runtime]\nenabled = false\n"});
  ScratchDir scratch;
  MakeBusyboxTree(scratch.path() / "tree");
  RunResult pack =
      Lockstep({"pack", (scratch.path() / "tree").string(), "--repo", server.host() + "/apps/tools",
                "--version", "2.0.0", "--push", "--insecure", "--quiet", "--cmd",
                R"(["/bin/sh","-c","echo from the store"])"});
  ASSERT_EQ(pack.exit_code, 0) << pack.Describe();
  ImageRef ref = ImageRef::Parse(server.host() + "/apps/tools@" + pack.OutLine(), "").value();

  // The store as the server sees it, read beside the running server.
  os::SystemClock clock;
  registry::Registry registry(server.data_dir() / "registry", {}, &clock);
  runtime::local::LocalTargetOptions options;
  options.dir = scratch.path() / "runtime";
  options.own = false;
  std::string own = server.host();
  options.fetch = [&](const ImageRef& image, image::OciLayout& into) {
    return registry::FetchFromEmbedded(registry, own, image, into);
  };
  auto target = runtime::local::LocalTarget::Open(std::move(options));
  ASSERT_TRUE(target.ok()) << target.status().ToString();

  Release release;
  release.image = ref;
  Result<runtime::PreparedRelease> prepared = (*target)->Prepare(release);
  ASSERT_TRUE(prepared.ok()) << prepared.status().ToString();
  Result<runtime::Invocation> run = (*target)->Invoke({"dev", "tools"}, prepared->release_id, {});
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_EQ(run->output, "from the store\n");
  // Every blob came over and was checked: the layout holds the manifest by digest.
  Result<image::OciLayout> layout = image::OciLayout::Open(scratch.path() / "runtime" / "images");
  ASSERT_TRUE(layout.ok());
  EXPECT_TRUE(layout->HasBlob(*ref.digest));
  EXPECT_TRUE((*target)->Unprepare(prepared->release_id).ok());
  runtime::local::RemoveCgroupScope((*target)->cgroup_scope());

  // Another registry's image is not fetched from here.
  Result<image::OciLayout> elsewhere = image::OciLayout::Create(scratch.path() / "other");
  ImageRef foreign =
      ImageRef::Parse("registry.example.com/apps/tools@" + pack.OutLine(), "").value();
  Status refused = registry::FetchFromEmbedded(registry, own, foreign, *elsewhere);
  EXPECT_EQ(refused.code(), Code::kFailedPrecondition);
  EXPECT_NE(refused.reason().find("lockstep copy"), std::string::npos) << refused.ToString();
  // Nor one the store does not hold.
  ImageRef absent = ref;
  absent.digest = DigestOf("no such manifest");
  EXPECT_FALSE(registry::FetchFromEmbedded(registry, own, absent, *elsewhere).ok());
}

}  // namespace
}  // namespace lockstep::testing
