// A local target for end-to-end tests: a lockstep registry holding a test image packed by
// lockstep (Debian's static busybox plus the static test programs), and a LocalTarget
// over a fresh directory that fetches from that registry with lockstep's client.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "runtime/local/local_target.h"
#include "tests/support/lockstep_server.h"

namespace lockstep::testing {

// Removes everything a stopped `lockstep serve` left in its local runtime directory
// `dir` (<data>/runtime): routes, instances, prepared releases' mounts, cgroups; failures
// are test failures. For tests that let the server run containers.
void RemoveLocalRuntime(const std::filesystem::path& dir);

class RuntimeFixture {
 public:
  // The target's directory is <node>/runtime, as `lockstep serve --data <node>` has it.
  explicit RuntimeFixture(uint64_t log_bytes = 1 << 20);
  ~RuntimeFixture();  // retires instances, unprepares releases; the registry stops

  LockstepServer& server() { return *server_; }
  runtime::local::LocalTarget& target() { return *target_; }
  runtime::Router& router() { return router_; }
  const std::filesystem::path& dir() const { return dir_; }
  // A data directory whose runtime/ is the target's: for `lockstep serve --data node()`.
  std::filesystem::path node() const { return dir_.parent_path(); }
  // The packed test image: busybox at /bin, /bin/memhog and /bin/hello_http.
  const ImageRef& image() const { return image_; }

  // A function release running `sh -c SCRIPT`.
  Release Function(const std::string& script) const;
  // A service release: busybox httpd on $PORT serving "$VERSION" at / and at /health
  // (unless `healthy` is false: then /health is missing).
  Release Service(const std::string& version, bool healthy = true) const;

  // Prepares `release`, failing the test on an error; returns its id.
  std::string Prepare(const Release& release);

  // Closes the target (instances keep running) and opens a new one on the same directory.
  void Reopen();
  // Closes the target without retiring anything, for a server to adopt.
  void Close();

  // Waits until the instance is healthy (or `timeout` passes); returns its last health.
  runtime::InstanceHealth WaitHealthy(const std::string& instance_id,
                                      std::chrono::milliseconds timeout = std::chrono::seconds(20));

 private:
  void Open();

  std::unique_ptr<LockstepServer> server_;
  ScratchDir scratch_;
  std::filesystem::path dir_;
  ImageRef image_;
  runtime::Router router_;
  std::unique_ptr<runtime::local::LocalTarget> target_;
  uint64_t log_bytes_;
};

}  // namespace lockstep::testing
