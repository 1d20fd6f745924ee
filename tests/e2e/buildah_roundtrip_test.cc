// buildah (the containers/image library, as podman uses it) builds an image, pushes it
// to a fresh `lockstep serve`, forgets it, and pulls it back with the same image ID.
#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/images.h"
#include "tests/support/lockstep_server.h"

namespace lockstep::testing {
namespace {

class BuildahRoundTrip : public ::testing::Test {
 protected:
  RunResult Buildah(std::vector<std::string> args) {
    std::vector<std::string> argv = {"buildah",
                                     "--root",
                                     (server_.scratch() / "root").string(),
                                     "--runroot",
                                     (server_.scratch() / "run").string(),
                                     "--storage-driver",
                                     "vfs"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv);
  }
  static std::string Trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
  }
  // buildah prints progress first and the image ID on the last line.
  static std::string LastLine(const std::string& out) {
    std::string trimmed = Trim(out);
    return trimmed.substr(trimmed.rfind('\n') + 1);
  }
  LockstepServer server_;
};

TEST_F(BuildahRoundTrip, PushForgetPull) {
  std::filesystem::path file = server_.scratch() / "hello.txt";
  std::ofstream(file) << "built by buildah\n";
  RunResult from = Buildah({"from", "scratch"});
  ASSERT_EQ(from.exit_code, 0) << from.Describe();
  std::string container = Trim(from.out);
  ASSERT_EQ(Buildah({"copy", container, file.string(), "/hello.txt"}).exit_code, 0);
  ASSERT_EQ(Buildah({"config", "--cmd", "/hello.txt", container}).exit_code, 0);
  RunResult commit = Buildah({"commit", "--quiet", container, "localhost/hello:1"});
  ASSERT_EQ(commit.exit_code, 0) << commit.Describe();
  std::string image_id = Trim(commit.out);

  std::string ref = "docker://" + server_.host() + "/buildah/hello:1.0.0";
  RunResult push = Buildah({"push", "--tls-verify=false", "localhost/hello:1", ref});
  ASSERT_EQ(push.exit_code, 0) << push.Describe();
  ASSERT_EQ(Buildah({"rm", "--all"}).exit_code, 0);
  ASSERT_EQ(Buildah({"rmi", "--all", "--force"}).exit_code, 0);

  RunResult pull = Buildah({"pull", "--tls-verify=false", ref});
  ASSERT_EQ(pull.exit_code, 0) << pull.Describe();
  EXPECT_EQ(LastLine(pull.out), image_id) << pull.Describe();
  RunResult inspect = RunCommand(Skopeo({"inspect", "--tls-verify=false", ref}));
  ASSERT_EQ(inspect.exit_code, 0) << inspect.Describe();
  EXPECT_NE(inspect.out.find("\"1.0.0\""), std::string::npos);
}

}  // namespace
}  // namespace lockstep::testing
