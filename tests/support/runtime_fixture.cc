#include "tests/support/runtime_fixture.h"

#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "client/transfer.h"
#include "runtime/local/cgroups.h"
#include "tests/support/images.h"

namespace lockstep::testing {

namespace fs = std::filesystem;

// The registry's own server does not run a local target; the fixture's target does.
RuntimeFixture::RuntimeFixture(uint64_t log_bytes)
    : server_(std::make_unique<LockstepServer>(
          ServerOptions{.config_toml = "[runtime]\nenabled = false\n"})),
      log_bytes_(log_bytes) {
  fs::path tree = scratch_.path() / "tools";
  MakeBusyboxTree(tree);
  fs::copy_file(LOCKSTEP_TEST_MEMHOG, tree / "bin" / "memhog");
  fs::copy_file(LOCKSTEP_TEST_HELLO_HTTP, tree / "bin" / "hello_http");
  fs::copy_file(LOCKSTEP_TEST_SYSCALL_PROBE, tree / "bin" / "syscall_probe");
  RunResult pack = Lockstep({"pack", tree.string(), "--repo", server_->host() + "/test/tools",
                             "--version", "1.0.0", "--push", "--insecure", "--quiet"});
  EXPECT_EQ(pack.exit_code, 0) << pack.Describe();
  image_ = ImageRef::Parse(server_->host() + "/test/tools@" + pack.OutLine(), "").value();
  // A data directory as `lockstep serve` would make it: private to its user.
  fs::create_directories(scratch_.path() / "node");
  fs::permissions(scratch_.path() / "node", fs::perms::owner_all);
  dir_ = scratch_.path() / "node" / "runtime";
  Open();
}

void RuntimeFixture::Open() {
  runtime::local::LocalTargetOptions options;
  options.dir = dir_;
  options.router = &router_;
  options.stop_grace = std::chrono::seconds(2);
  options.log_bytes = log_bytes_;
  options.fetch = [](const ImageRef& ref, image::OciLayout& into) -> Status {
    client::RegistryClient registry(ref.registry, {.insecure = true}, nullptr);
    return client::PullImage(registry, ref, into, "").status();
  };
  auto target = runtime::local::LocalTarget::Open(std::move(options));
  if (!target.ok()) {
    ADD_FAILURE() << target.status().ToString();
    return;
  }
  target_ = std::move(target).value();
}

void RuntimeFixture::Reopen() {
  target_.reset();
  Open();
}

void RuntimeFixture::Close() { target_.reset(); }

RuntimeFixture::~RuntimeFixture() {
  if (target_ == nullptr) Open();
  if (target_ != nullptr) {
    // Routes first (nothing may stay routed), then every instance, then the mounts.
    router_.Publish(std::make_shared<const runtime::RoutingTable>());
    std::error_code ec;
    fs::remove(dir_ / "routes.json", ec);
    // Every instance the target supervises, also one it is restarting right now.
    for (const std::string& id : target_->InstanceIds()) {
      Status s = target_->Retire(id, std::chrono::milliseconds(0));
      if (!s.ok()) ADD_FAILURE() << "retire " << id << ": " << s.ToString();
    }
    for (const auto& entry : fs::directory_iterator(dir_ / "releases", ec)) {
      Status s = target_->Unprepare(entry.path().filename().string());
      if (!s.ok()) ADD_FAILURE() << s.ToString();
    }
    runtime::local::RemoveCgroupScope(target_->cgroup_scope());
    target_.reset();
  }
}

void RemoveLocalRuntime(const fs::path& dir) {
  std::error_code ec;
  fs::remove(dir / "routes.json", ec);  // nothing may stay routed
  runtime::Router router;
  runtime::local::LocalTargetOptions options;
  options.dir = dir;
  options.router = &router;
  options.stop_grace = std::chrono::seconds(2);
  options.fetch = [](const ImageRef&, image::OciLayout&) -> Status {
    return FailedPrecondition("nothing is fetched while cleaning up");
  };
  Result<std::unique_ptr<runtime::local::LocalTarget>> target =
      runtime::local::LocalTarget::Open(std::move(options));
  if (!target.ok()) {
    ADD_FAILURE() << "open " << dir << " to clean up: " << target.status().ToString();
    return;
  }
  for (const std::string& id : (*target)->InstanceIds()) {
    Status s = (*target)->Retire(id, std::chrono::milliseconds(0));
    if (!s.ok()) ADD_FAILURE() << "retire " << id << ": " << s.ToString();
  }
  for (const auto& entry : fs::directory_iterator(dir / "releases", ec)) {
    Status s = (*target)->Unprepare(entry.path().filename().string());
    if (!s.ok()) ADD_FAILURE() << s.ToString();
  }
  runtime::local::RemoveCgroupScope((*target)->cgroup_scope());
}

Release RuntimeFixture::Function(const std::string& script) const {
  Release r;
  r.image = image_;
  r.config.kind = ReleaseKind::kFunction;
  r.config.entrypoint = {"/bin/sh", "-c", script};
  r.config.limits.timeout_ms = 20'000;
  return r;
}

Release RuntimeFixture::Service(const std::string& version, bool healthy) const {
  Release r;
  r.image = image_;
  r.config.kind = ReleaseKind::kService;
  r.config.entrypoint = {
      "/bin/sh", "-c",
      std::string("mkdir -p /tmp/www && echo \"$VERSION\" > /tmp/www/index.html && ") +
          (healthy ? "echo ok > /tmp/www/health && " : "") +
          "echo \"serving $VERSION on $PORT\"; "
          // sh stays pid 1 and stops httpd on SIGTERM (pid 1 ignores signals it does not
          // handle).
          "/bin/busybox httpd -f -p 127.0.0.1:$PORT -h /tmp/www & child=$!; "
          "trap 'kill $child; wait $child; exit 0' TERM; wait $child"};
  r.config.env = {{"VERSION", version}};
  r.config.health = {.path = "/health", .interval_ms = 100, .timeout_ms = 500, .successes = 2};
  return r;
}

std::string RuntimeFixture::Prepare(const Release& release) {
  Result<runtime::PreparedRelease> prepared = target_->Prepare(release);
  EXPECT_TRUE(prepared.ok()) << prepared.status().ToString();
  return prepared.ok() ? prepared->release_id : "";
}

runtime::InstanceHealth RuntimeFixture::WaitHealthy(const std::string& instance_id,
                                                    std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  runtime::InstanceHealth health;
  while (std::chrono::steady_clock::now() < deadline) {
    Result<runtime::InstanceHealth> h = target_->Health(instance_id);
    if (!h.ok()) return health;
    health = *h;
    if (health.state == runtime::HealthState::kHealthy) return health;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return health;
}

}  // namespace lockstep::testing
