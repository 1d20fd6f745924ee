#include "tests/support/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

namespace lockstep::testing {

namespace {

[[noreturn]] void Exec(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  for (const auto& kv : env) ::putenv(const_cast<char*>(kv.c_str()));
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  ::execvp(args[0], args.data());
  ::_exit(127);
}

std::filesystem::path TempFile(const char* tag) {
  char templ[] = "/tmp/lockstep-run-XXXXXX";
  int fd = ::mkstemp(templ);
  ::close(fd);
  return std::string(templ) + tag;
}

}  // namespace

std::string RunResult::Describe() const {
  return "exit " + std::to_string(exit_code) + "\nstdout: " + out + "\nstderr: " + err;
}

std::string RunResult::OutLine() const {
  std::string s = out;
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

std::string Slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

RunResult RunCommand(const std::vector<std::string>& argv, std::chrono::seconds timeout,
                     const std::string& stdin_data, const std::vector<std::string>& extra_env) {
  std::filesystem::path out = TempFile(".out"), err = TempFile(".err"), in = TempFile(".in");
  { std::ofstream(in, std::ios::binary) << stdin_data; }
  pid_t pid = ::fork();
  if (pid == 0) {
    int i = ::open(in.c_str(), O_RDONLY);
    int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(i, 0);
    ::dup2(o, 1);
    ::dup2(e, 2);
    Exec(argv, extra_env);
  }
  RunResult r;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (true) {
    pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      r.err = "[timed out]\n";
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  r.out = Slurp(out);
  r.err += Slurp(err);
  std::filesystem::remove(out);
  std::filesystem::remove(err);
  std::filesystem::remove(in);
  return r;
}

Background::Background(const std::vector<std::string>& argv, const std::filesystem::path& log_dir)
    : out_(log_dir / "stdout.log"), err_(log_dir / "stderr.log") {
  std::filesystem::create_directories(log_dir);
  pid_ = ::fork();
  if (pid_ == 0) {
    int i = ::open("/dev/null", O_RDONLY);
    int o = ::open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int e = ::open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(i, 0);
    ::dup2(o, 1);
    ::dup2(e, 2);
    Exec(argv, {});
  }
}

Background::~Background() {
  if (!reaped_ && pid_ > 0) Stop(SIGTERM);
}

bool Background::Running() {
  if (reaped_) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    reaped_ = true;
    return false;
  }
  return true;
}

void Background::Stop(int signal) {
  if (reaped_ || pid_ <= 0) return;
  ::kill(pid_, signal);
  bool exited = WaitFor([&] { return !Running(); }, std::chrono::seconds(10));
  if (!exited) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    reaped_ = true;
  }
}

std::string Background::Stdout() const { return Slurp(out_); }
std::string Background::Stderr() const { return Slurp(err_); }

bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

FlockCounts Flocks(pid_t pid) {
  FlockCounts out;
  std::ifstream locks("/proc/locks");
  const std::string owner = std::to_string(pid);
  for (std::string line; std::getline(locks, line);) {
    std::istringstream words(line);
    std::string id, kind;
    words >> id >> kind;
    bool waiting = kind == "->";
    if (waiting) words >> kind;
    std::string advisory, mode, who;
    words >> advisory >> mode >> who;
    if (kind != "FLOCK" || who != owner) continue;
    if (waiting) {
      ++out.waiting;
    } else if (mode == "WRITE") {
      ++out.held_exclusive;
    }
  }
  return out;
}

}  // namespace lockstep::testing
