// What a hostile registry answers cannot crash the client or walk it off a cliff: every
// malformed manifest a registry may serve ends `lockstep inspect` and `lockstep pull` with
// exit status 1 and a message naming what was wrong, never a signal or an internal error.
// And a large honest manifest (2 MiB) arrives whole, where it used to be cut at 1 MiB.
#include <gtest/gtest.h>

#include <map>

#include "core/digest.h"
#include "tests/support/lockstep_server.h"
#include "tests/support/recording_server.h"
#include "tests/support/registry_client.h"

namespace lockstep::testing {
namespace {

const std::string kManifest = "application/vnd.oci.image.manifest.v1+json";
const std::string kIndex = "application/vnd.oci.image.index.v1+json";

std::string Descriptor(const std::string& media_type, const std::string& digest, int64_t size) {
  return R"({"mediaType":")" + media_type + R"(","digest":")" + digest + R"(","size":)" +
         std::to_string(size) + "}";
}

std::string ImageWithConfig(const std::string& config_descriptor) {
  return R"({"schemaVersion":2,"mediaType":")" + kManifest + R"(","config":)" + config_descriptor +
         R"(,"layers":[]})";
}

// A registry that serves `top` at app:1 and any body of `by_digest` at its digest.
class HostileManifests {
 public:
  HostileManifests(std::string top, std::string media_type)
      : top_(std::move(top)),
        type_(std::move(media_type)),
        server_([this](const RecordedRequest& r) { return Answer(r); }) {}
  void Add(const std::string& body, const std::string& media_type) {
    by_digest_[Sha(body)] = {body, media_type};
  }
  void AddBlob(const std::string& content) { blobs_[Sha(content)] = content; }
  // How many requests asked for `path`.
  int Asked(const std::string& path) const {
    int n = 0;
    for (const RecordedRequest& r : server_.requests()) n += r.target == path;
    return n;
  }
  std::string ref() const { return server_.host() + "/app:1"; }

 private:
  std::string Answer(const RecordedRequest& r) {
    if (r.target == "/v2/") return RecordingServer::Answer(200, {}, "{}");
    const std::string prefix = "/v2/app/manifests/";
    if (r.target.rfind(prefix, 0) == 0) {
      std::string reference = r.target.substr(prefix.size());
      if (reference == "1") return RecordingServer::Answer(200, {"Content-Type: " + type_}, top_);
      auto it = by_digest_.find(reference);
      if (it != by_digest_.end()) {
        return RecordingServer::Answer(200, {"Content-Type: " + it->second.second},
                                       it->second.first);
      }
    }
    const std::string blobs = "/v2/app/blobs/";
    if (r.target.rfind(blobs, 0) == 0) {
      auto it = blobs_.find(r.target.substr(blobs.size()));
      if (it != blobs_.end()) {
        return RecordingServer::Answer(200, {"Content-Type: application/octet-stream"}, it->second);
      }
    }
    return RecordingServer::Answer(404, {"Content-Type: application/json"},
                                   R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"no"}]})");
  }

  std::string top_, type_;
  std::map<std::string, std::pair<std::string, std::string>> by_digest_;
  std::map<std::string, std::string> blobs_;
  RecordingServer server_;
};

// `inspect` (unless only `pull` walks that far) and `pull` end with status 1 and a
// message holding `expected`.
void ExpectRefused(const HostileManifests& registry, const std::string& expected,
                   bool pull_only = false) {
  ScratchDir scratch;
  std::vector<std::vector<std::string>> commands = {
      {"pull", registry.ref(), (scratch.path() / "out").string(), "--insecure"}};
  if (!pull_only) commands.push_back({"inspect", registry.ref(), "--insecure"});
  for (const std::vector<std::string>& command : commands) {
    RunResult r = Lockstep(command, {"HOME=" + scratch.path().string()});
    EXPECT_EQ(r.exit_code, 1) << command[0] << ": " << r.Describe();
    EXPECT_NE(r.err.find(expected), std::string::npos) << command[0] << ": " << r.Describe();
    EXPECT_EQ(r.err.find("bug"), std::string::npos) << r.Describe();
  }
}

TEST(HostileAnswers, ANegativeSizeIsRefused) {
  HostileManifests registry(ImageWithConfig(Descriptor(kManifest, Sha("c"), -1)), kManifest);
  ExpectRefused(registry, "size");
}

TEST(HostileAnswers, WrongTypesAndDigestsAreRefused) {
  for (const auto& [body, expected] : std::vector<std::pair<std::string, std::string>>{
           {ImageWithConfig(Descriptor(kManifest, "sha256:zz", 1)), "digest"},
           {ImageWithConfig(R"({"mediaType":"x","digest":")" + Sha("c") + R"(","size":"1"})"),
            "size"},
           {R"({"schemaVersion":2,"mediaType":")" + kManifest + R"(","config":)" +
                Descriptor(kManifest, Sha("c"), 1) + R"(,"layers":{}})",
            "layers"},
           {R"({"schemaVersion":"2"})", "schemaVersion"},
           {R"({"schemaVersion":2,"mediaType":")" + kIndex + R"(","manifests":["x"]})",
            "manifests[0]"},
           {R"({"schemaVersion":2,"mediaType":")" + kManifest + R"(","config":{)", "manifest"},
           {"[1,2,3]", "manifest"},
       }) {
    SCOPED_TRACE(body);
    HostileManifests registry(body, body.find(kIndex) != std::string::npos ? kIndex : kManifest);
    ExpectRefused(registry, expected);
  }
}

TEST(HostileAnswers, AManifestLargerThanAnyAllowedIsRefused) {
  std::string huge = ImageWithConfig(Descriptor(kManifest, Sha("c"), 1));
  huge.insert(huge.size() - 1, R"(,"annotations":{"pad":")" + std::string(5 << 20, 'p') + "\"}");
  HostileManifests registry(huge, kManifest);
  ExpectRefused(registry, "larger than");
}

TEST(HostileAnswers, IndexesNestedWithoutEndAreRefused) {
  // Each index names the next by digest; the chain is far deeper than any image.
  std::string image =
      ImageWithConfig(Descriptor("application/vnd.oci.image.config.v1+json", Sha("c"), 1));
  std::vector<std::pair<std::string, std::string>> chain = {{image, kManifest}};
  for (int i = 0; i < 64; ++i) {
    const auto& [below, type] = chain.back();
    chain.push_back({R"({"schemaVersion":2,"mediaType":")" + kIndex + R"(","manifests":[)" +
                         Descriptor(type, Sha(below), static_cast<int64_t>(below.size())) + "]}",
                     kIndex});
  }
  HostileManifests registry(chain.back().first, kIndex);
  for (const auto& [body, type] : chain) registry.Add(body, type);
  ExpectRefused(registry, "nested more than", /*pull_only=*/true);  // inspect reads one level
}

TEST(HostileAnswers, AChildNamedOverAndOverIsFetchedOnce) {
  std::string config = "c";
  std::string image =
      ImageWithConfig(Descriptor("application/vnd.oci.image.config.v1+json", Sha(config), 1));
  std::string children;
  for (int i = 0; i < 2000; ++i) {
    children +=
        (i ? "," : "") + Descriptor(kManifest, Sha(image), static_cast<int64_t>(image.size()));
  }
  std::string index =
      R"({"schemaVersion":2,"mediaType":")" + kIndex + R"(","manifests":[)" + children + "]}";
  HostileManifests registry(index, kIndex);
  registry.Add(image, kManifest);
  registry.AddBlob(config);
  ScratchDir scratch;
  RunResult pull =
      Lockstep({"pull", registry.ref(), (scratch.path() / "out").string(), "--insecure"},
               {"HOME=" + scratch.path().string()});
  EXPECT_EQ(pull.exit_code, 0) << pull.Describe();
  EXPECT_EQ(registry.Asked("/v2/app/manifests/" + Sha(image)), 1);
}

TEST(HostileAnswers, ALargeHonestManifestArrivesWhole) {
  LockstepServer server;
  RegistryClient client(server);
  std::string manifest = client.PushImageParts(
      "app", "big", R"(,"annotations":{"pad":")" + std::string(2 << 20, 'p') + "\"}");
  ASSERT_EQ(client.PutManifest("app", "big", manifest).status, 201);
  ScratchDir scratch;
  RunResult inspect = Lockstep({"inspect", server.host() + "/app:big", "--insecure"},
                               {"HOME=" + scratch.path().string()});
  EXPECT_EQ(inspect.exit_code, 0) << inspect.Describe();
  EXPECT_NE(inspect.out.find(Sha(manifest)), std::string::npos) << inspect.Describe();
  RunResult pull = Lockstep(
      {"pull", server.host() + "/app:big", (scratch.path() / "out").string(), "--insecure"},
      {"HOME=" + scratch.path().string()});
  EXPECT_EQ(pull.exit_code, 0) << pull.Describe();
  EXPECT_NE(pull.out.find(Sha(manifest)), std::string::npos) << pull.Describe();
}

}  // namespace
}  // namespace lockstep::testing
