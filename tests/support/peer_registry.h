// CNCF Distribution (Debian's docker-registry) as a peer registry for tests, with
// htpasswd authentication, on a free loopback port, stopped by its PID.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "tests/support/lockstep_server.h"
#include "tests/support/process.h"

namespace lockstep::testing {

class PeerRegistry {
 public:
  // Starts with one user `user`/`password`; serves HTTPS when given a certificate.
  PeerRegistry(const std::string& user, const std::string& password,
               const std::string& tls_cert = "", const std::string& tls_key = "");
  ~PeerRegistry();

  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  const std::filesystem::path& storage() const { return storage_; }

 private:
  ScratchDir scratch_;
  std::filesystem::path storage_;
  std::unique_ptr<Background> process_;
  uint16_t port_ = 0;
};

// A port nothing listens on right now (bind to 0, read it, close).
uint16_t FreePort();

}  // namespace lockstep::testing
