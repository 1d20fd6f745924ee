#include "tests/support/peer_registry.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <stdexcept>

#include "tests/support/http.h"

namespace lockstep::testing {

uint16_t FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

PeerRegistry::PeerRegistry(const std::string& user, const std::string& password,
                           const std::string& tls_cert, const std::string& tls_key)
    : storage_(scratch_.path() / "storage") {
  RunResult hash = RunCommand({"htpasswd", "-Bbn", user, password});
  if (hash.exit_code != 0) throw std::runtime_error("htpasswd failed: " + hash.Describe());
  std::ofstream(scratch_.path() / "htpasswd") << hash.out;
  port_ = FreePort();
  std::ofstream(scratch_.path() / "config.yml")
      << "version: 0.1\nlog: {level: error}\n"
      << "storage:\n  filesystem: {rootdirectory: " << storage_.string()
      << "}\n  delete: {enabled: true}\n"
      << "http:\n  addr: " << host() << "\n"
      << (tls_cert.empty() ? "" : "  tls: {certificate: " + tls_cert + ", key: " + tls_key + "}\n")
      << "auth:\n  htpasswd: {realm: peer, path: " << (scratch_.path() / "htpasswd").string()
      << "}\n";
  process_ = std::make_unique<Background>(
      std::vector<std::string>{"docker-registry", "serve",
                               (scratch_.path() / "config.yml").string()},
      scratch_.path() / "logs");
  // Up once its port accepts connections (plain HTTP or TLS alike).
  auto accepting = [&] {
    int fd = ConnectLoopback(port_);
    if (fd >= 0) ::close(fd);
    return fd >= 0;
  };
  bool up = WaitFor([&] { return accepting() || !process_->Running(); });
  if (!up || !process_->Running()) {
    throw std::runtime_error("docker-registry did not start: " + process_->Stdout() +
                             process_->Stderr());
  }
}

PeerRegistry::~PeerRegistry() = default;

}  // namespace lockstep::testing
