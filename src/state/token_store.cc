#include "state/token_store.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>

#include "base/strings.h"
#include "core/digest.h"
#include "os/file.h"
#include "os/random.h"
#include "state/sqlite.h"

namespace lockstep::state {

namespace {

constexpr std::string_view kPrefix = "lst_";
constexpr size_t kIdHexLength = 16;

std::string SecretHash(std::string_view secret) { return DigestOf(secret).hex(); }

Status DbError(const std::exception& e) {
  return Unavailable(std::string("token database: ") + e.what());
}

}  // namespace

Status ValidateTokenName(std::string_view name) {
  bool ok = !name.empty() && name.size() <= 64;
  for (char c : name) {
    ok = ok &&
         ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-');
  }
  if (!ok) {
    return InvalidArgument("token name '" + std::string(name) +
                           "' must be 1-64 characters of a-z, 0-9, '.', '_' or '-'");
  }
  return Status::Ok();
}

TokenStore::TokenStore(std::unique_ptr<SQLite::Database> db, const os::Clock* clock)
    : db_(std::move(db)), clock_(clock) {}

TokenStore::~TokenStore() = default;

namespace {

constexpr int kSchemaVersion = 2;

// Schema version 1: '*' in a repository pattern stopped crossing '/' ("**" does). Stored
// patterns keep the meaning they were created with: every run of stars becomes "**".
std::string DeepenStars(const std::string& patterns) {
  std::string out;
  for (size_t i = 0; i < patterns.size();) {
    if (patterns[i] != '*') {
      out += patterns[i++];
      continue;
    }
    while (i < patterns.size() && patterns[i] == '*') ++i;
    out += "**";
  }
  return out;
}

// Schema version 2: a token holds grants ("ci:apps/**;viewer") instead of one role and one
// pattern list. A push token becomes ci over its repositories, a pull token pull over them.
Result<std::string> GrantsOfVersion1(const std::string& name, const std::string& role,
                                     const std::string& repos) {
  std::string grants = role == "admin"  ? "admin"
                       : role == "push" ? "ci:" + repos
                       : role == "pull" ? "pull:" + repos
                                        : "";
  if (grants.empty() || !ParseGrants(grants).ok()) {
    return Internal("token " + name + " has role '" + role.substr(0, 32) + "' and repositories '" +
                    repos.substr(0, 200) +
                    "', which no lockstep wrote: nothing was migrated; revoke the token with the "
                    "lockstep that made it, or fix the row");
  }
  return grants;
}

void CreateTable(SQLite::Database& db, const std::string& name) {
  db.exec("CREATE TABLE " + name +
          " ("
          " id TEXT PRIMARY KEY,"
          " name TEXT NOT NULL UNIQUE,"
          " grants TEXT NOT NULL,"
          " secret_sha256 TEXT NOT NULL,"
          " created_at INTEGER NOT NULL)");
}

Status Migrate(SQLite::Database& db, const std::string& path) {
  if (db.execAndGet("PRAGMA user_version").getInt() == kSchemaVersion) return Status::Ok();
  // One write transaction, taken before the version is read again: a crash leaves every row
  // as it was or all migrated, and a second process opening the database at the same moment
  // waits and then sees the new version.
  SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
  int version = db.execAndGet("PRAGMA user_version").getInt();
  if (version > kSchemaVersion) {
    return FailedPrecondition("token database " + path + " has schema version " +
                              std::to_string(version) + ", newer than this lockstep knows (" +
                              std::to_string(kSchemaVersion) + "): upgrade lockstep");
  }
  if (version == kSchemaVersion) return Status::Ok();
  bool exists =
      db.execAndGet("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'tokens'")
          .getInt() > 0;
  if (!exists) {
    CreateTable(db, "tokens");
  } else {
    CreateTable(db, "tokens_v2");
    SQLite::Statement q(db, "SELECT id, name, role, repos, secret_sha256, created_at FROM tokens");
    while (q.executeStep()) {
      std::string repos = q.getColumn(3).getString();
      if (version < 1) repos = DeepenStars(repos);
      LS_ASSIGN_OR_RETURN(std::string grants, GrantsOfVersion1(q.getColumn(1).getString(),
                                                               q.getColumn(2).getString(), repos));
      SQLite::Statement u(db, "INSERT INTO tokens_v2 VALUES (?, ?, ?, ?, ?)");
      u.bind(1, q.getColumn(0).getString());
      u.bind(2, q.getColumn(1).getString());
      u.bind(3, grants);
      u.bind(4, q.getColumn(4).getString());
      u.bind(5, q.getColumn(5).getInt64());
      u.exec();
    }
    q.reset();
    db.exec("DROP TABLE tokens");
    db.exec("ALTER TABLE tokens_v2 RENAME TO tokens");
  }
  db.exec("PRAGMA user_version = " + std::to_string(kSchemaVersion));
  tx.commit();
  return Status::Ok();
}

// The identity of a row's name and grants.
Result<Identity> IdentityOf(const std::string& name, const std::string& grants,
                            const std::string& id) {
  Result<std::vector<Grant>> parsed = ParseGrants(grants);
  if (!parsed.ok()) {
    return Internal("token row for " + name + " is corrupt: " + parsed.status().message());
  }
  return Identity{name, std::move(*parsed), id};
}

}  // namespace

Result<std::unique_ptr<TokenStore>> TokenStore::Open(const std::string& path,
                                                     const os::Clock* clock) {
  LS_ASSIGN_OR_RETURN(std::unique_ptr<SQLite::Database> db, OpenDatabase(path, "token database"));
  try {
    LS_RETURN_IF_ERROR(Migrate(*db, path));
    return std::unique_ptr<TokenStore>(new TokenStore(std::move(db), clock));
  } catch (const std::exception& e) {
    return Unavailable("open token database " + path + ": " + e.what());
  }
}

Result<std::string> TokenStore::Create(const std::string& name, const std::vector<Grant>& grants) {
  LS_RETURN_IF_ERROR(ValidateTokenName(name));
  if (grants.empty()) return InvalidArgument("a token needs at least one role");
  std::string id = os::RandomHex(kIdHexLength / 2);
  std::string secret = Base64UrlEncode(os::RandomBytes(32));
  std::lock_guard lock(mu_);
  try {
    SQLite::Statement q(*db_,
                        "INSERT INTO tokens (id, name, grants, secret_sha256, created_at) "
                        "VALUES (?, ?, ?, ?, ?)");
    q.bind(1, id);
    q.bind(2, name);
    q.bind(3, GrantsString(grants));
    q.bind(4, SecretHash(secret));
    q.bind(5, static_cast<int64_t>(clock_->NowSeconds()));
    q.exec();
  } catch (const SQLite::Exception& e) {
    if (e.getExtendedErrorCode() == SQLITE_CONSTRAINT_UNIQUE) {
      return AlreadyExists("a token named '" + name +
                           "' exists; revoke it first or pick another name");
    }
    return DbError(e);
  }
  return std::string(kPrefix) + id + "_" + secret;
}

Result<std::vector<TokenInfo>> TokenStore::List() {
  std::lock_guard lock(mu_);
  std::vector<TokenInfo> out;
  try {
    SQLite::Statement q(*db_, "SELECT name, grants, created_at FROM tokens ORDER BY name");
    while (q.executeStep()) {
      LS_ASSIGN_OR_RETURN(Identity who,
                          IdentityOf(q.getColumn(0).getString(), q.getColumn(1).getString(), ""));
      out.push_back(
          TokenInfo{std::move(who.name), std::move(who.grants), q.getColumn(2).getInt64()});
    }
  } catch (const std::exception& e) {
    return DbError(e);
  }
  return out;
}

Status TokenStore::Revoke(const std::string& name) {
  std::lock_guard lock(mu_);
  try {
    SQLite::Statement q(*db_, "DELETE FROM tokens WHERE name = ?");
    q.bind(1, name);
    if (q.exec() == 0) return NotFound("no token named '" + name + "'");
  } catch (const std::exception& e) {
    return DbError(e);
  }
  return Status::Ok();
}

Result<Identity> TokenStore::Authenticate(std::string_view token) {
  auto refused = [] {
    return Unauthenticated(
        "the token is not one of this server's (revoked, mistyped, or created for another data "
        "directory: `lockstep token create` writes to the --data of the server that serves it)");
  };
  if (!StartsWith(token, kPrefix)) return refused();
  std::string_view rest = token.substr(kPrefix.size());
  if (rest.size() <= kIdHexLength + 1 || rest[kIdHexLength] != '_') return refused();
  std::string id(rest.substr(0, kIdHexLength));
  std::string_view secret = rest.substr(kIdHexLength + 1);
  std::lock_guard lock(mu_);
  try {
    SQLite::Statement q(*db_, "SELECT name, grants, secret_sha256 FROM tokens WHERE id = ?");
    q.bind(1, id);
    if (!q.executeStep()) return refused();
    if (!ConstantTimeEquals(SecretHash(secret), q.getColumn(2).getString())) return refused();
    return IdentityOf(q.getColumn(0).getString(), q.getColumn(1).getString(), id);
  } catch (const std::exception& e) {
    return DbError(e);
  }
}

Result<Identity> TokenStore::LookupById(const std::string& id) {
  std::lock_guard lock(mu_);
  try {
    SQLite::Statement q(*db_, "SELECT name, grants FROM tokens WHERE id = ?");
    q.bind(1, id);
    if (!q.executeStep()) return NotFound("no token with id '" + id + "'");
    return IdentityOf(q.getColumn(0).getString(), q.getColumn(1).getString(), id);
  } catch (const std::exception& e) {
    return DbError(e);
  }
}

Result<Identity> TokenStore::FindByName(const std::string& name) {
  std::lock_guard lock(mu_);
  try {
    SQLite::Statement q(*db_, "SELECT id, grants FROM tokens WHERE name = ?");
    q.bind(1, name);
    if (!q.executeStep()) return NotFound("no token named '" + name + "'");
    return IdentityOf(name, q.getColumn(1).getString(), q.getColumn(0).getString());
  } catch (const std::exception& e) {
    return DbError(e);
  }
}

}  // namespace lockstep::state
