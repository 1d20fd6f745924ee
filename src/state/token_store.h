// API and registry tokens. A token is shown once, when it is created, as
//   lst_<id>_<secret>
// The id is a public lookup key; only sha256(secret) is stored, and a presented secret
// is compared with it in constant time. Backed by SQLite (WAL), so `lockstep token ...`
// run beside a live server takes effect on the server's next request. Thread-safe.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/status.h"
#include "core/access.h"
#include "os/clock.h"

namespace SQLite {
class Database;
}

namespace lockstep::state {

struct TokenInfo {
  std::string name;
  std::vector<Grant> grants;
  int64_t created_at = 0;
};

class TokenStore {
 public:
  // Opens (creating if needed) the token database at `path`.
  static Result<std::unique_ptr<TokenStore>> Open(const std::string& path, const os::Clock* clock);
  ~TokenStore();

  // Mints a token named `name` (unique; [a-z0-9._-], up to 64) holding `grants` (at least
  // one). Returns the token text.
  Result<std::string> Create(const std::string& name, const std::vector<Grant>& grants);
  Result<std::vector<TokenInfo>> List();
  Status Revoke(const std::string& name);
  // kUnauthenticated for anything but a live token.
  Result<Identity> Authenticate(std::string_view token);
  // The identity of the token with id `id`; kNotFound once it is revoked (a token made
  // later under the same name has another id).
  Result<Identity> LookupById(const std::string& id);
  // The live token named `name`; kNotFound when there is none (revoked, or never made).
  Result<Identity> FindByName(const std::string& name);

 private:
  TokenStore(std::unique_ptr<SQLite::Database> db, const os::Clock* clock);
  std::mutex mu_;
  std::unique_ptr<SQLite::Database> db_;
  const os::Clock* clock_;
};

Status ValidateTokenName(std::string_view name);

}  // namespace lockstep::state
