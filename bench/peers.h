// What the benchmarks share: statistics, wrk, the CPU a process has used, and the reverse
// proxies lockstep's front proxy is measured beside (Debian's nginx and haproxy).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "base/status.h"
#include "os/process.h"

namespace lockstep::bench {

using Clock = std::chrono::steady_clock;

double Ms(Clock::duration d);
double Median(std::vector<double> v);
double Percentile(std::vector<double> v, double p);

[[noreturn]] void Die(const std::string& what, const Status& s);

template <class T>
T Must(Result<T> r, const std::string& what) {
  if (!r.ok()) Die(what, r.status());
  return std::move(r).value();
}

inline void Must(const Status& s, const std::string& what) {
  if (!s.ok()) Die(what, s);
}

// CPU seconds (user + system) process `pid` has used; with `children`, also every
// process whose parent it is (nginx's workers).
double CpuSeconds(pid_t pid, bool children = false);

struct WrkResult {
  double requests_per_second = 0;
  double p99_ms = 0;
};

// wrk -t2 -c64 against http://127.0.0.1:port/ for `seconds`.
WrkResult Wrk(uint16_t port, int seconds);

// A port the kernel has free right now (the peers are told a port in their config).
uint16_t FreePort();

// Waits until something answers HTTP on 127.0.0.1:port.
bool Accepting(uint16_t port);

// A reverse proxy configured as users configure one in front of a service: two workers
// (the machine's two cores, as lockstep's proxy has two threads), HTTP/1.1 kept alive to
// the backend, no logging, no buffering of answers.
struct Peer {
  std::string name;
  uint16_t port = 0;
  os::Child child;
};

Peer StartNginx(const std::filesystem::path& dir, uint16_t backend);
Peer StartHaproxy(const std::filesystem::path& dir, uint16_t backend);

}  // namespace lockstep::bench
