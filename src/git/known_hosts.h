// Which ssh host keys are pinned: known_hosts files as OpenSSH writes them, read by
// lockstep itself so that no host key is ever accepted without one.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace lockstep::git {

// Host and port of an ssh:// URL ("ssh://user@host:port/path"), or of scp-like
// "user@host:path" (port 22).
bool SshHostPort(std::string_view url, std::string& host, uint16_t& port);

// Whether `key` (the raw host key a server showed, of type `type` as in known_hosts:
// "ssh-ed25519", "ecdsa-sha2-nistp256"…) is pinned for `host` and `port` in the text of a
// known_hosts file: plain and hashed (|1|salt|hash) host names, "[host]:port" for ports
// other than 22, comma-separated names (no wildcards); an @revoked line refuses its key
// whatever host names it has.
bool KnownHostKey(std::string_view known_hosts, std::string_view host, uint16_t port,
                  std::string_view type, std::string_view key);

}  // namespace lockstep::git
