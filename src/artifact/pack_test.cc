#include "artifact/pack.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <fstream>

#include "os/testing/temp_dir.h"

namespace lockstep::artifact {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

class PackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_.path() / "app");
    std::ofstream(dir_.path() / "app" / "main.sh") << "echo hello\n";
    fs::create_directories(dir_.path() / "base" / "bin");
    std::ofstream(dir_.path() / "base" / "bin" / "sh") << "not really a shell\n";
  }
  PackOptions Options(const std::string& name) {
    PackOptions o;
    o.dir = dir_.path() / "app";
    o.name = name;
    o.provenance.version = name;
    o.settings.cmd = std::vector<std::string>{"/main.sh"};
    o.settings.env = {"MODE=prod"};
    return o;
  }
  json::value Blob(image::OciLayout& layout, const Digest& d) {
    return json::parse(layout.ReadBlob(d).value());
  }
  os::testing::TempDir dir_;
};

TEST_F(PackTest, TwoLayoutsTwoPacksOneDigest) {
  image::OciLayout one = image::OciLayout::Create(dir_.path() / "one").value();
  image::OciLayout two = image::OciLayout::Create(dir_.path() / "two").value();
  PackResult a = Pack(Options("1.0.0"), one).value();
  PackResult b = Pack(Options("1.0.0"), two).value();
  EXPECT_EQ(a.manifest, b.manifest);
  EXPECT_EQ(one.Resolve("1.0.0").value().digest, a.manifest);

  PackOptions other = Options("1.0.0");
  other.settings.env = {"MODE=dev"};
  EXPECT_NE(Pack(other, two).value().manifest, a.manifest) << "config is part of the identity";
}

TEST_F(PackTest, ConfigCarriesRuntimeSettingsAndProvenance) {
  image::OciLayout layout = image::OciLayout::Create(dir_.path() / "l").value();
  PackOptions o = Options("2.0.0-rc.1");
  o.settings.entrypoint = std::vector<std::string>{"/bin/sh", "-c"};
  o.settings.workdir = "/srv";
  o.settings.user = "1000:1000";
  o.settings.port = 8080;
  o.settings.labels = {{"team", "payments"}};
  o.provenance.revision = std::string(40, 'a');
  o.provenance.source = "https://git.example/app";
  o.provenance.epoch = 1700000000;
  PackResult r = Pack(o, layout).value();
  json::value manifest = Blob(layout, r.manifest);
  const json::object& an = manifest.at("annotations").as_object();
  EXPECT_EQ(an.at("org.opencontainers.image.version").as_string(), "2.0.0-rc.1");
  EXPECT_EQ(an.at("org.opencontainers.image.revision").as_string(), std::string(40, 'a'));
  EXPECT_EQ(an.at("org.opencontainers.image.source").as_string(), "https://git.example/app");
  EXPECT_EQ(an.at("org.opencontainers.image.created").as_string(), "2023-11-14T22:13:20Z");
  json::value config = Blob(
      layout, *Digest::Parse(std::string_view(manifest.at("config").at("digest").as_string())));
  const json::object& c = config.at("config").as_object();
  EXPECT_EQ(json::serialize(c.at("Entrypoint")), R"(["/bin/sh","-c"])");
  EXPECT_EQ(c.at("WorkingDir").as_string(), "/srv");
  EXPECT_EQ(c.at("User").as_string(), "1000:1000");
  EXPECT_TRUE(c.at("ExposedPorts").as_object().contains("8080/tcp"));
  EXPECT_EQ(c.at("Labels").at("team").as_string(), "payments");
  EXPECT_EQ(config.at("rootfs").at("diff_ids").as_array().size(), 1u);
}

TEST_F(PackTest, BaseLayersComeFirstAndEnvMerges) {
  image::OciLayout layout = image::OciLayout::Create(dir_.path() / "l").value();
  PackOptions base;
  base.dir = dir_.path() / "base";
  base.name = "base";
  base.provenance.version = "1.0.0";
  base.settings.env = {"PATH=/bin", "MODE=base"};
  PackResult b = Pack(base, layout).value();

  PackOptions app = Options("1.0.0");
  app.base = b.manifest;
  PackResult r = Pack(app, layout).value();
  json::value manifest = Blob(layout, r.manifest);
  ASSERT_EQ(manifest.at("layers").as_array().size(), 2u);
  EXPECT_EQ(manifest.at("layers").at(0).at("digest").as_string(), b.layer.digest.str());
  json::value config = Blob(
      layout, *Digest::Parse(std::string_view(manifest.at("config").at("digest").as_string())));
  EXPECT_EQ(json::serialize(config.at("config").at("Env")), R"(["PATH=/bin","MODE=prod"])");
  EXPECT_EQ(config.at("rootfs").at("diff_ids").as_array().size(), 2u);
}

TEST_F(PackTest, ThePlatformIsChosenOrComesFromTheBase) {
  image::OciLayout layout = image::OciLayout::Create(dir_.path() / "l").value();
  PackOptions base;
  base.dir = dir_.path() / "base";
  base.name = "base";
  base.provenance.version = "1.0.0";
  base.platform = ParsePlatform("linux/arm64/v8").value();
  PackResult b = Pack(base, layout).value();
  json::value base_manifest = Blob(layout, b.manifest);
  json::value config =
      Blob(layout,
           *Digest::Parse(std::string_view(base_manifest.at("config").at("digest").as_string())));
  EXPECT_EQ(config.at("architecture").as_string(), "arm64");
  EXPECT_EQ(config.at("variant").as_string(), "v8");
  EXPECT_EQ(config.at("os").as_string(), "linux");

  // On a base, the image is for the base's platform; another one asked for is refused.
  PackOptions app = Options("1.0.0");
  app.base = b.manifest;
  EXPECT_EQ(PlatformString(Pack(app, layout).value().platform), "linux/arm64/v8");
  app.platform = ParsePlatform("linux/amd64").value();
  Status refused = Pack(app, layout).status();
  EXPECT_NE(refused.message().find("base image is for linux/arm64/v8"), std::string::npos)
      << refused.ToString();

  for (const char* bad : {"linux", "Linux/amd64", "linux//x", "linux/amd64/v8/x", ""}) {
    EXPECT_FALSE(ParsePlatform(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace lockstep::artifact
