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

#include "bench/peers.h"
#include "client/http.h"
#include "client/registry_client.h"
#include "client/transfer.h"
#include "core/release.h"
#include "os/clock.h"
#include "os/file.h"
#include "os/process.h"
#include "runtime/local/health_probe.h"
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
// The health check of every service, as a team sets one for steady state: every second.
// (While an instance starts, the local target checks it sooner: restart_backoff.h.)
constexpr const char* kHealth = R"(health = { path = "/", interval = "1s", timeout = "500ms" })";

void Sh(const std::string& command) {
  os::Captured r = Must(os::RunCapture({"sh", "-c", command}), command);
  if (r.exit_code != 0) Die(command, Internal(r.out + r.err));
}

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

class Bench {
 public:
  Bench(std::string lockstep, std::string url, fs::path work)
      : lockstep_(std::move(lockstep)), url_(std::move(url)), work_(std::move(work)) {}

  // The deploy repository: kServices services of one image, each on a port of its own.
  void WriteRepo(const std::string& digest, const fs::path& bare) {
    fs::path tree = work_ / "deploy";
    fs::create_directories(tree / "services");
    fs::create_directories(tree / "environments" / "dev");
    std::ofstream(tree / "lockstep.toml")
        << "registry = \"embedded\"\n[[environment]]\nname = \"dev\"\n";
    for (int i = 0; i < kServices; ++i) {
      std::string name = "svc-" + std::to_string(i);
      ports_.push_back(Must(runtime::local::PickFreePort(), "port"));
      std::ofstream(tree / "services" / (name + ".toml"))
          << "kind = \"service\"\nimage = \"bench/apply\"\nentrypoint = [\"/bin/hello_http\"]\n"
             "[service]\ndrain = \"0s\"\n"
          << kHealth << "\n";
      digest_ = digest;
      Pin(i, "v0");
    }
    Sh("cd '" + tree.string() + "' && git init -q -b main && git config user.email b@e && " +
       "git config user.name b && git remote add origin '" + bare.string() + "'");
    Push("first");
  }

  // Sets what service `i` answers (its VERSION) in dev.
  void Pin(int i, const std::string& version) {
    std::ofstream(work_ / "deploy" / "environments" / "dev" /
                  ("svc-" + std::to_string(i) + ".toml"))
        << "version = \"1.0.0\"\ndigest = \"" << digest_ << "\"\n[env]\nVERSION = \"" << version
        << "\"\n[service]\nport = " << ports_[static_cast<size_t>(i)] << "\n";
  }

  void Push(const std::string& message) {
    Sh("cd '" + (work_ / "deploy").string() + "' && git add -A && git commit -qm '" + message +
       "' && git push -q origin main");
  }

  // `lockstep apply dev`, started; the caller waits for it.
  os::Child StartApply() {
    return Must(os::Spawn({lockstep_, "apply", "dev", "--server", url_}, {}), "apply");
  }

  void Finish(os::Child& apply) {
    int code = Must(apply.Wait(), "apply");
    if (code != 0) Die("lockstep apply dev", Internal("exit " + std::to_string(code)));
  }

  bool Answers(int i, const std::string& version) {
    client::HttpRequest req;
    req.url = "http://127.0.0.1:" + std::to_string(ports_[static_cast<size_t>(i)]) + "/";
    // A new connection each time: what a new client of the new release sees.
    req.headers = {"Connection: close"};
    Result<client::HttpResponse> r = http_.Do(req);
    return r.ok() && r->status == 200 && r->body == "hello from " + version + "\n";
  }

  // Milliseconds from now until every service of `which` answers with `version`.
  double UntilAnswering(const std::vector<int>& which, const std::string& version,
                        Clock::time_point t0) {
    std::vector<int> waiting = which;
    const auto deadline = t0 + std::chrono::seconds(60);
    while (!waiting.empty()) {
      if (Clock::now() > deadline) Die("apply", Internal("the new release never answered"));
      std::erase_if(waiting, [&](int i) { return Answers(i, version); });
      if (!waiting.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return Ms(Clock::now() - t0);
  }

  const std::string& lockstep() const { return lockstep_; }
  const std::string& url() const { return url_; }

 private:
  std::string lockstep_, url_;
  fs::path work_;
  std::string digest_;
  std::vector<uint16_t> ports_;
  client::HttpClient http_{client::HttpOptions{}};
};

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

  Bench bench(argv[1], url, work);
  bench.WriteRepo(image.digest->str(), bare);
  std::printf("apply_bench: %d services of one image (hello_http), health checked every 1 s\n",
              kServices);
  std::printf("server idle, nothing deployed: %s\n", Memory(server).c_str());
  std::fflush(stdout);
  {
    os::Child first = bench.StartApply();  // the first apply: images fetched and unpacked
    bench.Finish(first);
  }

  // The floor: the same release, started by a target of the benchmark's own.
  runtime::Router router;
  runtime::local::LocalTargetOptions options;
  options.dir = work / "floor" / "runtime";
  options.router = &router;
  options.fetch = [](const ImageRef& ref, image::OciLayout& into) -> Status {
    client::RegistryClient registry(ref.registry, {.insecure = true}, nullptr);
    return client::PullImage(registry, ref, into, "").status();
  };
  auto target = Must(runtime::local::LocalTarget::Open(std::move(options)), "open target");
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
  // `n` instances started side by side, each polled every millisecond until it answers;
  // milliseconds until the last one did.
  auto floor_of = [&](int n) {
    auto t0 = Clock::now();
    std::vector<std::string> ids(static_cast<size_t>(n));
    {
      std::vector<std::jthread> starting;
      for (auto& id : ids) {
        starting.emplace_back([&] {
          id = Must(target->Start({"bench", "floor"}, floor_release), "start");
        });
      }
    }
    std::map<std::string, std::pair<uint16_t, std::string>> where;
    for (const runtime::ObservedInstance& o : Must(target->Observe("bench"), "observe")) {
      where[o.instance_id] = {o.port, o.netns};
    }
    std::vector<std::string> waiting = ids;
    while (!waiting.empty()) {
      if (Clock::now() - t0 > std::chrono::seconds(30)) Die("floor", Internal("never healthy"));
      std::erase_if(waiting, [&](const std::string& id) {
        auto [port, netns] = where.at(id);
        return runtime::local::ProbeHttp(port, "/", std::chrono::milliseconds(500), netns).ok();
      });
      if (!waiting.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    double ms = Ms(Clock::now() - t0);
    for (const std::string& id : ids)
      Must(target->Retire(id, std::chrono::milliseconds(0)), "retire");
    return ms;
  };
  auto floor = [&] { return floor_of(1); };

  // One service, RUNS times, interleaved with the floor in alternating order.
  std::vector<double> single, single_cli, floors;
  int generation = 0;
  auto one = [&](int i) {
    std::string version = "r" + std::to_string(++generation);
    bench.Pin(i % kServices, version);
    bench.Push(version);
    auto t0 = Clock::now();
    os::Child apply = bench.StartApply();
    double traffic = bench.UntilAnswering({i % kServices}, version, t0);
    bench.Finish(apply);
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
    os::Child apply = bench.StartApply();
    twenty.push_back(bench.UntilAnswering(all, version, t0));
    bench.Finish(apply);
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
