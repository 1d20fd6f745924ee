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

Status Migrate(SQLite::Database& db, const std::string& path) {
  if (db.execAndGet("PRAGMA user_version").getInt() == 1) return Status::Ok();
  // One write transaction, taken before the version is read again: a crash leaves every row
  // as it was (and version 0) or all migrated, and a second process opening the database
  // at the same moment waits and then sees version 1.
  SQLite::Transaction tx(db, SQLite::TransactionBehavior::IMMEDIATE);
  int version = db.execAndGet("PRAGMA user_version").getInt();
  if (version > 1) {
    return FailedPrecondition("token database " + path + " has schema version " +
                              std::to_string(version) +
                              ", newer than this lockstep knows (1): upgrade lockstep");
  }
  if (version == 1) return Status::Ok();
  std::vector<std::pair<std::string, std::string>> rows;
  {
    SQLite::Statement q(db, "SELECT id, repos FROM tokens");
    while (q.executeStep())
      rows.emplace_back(q.getColumn(0).getString(), q.getColumn(1).getString());
  }
  for (const auto& [id, repos] : rows) {
    SQLite::Statement u(db, "UPDATE tokens SET repos = ? WHERE id = ?");
    u.bind(1, DeepenStars(repos));
    u.bind(2, id);
    u.exec();
  }
  db.exec("PRAGMA user_version = 1");
  tx.commit();
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<TokenStore>> TokenStore::Open(const std::string& path,
                                                     const os::Clock* clock) {
  LS_ASSIGN_OR_RETURN(std::unique_ptr<SQLite::Database> db, OpenDatabase(path, "token database"));
  try {
    db->exec(
        "CREATE TABLE IF NOT EXISTS tokens ("
        " id TEXT PRIMARY KEY,"
        " name TEXT NOT NULL UNIQUE,"
        " role TEXT NOT NULL,"
        " repos TEXT NOT NULL,"
        " secret_sha256 TEXT NOT NULL,"
        " created_at INTEGER NOT NULL)");
    LS_RETURN_IF_ERROR(Migrate(*db, path));
    return std::unique_ptr<TokenStore>(new TokenStore(std::move(db), clock));
  } catch (const std::exception& e) {
    return Unavailable("open token database " + path + ": " + e.what());
  }
}

Result<std::string> TokenStore::Create(const std::string& name, Role role,
                                       const RepoPatterns& repos) {
  LS_RETURN_IF_ERROR(ValidateTokenName(name));
  std::string id = os::RandomHex(kIdHexLength / 2);
  std::string secret = Base64UrlEncode(os::RandomBytes(32));
  std::lock_guard lock(mu_);
  try {
    SQLite::Statement q(*db_,
                        "INSERT INTO tokens (id, name, role, repos, secret_sha256, created_at) "
                        "VALUES (?, ?, ?, ?, ?, ?)");
    q.bind(1, id);
    q.bind(2, name);
    q.bind(3, std::string(RoleName(role)));
    q.bind(4, repos.str());
    q.bind(5, SecretHash(secret));
    q.bind(6, static_cast<int64_t>(clock_->NowSeconds()));
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
    SQLite::Statement q(*db_, "SELECT name, role, repos, created_at FROM tokens ORDER BY name");
    while (q.executeStep()) {
      TokenInfo t;
      t.name = q.getColumn(0).getString();
      Result<Role> role = ParseRole(q.getColumn(1).getString());
      if (!role.ok())
        return Internal("token row for " + t.name + " is corrupt: " + role.status().message());
      t.role = *role;
      t.repos = q.getColumn(2).getString();
      t.created_at = q.getColumn(3).getInt64();
      out.push_back(std::move(t));
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
    SQLite::Statement q(*db_, "SELECT name, role, repos, secret_sha256 FROM tokens WHERE id = ?");
    q.bind(1, id);
    if (!q.executeStep()) return refused();
    if (!ConstantTimeEquals(SecretHash(secret), q.getColumn(3).getString())) return refused();
    Result<Role> role = ParseRole(q.getColumn(1).getString());
    Result<RepoPatterns> repos = RepoPatterns::Parse(q.getColumn(2).getString());
    if (!role.ok() || !repos.ok())
      return Internal("token row for " + q.getColumn(0).getString() + " is corrupt");
    return Identity{q.getColumn(0).getString(), *role, *repos, id};
  } catch (const std::exception& e) {
    return DbError(e);
  }
}

Result<Identity> TokenStore::LookupById(const std::string& id) {
  std::lock_guard lock(mu_);
  try {
    SQLite::Statement q(*db_, "SELECT name, role, repos FROM tokens WHERE id = ?");
    q.bind(1, id);
    if (!q.executeStep()) return NotFound("no token with id '" + id + "'");
    std::string name = q.getColumn(0).getString();
    Result<Role> role = ParseRole(q.getColumn(1).getString());
    Result<RepoPatterns> repos = RepoPatterns::Parse(q.getColumn(2).getString());
    if (!role.ok() || !repos.ok()) return Internal("token row for " + name + " is corrupt");
    return Identity{name, *role, *repos, id};
  } catch (const std::exception& e) {
    return DbError(e);
  }
}

}  // namespace lockstep::state
