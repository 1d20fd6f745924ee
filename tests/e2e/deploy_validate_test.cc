// `lockstep validate` over the example deploy repository and over a corpus of broken ones
// (tests/deploy-repos/CASE/): each case is the example with the case's files laid over it
// (and the files its `_remove` names taken out), and `_expected` holds the exact problems
// the command must print, one a line, in order.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/support/lockstep_server.h"

namespace lockstep::testing {
namespace {

namespace fs = std::filesystem;

const fs::path kSource = LOCKSTEP_SOURCE_DIR;
const fs::path kExample = kSource / "examples" / "deploy-repo";
const fs::path kCorpus = kSource / "tests" / "deploy-repos";

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

std::string ReadText(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The example repository with `overlay`'s files laid over it.
void Assemble(const fs::path& overlay, const fs::path& into) {
  fs::copy(kExample, into, fs::copy_options::recursive);
  if (fs::exists(overlay / "_remove")) {
    for (const std::string& file : Lines(ReadText(overlay / "_remove"))) {
      ASSERT_TRUE(fs::remove(into / file)) << overlay << ": _remove names " << file;
    }
  }
  for (const auto& entry : fs::recursive_directory_iterator(overlay)) {
    fs::path rel = entry.path().lexically_relative(overlay);
    if (rel.filename().string().starts_with("_")) continue;
    if (entry.is_directory()) {
      fs::create_directories(into / rel);
    } else {
      fs::create_directories((into / rel).parent_path());
      fs::copy_file(entry.path(), into / rel, fs::copy_options::overwrite_existing);
    }
  }
}

std::vector<std::string> Cases() {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(kCorpus)) {
    if (entry.is_directory()) names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

TEST(Validate, TheExampleRepositoryIsValid) {
  RunResult r = Lockstep({"validate", kExample.string()});
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_NE(r.out.find("valid: 3 environments (dev, staging, prod), 6 deployed services"),
            std::string::npos)
      << r.Describe();
  RunResult json = Lockstep({"validate", kExample.string(), "--output", "json"});
  EXPECT_EQ(json.exit_code, 0) << json.Describe();
  boost::json::object o = boost::json::parse(json.out).as_object();
  EXPECT_TRUE(o.at("valid").as_bool());
  EXPECT_EQ(o.at("deployments").as_int64(), 6);
}

TEST(Validate, TheCorpusHasACaseForEachKindOfMistake) { EXPECT_GE(Cases().size(), 25u); }

class BrokenRepo : public ::testing::TestWithParam<std::string> {};

TEST_P(BrokenRepo, EveryProblemIsPrintedExactly) {
  fs::path overlay = kCorpus / GetParam();
  ScratchDir scratch;
  fs::path repo = scratch.path() / "repo";
  Assemble(overlay, repo);
  std::vector<std::string> expected = Lines(ReadText(overlay / "_expected"));
  ASSERT_FALSE(expected.empty()) << overlay << "/_expected is missing or empty";

  RunResult r = Lockstep({"validate", repo.string()});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_EQ(r.out, "") << "nothing is reported as read";
  std::vector<std::string> printed = Lines(r.err);
  ASSERT_FALSE(printed.empty()) << r.Describe();
  std::string summary = printed.back();
  printed.pop_back();
  EXPECT_EQ(printed, expected) << r.Describe();
  EXPECT_EQ(summary, "lockstep: " + repo.string() + ": " + std::to_string(expected.size()) +
                         (expected.size() == 1 ? " problem" : " problems") +
                         "; nothing was read from this repository");

  RunResult json = Lockstep({"validate", repo.string(), "--output", "json"});
  EXPECT_EQ(json.exit_code, 1) << json.Describe();
  boost::json::object o = boost::json::parse(json.out).as_object();
  EXPECT_FALSE(o.at("valid").as_bool());
  EXPECT_EQ(o.at("problems").as_array().size(), expected.size());
}

INSTANTIATE_TEST_SUITE_P(Corpus, BrokenRepo, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<std::string>& param) {
                           std::string name = param.param;
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

TEST(Validate, ALinkIsRefusedAndNotFollowed) {
  ScratchDir scratch;
  fs::path repo = scratch.path() / "repo";
  fs::copy(kExample, repo, fs::copy_options::recursive);
  fs::path secret = scratch.path() / "secret.toml";
  // Not a valid tag: were the link followed, the error would quote it.
  std::ofstream(secret) << "version = \"9.9.9 secret\"\n";
  fs::remove(repo / "environments" / "dev" / "report.toml");
  fs::create_symlink(secret, repo / "environments" / "dev" / "report.toml");
  fs::create_directory_symlink(scratch.path(), repo / "services" / "elsewhere");
  RunResult r = Lockstep({"validate", repo.string()});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_NE(r.err.find("environments/dev/report.toml: is a symbolic link: lockstep follows no "
                       "links in a deploy repository"),
            std::string::npos)
      << r.Describe();
  EXPECT_NE(r.err.find("services/elsewhere: is a symbolic link"), std::string::npos)
      << r.Describe();
  EXPECT_EQ(r.err.find("9.9.9 secret"), std::string::npos) << "the link's target was read";
  EXPECT_EQ(r.err.find("services/elsewhere/"), std::string::npos)
      << "the linked directory was walked";
}

TEST(Validate, APathThatIsNoDirectoryIsNamed) {
  RunResult r = Lockstep({"validate", "/nonexistent/deploy-repo"});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_NE(r.err.find("/nonexistent/deploy-repo: not a directory: give the deploy "
                       "repository's root"),
            std::string::npos)
      << r.Describe();
}

}  // namespace
}  // namespace lockstep::testing
