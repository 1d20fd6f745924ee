// Who is calling, from the Authorization header. Two forms are accepted, as registry
// clients expect:
// - Basic, with a lockstep token as the password (any user name);
// - Bearer, a short-lived token minted by the token endpoint (/auth/token) after the
//   client presented Basic credentials there. It is "lsb.<payload>.<hmac>": the id of
//   the source token and an expiry, signed with a per-server key. Each use re-reads the
//   source token by that id, so revoking it also ends its bearer tokens, for good.
// In --dev mode a request without credentials acts as an anonymous admin.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "core/access.h"
#include "os/clock.h"
#include "state/token_store.h"

namespace lockstep::auth {

class Authenticator {
 public:
  Authenticator(state::TokenStore* tokens, std::string signing_key, const os::Clock* clock,
                bool dev_mode);

  // The caller's identity; kUnauthenticated when credentials are absent (outside dev
  // mode) or wrong.
  Result<Identity> Identify(std::string_view authorization_header) const;
  // Only Basic credentials (the token endpoint does not accept bearer tokens).
  Result<Identity> IdentifyBasic(std::string_view authorization_header) const;

  struct Minted {
    std::string token;
    int64_t expires_in;
    int64_t issued_at;
  };
  Minted MintBearer(const Identity& who) const;

  bool dev_mode() const { return dev_mode_; }

 private:
  Result<Identity> VerifyBearer(std::string_view token) const;

  state::TokenStore* tokens_;
  std::string key_;
  const os::Clock* clock_;
  bool dev_mode_;
};

// Loads the bearer signing key from `path`, creating a random one (mode 0600) if absent.
Result<std::string> LoadOrCreateSigningKey(const std::string& path);

}  // namespace lockstep::auth
