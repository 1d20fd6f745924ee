#include "bench/floor.h"

#include <map>
#include <thread>
#include <vector>

#include "bench/peers.h"
#include "client/registry_client.h"
#include "client/transfer.h"
#include "runtime/local/health_probe.h"

namespace lockstep::bench {

std::unique_ptr<runtime::local::LocalTarget> FloorTarget(const std::filesystem::path& dir,
                                                         runtime::Router& router) {
  runtime::local::LocalTargetOptions options;
  options.dir = dir;
  options.router = &router;
  options.fetch = [](const ImageRef& ref, image::OciLayout& into) -> Status {
    client::RegistryClient registry(ref.registry, {.insecure = true}, nullptr);
    return client::PullImage(registry, ref, into, "").status();
  };
  return Must(runtime::local::LocalTarget::Open(std::move(options)), "open target");
}

double StartToHealthy(runtime::local::LocalTarget& target, const std::string& release_id, int n) {
  auto t0 = Clock::now();
  std::vector<std::string> ids(static_cast<size_t>(n));
  {
    std::vector<std::jthread> starting;
    for (auto& id : ids) {
      starting.emplace_back([&] {
        id = Must(target.Start({"bench", "floor"}, release_id), "start");
      });
    }
  }
  std::map<std::string, std::pair<uint16_t, std::string>> where;
  for (const runtime::ObservedInstance& o : Must(target.Observe("bench"), "observe")) {
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
  for (const std::string& id : ids) Must(target.Retire(id, std::chrono::milliseconds(0)), "retire");
  return ms;
}

}  // namespace lockstep::bench
