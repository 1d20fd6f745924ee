// Runc::List reads runc's own state files instead of starting `runc list`. Against the
// runc in use, for a container in each status runc knows, what it reads must be what
// `runc list` says, field by field: this is what notices a runc whose layout changed.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>

#include "runtime/local/runc.h"
#include "tests/support/images.h"
#include "tests/support/lockstep_server.h"
#include "tests/support/process.h"

namespace lockstep::testing {
namespace {

namespace fs = std::filesystem;
using runtime::local::ContainerState;

std::string Slurp(const fs::path& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

class RuncState : public ::testing::Test {
 protected:
  RuncState() : root_(scratch_.path() / "runc"), bundle_(scratch_.path() / "bundle"), runc_(root_) {
    MakeBusyboxTree(bundle_ / "rootfs");
    for (const char* d : {"proc", "dev", "sys", "tmp"})
      fs::create_directories(bundle_ / "rootfs" / d);
    EXPECT_EQ(RunCommand({"runc", "spec", "--bundle", bundle_.string()}).exit_code, 0);
    std::string config = Slurp(bundle_ / "config.json");
    config = std::regex_replace(config, std::regex(R"("terminal": true)"), R"("terminal": false)");
    config = std::regex_replace(config, std::regex(R"("args": \[\s*"sh"\s*\])"),
                                R"("args": ["/bin/busybox", "sleep", "600"])");
    config = std::regex_replace(config, std::regex(R"(^\{)"),
                                R"({"annotations": {"lockstep.service": "web", "x": "a=b"},)");
    std::ofstream(bundle_ / "config.json") << config;
  }
  ~RuncState() override {
    // runc kills and deletes only a container whose state file is its own again.
    for (const auto& [path, text] : edited_) std::ofstream(path) << text;
    for (const std::string& id : ids_) Cli("--root", root_.string(), "delete", "--force", id);
  }
  // Replaces `from` (a regular expression) in container `id`'s state file with `to`, until
  // the test ends.
  void EditState(const std::string& id, const std::string& from, const std::string& to) {
    fs::path state = root_ / id / "state.json";
    std::string text = Slurp(state);
    edited_.emplace(state, text);
    std::ofstream(state) << std::regex_replace(text, std::regex(from), to);
  }

  RunResult Cli(auto... args) {
    RunResult run = RunCommand({"runc", std::string(args)...});
    EXPECT_EQ(run.exit_code, 0) << run.Describe();
    return run;
  }
  void Container(const std::string& id, const std::string& how) {
    ids_.push_back(id);
    if (how == "create") {
      Cli("--root", root_.string(), "create", "--bundle", bundle_.string(), id);
    } else {
      Cli("--root", root_.string(), "run", "--detach", "--bundle", bundle_.string(), id);
    }
  }

  ScratchDir scratch_;
  fs::path root_, bundle_;
  runtime::local::Runc runc_;
  std::vector<std::string> ids_;
  std::map<fs::path, std::string> edited_;
};

TEST_F(RuncState, TheStateFilesSayWhatRuncListSaysInEveryStatus) {
  Container("a-running", "run");
  Container("b-created", "create");
  Container("c-paused", "run");
  Cli("--root", root_.string(), "pause", "c-paused");
  Container("d-stopped", "run");
  Cli("--root", root_.string(), "kill", "d-stopped", "KILL");
  // A process that is not the one runc started (a pid used again): its start time differs.
  Container("e-other-process", "run");
  EditState("e-other-process", R"("init_process_start":(\d+))", R"("init_process_start":1$1)");
  // A container runc is creating: its directory holds no state file yet.
  fs::create_directories(root_ / "f-being-made");

  // The killed container's process may take a moment to go.
  ASSERT_TRUE(WaitFor([&] {
    Result<std::vector<ContainerState>> listed = runc_.ListByRunc();
    return listed.ok() && listed->size() == 5 && (*listed)[3].status == "stopped";
  }));
  Result<std::vector<ContainerState>> listed = runc_.ListByRunc();
  std::optional<std::vector<ContainerState>> read = runc_.ReadStates();
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  ASSERT_TRUE(read.has_value()) << "runc " << Cli("--version").out
                                << " keeps its state files in another layout";
  ASSERT_EQ(read->size(), listed->size());
  std::vector<std::string> statuses;
  for (size_t i = 0; i < read->size(); ++i) {
    const ContainerState& r = (*read)[i];
    const ContainerState& l = (*listed)[i];
    SCOPED_TRACE(l.id);
    EXPECT_EQ(r.id, l.id);
    EXPECT_EQ(r.status, l.status);
    EXPECT_EQ(r.pid, l.pid);
    EXPECT_EQ(r.bundle, l.bundle);
    EXPECT_EQ(r.created_unix, l.created_unix);
    EXPECT_EQ(r.annotations, l.annotations);
    statuses.push_back(r.status);
  }
  EXPECT_EQ(statuses,
            (std::vector<std::string>{"running", "created", "paused", "stopped", "stopped"}));
  EXPECT_EQ((*read)[0].annotations.at("x"), "a=b");
  EXPECT_EQ((*read)[0].bundle, bundle_);
  Result<std::vector<ContainerState>> list = runc_.List();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->size(), 5u);
}

TEST_F(RuncState, AStateFileInAnotherLayoutIsLeftToRuncItself) {
  Container("a-running", "run");
  std::optional<std::vector<ContainerState>> read = runc_.ReadStates();
  ASSERT_TRUE(read.has_value());
  ASSERT_EQ(read->size(), 1u);
  EditState("a-running", R"("init_process_pid")", R"("pid_of_init")");
  EXPECT_FALSE(runc_.ReadStates().has_value());
  // runc reads the edited file as a container with no init process: stopped. List says
  // what runc says.
  Result<std::vector<ContainerState>> list = runc_.List();
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].status, "stopped");
  EXPECT_EQ((*list)[0].id, "a-running");
}

}  // namespace
}  // namespace lockstep::testing
