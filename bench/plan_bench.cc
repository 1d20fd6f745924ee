// `plan` of a large deploy repository beside its floor, in the same run: 1,000 services
// in 3 environments (4,001 files in git, every digest pinned, the state recorded, every
// service running), planned through PlanEnvironment (mirror tree at a commit, the deploy
// reader, SQLite, the target's Observe) against reading the same tree with libgit2 and
// parsing every file with toml++ and nothing else. Then the same with 100 services
// changed. Runs interleaved; medians printed.
//
// Usage: plan_bench WORK_DIR [RUNS] [SERVICES]
#include <toml++/toml.h>

#include <cstdio>
#include <fstream>
#include <iostream>

#include "bench/peers.h"
#include "engine/planner.h"
#include "os/file.h"
#include "runtime/fake_target.h"

namespace lockstep {
namespace {

namespace fs = std::filesystem;
using namespace bench;

void Sh(const std::string& command) {
  os::Captured r = Must(os::RunCapture({"sh", "-c", command}), command);
  if (r.exit_code != 0) Die(command, Internal(r.err));
}

std::string Digest(int i, int generation) {
  char hex[65];
  std::snprintf(hex, sizeof hex, "%064x", i * 7919 + generation);
  return std::string("sha256:") + hex;
}

const std::vector<std::string> kEnvironments = {"dev", "staging", "prod"};

void WriteRepo(const fs::path& work, int services, int changed_generation, int changed) {
  std::ofstream(work / "lockstep.toml")
      << "[[environment]]\nname = \"dev\"\n[[environment]]\nname = \"staging\"\n"
         "promote_from = \"dev\"\n[[environment]]\nname = \"prod\"\npromote_from = \"staging\"\n";
  fs::create_directories(work / "services");
  for (int i = 0; i < services; ++i) {
    std::string name = "svc-" + std::to_string(i);
    std::ofstream(work / "services" / (name + ".toml"))
        << "kind = \"service\"\nimage = \"bench/" << name
        << "\"\nentrypoint = [\"/bin/app\"]\n[env]\nLOG_LEVEL = \"info\"\nREGION = \"eu\"\n"
           "[limits]\nmemory = \"128Mi\"\ncpu = 0.5\n[service]\ndrain = \"5s\"\n"
           "health = { path = \"/healthz\", interval = \"500ms\" }\n";
    for (size_t e = 0; e < kEnvironments.size(); ++e) {
      fs::create_directories(work / "environments" / kEnvironments[e]);
      int generation = (e == 0 && i < changed) ? changed_generation : 0;
      std::ofstream(work / "environments" / kEnvironments[e] / (name + ".toml"))
          << "version = \"1.0." << generation << "\"\ndigest = \"" << Digest(i, generation)
          << "\"\n[env]\nENVIRONMENT = \"" << kEnvironments[e]
          << "\"\n[service]\nport = " << 20000 + e * services + i << "\n";
    }
  }
}

int Main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << "usage: plan_bench WORK_DIR [RUNS] [SERVICES]\n";
    return 64;
  }
  fs::path dir = argv[1];
  int runs = argc > 2 ? std::atoi(argv[2]) : 20;
  int services = argc > 3 ? std::atoi(argv[3]) : 1000;
  fs::path work = dir / "work", bare = dir / "deploy.git";
  fs::create_directories(work);
  WriteRepo(work, services, 0, 0);
  Sh("git init -q --bare -b main '" + bare.string() + "' && cd '" + work.string() +
     "' && git init -q -b main && git config user.email b@e && git config user.name b && "
     "git remote add origin '" +
     bare.string() +
     "' && git add -A && git commit -qm one && "
     "git push -q origin main && git gc -q");
  auto mirror = Must(git::Mirror::Open(dir / "mirror", {.url = bare.string()}), "mirror");
  std::string commit = Must(mirror->Fetch(), "fetch");
  os::SystemClock clock;
  auto store = Must(state::OpenSqliteStateStore((dir / "state.db").string(), &clock), "store");
  runtime::FakeTarget target;
  engine::PlanSources sources{mirror.get(), store.get(), &target, "127.0.0.1:5000"};

  // Record and run what the repository says: as if every environment had been applied.
  for (const std::string& env : kEnvironments) {
    auto plan = std::get<engine::Plan>(Must(engine::PlanEnvironment(sources, env, commit), "plan"));
    auto tx = Must(store->Begin(), "begin");
    Must(tx->Environment(env), "environment");
    runtime::RouteChanges routes;
    for (const auto& [service, s] : plan.desired) {
      std::string id = ReleaseId(s.release);
      Must(tx->PutRelease(id, ToJson(s.release)), "release");
      Must(tx->SetCurrent({env, service, id, s.version, engine::DetailsJson(s), 1, 0}), "current");
      Must(target.Prepare(s.release), "prepare");
      routes[service] = {Must(target.Start({env, service}, id), "start"), s.public_port};
    }
    Must(target.SwitchRoutes(env, routes), "switch");
    Must(tx->BumpSerial(env, commit), "serial");
    Must(tx->Commit(), "commit");
  }

  auto floor = [&](const std::string& at) {
    auto t0 = Clock::now();
    git::TreeFiles tree =
        Must(mirror->ReadTree(at, {"lockstep.toml"}, {"services", "environments"}), "tree");
    size_t tables = 0;
    for (const auto& [path, text] : tree.files) tables += toml::parse(text, path).size();
    if (tables == 0) Die("floor", Internal("nothing parsed"));
    return Ms(Clock::now() - t0);
  };
  auto plan = [&](const std::string& at, bool expect_changes) {
    auto t0 = Clock::now();
    auto result = Must(engine::PlanEnvironment(sources, "dev", at), "plan");
    double ms = Ms(Clock::now() - t0);
    const auto* p = std::get_if<engine::Plan>(&result);
    if (p == nullptr || p->HasChanges() != expect_changes || p->HasDrift()) {
      Die("plan", Internal("not the plan expected"));
    }
    return ms;
  };
  auto measure = [&](const std::string& at, bool changes, const char* what) {
    if (runs < 1) Die("plan_bench", InvalidArgument("RUNS must be at least 1"));
    std::vector<double> ours, floors;
    for (int i = -2; i < runs; ++i) {  // two warm-up rounds
      double a = 0, b = 0;
      if (i % 2 == 0) {
        a = plan(at, changes);
        b = floor(at);
      } else {
        b = floor(at);
        a = plan(at, changes);
      }
      if (i < 0) continue;
      ours.push_back(a);
      floors.push_back(b);
    }
    std::printf(
        "%-22s plan %6.1f ms  floor %6.1f ms  ratio %.2f  (median of %d; p90 %.1f vs %.1f)\n", what,
        Median(ours), Median(floors), Median(ours) / Median(floors), runs, Percentile(ours, 0.9),
        Percentile(floors, 0.9));
    std::fflush(stdout);
  };
  std::printf("plan_bench: %d services x 3 environments, %zu files; dev planned\n", services,
              static_cast<size_t>(1 + services * 4));
  measure(commit, false, "nothing changed");

  WriteRepo(work, services, 1, 100);
  Sh("cd '" + work.string() +
     "' && git add -A && git commit -qm changed && git push -q origin main");
  std::string changed = Must(mirror->Fetch(), "fetch");
  measure(changed, true, "100 services changed");
  return 0;
}

}  // namespace
}  // namespace lockstep

int main(int argc, char** argv) { return lockstep::Main(argc, argv); }
