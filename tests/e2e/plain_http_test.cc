// A client that meets a plain-HTTP server without --insecure is told so, instead of
// libcurl's "SSL connect error"; --insecure towards a host that is not loopback warns.
#include <gtest/gtest.h>

#include "tests/support/client_env.h"
#include "tests/support/lockstep_server.h"

namespace lockstep::testing {

namespace {

class PlainHttp : public ::testing::Test {
 protected:
  RunResult Tags(const std::string& registry, std::vector<std::string> flags) const {
    std::vector<std::string> args = {"tags", registry + "/apps/web", "--quiet"};
    args.insert(args.end(), flags.begin(), flags.end());
    return Lockstep(args, ClientEnvironment(scratch_.path() / "home", scratch_.path() / "run"));
  }

  LockstepServer server_;
  ScratchDir scratch_;
};

TEST_F(PlainHttp, WithoutInsecureTheClientIsToldTheServerAnsweredPlainHttp) {
  RunResult r = Tags(server_.host(), {});
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_NE(r.err.find(
                "the server answered plain HTTP; use --insecure for a loopback development server"),
            std::string::npos)
      << r.Describe();
  EXPECT_EQ(r.err.find("SSL connect error"), std::string::npos) << r.Describe();
  EXPECT_TRUE(server_.Running());
}

TEST_F(PlainHttp, InsecureWarnsOffLoopbackOnly) {
  RunResult loopback = Tags(server_.host(), {"--insecure"});
  EXPECT_EQ(loopback.err.find("warning"), std::string::npos) << loopback.Describe();
  // 0.0.0.0 is no loopback address, though connecting to it reaches this host's listeners.
  RunResult wildcard = Tags("0.0.0.0:" + std::to_string(server_.port()), {"--insecure"});
  EXPECT_NE(wildcard.err.find("warning: --insecure sends images and credentials to 0.0.0.0:" +
                              std::to_string(server_.port()) + " as plain HTTP"),
            std::string::npos)
      << wildcard.Describe();
}

}  // namespace
}  // namespace lockstep::testing
