#include "image/image_config.h"

#include <gtest/gtest.h>

namespace lockstep::image {
namespace {

TEST(ParseImageConfig, ReadsHowToRunAndTheLayers) {
  std::string diff = DigestOf("layer").str();
  Result<ImageConfig> c = ParseImageConfig(
      R"({"architecture":"amd64","config":{"Entrypoint":["/bin/app"],"Cmd":["-v"],)"
      R"("Env":["A=1"],"WorkingDir":"/srv","User":"1000"},"rootfs":{"type":"layers",)"
      R"("diff_ids":[")" +
      diff + R"("]}})");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->entrypoint, std::vector<std::string>{"/bin/app"});
  EXPECT_EQ(c->cmd, std::vector<std::string>{"-v"});
  EXPECT_EQ(c->env, std::vector<std::string>{"A=1"});
  EXPECT_EQ(c->working_dir, "/srv");
  EXPECT_EQ(c->user, "1000");
  ASSERT_EQ(c->diff_ids.size(), 1u);
  EXPECT_EQ(c->diff_ids[0].str(), diff);
}

TEST(ParseImageConfig, AbsentPartsAreEmptyAndWrongOnesNamed) {
  Result<ImageConfig> empty = ParseImageConfig("{}");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->entrypoint.empty());
  EXPECT_TRUE(empty->diff_ids.empty());
  EXPECT_EQ(ParseImageConfig(R"({"config":{"Cmd":"sh"}})").status().message(),
            "config.Cmd must be an array");
  EXPECT_NE(ParseImageConfig(R"({"rootfs":{"diff_ids":["sha256:12"]}})")
                .status()
                .message()
                .find("rootfs.diff_ids[0]"),
            std::string::npos);
  EXPECT_FALSE(ParseImageConfig("[]").ok());
  EXPECT_FALSE(ParseImageConfig("{").ok());
}

}  // namespace
}  // namespace lockstep::image
