// Applies through lockstep serve, end to end, beside their floor in the same run:
//
// - one service: from the CLI call (`lockstep apply dev`: fetch, plan, apply) to the first
//   answer of the new release through the front proxy, beside the same release's instance
//   started by a local target of the benchmark's own and polled every millisecond until
//   its first healthy answer (start to first healthy response: what no apply can beat);
// - twenty services at once: to the moment all twenty answer with their new release,
//   beside the slowest single-service apply of the same run (instances are staged side by
//   side, so twenty should cost little more than one);
// - the server's resident memory, idle and then with 3,000 releases recorded.
//
// Run by bench/apply.sh, which starts the server on a deploy repository and packs the
// image. Usage: apply_bench LOCKSTEP URL SERVER_PID IMAGE@DIGEST BARE_REPO WORK_DIR [RUNS]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <thread>

#include "bench/deploy_bench.h"
#include "bench/floor.h"
#include "bench/peers.h"
#include "client/http.h"
#include "core/release.h"
#include "os/clock.h"
#include "os/file.h"
#include "os/process.h"
#include "runtime/local/local_target.h"
#include "state/engine_state.h"

namespace lockstep {
namespace {

namespace fs = std::filesystem;
using bench::Clock;
using bench::Die;
using bench::Median;
using bench::Ms;
using bench::Must;
using bench::Percentile;

constexpr int kServices = 20;
std::string Memory(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line, rss, hwm;
  while (std::getline(in, line)) {
    if (line.starts_with("VmRSS:")) rss = line.substr(6);
    if (line.starts_with("VmHWM:")) hwm = line.substr(6);
  }
  auto trim = [](std::string s) { return s.erase(0, s.find_first_not_of(" \t")); };
  return "RSS " + trim(rss) + ", peak " + trim(hwm);
}

int Main(int argc, char** argv) {
  if (argc < 7) {
    std::cerr << "usage: apply_bench LOCKSTEP URL SERVER_PID IMAGE@DIGEST BARE_REPO WORK_DIR "
                 "[RUNS]\n";
    return 64;
  }
  std::string url = argv[2];
  pid_t server = static_cast<pid_t>(std::atoi(argv[3]));
  ImageRef image = Must(ImageRef::Parse(argv[4], ""), "image");
  fs::path bare = argv[5], work = argv[6];
  int runs = argc > 7 ? std::atoi(argv[7]) : 20;
  if (runs < 1) Die("apply_bench", InvalidArgument("RUNS must be at least 1"));

  bench::DeployBench bench(argv[1], url, work, kServices);
  bench.WriteRepo(image.digest->str(), bare);
  std::printf("apply_bench: %d services of one image (hello_http), health checked every 1 s\n",
              kServices);
  std::printf("server idle, nothing deployed: %s\n", Memory(server).c_str());
  std::fflush(stdout);
  {
    os::Child first =
        bench.Start({"apply", "dev"});  // the first apply: images fetched and unpacked
    bench.Finish(first, "apply");
  }

  // The floor: the same release, started by a target of the benchmark's own.
  runtime::Router router;
  std::unique_ptr<runtime::local::LocalTarget> target =
      bench::FloorTarget(work / "floor" / "runtime", router);
  auto release_of = [&](const std::string& version) {
    Release r;
    r.image = image;
    r.config.kind = ReleaseKind::kService;
    r.config.entrypoint = {"/bin/hello_http"};
    r.config.env = {{"VERSION", version}};
    r.config.health = {.path = "/", .interval_ms = 1000, .timeout_ms = 500, .successes = 1};
    return Must(target->Prepare(r), "prepare").release_id;
  };
  std::string floor_release = release_of("floor");
  auto floor_of = [&](int n) { return bench::StartToHealthy(*target, floor_release, n); };
  auto floor = [&] { return floor_of(1); };

  // One service, RUNS times, interleaved with the floor in alternating order.
  std::vector<double> single, single_cli, floors;
  int generation = 0;
  auto one = [&](int i) {
    std::string version = "r" + std::to_string(++generation);
    bench.Pin(i % kServices, version);
    bench.Push(version);
    auto t0 = Clock::now();
    os::Child apply = bench.Start({"apply", "dev"});
    double traffic = bench.UntilAnswering({i % kServices}, version, t0);
    bench.Finish(apply, "apply");
    single_cli.push_back(Ms(Clock::now() - t0));
    return traffic;
  };
  for (int i = -2; i < runs; ++i) {  // two warm-up rounds
    double ours = 0, floor_ms = 0;
    if (i % 2 == 0) {
      ours = one(i + 2);
      floor_ms = floor();
    } else {
      floor_ms = floor();
      ours = one(i + 2);
    }
    if (i < 0) {
      single_cli.pop_back();
      continue;
    }
    single.push_back(ours);
    floors.push_back(floor_ms);
  }
  std::printf(
      "apply 1 service    to traffic %6.1f ms  CLI done %6.1f ms  start-to-healthy %6.1f ms  "
      "ratio %.2f  (median of %d; p90 %.1f vs %.1f)\n",
      Median(single), Median(single_cli), Median(floors), Median(single) / Median(floors), runs,
      Percentile(single, 0.9), Percentile(floors, 0.9));
  std::fflush(stdout);

  // Twenty at once.
  std::vector<int> all;
  for (int i = 0; i < kServices; ++i) all.push_back(i);
  std::vector<double> twenty, twenty_floor;
  for (int round = 0; round < std::max(3, runs / 4); ++round) {
    std::string version = "m" + std::to_string(++generation);
    for (int i : all) bench.Pin(i, version);
    bench.Push(version);
    auto t0 = Clock::now();
    os::Child apply = bench.Start({"apply", "dev"});
    twenty.push_back(bench.UntilAnswering(all, version, t0));
    bench.Finish(apply, "apply");
    twenty_floor.push_back(floor_of(kServices));
  }
  double slowest = *std::max_element(single.begin(), single.end());
  std::printf(
      "apply %d services  to traffic %6.1f ms  slowest single %6.1f ms  ratio %.2f  (median of "
      "%zu; vs the single median %.2f)\n"
      "                   %d instances started side by side to all healthy %6.1f ms: apply / "
      "that %.2f\n",
      kServices, Median(twenty), slowest, Median(twenty) / slowest, twenty.size(),
      Median(twenty) / Median(single), kServices, Median(twenty_floor),
      Median(twenty) / Median(twenty_floor));
  std::printf("server after the applies (%d services live): %s\n", kServices,
              Memory(server).c_str());
  std::fflush(stdout);

  // 3,000 releases recorded, as three thousand applies would have left them (each with its
  // history), then read back by status, history and plan.
  {
    os::SystemClock clock;
    auto store =
        Must(state::OpenSqliteStateStore((work / "data" / "engine.db").string(), &clock), "store");
    auto tx = Must(store->Begin(), "begin");
    for (int i = 0; i < 3000; ++i) {
      Release r;
      r.image = image;
      r.config.kind = ReleaseKind::kService;
      r.config.entrypoint = {"/bin/hello_http"};
      r.config.env = {{"VERSION", "old-" + std::to_string(i)}};
      std::string id = ReleaseId(r);
      Must(tx->PutRelease(id, ToJson(r)), "release");
      Must(tx->AppendHistory({.environment = "dev",
                              .service = "svc-" + std::to_string(i % kServices),
                              .deployment_id = 1,
                              .change = state::Change::kChanged,
                              .from_release = id,
                              .to_release = id,
                              .version = "1.0.0"}),
           "history");
    }
    Must(tx->Commit(), "commit");
  }
  for (const std::vector<std::string>& read : {std::vector<std::string>{"status", "dev"},
                                               {"history", "dev", "--limit", "1000"},
                                               {"plan", "dev"}}) {
    std::vector<std::string> command = {bench.lockstep()};
    command.insert(command.end(), read.begin(), read.end());
    command.insert(command.end(), {"--server", bench.url()});
    os::Captured r = Must(os::RunCapture(command), read[0]);
    if (r.exit_code != 0) Die(read[0], Internal(r.err));
  }
  std::printf("server with 3,000 more releases recorded, after status, history and plan: %s\n",
              Memory(server).c_str());
  for (const runtime::ObservedInstance& o : Must(target->Observe(""), "observe")) {
    (void)target->Retire(o.instance_id, std::chrono::milliseconds(0));
  }
  return 0;
}

}  // namespace
}  // namespace lockstep

int main(int argc, char** argv) { return lockstep::Main(argc, argv); }
