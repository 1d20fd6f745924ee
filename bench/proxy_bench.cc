// The front proxy alone, beside Debian's nginx and haproxy as reverse proxies to the same
// backend, and beside calling the backend directly: no containers, so rounds are short
// and many. The backend is hello_http (tests/programs/) on the host; each proxy and the
// direct call are measured in turn, in an order that rotates every round, and medians
// over the rounds are printed: req/s, wrk's p99, and each proxy's CPU per request
// (nginx's workers counted with their master).
//
// Usage: proxy_bench HELLO_HTTP WORK_DIR [ROUNDS] [WRK_SECONDS] [WORK_US,...]
// (0 rounds: start everything, print the ports, and wait to be interrupted)
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <map>
#include <sstream>

#include "bench/peers.h"
#include "os/file.h"
#include "proxy/proxy.h"
#include "runtime/router.h"

namespace lockstep {
namespace {

namespace fs = std::filesystem;
using namespace bench;

int interrupted[2] = {-1, -1};

// Blocks until SIGINT or SIGTERM; a pipe, since any of the proxy's threads may take the
// signal.
void WaitForInterrupt() {
  if (pipe(interrupted) != 0) Die("pipe", Internal("no pipe"));
  struct sigaction action = {};
  action.sa_handler = [](int) {
    char byte = 1;
    (void)!write(interrupted[1], &byte, 1);
  };
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  char byte;
  while (read(interrupted[0], &byte, 1) < 0 && errno == EINTR) {
  }
}

struct Samples {
  std::vector<double> rps, p99, cpu_us;
};

struct Contender {
  std::string name;
  uint16_t port;
  pid_t pid;  // whose CPU is counted (0: none)
  bool children;
};

// Every contender once per round, in an order that rotates by one each round.
std::map<std::string, Samples> Measure(const std::vector<Contender>& contenders, int rounds,
                                       int seconds) {
  std::map<std::string, Samples> samples;
  (void)Wrk(contenders.front().port, 1);  // warm-up
  for (int round = 0; round < rounds; ++round) {
    for (size_t i = 0; i < contenders.size(); ++i) {
      const Contender& c = contenders[(i + round) % contenders.size()];
      double cpu0 = c.pid ? CpuSeconds(c.pid, c.children) : 0;
      WrkResult r = Wrk(c.port, seconds);
      double cpu = c.pid ? CpuSeconds(c.pid, c.children) - cpu0 : 0;
      Samples& s = samples[c.name];
      s.rps.push_back(r.requests_per_second);
      s.p99.push_back(r.p99_ms);
      if (c.pid) s.cpu_us.push_back(cpu * 1e6 / (r.requests_per_second * seconds));
    }
  }
  return samples;
}

void Report(int work_us, std::map<std::string, Samples> samples) {
  const Samples& ours = samples["lockstep"];
  std::printf("backend work %d us: direct %.0f req/s, p99 %.2f ms\n", work_us,
              Median(samples["direct"].rps), Median(samples["direct"].p99));
  std::printf("  lockstep %7.0f req/s  p99 %6.2f ms  CPU %5.1f us/request\n", Median(ours.rps),
              Median(ours.p99), Median(ours.cpu_us));
  for (const char* peer : {"nginx", "haproxy"}) {
    const Samples& theirs = samples[peer];
    std::printf(
        "  %-8s %7.0f req/s  p99 %6.2f ms  CPU %5.1f us/request;  lockstep/%s: throughput "
        "%.2f, p99 %.2f\n",
        peer, Median(theirs.rps), Median(theirs.p99), Median(theirs.cpu_us), peer,
        Median(ours.rps) / Median(theirs.rps), Median(ours.p99) / Median(theirs.p99));
  }
  std::fflush(stdout);
}

int Main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: proxy_bench HELLO_HTTP WORK_DIR [ROUNDS] [WRK_SECONDS] [WORK_US,...]\n";
    return 64;
  }
  fs::path hello = argv[1];
  fs::path work = argv[2];
  int rounds = argc > 3 ? std::atoi(argv[3]) : 6;
  int seconds = argc > 4 ? std::atoi(argv[4]) : 3;
  std::vector<int> work_levels;
  std::stringstream levels(argc > 5 ? argv[5] : "0,50,200");
  for (std::string level; std::getline(levels, level, ',');)
    work_levels.push_back(std::stoi(level));

  runtime::Router router;
  proxy::ProxyOptions proxy_options;
  if (const char* t = std::getenv("LOCKSTEP_PROXY_THREADS")) proxy_options.threads = std::atoi(t);
  auto proxy = Must(proxy::Proxy::Start(router, proxy_options), "proxy");
  uint16_t public_port = FreePort();

  std::printf("proxy_bench: %d rounds of wrk -t2 -c64 -d%ds each, medians; %ld cores\n", rounds,
              seconds, sysconf(_SC_NPROCESSORS_ONLN));
  for (int work_us : work_levels) {
    uint16_t backend_port = FreePort();
    os::Child backend = Must(os::Spawn({hello.string()}, {},
                                       {"PORT=" + std::to_string(backend_port), "VERSION=bench",
                                        "WORK_US=" + std::to_string(work_us)}),
                             "hello_http");
    if (!Accepting(backend_port)) Die("hello_http", Unavailable("never accepted"));
    auto table = std::make_shared<runtime::RoutingTable>();
    table->by_port[public_port] = std::make_shared<const runtime::Backend>(
        runtime::Backend{.instance_id = "bench-" + std::to_string(work_us),
                         .environment = "bench",
                         .service = "web",
                         .port = backend_port});
    router.Publish(table);
    if (!Accepting(public_port)) Die("proxy", Unavailable("never accepted"));

    fs::path dir = work / std::to_string(work_us);
    Peer nginx = StartNginx(dir / "nginx", backend_port);
    Peer haproxy = StartHaproxy(dir / "haproxy", backend_port);
    std::vector<Contender> contenders = {{"lockstep", public_port, getpid(), false},
                                         {"nginx", nginx.port, nginx.child.pid(), true},
                                         {"haproxy", haproxy.port, haproxy.child.pid(), false},
                                         {"direct", backend_port, 0, false}};
    std::fprintf(stderr, "proxy_bench: backend :%u, lockstep :%u, nginx :%u, haproxy :%u\n",
                 backend_port, public_port, nginx.port, haproxy.port);
    if (rounds == 0) {
      WaitForInterrupt();  // for measuring by hand
    } else {
      Report(work_us, Measure(contenders, rounds, seconds));
    }
    for (Peer* p : {&nginx, &haproxy}) {
      p->child.Signal(SIGTERM);
      (void)p->child.Wait();
    }
    backend.Signal(SIGTERM);
    (void)backend.Wait();
    if (rounds == 0) break;
  }
  router.Publish(std::make_shared<const runtime::RoutingTable>());
  return 0;
}

}  // namespace
}  // namespace lockstep

int main(int argc, char** argv) { return lockstep::Main(argc, argv); }
