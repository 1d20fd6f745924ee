// Functions on the local target: each invocation is a fresh runc container of a release
// packed by lockstep and fetched from lockstep's registry by digest.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "runtime/local/cgroups.h"
#include "tests/support/runtime_fixture.h"

namespace lockstep::testing {
namespace {

namespace fs = std::filesystem;
using runtime::Invocation;
using runtime::InvokeRequest;
using runtime::Placement;

class Functions : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { fixture_ = new RuntimeFixture(); }
  static void TearDownTestSuite() {
    delete fixture_;
    fixture_ = nullptr;
  }

  Invocation Invoke(const Release& release, const std::string& event = "",
                    Placement where = {"dev", "fn"}) {
    std::string id = fixture_->Prepare(release);
    Result<Invocation> run = fixture_->target().Invoke(where, id, InvokeRequest{.event = event});
    EXPECT_TRUE(run.ok()) << run.status().ToString();
    return run.ok() ? *run : Invocation{};
  }

  static RuntimeFixture* fixture_;
};

RuntimeFixture* Functions::fixture_ = nullptr;

TEST_F(Functions, ReturnOutputLogsExitStatusDurationAndPeakMemory) {
  Invocation run =
      Invoke(fixture_->Function("read line; echo \"got $line\"; echo 'to the log' >&2; exit 3"),
             "hello\n");
  EXPECT_EQ(run.output, "got hello\n");
  EXPECT_EQ(run.logs, "to the log\n");
  EXPECT_EQ(run.exit_code, 3);
  EXPECT_FALSE(run.timed_out);
  EXPECT_FALSE(run.out_of_memory);
  EXPECT_GT(run.duration.count(), 0);
  EXPECT_GT(run.peak_memory_bytes, 0u);
  EXPECT_EQ(run.invocation_id.rfind("inv-", 0), 0u);
  // The log outlives the invocation; the bundle does not.
  Result<std::string> logs = fixture_->target().Logs(run.invocation_id, 1 << 20);
  ASSERT_TRUE(logs.ok()) << logs.status().ToString();
  EXPECT_EQ(*logs, "to the log\n");
  EXPECT_FALSE(fs::exists(fixture_->dir() / "invocations" / run.invocation_id));
  // Nor does its container (kept stopped until its counters were read).
  Result<std::vector<runtime::local::ContainerState>> containers = fixture_->target().runc().List();
  ASSERT_TRUE(containers.ok()) << containers.status().ToString();
  for (const auto& c : *containers) EXPECT_NE(c.id, run.invocation_id) << c.status;
}

// runc's own failure is told apart from a function that fails: this one is its exit 1.
TEST_F(Functions, AFunctionThatFailsOnItsOwnIsItsExitNotAStartError) {
  Invocation run = Invoke(fixture_->Function("echo 'no such thing' >&2; exit 1"));
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.logs, "no such thing\n");
}

TEST_F(Functions, LargeEventsAndOutputsDoNotDeadlock) {
  std::string event(3 << 20, 'x');
  Invocation run = Invoke(fixture_->Function("cat; cat /bin/busybox >&2"), event);
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_EQ(run.output.size(), event.size());
  EXPECT_EQ(run.logs.size(), 1u << 20) << "stderr is kept within the log bound";
}

TEST_F(Functions, ATimeoutKillsTheInvocation) {
  Release release = fixture_->Function("echo started; sleep 30; echo never");
  release.config.limits.timeout_ms = 500;
  auto started = std::chrono::steady_clock::now();
  Invocation run = Invoke(release);
  EXPECT_TRUE(run.timed_out);
  EXPECT_EQ(run.exit_code, 137);
  EXPECT_EQ(run.output, "started\n");
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
}

TEST_F(Functions, PassingTheMemoryLimitIsKilledAndReportedAsSuch) {
  Release release = fixture_->Function("exec /bin/memhog \"$MIB\"");
  release.config.limits.memory_bytes = 32 << 20;
  release.config.env = {{"MIB", "8"}};
  Invocation fits = Invoke(release);
  EXPECT_EQ(fits.exit_code, 0);
  EXPECT_EQ(fits.output, "allocated 8 MiB\n");
  EXPECT_FALSE(fits.out_of_memory);
  EXPECT_GE(fits.peak_memory_bytes, 8u << 20);

  release.config.env = {{"MIB", "100"}};
  Invocation hog = Invoke(release);
  EXPECT_EQ(hog.exit_code, 137);
  EXPECT_TRUE(hog.out_of_memory);
  EXPECT_FALSE(hog.timed_out);
  EXPECT_EQ(hog.output, "");
  EXPECT_LE(hog.peak_memory_bytes, (32u << 20) + (1u << 20));
}

TEST_F(Functions, AChildKilledByTheMemoryLimitIsReportedThoughTheMainProcessLives) {
  Release release = fixture_->Function("/bin/memhog 100; echo \"survived $?\"");
  release.config.limits.memory_bytes = 32 << 20;
  Invocation run = Invoke(release);
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_EQ(run.output, "survived 137\n");
  EXPECT_TRUE(run.out_of_memory);
  EXPECT_FALSE(run.timed_out);
}

TEST_F(Functions, ConcurrentInvocationsAreIsolated) {
  // Each writes its event to /tmp and reads it back after the others have written theirs.
  std::string id = fixture_->Prepare(
      fixture_->Function("cat > /tmp/mine; sleep 0.5; cat /tmp/mine; ls /tmp | wc -l"));
  constexpr int kParallel = 8;
  std::vector<Result<Invocation>> runs(kParallel, Status(Code::kInternal, "not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < kParallel; ++i) {
    threads.emplace_back([&, i] {
      runs[i] = fixture_->target().Invoke({"dev", "fn"}, id,
                                          InvokeRequest{.event = "event-" + std::to_string(i)});
    });
  }
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < kParallel; ++i) {
    ASSERT_TRUE(runs[i].ok()) << runs[i].status().ToString();
    EXPECT_EQ(runs[i]->exit_code, 0) << runs[i]->logs;
    EXPECT_EQ(runs[i]->output, "event-" + std::to_string(i) + "1\n");
  }
}

TEST_F(Functions, HaveNoNetworkUnlessGranted) {
  // (Debian's static busybox wget crashes without NSS files; nc does not need them.)
  std::string port = std::to_string(fixture_->server().port());
  std::string script =
      "cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '; "
      "printf 'GET /v2/ HTTP/1.0\r\n\r\n' | nc -w 2 127.0.0.1 " +
      port + " | grep -q '^HTTP/1.1 200' && echo reached";
  Invocation isolated = Invoke(fixture_->Function(script));
  EXPECT_EQ(isolated.output, "lo\n") << isolated.logs;
  EXPECT_NE(isolated.exit_code, 0);

  Release granted = fixture_->Function(script);
  granted.config.network = NetworkGrant::kHost;
  Invocation host = Invoke(granted);
  EXPECT_NE(host.output.find("reached\n"), std::string::npos) << host.logs;
  EXPECT_EQ(host.exit_code, 0);
}

TEST_F(Functions, ReachOnlyTheVolumesTheirReleaseGrants) {
  Result<fs::path> volume = fixture_->target().Volume("staging", "reports");
  ASSERT_TRUE(volume.ok());
  std::ofstream(*volume / "q3.txt") << "revenue up\n";
  std::string script = "cat /volumes/reports/q3.txt && echo written > /volumes/reports/out.txt";
  Placement where{"staging", "report"};

  Invocation ungranted = Invoke(fixture_->Function(script), "", where);
  EXPECT_NE(ungranted.exit_code, 0);
  EXPECT_NE(ungranted.logs.find("No such file"), std::string::npos) << ungranted.logs;

  Release read_only = fixture_->Function(script);
  read_only.config.volumes = {{"reports", false}};
  Invocation ro = Invoke(read_only, "", where);
  EXPECT_EQ(ro.output, "revenue up\n");
  EXPECT_NE(ro.exit_code, 0) << "a read-only grant refuses writes";
  EXPECT_FALSE(fs::exists(*volume / "out.txt"));

  Release writable = fixture_->Function(script);
  writable.config.volumes = {{"reports", true}};
  Invocation rw = Invoke(writable, "", where);
  EXPECT_EQ(rw.exit_code, 0) << rw.logs;
  std::ifstream written(*volume / "out.txt");
  std::string line;
  std::getline(written, line);
  EXPECT_EQ(line, "written");

  // Another environment's volume of the same name is another directory.
  Invocation elsewhere = Invoke(writable, "", {"prod", "report"});
  EXPECT_NE(elsewhere.exit_code, 0);
}

TEST_F(Functions, RootIsReadOnlyAndTmpIsPrivate) {
  Invocation run = Invoke(fixture_->Function(
      "touch /bin/x 2>/dev/null && echo root-writable; echo ok > /tmp/t && cat /tmp/t; id -u"));
  EXPECT_EQ(run.output, "ok\n65534\n");
}

TEST_F(Functions, TheSameReleaseIsPreparedOnce) {
  Release release = fixture_->Function("echo once");
  Result<runtime::PreparedRelease> first = fixture_->target().Prepare(release);
  Result<runtime::PreparedRelease> again = fixture_->target().Prepare(release);
  ASSERT_TRUE(first.ok() && again.ok());
  EXPECT_EQ(first->release_id, again->release_id);
  EXPECT_TRUE(again->already_prepared);
  // Every release of the one image shares its unpacked layers.
  size_t layers = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(fixture_->dir() / "layers"))
    ++layers;
  EXPECT_EQ(layers, 1u);
}

TEST_F(Functions, RefusesWhatCannotRun) {
  Release unpinned = fixture_->Function("true");
  unpinned.image.digest.reset();
  EXPECT_EQ(fixture_->target().Prepare(unpinned).status().code(), Code::kInvalidArgument);
  Release missing = fixture_->Function("true");
  missing.image.digest = DigestOf("not an image");
  Result<runtime::PreparedRelease> absent = fixture_->target().Prepare(missing);
  EXPECT_FALSE(absent.ok());
  EXPECT_NE(absent.status().message().find(missing.image.digest->str()), std::string::npos)
      << absent.status().ToString();
  EXPECT_EQ(fixture_->target().Invoke({"dev", "fn"}, "r0123", {}).status().code(),
            Code::kInvalidArgument);
  std::string id = fixture_->Prepare(fixture_->Function("true"));
  EXPECT_EQ(fixture_->target().Invoke({"../x", "fn"}, id, {}).status().code(),
            Code::kInvalidArgument);
  // The test image has no ENTRYPOINT or CMD: a release that gives none cannot run, and is
  // refused before anything is mounted for it.
  Release nothing = fixture_->Function("true");
  nothing.config.entrypoint.clear();
  Result<runtime::PreparedRelease> refused = fixture_->target().Prepare(nothing);
  EXPECT_EQ(refused.status().code(), Code::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("nothing to run"), std::string::npos);
  EXPECT_FALSE(fs::exists(fixture_->dir() / "releases" / ReleaseId(nothing)));
}

}  // namespace
}  // namespace lockstep::testing

namespace lockstep::testing {
namespace {

// `lockstep run`: the one-off form, through the binary, from the registry by tag.
class RunCommandTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { fixture_ = new RuntimeFixture(); }
  static void TearDownTestSuite() {
    delete fixture_;
    fixture_ = nullptr;
  }
  RunResult Run(std::vector<std::string> args, const std::string& stdin_text = "") {
    std::vector<std::string> full = {"run", fixture_->server().host() + "/test/tools:1.0.0",
                                     "--insecure", "--data", data_.path().string()};
    full.insert(full.end(), args.begin(), args.end());
    std::vector<std::string> argv = {LockstepBinary()};
    argv.insert(argv.end(), full.begin(), full.end());
    return RunCommand(argv, std::chrono::seconds(120), stdin_text);
  }
  // The runs' data directory goes away with the test, and its cgroup scope with it.
  void TearDown() override {
    runtime::local::LocalTargetOptions options;
    options.dir = data_.path() / "runtime";
    options.own = false;
    auto target = runtime::local::LocalTarget::Open(std::move(options));
    if (target.ok()) runtime::local::RemoveCgroupScope((*target)->cgroup_scope());
  }

  static RuntimeFixture* fixture_;
  ScratchDir data_;
};

RuntimeFixture* RunCommandTest::fixture_ = nullptr;

TEST_F(RunCommandTest, PrintsTheOutputAndExitsWithTheFunctionsStatus) {
  RunResult r = Run({"--event", "-", "--env", "WHO=lockstep", "--entrypoint",
                     R"(["/bin/sh","-c","read e; echo \"$WHO got $e\"; echo note >&2; exit 4"])"},
                    "ping\n");
  EXPECT_EQ(r.exit_code, 4) << r.Describe();
  EXPECT_EQ(r.out, "lockstep got ping\n");
  EXPECT_NE(r.err.find("note\n"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("exited 4"), std::string::npos) << r.err;
  // Nothing stays mounted after a one-off run.
  RunResult mounts = RunCommand({"grep", "-c", data_.path().string(), "/proc/self/mountinfo"});
  EXPECT_EQ(mounts.OutLine(), "0");
}

TEST_F(RunCommandTest, AFunctionThatLeavesItsEventUnreadDoesNotKillTheCommand) {
  // 3 MiB is more than a pipe holds: lockstep is still writing when the function exits.
  std::filesystem::path event = data_.path() / "event";
  std::ofstream(event) << std::string(3 << 20, 'e');
  RunResult r = Run({"--event", event.string(), "--", "/bin/sh", "-c", "echo done"});
  EXPECT_EQ(r.exit_code, 0) << "not 141, SIGPIPE: " << r.Describe();
  EXPECT_EQ(r.out, "done\n");
}

TEST_F(RunCommandTest, AnEntrypointThatIsNotThereSaysWhatRuncSaid) {
  RunResult r = Run({"--", "/bin/not-there", "x"});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_NE(r.err.find("could not start"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("\"/bin/not-there\": stat /bin/not-there: no such file or directory"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("level="), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("\"level\""), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("time="), std::string::npos) << r.err;
}

TEST_F(RunCommandTest, RepeatedOptionsBeforeTheImageTakeOneValueEach) {
  RunResult r = RunCommand({LockstepBinary(), "run", "--env", "A=1", "--env", "B=2",
                            fixture_->server().host() + "/test/tools:1.0.0", "--insecure", "--data",
                            data_.path().string(), "--", "/bin/sh", "-c", "echo $A$B"});
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(r.out, "12\n");
}

TEST_F(RunCommandTest, ReportsAMemoryKillAndATimeout) {
  RunResult hog = Run({"--memory", "24MiB", "--", "/bin/memhog", "64"});
  EXPECT_EQ(hog.exit_code, 137) << hog.Describe();
  EXPECT_NE(hog.err.find("passed its memory limit of 24.0 MiB"), std::string::npos) << hog.err;
  RunResult slow = Run({"--timeout", "300ms", "--", "/bin/busybox", "sleep", "20"});
  EXPECT_EQ(slow.exit_code, 137) << slow.Describe();
  EXPECT_NE(slow.err.find("timed out after 300ms"), std::string::npos) << slow.err;
}

TEST_F(RunCommandTest, WithoutRootItSaysTheRuntimeNeedsRoot) {
  // As nobody, in a data directory of nobody's own.
  std::filesystem::permissions(data_.path(), std::filesystem::perms(0711));
  std::filesystem::path home = data_.path() / "nobody";
  std::filesystem::create_directory(home);
  ASSERT_EQ(::chown(home.c_str(), 65534, 65534), 0);
  std::filesystem::permissions(home, std::filesystem::perms::owner_all);
  // A copy of the binary nobody can reach (the build tree may lie in a private directory).
  std::filesystem::copy_file(LockstepBinary(), home / "lockstep");
  std::filesystem::permissions(home / "lockstep", std::filesystem::perms(0755));
  RunResult r = RunCommand({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "env",
                            "HOME=" + home.string(), (home / "lockstep").string(), "run",
                            fixture_->server().host() + "/test/tools:1.0.0", "--insecure", "--data",
                            (home / "data").string(), "--", "/bin/busybox", "true"});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_NE(r.err.find("the local runtime needs root"), std::string::npos) << r.Describe();
  EXPECT_NE(r.err.find("run lockstep as root"), std::string::npos) << r.Describe();
}

TEST_F(RunCommandTest, JsonOutputAndClearErrors) {
  RunResult r = Run({"--output", "json", "--", "/bin/busybox", "echo", "hi"});
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_NE(r.out.find(R"("output":"hi\n")"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(R"("exit_code":0)"), std::string::npos) << r.out;
  RunResult bad_memory = Run({"--memory", "lots"});
  EXPECT_EQ(bad_memory.exit_code, 1);
  EXPECT_NE(bad_memory.err.find("--memory 'lots' is not a size"), std::string::npos)
      << bad_memory.err;
  RunResult bad_env = Run({"--env", "NOVALUE"});
  EXPECT_NE(bad_env.err.find("--env 'NOVALUE' is not KEY=VALUE"), std::string::npos);
  std::vector<std::string> argv = {
      LockstepBinary(), "run",    fixture_->server().host() + "/test/absent:1.0.0",
      "--insecure",     "--data", data_.path().string()};
  RunResult absent = RunCommand(argv);
  EXPECT_EQ(absent.exit_code, 1);
  EXPECT_NE(absent.err.find("test/absent"), std::string::npos) << absent.err;
}

}  // namespace
}  // namespace lockstep::testing
