#include "git/known_hosts.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <vector>

#include "base/strings.h"

namespace lockstep::git {

namespace {

// HMAC-SHA1 of `name` keyed with `salt`, as OpenSSH's hashed known_hosts names are.
std::string HashedName(std::string_view salt, std::string_view name) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha1(), salt.data(), static_cast<int>(salt.size()),
       reinterpret_cast<const unsigned char*>(name.data()), name.size(), out, &len);
  return std::string(reinterpret_cast<const char*>(out), len);
}

bool NameMatches(std::string_view pattern, std::string_view name) {
  if (StartsWith(pattern, "|1|")) {
    std::vector<std::string_view> parts = Split(pattern.substr(3), '|');
    if (parts.size() != 2) return false;
    bool ok_salt = false, ok_hash = false;
    std::string salt = Base64Decode(parts[0], &ok_salt);
    std::string hash = Base64Decode(parts[1], &ok_hash);
    return ok_salt && ok_hash && HashedName(salt, name) == hash;
  }
  for (std::string_view n : Split(pattern, ',')) {
    if (n == name) return true;
  }
  return false;
}

}  // namespace

bool SshHostPort(std::string_view url, std::string& host, uint16_t& port) {
  port = 22;
  std::string_view rest = url;
  bool scp_like = !StartsWith(url, "ssh://");
  if (!scp_like) rest.remove_prefix(6);
  size_t at = rest.find('@');
  size_t slash = rest.find('/');
  if (at != std::string_view::npos && (slash == std::string_view::npos || at < slash))
    rest.remove_prefix(at + 1);
  std::string_view authority = rest.substr(0, scp_like ? rest.find(':') : rest.find('/'));
  if (!scp_like) {
    if (StartsWith(authority, "[")) {  // [::1]:2222
      size_t close = authority.find(']');
      if (close == std::string_view::npos) return false;
      host = std::string(authority.substr(1, close - 1));
      authority.remove_prefix(close + 1);
      if (StartsWith(authority, ":")) {
        std::optional<uint64_t> p = ParseUint(authority.substr(1));
        if (!p || *p == 0 || *p > 65535) return false;
        port = static_cast<uint16_t>(*p);
      }
      return !host.empty();
    }
    if (size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
      std::optional<uint64_t> p = ParseUint(authority.substr(colon + 1));
      if (!p || *p == 0 || *p > 65535) return false;
      port = static_cast<uint16_t>(*p);
      authority = authority.substr(0, colon);
    }
  }
  host = std::string(authority);
  return !host.empty();
}

bool KnownHostKey(std::string_view known_hosts, std::string_view host, uint16_t port,
                  std::string_view type, std::string_view key) {
  std::string name =
      port == 22 ? std::string(host) : "[" + std::string(host) + "]:" + std::to_string(port);
  bool pinned = false;
  for (std::string_view line : Split(known_hosts, '\n')) {
    line = Trim(line);
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string_view> fields;
    for (std::string_view f : Split(line, ' ')) {
      if (!f.empty()) fields.push_back(f);
    }
    bool revoked = false;
    if (!fields.empty() && fields[0] == "@revoked") {
      revoked = true;
      fields.erase(fields.begin());
    } else if (!fields.empty() && fields[0][0] == '@') {
      continue;  // @cert-authority: host certificates are not used here
    }
    if (fields.size() < 3) continue;
    bool ok = false;
    std::string blob = Base64Decode(fields[2], &ok);
    if (!ok || blob != key) continue;
    // A revoked key is refused whatever host names its line has ("@revoked * …" is the
    // usual form): host patterns are not matched here, so none may narrow a revocation.
    if (revoked) return false;
    if (fields[1] == type && NameMatches(fields[0], name)) pinned = true;
  }
  return pinned;
}

}  // namespace lockstep::git
