#include "state/token_store.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <map>
#include <tuple>

#include "core/digest.h"
#include "os/testing/temp_dir.h"

namespace lockstep::state {
namespace {

std::vector<Grant> Grants(const std::string& text) { return ParseGrants(text).value(); }

class TokenStoreTest : public ::testing::Test {
 protected:
  os::testing::TempDir dir_;
  os::FakeClock clock_{1700000000};
  std::unique_ptr<TokenStore> store_ =
      TokenStore::Open((dir_.path() / "state.db").string(), &clock_).value();
};

TEST_F(TokenStoreTest, CreatedTokenAuthenticatesWithItsRole) {
  std::string token = store_->Create("prod-pull", Grants("pull:apps/*")).value();
  Result<Identity> id = store_->Authenticate(token);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(id->name, "prod-pull");
  EXPECT_EQ(GrantsString(id->grants), "pull:apps/*");
  EXPECT_TRUE(id->Allows(Action::kPull, "apps/x"));
  EXPECT_FALSE(id->Allows(Action::kPull, "other"));
}

TEST_F(TokenStoreTest, OnlyTheHashIsStored) {
  std::string token = store_->Create("ci", Grants("ci:**")).value();
  std::string secret = token.substr(21);  // after "lst_", the 16-character id and '_'
  ASSERT_EQ(token.substr(0, 4), "lst_");
  ASSERT_EQ(token[20], '_');
  std::string db = os::ReadFile(dir_.path() / "state.db").value();
  Result<std::string> wal_file = os::ReadFile(dir_.path() / "state.db-wal");
  std::string wal = wal_file.ok() ? *wal_file : "";
  EXPECT_EQ(db.find(secret), std::string::npos);
  EXPECT_EQ(wal.find(secret), std::string::npos);
  // What is stored is the secret's hash (not, say, the secret in another encoding).
  std::string hash = DigestOf(secret).hex();
  EXPECT_TRUE(db.find(hash) != std::string::npos || wal.find(hash) != std::string::npos)
      << "sha256 of the secret is not in the database";
}

// A database as lockstep wrote it before grants: schema `version`, one role and one pattern
// list per token. Returns the text of each token, by name.
std::map<std::string, std::string> WriteOldDatabase(const std::string& path, int version) {
  SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
  db.exec(
      "CREATE TABLE tokens (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, role TEXT NOT NULL,"
      " repos TEXT NOT NULL, secret_sha256 TEXT NOT NULL, created_at INTEGER NOT NULL)");
  std::map<std::string, std::string> tokens;
  int n = 0;
  for (auto [name, role, repos] :
       {std::tuple{"root", "admin", "*"}, std::tuple{"ci", "push", "apps/*,x"},
        std::tuple{"prod", "pull", "apps/*"}}) {
    std::string id = "000000000000000" + std::to_string(n++);
    std::string secret = std::string("secret-of-") + name;
    SQLite::Statement q(db, "INSERT INTO tokens VALUES (?, ?, ?, ?, ?, 1700000000)");
    q.bind(1, id);
    q.bind(2, name);
    q.bind(3, role);
    q.bind(4, repos);
    q.bind(5, DigestOf(secret).hex());
    q.exec();
    tokens[name] = "lst_" + id + "_" + secret;
  }
  db.exec("PRAGMA user_version = " + std::to_string(version));
  return tokens;
}

// Version 0 (before '*' stopped crossing '/'): its tokens keep their reach and become grants.
TEST(TokenStoreMigration, OldPatternsKeepTheirMeaningAndRolesBecomeGrants) {
  os::testing::TempDir dir;
  os::FakeClock clock{1700000000};
  std::string path = (dir.path() / "state.db").string();
  std::map<std::string, std::string> tokens = WriteOldDatabase(path, 0);
  auto store = TokenStore::Open(path, &clock).value();
  Identity ci = store->Authenticate(tokens["ci"]).value();
  EXPECT_EQ(GrantsString(ci.grants), "ci:apps/**,x");
  EXPECT_TRUE(ci.Allows(Action::kPush, "apps/a/b"));
  EXPECT_FALSE(ci.Allows(Action::kPush, "y"));
  EXPECT_EQ(GrantsString(store->Authenticate(tokens["root"]).value().grants), "admin");
  EXPECT_EQ(GrantsString(store->Authenticate(tokens["prod"]).value().grants), "pull:apps/**");
  // A token created after the migration keeps its one level.
  std::string fresh = store->Create("new", Grants("pull:apps/*")).value();
  store.reset();
  store = TokenStore::Open(path, &clock).value();
  EXPECT_FALSE(store->Authenticate(fresh).value().Allows(Action::kPull, "apps/a/b"));
  EXPECT_EQ(store->List().value().size(), 4u);
}

TEST(TokenStoreMigration, ARowNoLockstepWroteStopsTheMigrationAndChangesNothing) {
  os::testing::TempDir dir;
  std::string path = (dir.path() / "state.db").string();
  WriteOldDatabase(path, 1);
  {
    SQLite::Database db(path, SQLite::OPEN_READWRITE);
    db.exec("UPDATE tokens SET role = 'owner' WHERE name = 'prod'");
  }
  Result<std::unique_ptr<TokenStore>> store = TokenStore::Open(path, nullptr);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("token prod has role 'owner'"), std::string::npos)
      << store.status().message();
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  EXPECT_EQ(db.execAndGet("PRAGMA user_version").getInt(), 1);
  EXPECT_EQ(db.execAndGet("SELECT count(*) FROM tokens WHERE role != ''").getInt(), 3);
}

TEST(TokenStoreMigration, Version1PatternsAreKeptAsTheyAre) {
  os::testing::TempDir dir;
  std::string path = (dir.path() / "state.db").string();
  std::map<std::string, std::string> tokens = WriteOldDatabase(path, 1);
  auto store = TokenStore::Open(path, nullptr).value();
  EXPECT_EQ(GrantsString(store->Authenticate(tokens["ci"]).value().grants), "ci:apps/*,x");
  SQLite::Database db(path, SQLite::OPEN_READONLY);
  EXPECT_EQ(db.execAndGet("PRAGMA user_version").getInt(), 2);
}

TEST(TokenStoreMigration, ANewerSchemaIsRefused) {
  os::testing::TempDir dir;
  std::string path = (dir.path() / "state.db").string();
  { TokenStore::Open(path, nullptr).value(); }
  {
    SQLite::Database db(path, SQLite::OPEN_READWRITE);
    db.exec("PRAGMA user_version = 7");
  }
  Result<std::unique_ptr<TokenStore>> store = TokenStore::Open(path, nullptr);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("upgrade lockstep"), std::string::npos);
}

TEST_F(TokenStoreTest, WrongSecretsAndRevokedTokensAreRefused) {
  std::string token = store_->Create("ci", Grants("ci:**")).value();
  std::string tampered = token;
  tampered.back() = tampered.back() == 'A' ? 'B' : 'A';
  EXPECT_EQ(store_->Authenticate(tampered).status().code(), Code::kUnauthenticated);
  EXPECT_EQ(store_->Authenticate("lst_short").status().code(), Code::kUnauthenticated);
  EXPECT_EQ(store_->Authenticate("").status().code(), Code::kUnauthenticated);
  ASSERT_TRUE(store_->Revoke("ci").ok());
  EXPECT_EQ(store_->Authenticate(token).status().code(), Code::kUnauthenticated);
  EXPECT_EQ(store_->Revoke("ci").code(), Code::kNotFound);
}

TEST_F(TokenStoreTest, NamesAreUniqueAndValidated) {
  ASSERT_TRUE(store_->Create("ci", Grants("ci:**")).ok());
  EXPECT_EQ(store_->Create("ci", Grants("pull:**")).status().code(), Code::kAlreadyExists);
  EXPECT_EQ(store_->Create("../x", Grants("pull:**")).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(GrantsString(store_->FindByName("ci").value().grants), "ci:**");
  EXPECT_EQ(store_->FindByName("nobody").status().code(), Code::kNotFound);
  auto list = store_->List().value();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].name, "ci");
  EXPECT_EQ(list[0].created_at, 1700000000);
}

}  // namespace
}  // namespace lockstep::state
