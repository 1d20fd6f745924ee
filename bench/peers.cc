#include "bench/peers.h"

#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <optional>
#include <regex>
#include <thread>

#include "os/file.h"
#include "runtime/local/health_probe.h"

namespace lockstep::bench {

namespace fs = std::filesystem;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v.empty()
             ? 0
             : v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

void Die(const std::string& what, const Status& s) {
  std::cerr << "bench: " << what << ": " << s.ToString() << "\n";
  std::exit(1);
}

double CpuSeconds(pid_t pid, bool children) {
  double ticks = 0;
  if (std::optional<os::ProcessStat> own = os::ReadProcessStat(pid)) {
    ticks += static_cast<double>(own->cpu_ticks);
  }
  if (children) {
    for (const auto& entry : fs::directory_iterator("/proc")) {
      const std::string name = entry.path().filename().string();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      std::optional<os::ProcessStat> s = os::ReadProcessStat(std::stoi(name));
      if (s && s->parent == pid) ticks += static_cast<double>(s->cpu_ticks);
    }
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

WrkResult Wrk(uint16_t port, int seconds) {
  os::Captured run =
      Must(os::RunCapture({"wrk", "-t2", "-c64", "-d" + std::to_string(seconds) + "s", "--latency",
                           "http://127.0.0.1:" + std::to_string(port) + "/"}),
           "wrk");
  WrkResult r;
  std::smatch m;
  if (std::regex_search(run.out, m, std::regex(R"(Requests/sec:\s+([0-9.]+))")))
    r.requests_per_second = std::stod(m[1]);
  if (std::regex_search(run.out, m, std::regex(R"(99%\s+([0-9.]+)(us|ms|s))"))) {
    double v = std::stod(m[1]);
    r.p99_ms = m[2] == "us" ? v / 1000 : m[2] == "s" ? v * 1000 : v;
  }
  if (std::regex_search(run.out, std::regex("Non-2xx|Socket errors"))) {
    std::cerr << "bench: wrk saw errors:\n" << run.out;
  }
  return r;
}

uint16_t FreePort() { return Must(runtime::local::PickFreePort(), "free port"); }

bool Accepting(uint16_t port) {
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline) {
    os::Captured probe = Must(os::RunCapture({"curl", "-s", "-o", "/dev/null", "-m", "1",
                                              "http://127.0.0.1:" + std::to_string(port) + "/"}),
                              "curl");
    if (probe.exit_code == 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

Peer StartNginx(const fs::path& dir, uint16_t backend) {
  Peer p{"nginx", FreePort(), {}};
  Must(os::MakeDirs(dir / "logs"), "nginx dir");
  std::string conf =
      "worker_processes 2;\nerror_log " + (dir / "logs" / "error.log").string() + " warn;\npid " +
      (dir / "nginx.pid").string() +
      ";\nevents { worker_connections 4096; }\nhttp {\n  access_log off;\n"
      "  upstream service { server 127.0.0.1:" +
      std::to_string(backend) +
      "; keepalive 128; }\n  server {\n    listen 127.0.0.1:" + std::to_string(p.port) +
      ";\n    location / {\n      proxy_pass http://service;\n"
      "      proxy_http_version 1.1;\n      proxy_set_header Connection \"\";\n"
      "      proxy_buffering off;\n    }\n  }\n}\n";
  Must(os::WriteFileAtomic(dir / "nginx.conf", conf), "nginx.conf");
  p.child = Must(os::Spawn({"nginx", "-p", dir.string(), "-c", (dir / "nginx.conf").string(), "-g",
                            "daemon off;"},
                           {}),
                 "nginx");
  if (!Accepting(p.port)) Die("nginx", Unavailable("never accepted"));
  return p;
}

Peer StartHaproxy(const fs::path& dir, uint16_t backend) {
  Peer p{"haproxy", FreePort(), {}};
  Must(os::MakeDirs(dir), "haproxy dir");
  std::string conf =
      "global\n  nbthread 2\n  maxconn 4096\ndefaults\n  mode http\n  timeout connect 5s\n"
      "  timeout client 30s\n  timeout server 30s\n  option http-keep-alive\n"
      "frontend web\n  bind 127.0.0.1:" +
      std::to_string(p.port) +
      "\n  default_backend service\nbackend service\n  http-reuse always\n"
      "  server s1 127.0.0.1:" +
      std::to_string(backend) + "\n";
  Must(os::WriteFileAtomic(dir / "haproxy.cfg", conf), "haproxy.cfg");
  p.child =
      Must(os::Spawn({"haproxy", "-db", "-f", (dir / "haproxy.cfg").string()}, {}), "haproxy");
  if (!Accepting(p.port)) Die("haproxy", Unavailable("never accepted"));
  return p;
}

}  // namespace lockstep::bench
