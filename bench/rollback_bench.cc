// Rollbacks through lockstep serve, end to end, beside what they answer in the same run:
//
// - inside the rollback window: `lockstep rollback dev svc-0` from the CLI call to the first
//   answer of the earlier release through the front proxy (a switch to the standby);
// - the account's way, done with lockstep itself: the pin edited back in git (commit and
//   push), then `lockstep apply dev` (fetch, plan, apply), to the same first answer;
// - outside the window (rollback_window = "0s"): the rollback starts the earlier release
//   again from the cached image, beside that release's own start to first healthy answer
//   (an instance started by a local target of the benchmark's own).
//
// Between runs the write-back to git is waited for and the hold released, as a person would.
// Run by bench/rollback.sh. Usage: rollback_bench LOCKSTEP URL IMAGE@DIGEST BARE WORK [RUNS]
#include <boost/json.hpp>
#include <cstdio>
#include <iostream>
#include <thread>

#include "bench/deploy_bench.h"
#include "bench/floor.h"
#include "core/release.h"

namespace lockstep {
namespace {

namespace fs = std::filesystem;
namespace bj = boost::json;
using bench::Clock;
using bench::Die;
using bench::Median;
using bench::Ms;
using bench::Must;
using bench::Percentile;

constexpr const char* kTop = "registry = \"embedded\"\n[[environment]]\nname = \"dev\"\n";

class Rollbacks {
 public:
  explicit Rollbacks(bench::DeployBench& b) : b_(b) {}

  // Makes `version` live through git and an apply.
  void Deploy(const std::string& version) {
    b_.Pin(0, version);
    b_.Push(version);
    os::Child apply = b_.Start({"apply", "dev"});
    b_.Finish(apply, "apply");
  }

  // `lockstep rollback dev svc-0` until `earlier` answers; then git is waited for and the
  // hold released.
  double Rollback(const std::string& earlier) {
    auto t0 = Clock::now();
    os::Child rollback = b_.Start({"rollback", "dev", "svc-0", "--reason", "bench"});
    double ms = b_.UntilAnswering({0}, earlier, t0);
    b_.Finish(rollback, "rollback");
    AwaitGit();
    b_.Run({"hold", "release", "dev", "svc-0", "--reason", "bench"});
    b_.Pull();
    return ms;
  }

  // The pin edited back in git, then a plan-and-apply, until `earlier` answers.
  double ByGit(const std::string& earlier) {
    auto t0 = Clock::now();
    b_.Pin(0, earlier);
    b_.Push("back to " + earlier);
    os::Child apply = b_.Start({"apply", "dev"});
    double ms = b_.UntilAnswering({0}, earlier, t0);
    b_.Finish(apply, "apply");
    return ms;
  }

 private:
  void AwaitGit() {
    auto deadline = Clock::now() + std::chrono::seconds(30);
    for (;;) {
      bj::value s = bj::parse(b_.Run({"status", "dev", "--output", "json"}));
      if (!s.at("git").at("behind").as_bool()) return;
      if (Clock::now() > deadline) Die("rollback", Internal("the write-back never landed"));
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }

  bench::DeployBench& b_;
};

int Main(int argc, char** argv) {
  if (argc < 6) {
    std::cerr << "usage: rollback_bench LOCKSTEP URL IMAGE@DIGEST BARE_REPO WORK_DIR [RUNS]\n";
    return 64;
  }
  ImageRef image = Must(ImageRef::Parse(argv[3], ""), "image");
  fs::path bare = argv[4], work = argv[5];
  int runs = argc > 6 ? std::atoi(argv[6]) : 20;
  if (runs < 1) Die("rollback_bench", InvalidArgument("RUNS must be at least 1"));

  bench::DeployBench b(argv[1], argv[2], work, 1);
  b.WriteRepo(image.digest->str(), bare, kTop);
  Rollbacks r(b);
  {
    os::Child first = b.Start({"apply", "dev"});  // images fetched and unpacked
    b.Finish(first, "apply");
  }

  // Inside the window (the default, 15 minutes), interleaved with the account's way.
  std::vector<double> instant, by_git;
  int generation = 0;
  std::string live = "v0";
  for (int i = -1; i < runs; ++i) {  // one warm-up round
    std::string next = "r" + std::to_string(++generation);
    r.Deploy(next);
    double ours = r.Rollback(live);  // back to `live`; `next` is the standby now
    r.Deploy(next);
    double theirs = r.ByGit(live);
    if (i < 0) continue;
    instant.push_back(ours);
    by_git.push_back(theirs);
  }
  std::printf(
      "rollback inside the window  to traffic %6.1f ms  (p90 %.1f)  the account's way (edit "
      "the pin, push, apply) %6.1f ms (p90 %.1f)  ratio %.1f×  (median of %d)\n",
      Median(instant), Percentile(instant, 0.9), Median(by_git), Percentile(by_git, 0.9),
      Median(by_git) / Median(instant), runs);
  std::fflush(stdout);

  // Outside it: nothing kept, so the earlier release starts again.
  b.WriteTop(std::string(kTop) + "rollback_window = \"0s\"\n");
  r.Deploy(live);
  runtime::Router router;
  std::unique_ptr<runtime::local::LocalTarget> target =
      bench::FloorTarget(work / "floor" / "runtime", router);
  Release release;
  release.image = image;
  release.config.kind = ReleaseKind::kService;
  release.config.entrypoint = {"/bin/hello_http"};
  release.config.env = {{"VERSION", "floor"}};
  release.config.health = {.path = "/", .interval_ms = 1000, .timeout_ms = 500, .successes = 1};
  std::string floor_release = Must(target->Prepare(release), "prepare").release_id;
  std::vector<double> cold, floors;
  for (int i = -1; i < runs; ++i) {
    std::string next = "c" + std::to_string(++generation);
    r.Deploy(next);
    double floor_ms = 0, ours = 0;
    if (i % 2 == 0) {
      floor_ms = bench::StartToHealthy(*target, floor_release, 1);
      ours = r.Rollback(live);
    } else {
      ours = r.Rollback(live);
      floor_ms = bench::StartToHealthy(*target, floor_release, 1);
    }
    if (i < 0) continue;
    cold.push_back(ours);
    floors.push_back(floor_ms);
  }
  std::printf(
      "rollback outside the window to traffic %6.1f ms  (p90 %.1f)  start-to-healthy %6.1f ms "
      "(p90 %.1f)  ratio %.2f  (median of %d)\n",
      Median(cold), Percentile(cold, 0.9), Median(floors), Percentile(floors, 0.9),
      Median(cold) / Median(floors), runs);
  return 0;
}

}  // namespace
}  // namespace lockstep

int main(int argc, char** argv) { return lockstep::Main(argc, argv); }
