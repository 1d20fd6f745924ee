#include "runtime/local/runtime_spec.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace lockstep::runtime::local {
namespace {

namespace json = boost::json;

json::object Spec(const ImageConfig& image, const ReleaseConfig& release,
                  std::map<std::string, std::filesystem::path> volumes = {}) {
  SpecInput in{.image = &image,
               .release = &release,
               .rootfs = "/r",
               .extra_env = {{"PORT", "8080"}},
               .volumes = std::move(volumes),
               .cgroups_path = "/lockstep/x/c"};
  Result<std::string> text = RuntimeSpec(in);
  EXPECT_TRUE(text.ok()) << text.status().ToString();
  return text.ok() ? json::parse(*text).as_object() : json::object();
}

std::vector<std::string> Strings(const json::value& v) {
  std::vector<std::string> out;
  for (const json::value& e : v.as_array()) out.emplace_back(e.as_string());
  return out;
}

TEST(ContainerArgs, ReleaseOverridesTheImageAsDockerDoes) {
  ImageConfig image{.entrypoint = {"/bin/app"}, .cmd = {"--serve"}};
  ReleaseConfig none;
  EXPECT_EQ(ContainerArgs(image, none), (std::vector<std::string>{"/bin/app", "--serve"}));
  ReleaseConfig cmd{.cmd = {"--once"}};
  EXPECT_EQ(ContainerArgs(image, cmd), (std::vector<std::string>{"/bin/app", "--once"}));
  ReleaseConfig entry{.entrypoint = {"/bin/sh", "-c", "true"}};
  EXPECT_EQ(ContainerArgs(image, entry), (std::vector<std::string>{"/bin/sh", "-c", "true"}));
}

TEST(RuntimeSpec, EnvIsImageThenReleaseThenLockstep) {
  ImageConfig image{.cmd = {"/bin/app"}, .env = {"PATH=/app/bin", "MODE=image", "KEEP=1"}};
  ReleaseConfig release{.env = {{"MODE", "release"}, {"PORT", "1"}}};
  json::object spec = Spec(image, release);
  EXPECT_EQ(Strings(spec["process"].at("env")),
            (std::vector<std::string>{"PATH=/app/bin", "MODE=release", "KEEP=1", "PORT=8080"}));
}

TEST(RuntimeSpec, LocksTheContainerDown) {
  ImageConfig image{.cmd = {"/bin/app"}, .user = "1000:1000"};
  ReleaseConfig release;
  release.limits.memory_bytes = 64 << 20;
  release.limits.pids = 32;
  json::object spec = Spec(image, release);
  EXPECT_TRUE(spec["root"].at("readonly").as_bool());
  EXPECT_TRUE(spec["process"].at("noNewPrivileges").as_bool());
  EXPECT_EQ(spec["process"].at("user").at("uid").as_int64(), 1000);
  std::vector<std::string> caps = Strings(spec["process"].at("capabilities").at("bounding"));
  EXPECT_EQ(std::count(caps.begin(), caps.end(), "CAP_SYS_ADMIN"), 0);
  EXPECT_EQ(std::count(caps.begin(), caps.end(), "CAP_NET_RAW"), 0);
  const json::object& resources = spec["linux"].at("resources").as_object();
  EXPECT_EQ(resources.at("memory").at("limit").as_int64(), 64 << 20);
  EXPECT_EQ(resources.at("memory").at("swap").as_int64(), 64 << 20);
  EXPECT_EQ(resources.at("pids").at("limit").as_int64(), 32);
  bool tmp_is_tmpfs = false;
  for (const json::value& m : spec["mounts"].as_array()) {
    if (m.at("destination") == "/tmp") tmp_is_tmpfs = m.at("type") == "tmpfs";
  }
  EXPECT_TRUE(tmp_is_tmpfs);
}

TEST(RuntimeSpec, RunsAsNobodyWithoutCapabilitiesUnlessTheImageOrReleaseSaysOtherwise) {
  auto user_and_caps = [](const ImageConfig& image, const ReleaseConfig& release) {
    json::object spec = Spec(image, release);
    const json::object& process = spec["process"].as_object();
    return std::pair{process.at("user").at("uid").as_int64(),
                     Strings(process.at("capabilities").at("effective")).size()};
  };
  ImageConfig plain{.cmd = {"/bin/app"}};
  EXPECT_EQ(user_and_caps(plain, {}), (std::pair<int64_t, size_t>{65534, 0}));
  ImageConfig app_user{.cmd = {"/bin/app"}, .user = "1000"};
  EXPECT_EQ(user_and_caps(app_user, {}), (std::pair<int64_t, size_t>{1000, 0}));
  EXPECT_EQ(user_and_caps(plain, {.user = "4242:4242"}), (std::pair<int64_t, size_t>{4242, 0}));
  // Root is granted, never assumed: then it runs with the short capability list.
  ReleaseConfig root{.root = true};
  auto [uid, caps] = user_and_caps(plain, root);
  EXPECT_EQ(uid, 0);
  EXPECT_GT(caps, 0u);
  ImageConfig image_root{.cmd = {"/bin/app"}, .user = "0"};
  EXPECT_EQ(user_and_caps(image_root, root).first, 0);
  EXPECT_EQ(user_and_caps(app_user, root).first, 1000) << "the grant allows root, not forces it";
  for (std::string user : {"root", "0", "0:0"}) {
    ImageConfig asks{.cmd = {"/bin/app"}, .user = user};
    Status refused = CheckRunnable(asks, {});
    EXPECT_NE(refused.message().find("does not grant root"), std::string::npos) << user;
  }
}

TEST(RuntimeSpec, EveryContainerGetsTheSeccompPolicyAndItsGrants) {
  ImageConfig image{.cmd = {"/bin/app"}};
  auto allowed = [&](const ReleaseConfig& release) {
    json::object spec = Spec(image, release);
    const json::object& seccomp = spec["linux"].at("seccomp").as_object();
    EXPECT_EQ(seccomp.at("defaultAction"), "SCMP_ACT_ERRNO");
    return Strings(seccomp.at("syscalls").at(0).at("names"));
  };
  std::vector<std::string> names = allowed({});
  EXPECT_EQ(std::count(names.begin(), names.end(), "read"), 1);
  EXPECT_EQ(std::count(names.begin(), names.end(), "ptrace"), 0);
  names = allowed({.syscalls = {"ptrace"}});
  EXPECT_EQ(std::count(names.begin(), names.end(), "ptrace"), 1);
}

TEST(RuntimeSpec, TheProgramAndWorkdirArePlainPathsOutsideTheKernelsFilesystems) {
  for (std::string dir :
       {"/proc/self/fd/7", "/proc", "/sys/fs/cgroup", "/dev/shm", "/app/../proc/self/fd/7", "app",
        "./app", "//proc/self/fd/7", "/.//proc"}) {
    ImageConfig image{.cmd = {"/bin/app"}, .working_dir = dir};
    Status refused = CheckRunnable(image, {});
    EXPECT_EQ(refused.code(), Code::kInvalidArgument) << dir;
    EXPECT_NE(refused.message().find("WORKDIR '" + dir + "'"), std::string::npos)
        << refused.message();
  }
  for (std::string program :
       {"/proc/self/fd/7/../../bin/sh", "//proc/self/exe", "proc/self/fd/7", "../proc/self/exe"}) {
    ImageConfig image{.entrypoint = {program}};
    EXPECT_EQ(CheckRunnable(image, {}).code(), Code::kInvalidArgument) << program;
  }
  // A bare name is found in PATH, which may not lead there either.
  ImageConfig via_path{.entrypoint = {"7"}, .env = {"PATH=/usr/bin:/proc/self/fd"}};
  EXPECT_NE(CheckRunnable(via_path, {}).message().find("PATH entry '/proc/self/fd'"),
            std::string::npos);
  ImageConfig relative_path{.entrypoint = {"app"}, .env = {"PATH=bin:/usr/bin"}};
  EXPECT_EQ(CheckRunnable(relative_path, {}).code(), Code::kInvalidArgument);
  ReleaseConfig fixes_path{.env = {{"PATH", "/usr/bin"}}};
  EXPECT_TRUE(CheckRunnable(via_path, fixes_path).ok()) << "the release's PATH is the one used";
  for (std::string dir : {"/", "/app", "/srv/process", "/procfs", "/var/lib/app/"}) {
    ImageConfig image{.cmd = {"/bin/app"}, .working_dir = dir};
    EXPECT_TRUE(CheckRunnable(image, {}).ok()) << dir;
  }
  ImageConfig by_name{.cmd = {"app"}};
  EXPECT_TRUE(CheckRunnable(by_name, {}).ok()) << "a program found on PATH";
}

TEST(RuntimeSpec, NetworkIsOwnNamespaceUnlessGranted) {
  ImageConfig image{.cmd = {"/bin/app"}};
  auto has_netns = [&](NetworkGrant grant) {
    ReleaseConfig release{.network = grant};
    json::object spec = Spec(image, release);
    for (const json::value& ns : spec["linux"].at("namespaces").as_array()) {
      if (ns.at("type") == "network") return true;
    }
    return false;
  };
  EXPECT_TRUE(has_netns(NetworkGrant::kNone));
  EXPECT_FALSE(has_netns(NetworkGrant::kHost));
  // A service joins the namespace lockstep holds for the instance.
  ReleaseConfig service{.kind = ReleaseKind::kService};
  SpecInput in{.image = &image,
               .release = &service,
               .rootfs = "/r",
               .network_namespace = "/data/instances/x/netns"};
  json::object spec = json::parse(RuntimeSpec(in).value()).as_object();
  std::string joined;
  for (const json::value& ns : spec["linux"].at("namespaces").as_array()) {
    if (ns.at("type") == "network") joined = std::string(ns.at("path").as_string());
  }
  EXPECT_EQ(joined, "/data/instances/x/netns");
}

TEST(RuntimeSpec, MountsOnlyGrantedVolumesWithTheirMode) {
  ImageConfig image{.cmd = {"/bin/app"}};
  ReleaseConfig release{.volumes = {{"reports", false}, {"uploads", true}}};
  json::object spec =
      Spec(image, release,
           {{"reports", "/v/reports"}, {"uploads", "/v/uploads"}, {"secrets", "/v/secrets"}});
  std::map<std::string, std::vector<std::string>> binds;
  for (const json::value& m : spec["mounts"].as_array()) {
    if (m.at("type") == "bind")
      binds[std::string(m.at("destination").as_string())] = Strings(m.at("options"));
  }
  ASSERT_EQ(binds.size(), 2u);
  EXPECT_EQ(binds["/volumes/reports"].back(), "ro");
  EXPECT_EQ(binds["/volumes/uploads"].back(), "rw");
}

TEST(RuntimeSpec, RefusesWhatCannotRun) {
  ImageConfig empty;
  ReleaseConfig release;
  SpecInput in{.image = &empty, .release = &release, .rootfs = "/r"};
  EXPECT_NE(RuntimeSpec(in).status().message().find("nothing to run"), std::string::npos);
  ImageConfig named{.cmd = {"/bin/app"}, .user = "www-data"};
  in.image = &named;
  EXPECT_NE(RuntimeSpec(in).status().message().find("not numeric"), std::string::npos);
  ImageConfig image{.cmd = {"/bin/app"}};
  ReleaseConfig missing{.volumes = {{"data", true}}};
  in.image = &image;
  in.release = &missing;
  EXPECT_EQ(RuntimeSpec(in).status().code(), Code::kFailedPrecondition);
}

}  // namespace
}  // namespace lockstep::runtime::local
