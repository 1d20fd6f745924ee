#include "runtime/router.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace lockstep::runtime {
namespace {

std::shared_ptr<const RoutingTable> Table(std::vector<std::pair<uint16_t, Backend>> routes) {
  auto t = std::make_shared<RoutingTable>();
  for (auto& [port, b] : routes) t->by_port[port] = std::make_shared<const Backend>(b);
  return t;
}

TEST(Router, ATableIsSeenWholeOrNotAtAll) {
  Router router;
  router.Publish(Table({{80, {"web.1", "prod", "web"}}, {81, {"api.1", "prod", "api"}}}));
  std::atomic<bool> stop{false};
  std::atomic<int> mixed{0};
  std::atomic<long> reads{0};
  std::thread reader([&] {
    while (!stop) {
      auto t = router.Current();
      // Both routes always come from the same generation.
      if (t->by_port.at(80)->instance_id.back() != t->by_port.at(81)->instance_id.back()) ++mixed;
      ++reads;
    }
  });
  // Publish until the reader has looked many times while tables changed under it (it
  // may not have been scheduled at all during a fixed number of publishes).
  while (reads == 0) std::this_thread::yield();
  long start = reads;
  for (long i = 2; reads - start < 100000 || i < 2000; ++i) {
    std::string g = std::to_string(i % 10);
    router.Publish(Table({{80, {"web." + g, "prod", "web"}}, {81, {"api." + g, "prod", "api"}}}));
  }
  stop = true;
  reader.join();
  EXPECT_EQ(mixed, 0);
}

TEST(Router, TheInstancesOfAnEnvironmentAreItsRoutesAlone) {
  auto t = Table({{80, {"web.1", "prod", "web"}},
                  {81, {"api.2", "prod", "api"}},
                  {82, {"web.3", "dev", "web"}}});
  std::map<std::string, std::string> prod = t->InstancesOf("prod");
  EXPECT_EQ(prod, (std::map<std::string, std::string>{{"api", "api.2"}, {"web", "web.1"}}));
  EXPECT_EQ(t->InstancesOf("dev").at("web"), "web.3");
  EXPECT_TRUE(t->InstancesOf("staging").empty());
}

TEST(Router, ABackendDrainsWhenNoTableOrRequestHoldsIt) {
  Router router;
  router.Publish(Table({{80, {"web.old", "prod", "web"}}}));
  std::shared_ptr<const Backend> in_flight = router.Current()->by_port.at(80);
  router.Publish(Table({{80, {"web.new", "prod", "web"}}}));
  std::weak_ptr<const Backend> old = router.LastBackendOf("web.old");
  ASSERT_FALSE(old.expired());
  os::FakeClock clock;
  os::Clock::Instant before = clock.Now();
  EXPECT_FALSE(Router::WaitDrained(old, std::chrono::minutes(5), clock))
      << "a request still holds it";
  EXPECT_GE(clock.Now() - before, std::chrono::minutes(5)) << "the whole drain time went by";
  // The request finishes while the drain waits: the wait ends there, not at the timeout.
  class FinishOnThirdPause final : public os::Clock {
   public:
    FinishOnThirdPause(os::FakeClock& time, std::shared_ptr<const Backend>& request)
        : time_(time), request_(request) {}
    int64_t NowSeconds() const override { return time_.NowSeconds(); }
    Instant Now() const override { return time_.Now(); }
    void SleepFor(std::chrono::milliseconds d) const override {
      time_.SleepFor(d);
      if (++pauses_ == 3) request_.reset();
    }
    int pauses() const { return pauses_; }

   private:
    os::FakeClock& time_;
    std::shared_ptr<const Backend>& request_;
    mutable int pauses_ = 0;
  } finishing(clock, in_flight);
  before = clock.Now();
  EXPECT_TRUE(Router::WaitDrained(old, std::chrono::minutes(5), finishing));
  EXPECT_EQ(finishing.pauses(), 3);
  EXPECT_LT(clock.Now() - before, std::chrono::seconds(1));
  before = clock.Now();
  EXPECT_TRUE(Router::WaitDrained(old, std::chrono::minutes(5), clock));
  EXPECT_EQ(clock.Now(), before) << "a drained backend is not waited for";
  EXPECT_EQ(router.Current()->RouteOf("prod", "web")->instance_id, "web.new");
  EXPECT_EQ(router.Current()->PortOf("prod", "web"), 80);
  EXPECT_EQ(router.Current()->PortOf("prod", "api"), 0);
}

}  // namespace
}  // namespace lockstep::runtime
