#include "tests/support/lockstep_server.h"

#include <signal.h>

#include <fstream>
#include <random>
#include <regex>
#include <stdexcept>

namespace lockstep::testing {

std::string LockstepBinary() { return LOCKSTEP_BINARY; }

RunResult Lockstep(std::vector<std::string> args, const std::vector<std::string>& env) {
  args.insert(args.begin(), LockstepBinary());
  return RunCommand(args, std::chrono::seconds(300), "", env);
}

ScratchDir::ScratchDir() {
  std::random_device rd;
  path_ = std::filesystem::temp_directory_path() /
          ("lockstep-e2e-" + std::to_string(rd()) + std::to_string(rd()));
  std::filesystem::create_directories(path_);
  std::filesystem::permissions(path_, std::filesystem::perms::owner_all);
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

LockstepServer::LockstepServer(ServerOptions options)
    : data_(options.data_dir.empty() ? scratch_.path() / "data" : options.data_dir),
      options_(std::move(options)) {
  // lockstep refuses a data directory other users can read.
  std::filesystem::create_directories(data_);
  std::filesystem::permissions(data_, std::filesystem::perms::owner_all);
  if (!options_.config_toml.empty()) std::ofstream(data_ / "config.toml") << options_.config_toml;
  Start();
}

void LockstepServer::Start() {
  std::vector<std::string> argv = {LockstepBinary(), "serve",  "--listen",
                                   "127.0.0.1:0",    "--data", data_.string()};
  if (options_.dev) argv.push_back("--dev");
  argv.insert(argv.end(), options_.args.begin(), options_.args.end());
  if (!options_.env.empty()) {
    // env(1) execs the server, so the PID stays the server's.
    std::vector<std::string> with = {"/usr/bin/env"};
    with.insert(with.end(), options_.env.begin(), options_.env.end());
    argv.insert(argv.begin(), with.begin(), with.end());
  }
  process_ =
      std::make_unique<Background>(argv, scratch_.path() / ("logs-" + std::to_string(starts_++)));
  std::regex serving(R"(serving the registry on https?://127\.0\.0\.1:(\d+)/)");
  std::smatch m;
  port_ = 0;
  bool up = WaitFor([&] {
    std::string out = process_->Stdout();
    if (std::regex_search(out, m, serving)) {
      port_ = static_cast<uint16_t>(std::stoi(m[1].str()));
      return true;
    }
    return !process_->Running();
  });
  if (!up || port_ == 0) throw std::runtime_error("lockstep serve did not start:\n" + Logs());
}

void LockstepServer::Kill9() { process_->Stop(SIGKILL); }

void LockstepServer::Restart() {
  process_.reset();
  Start();
}

LockstepServer::~LockstepServer() = default;

RunResult LockstepServer::Cli(std::vector<std::string> args) const {
  args.insert(args.begin(), LockstepBinary());
  args.push_back("--data");
  args.push_back(data_.string());
  return RunCommand(args);
}

std::string LockstepServer::CreateToken(const std::string& grants, const std::string& name) const {
  std::vector<std::string> args = {"token", "create", "--name", name};
  size_t start = 0;
  while (start <= grants.size()) {
    size_t end = std::min(grants.find(';', start), grants.size());
    args.push_back("--role");
    args.push_back(grants.substr(start, end - start));
    start = end + 1;
  }
  RunResult r = Cli(args);
  if (r.exit_code != 0) throw std::runtime_error("token create failed: " + r.Describe());
  std::string token = r.out;
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  return token;
}

size_t LockstepServer::StoredBlobCount() const {
  size_t n = 0;
  std::filesystem::path blobs = data_ / "registry" / "blobs";
  if (!std::filesystem::exists(blobs)) return 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(blobs)) {
    if (e.is_regular_file()) ++n;
  }
  return n;
}

}  // namespace lockstep::testing
