// The local runtime's benchmark: function invocation against a bare `runc run` of the
// same bundle, cutover and rollback switch times, and the front proxy's throughput and
// p99 latency against calling the service directly (wrk). Run by bench/runtime.sh, which
// packs the image and starts the registry.
//
// Usage: runtime_bench IMAGE@DIGEST WORK_DIR [RUNS] [WRK_SECONDS]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <thread>

#include "bench/peers.h"
#include "client/transfer.h"
#include "os/file.h"
#include "os/process.h"
#include "proxy/proxy.h"
#include "runtime/local/health_probe.h"
#include "runtime/local/local_target.h"

namespace lockstep {
namespace {

namespace fs = std::filesystem;
using bench::Clock;
using bench::Die;
using bench::Median;
using bench::Ms;
using bench::Must;
using bench::Percentile;
using bench::Wrk;
using bench::WrkResult;
using runtime::HealthState;

std::string WaitHealthy(runtime::local::LocalTarget& target, const std::string& id) {
  auto deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline) {
    if (Must(target.Health(id), "health").state == HealthState::kHealthy) return id;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  Die("waiting for " + id, Unavailable("never healthy"));
}

// CPU seconds this process (the target and its proxy) has used.
double ProcessCpuSeconds() { return bench::CpuSeconds(getpid()); }

int Main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: runtime_bench IMAGE@DIGEST WORK_DIR [RUNS] [WRK_SECONDS]\n";
    return 64;
  }
  ImageRef image = Must(ImageRef::Parse(argv[1], ""), "image");
  fs::path work = argv[2];
  int runs = argc > 3 ? std::atoi(argv[3]) : 30;
  int wrk_seconds = argc > 4 ? std::atoi(argv[4]) : 10;

  runtime::Router router;
  runtime::local::LocalTargetOptions options;
  options.dir = work / "node" / "runtime";
  options.router = &router;
  options.fetch = [](const ImageRef& ref, image::OciLayout& into) -> Status {
    client::RegistryClient registry(ref.registry, {.insecure = true}, nullptr);
    return client::PullImage(registry, ref, into, "").status();
  };
  auto target = Must(runtime::local::LocalTarget::Open(std::move(options)), "open target");
  proxy::ProxyOptions proxy_options;
  if (const char* t = std::getenv("LOCKSTEP_PROXY_THREADS")) proxy_options.threads = std::atoi(t);
  auto proxy = Must(proxy::Proxy::Start(router, proxy_options), "proxy");

  // --- 1. function invocation vs bare runc run --------------------------------------
  Release fn;
  fn.image = image;
  fn.config.kind = ReleaseKind::kFunction;
  fn.config.entrypoint = {"/bin/busybox", "true"};
  std::string fn_id = Must(target->Prepare(fn), "prepare function").release_id;
  fs::path bare = work / "bare";
  Must(os::MakeDirs(bare), "bare bundle");
  Must(os::WriteFileAtomic(bare / "config.json",
                           Must(target->FunctionSpec({"bench", "fn"}, fn_id), "spec")),
       "bare config");
  fs::path bare_root = work / "bare-runc";
  std::vector<double> invoke_ms, bare_ms;
  // Interleaved, and in alternating order, so drift and whatever the first of a pair pays
  // fall on both equally.
  auto invoke = [&] {
    auto t0 = Clock::now();
    runtime::Invocation inv = Must(target->Invoke({"bench", "fn"}, fn_id, {}), "invoke");
    if (inv.exit_code != 0) Die("invoke", Internal(inv.logs));
    return Ms(Clock::now() - t0);
  };
  int bare_runs = 0;
  auto bare_run = [&] {
    auto t0 = Clock::now();
    os::Captured b = Must(os::RunCapture({"runc", "--root", bare_root.string(), "run", "--bundle",
                                          bare.string(), "bare-" + std::to_string(bare_runs++)}),
                          "bare runc");
    if (b.exit_code != 0) Die("bare runc", Internal(b.err));
    return Ms(Clock::now() - t0);
  };
  for (int i = -3; i < runs; ++i) {  // three warm-up rounds
    double ours = 0, floor = 0;
    if (i % 2 == 0) {
      ours = invoke();
      floor = bare_run();
    } else {
      floor = bare_run();
      ours = invoke();
    }
    if (i < 0) continue;
    invoke_ms.push_back(ours);
    bare_ms.push_back(floor);
  }
  std::printf(
      "invoke      lockstep %.1f ms  bare runc %.1f ms  ratio %.3f  (median of %d; p90 %.1f vs "
      "%.1f)\n",
      Median(invoke_ms), Median(bare_ms), Median(invoke_ms) / Median(bare_ms), runs,
      Percentile(invoke_ms, 0.9), Percentile(bare_ms, 0.9));

  // --- 2. cutover and rollback switch -----------------------------------------------
  auto service = [&](const std::string& version) {
    Release r;
    r.image = image;
    r.config.kind = ReleaseKind::kService;
    r.config.entrypoint = {"/bin/hello_http"};
    r.config.env = {{"VERSION", version}};
    r.config.health = {.path = "/", .interval_ms = 20, .timeout_ms = 500, .successes = 1};
    return Must(target->Prepare(r), "prepare service").release_id;
  };
  std::string a = service("a"), b = service("b");
  std::vector<std::string> prepared = {fn_id, a, b};
  uint16_t public_port = Must(runtime::local::PickFreePort(), "public port");
  std::string live = WaitHealthy(*target, Must(target->Start({"bench", "web"}, a), "start"));
  Must(target->SwitchRoutes("bench", {{"web", {live, public_port}}}), "first route");
  std::vector<double> switch_ms, rollback_ms, cutover_ms;
  for (int i = 0; i < std::max(5, runs / 3); ++i) {
    std::string next =
        WaitHealthy(*target, Must(target->Start({"bench", "web"}, i % 2 ? a : b), "start"));
    auto t0 = Clock::now();
    Must(target->SwitchRoutes("bench", {{"web", {next, 0}}}), "switch");
    auto t1 = Clock::now();
    Must(target->SwitchRoutes("bench", {{"web", {live, 0}}}), "rollback");
    auto t2 = Clock::now();
    Must(target->SwitchRoutes("bench", {{"web", {next, 0}}}), "switch again");
    auto t3 = Clock::now();
    Must(target->Retire(live, std::chrono::seconds(5)), "retire");
    auto t4 = Clock::now();
    switch_ms.push_back(Ms(t1 - t0));
    rollback_ms.push_back(Ms(t2 - t1));
    cutover_ms.push_back(Ms(t4 - t3));
    live = next;
  }
  std::printf(
      "switch      %.2f ms median (p90 %.2f)  rollback to a running instance %.2f ms median\n",
      Median(switch_ms), Percentile(switch_ms, 0.9), Median(rollback_ms));
  std::printf("cutover     %.1f ms median from switch to old instance stopped (p90 %.1f)\n",
              Median(cutover_ms), Percentile(cutover_ms, 0.9));

  // --- 3. proxy vs direct, for backends doing 0, 50 and 200 us of work per request ---
  for (int work_us : {0, 50, 200}) {
    Release r;
    r.image = image;
    r.config.kind = ReleaseKind::kService;
    r.config.entrypoint = {"/bin/hello_http"};
    r.config.env = {{"VERSION", "w"}, {"WORK_US", std::to_string(work_us)}};
    r.config.network = NetworkGrant::kHost;  // so wrk can also call it directly
    r.config.health = {.path = "/", .interval_ms = 20, .timeout_ms = 500, .successes = 1};
    std::string release = Must(target->Prepare(r), "prepare").release_id;
    std::string id = WaitHealthy(*target, Must(target->Start({"bench", "web"}, release), "start"));
    Must(target->SwitchRoutes("bench", {{"web", {id, 0}}}), "route");
    Must(target->Retire(live, std::chrono::seconds(5)), "retire");
    live = id;
    uint16_t direct_port = 0;
    for (const auto& o : Must(target->Observe("bench"), "observe")) {
      if (o.instance_id == live) direct_port = o.port;
    }
    WrkResult direct, proxied;
    double proxy_cpu_us = 0;
    for (int round = 0; round < 2; ++round) {
      WrkResult d = Wrk(direct_port, wrk_seconds);
      double cpu0 = ProcessCpuSeconds();
      WrkResult p = Wrk(public_port, wrk_seconds);
      double cpu = ProcessCpuSeconds() - cpu0;
      if (d.requests_per_second > direct.requests_per_second) direct = d;
      if (p.requests_per_second > proxied.requests_per_second) {
        proxied = p;
        proxy_cpu_us = cpu * 1e6 / (p.requests_per_second * wrk_seconds);
      }
    }
    std::printf(
        "proxy %3dus %6.0f req/s vs direct %6.0f req/s  ratio %.3f;  p99 %.2f vs %.2f ms;  "
        "proxy CPU %.1f us/request  (wrk -t2 -c64, best of 2 x %ds)\n",
        work_us, proxied.requests_per_second, direct.requests_per_second,
        proxied.requests_per_second / direct.requests_per_second, proxied.p99_ms, direct.p99_ms,
        proxy_cpu_us, wrk_seconds);
    std::fflush(stdout);
    // The same backend behind nginx and haproxy, each measured beside lockstep's proxy in
    // alternating rounds (best of 2 each).
    for (auto start : {&bench::StartNginx, &bench::StartHaproxy}) {
      bench::Peer peer = start(work / "peers" / std::to_string(work_us), direct_port);
      WrkResult theirs, ours;
      for (int round = 0; round < 2; ++round) {
        WrkResult t = Wrk(peer.port, wrk_seconds);
        WrkResult o = Wrk(public_port, wrk_seconds);
        if (t.requests_per_second > theirs.requests_per_second) theirs = t;
        if (o.requests_per_second > ours.requests_per_second) ours = o;
      }
      peer.child.Signal(SIGTERM);
      (void)peer.child.Wait();
      std::printf(
          "  vs %-7s %6.0f req/s: lockstep %6.0f req/s  ratio %.3f;  p99 lockstep %.2f vs %.2f "
          "ms\n",
          peer.name.c_str(), theirs.requests_per_second, ours.requests_per_second,
          ours.requests_per_second / theirs.requests_per_second, ours.p99_ms, theirs.p99_ms);
      std::fflush(stdout);
    }
    prepared.push_back(release);
  }

  // --- clean up ---------------------------------------------------------------------
  router.Publish(std::make_shared<const runtime::RoutingTable>());
  (void)os::RemoveFile(work / "node" / "runtime" / "routes.json");
  for (const auto& o : Must(target->Observe(""), "observe"))
    (void)target->Retire(o.instance_id, std::chrono::seconds(1));
  for (const std::string& id : prepared) (void)target->Unprepare(id);
  return 0;
}

}  // namespace
}  // namespace lockstep

int main(int argc, char** argv) { return lockstep::Main(argc, argv); }
