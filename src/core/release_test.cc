#include "core/release.h"

#include <gtest/gtest.h>

namespace lockstep {
namespace {

Release Sample() {
  Release r;
  r.image = ImageRef::Parse(
                "registry.local:5000/apps/hello@sha256:"
                "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                "")
                .value();
  r.config.kind = ReleaseKind::kService;
  r.config.cmd = {"/bin/httpd", "-f"};
  r.config.env = {{"GREETING", "hi"}};
  r.config.volumes = {{"uploads", true}};
  return r;
}

TEST(ReleaseId, CoversDigestAndEveryPartOfTheConfig) {
  Release base = Sample();
  std::string id = ReleaseId(base);
  EXPECT_EQ(id.size(), 25u);
  EXPECT_EQ(ReleaseId(Sample()), id);

  Release env = Sample();
  env.config.env["GREETING"] = "hello";
  Release memory = Sample();
  memory.config.limits.memory_bytes += 1;
  Release grant = Sample();
  grant.config.volumes[0].writable = false;
  Release network = Sample();
  network.config.network = NetworkGrant::kHost;
  Release health = Sample();
  health.config.health.path = "/ready";
  Release user = Sample();
  user.config.user = "1000";
  Release root = Sample();
  root.config.root = true;
  Release syscalls = Sample();
  syscalls.config.syscalls = {"ptrace"};
  for (const Release& changed : {env, memory, grant, network, health, user, root, syscalls}) {
    EXPECT_NE(ReleaseId(changed), id);
  }
}

TEST(ReleaseId, GrantsAddedLaterLeaveOlderIdsAsTheyWere) {
  // The id Sample() had before user, root and syscalls existed: releases recorded then
  // must still be found by it.
  EXPECT_EQ(ReleaseId(Sample()), "rcc7213167c8a58d2d11ffdba");
}

TEST(ReleaseId, IgnoresWhereTheImageCameFrom) {
  Release mirror = Sample();
  mirror.image.registry = "mirror.local";
  mirror.image.repository = "elsewhere/hello";
  EXPECT_EQ(ReleaseId(mirror), ReleaseId(Sample()));
}

TEST(ReleaseJson, RoundTrips) {
  Release r = Sample();
  r.config.user = "1000:1000";
  r.config.root = true;
  r.config.syscalls = {"ptrace", "io_uring_setup"};
  Result<Release> back = ReleaseFromJson(ToJson(r));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->config, r.config);
  EXPECT_EQ(back->image.str(), r.image.str());
  EXPECT_EQ(ReleaseId(*back), ReleaseId(r));
}

TEST(ReleaseValidate, NamesTheBadField) {
  Release unpinned = Sample();
  unpinned.image.digest.reset();
  EXPECT_NE(Validate(unpinned).message().find("not pinned"), std::string::npos);
  Release volume = Sample();
  volume.config.volumes = {{"../etc", false}};
  EXPECT_NE(Validate(volume).message().find("volume name '../etc'"), std::string::npos);
  Release env = Sample();
  env.config.env["A=B"] = "x";
  EXPECT_NE(Validate(env).message().find("env name 'A=B'"), std::string::npos);
  Release memory = Sample();
  memory.config.limits.memory_bytes = 1024;
  EXPECT_EQ(Validate(memory).code(), Code::kInvalidArgument);
  Release named = Sample();
  named.config.user = "www-data";
  EXPECT_NE(Validate(named).message().find("user 'www-data' is not numeric"), std::string::npos);
  Release root = Sample();
  root.config.user = "0:0";
  EXPECT_NE(Validate(root).message().find("not granted"), std::string::npos);
  root.config.root = true;
  EXPECT_TRUE(Validate(root).ok());
  Release syscall = Sample();
  syscall.config.syscalls = {"ptrace;rm"};
  EXPECT_NE(Validate(syscall).message().find("'ptrace;rm' is not a system call name"),
            std::string::npos);
  EXPECT_TRUE(Validate(Sample()).ok());
}

}  // namespace
}  // namespace lockstep
