// A loopback TCP proxy that cuts one connection in the middle of a transfer, to prove
// that clients resume interrupted transfers.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace lockstep::testing {

class FlakyProxy {
 public:
  // Forwards to 127.0.0.1:upstream. The first time one direction of a connection has
  // carried more than `cut_after` bytes, that connection is closed (once).
  FlakyProxy(uint16_t upstream, uint64_t cut_after);
  ~FlakyProxy();

  uint16_t port() const { return port_; }
  int cuts() const { return cuts_; }
  // Bytes forwarded client → upstream and upstream → client, over all connections.
  uint64_t bytes_up() const { return up_; }
  uint64_t bytes_down() const { return down_; }

 private:
  void AcceptLoop();
  void Pump(int client, int upstream);

  uint16_t upstream_;
  uint64_t cut_after_;
  int listener_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> cuts_{0};
  std::atomic<uint64_t> up_{0}, down_{0};
  std::thread acceptor_;
  std::vector<std::thread> pumps_;
};

}  // namespace lockstep::testing
