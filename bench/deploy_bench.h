// What the engine benchmarks share: a deploy repository of N services of one image
// (hello_http answering "hello from $VERSION"), each on a public port of its own, pushed to
// a bare remote that lockstep serve mirrors, and a client that polls those ports.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "bench/peers.h"
#include "client/http.h"
#include "os/process.h"

namespace lockstep::bench {

// Runs `command` with sh -c; its failure ends the benchmark.
void Sh(const std::string& command);

class DeployBench {
 public:
  DeployBench(std::string lockstep, std::string url, std::filesystem::path work, int services);

  // The deploy repository: svc-0 … svc-N-1, each answering "v0", with `top` as its
  // lockstep.toml.
  void WriteRepo(const std::string& digest, const std::filesystem::path& bare,
                 const std::string& top =
                     "registry = \"embedded\"\n[[environment]]\nname = "
                     "\"dev\"\n");
  // Sets what service `i` answers (its VERSION) in dev.
  void Pin(int i, const std::string& version);
  void WriteTop(const std::string& top);
  // Commits the work tree and pushes it.
  void Push(const std::string& message);
  // Brings the work tree up to the remote (after lockstep pushed to it).
  void Pull();

  // `lockstep ARGS… --server URL`, started; Finish waits for it and ends the benchmark if
  // it failed.
  os::Child Start(std::vector<std::string> args);
  void Finish(os::Child& child, const std::string& what);
  // Runs `lockstep ARGS… --server URL` to its end; its output.
  std::string Run(std::vector<std::string> args);

  bool Answers(int i, const std::string& version);
  // Milliseconds from `t0` until every service of `which` answers with `version`.
  double UntilAnswering(const std::vector<int>& which, const std::string& version,
                        Clock::time_point t0);

  const std::string& lockstep() const { return lockstep_; }
  const std::string& url() const { return url_; }

 private:
  std::string lockstep_, url_;
  std::filesystem::path work_;
  int services_;
  std::string digest_;
  std::vector<uint16_t> ports_;
  client::HttpClient http_{client::HttpOptions{}};
};

}  // namespace lockstep::bench
