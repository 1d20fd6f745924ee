#include "bench/deploy_bench.h"

#include <fstream>
#include <thread>

#include "runtime/local/health_probe.h"

namespace lockstep::bench {

namespace fs = std::filesystem;

namespace {

// The health check of every service, as a team sets one for steady state: every second.
// (While an instance starts, the local target checks it sooner: restart_backoff.h.)
constexpr const char* kHealth = R"(health = { path = "/", interval = "1s", timeout = "500ms" })";

}  // namespace

void Sh(const std::string& command) {
  os::Captured r = Must(os::RunCapture({"sh", "-c", command}), command);
  if (r.exit_code != 0) Die(command, Internal(r.out + r.err));
}

DeployBench::DeployBench(std::string lockstep, std::string url, fs::path work, int services)
    : lockstep_(std::move(lockstep)),
      url_(std::move(url)),
      work_(std::move(work)),
      services_(services) {}

void DeployBench::WriteRepo(const std::string& digest, const fs::path& bare,
                            const std::string& top) {
  fs::path tree = work_ / "deploy";
  fs::create_directories(tree / "services");
  fs::create_directories(tree / "environments" / "dev");
  WriteTop(top);
  digest_ = digest;
  for (int i = 0; i < services_; ++i) {
    std::string name = "svc-" + std::to_string(i);
    ports_.push_back(Must(runtime::local::PickFreePort(), "port"));
    std::ofstream(tree / "services" / (name + ".toml"))
        << "kind = \"service\"\nimage = \"bench/apply\"\nentrypoint = [\"/bin/hello_http\"]\n"
           "[service]\ndrain = \"0s\"\n"
        << kHealth << "\n";
    Pin(i, "v0");
  }
  Sh("cd '" + tree.string() + "' && git init -q -b main && git config user.email b@e && " +
     "git config user.name b && git remote add origin '" + bare.string() + "'");
  Push("first");
}

void DeployBench::WriteTop(const std::string& top) {
  std::ofstream(work_ / "deploy" / "lockstep.toml") << top;
}

void DeployBench::Pin(int i, const std::string& version) {
  std::ofstream(work_ / "deploy" / "environments" / "dev" / ("svc-" + std::to_string(i) + ".toml"))
      << "version = \"1.0.0\"\ndigest = \"" << digest_ << "\"\n[env]\nVERSION = \"" << version
      << "\"\n[service]\nport = " << ports_[static_cast<size_t>(i)] << "\n";
}

void DeployBench::Push(const std::string& message) {
  Sh("cd '" + (work_ / "deploy").string() + "' && git add -A && git commit -qm '" + message +
     "' && git push -q origin main");
}

void DeployBench::Pull() {
  Sh("cd '" + (work_ / "deploy").string() + "' && git pull -q --ff-only origin main");
}

os::Child DeployBench::Start(std::vector<std::string> args) {
  args.insert(args.begin(), lockstep_);
  args.insert(args.end(), {"--server", url_});
  return Must(os::Spawn(args, {}), args[1]);
}

void DeployBench::Finish(os::Child& child, const std::string& what) {
  int code = Must(child.Wait(), what);
  if (code != 0) Die("lockstep " + what, Internal("exit " + std::to_string(code)));
}

std::string DeployBench::Run(std::vector<std::string> args) {
  args.insert(args.begin(), lockstep_);
  args.insert(args.end(), {"--server", url_});
  os::Captured r = Must(os::RunCapture(args), args[1]);
  if (r.exit_code != 0) Die("lockstep " + args[1], Internal(r.out + r.err));
  return r.out;
}

bool DeployBench::Answers(int i, const std::string& version) {
  client::HttpRequest req;
  req.url = "http://127.0.0.1:" + std::to_string(ports_[static_cast<size_t>(i)]) + "/";
  // A new connection each time: what a new client of the new release sees.
  req.headers = {"Connection: close"};
  Result<client::HttpResponse> r = http_.Do(req);
  return r.ok() && r->status == 200 && r->body == "hello from " + version + "\n";
}

double DeployBench::UntilAnswering(const std::vector<int>& which, const std::string& version,
                                   Clock::time_point t0) {
  std::vector<int> waiting = which;
  const auto deadline = t0 + std::chrono::seconds(60);
  while (!waiting.empty()) {
    if (Clock::now() > deadline) Die("bench", Internal("the release never answered"));
    std::erase_if(waiting, [&](int i) { return Answers(i, version); });
    if (!waiting.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return Ms(Clock::now() - t0);
}

}  // namespace lockstep::bench
