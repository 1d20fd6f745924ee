#include "state/token_store.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include "core/digest.h"
#include "os/testing/temp_dir.h"

namespace lockstep::state {
namespace {

class TokenStoreTest : public ::testing::Test {
 protected:
  os::testing::TempDir dir_;
  os::FakeClock clock_{1700000000};
  std::unique_ptr<TokenStore> store_ =
      TokenStore::Open((dir_.path() / "state.db").string(), &clock_).value();
};

TEST_F(TokenStoreTest, CreatedTokenAuthenticatesWithItsRole) {
  std::string token =
      store_->Create("prod-pull", Role::kPull, RepoPatterns::Parse("apps/*").value()).value();
  Result<Identity> id = store_->Authenticate(token);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  EXPECT_EQ(id->name, "prod-pull");
  EXPECT_EQ(id->role, Role::kPull);
  EXPECT_TRUE(id->Allows(Action::kPull, "apps/x"));
  EXPECT_FALSE(id->Allows(Action::kPull, "other"));
}

TEST_F(TokenStoreTest, OnlyTheHashIsStored) {
  std::string token = store_->Create("ci", Role::kPush, RepoPatterns::All()).value();
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

// A database written before '*' stopped crossing '/': its tokens keep their reach.
TEST(TokenStoreMigration, OldPatternsKeepTheirMeaning) {
  os::testing::TempDir dir;
  os::FakeClock clock{1700000000};
  std::string path = (dir.path() / "state.db").string();
  std::string token;
  {
    auto store = TokenStore::Open(path, &clock).value();
    token = store->Create("old", Role::kPull, RepoPatterns::Parse("apps/*,x").value()).value();
  }
  {
    // Put the database back to how the previous version wrote it: version 0, one star.
    SQLite::Database db(path, SQLite::OPEN_READWRITE);
    db.exec("UPDATE tokens SET repos = 'apps/*,x'");
    db.exec("PRAGMA user_version = 0");
  }
  auto store = TokenStore::Open(path, &clock).value();
  Identity id = store->Authenticate(token).value();
  EXPECT_TRUE(id.Allows(Action::kPull, "apps/a/b"));
  EXPECT_FALSE(id.Allows(Action::kPull, "y"));
  EXPECT_EQ(id.repos.str(), "apps/**,x");
  // A token created after the migration keeps its one level.
  std::string fresh =
      store->Create("new", Role::kPull, RepoPatterns::Parse("apps/*").value()).value();
  store.reset();
  store = TokenStore::Open(path, &clock).value();
  EXPECT_FALSE(store->Authenticate(fresh).value().Allows(Action::kPull, "apps/a/b"));
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
  std::string token = store_->Create("ci", Role::kPush, RepoPatterns::All()).value();
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
  ASSERT_TRUE(store_->Create("ci", Role::kPush, RepoPatterns::All()).ok());
  EXPECT_EQ(store_->Create("ci", Role::kPull, RepoPatterns::All()).status().code(),
            Code::kAlreadyExists);
  EXPECT_EQ(store_->Create("../x", Role::kPull, RepoPatterns::All()).status().code(),
            Code::kInvalidArgument);
  auto list = store_->List().value();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].name, "ci");
  EXPECT_EQ(list[0].created_at, 1700000000);
}

}  // namespace
}  // namespace lockstep::state
