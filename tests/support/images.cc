#include "tests/support/images.h"

#include <unistd.h>

#include <boost/json.hpp>
#include <fstream>
#include <random>
#include <stdexcept>

#include "core/digest.h"
#include "tests/support/process.h"

namespace lockstep::testing {

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

void Must(const RunResult& r, const std::string& what) {
  if (r.exit_code != 0) throw std::runtime_error(what + " failed: " + r.Describe());
}

std::string BlobPath(const fs::path& layout, const std::string& digest) {
  return (layout / "blobs" / "sha256" / digest.substr(7)).string();
}

}  // namespace

std::string RandomBytes(size_t n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::string out(n, '\0');
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = rng();
    std::memcpy(out.data() + i, &v, std::min<size_t>(8, n - i));
  }
  return out;
}

std::string MakeImage(const fs::path& layout, const std::string& tag,
                      const std::map<std::string, std::string>& files) {
  if (!fs::exists(layout / "index.json"))
    Must(RunCommand({"umoci", "init", "--layout", layout.string()}), "umoci init");
  std::string ref = layout.string() + ":" + tag;
  Must(RunCommand({"umoci", "new", "--image", ref}), "umoci new");
  fs::path bundle = layout.string() + "-bundle-" + tag;
  fs::remove_all(bundle);
  Must(RunCommand({"umoci", "unpack", "--rootless", "--image", ref, bundle.string()}),
       "umoci unpack");
  for (const auto& [path, content] : files) {
    fs::path p = bundle / "rootfs" / path;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
  }
  Must(RunCommand({"umoci", "repack", "--image", ref, bundle.string()}), "umoci repack");
  fs::remove_all(bundle);
  return LayoutDigest(layout, tag);
}

std::string LayoutDigest(const fs::path& layout, const std::string& tag) {
  std::ifstream in(layout / "index.json");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  json::value index = json::parse(text);
  for (const auto& m : index.at("manifests").as_array()) {
    const json::object& o = m.as_object();
    const json::value* ann = o.if_contains("annotations");
    if (ann && ann->as_object().if_contains("org.opencontainers.image.ref.name") &&
        ann->at("org.opencontainers.image.ref.name").as_string() == tag) {
      return std::string(o.at("digest").as_string());
    }
  }
  throw std::runtime_error("tag " + tag + " not in " + layout.string());
}

std::string ReadBlob(const fs::path& layout, const std::string& digest) {
  std::ifstream in(BlobPath(layout, digest), std::ios::binary);
  if (!in) throw std::runtime_error("no blob " + digest + " in " + layout.string());
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

std::string MakeIndex(const fs::path& layout, const std::string& tag,
                      const std::vector<std::string>& tags) {
  json::array manifests;
  const char* arches[] = {"amd64", "arm64", "riscv64", "s390x"};
  size_t i = 0;
  for (const auto& t : tags) {
    std::string d = LayoutDigest(layout, t);
    manifests.push_back({{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                         {"digest", d},
                         {"size", ReadBlob(layout, d).size()},
                         {"platform", {{"architecture", arches[i++ % 4]}, {"os", "linux"}}}});
  }
  json::object index{{"schemaVersion", 2},
                     {"mediaType", "application/vnd.oci.image.index.v1+json"},
                     {"manifests", manifests}};
  std::string body = json::serialize(index);
  std::string digest = DigestOf(body).str();
  std::ofstream(BlobPath(layout, digest), std::ios::binary) << body;

  std::ifstream in(layout / "index.json");
  json::value top = json::parse(std::string((std::istreambuf_iterator<char>(in)), {}));
  top.at("manifests")
      .as_array()
      .push_back({{"mediaType", "application/vnd.oci.image.index.v1+json"},
                  {"digest", digest},
                  {"size", body.size()},
                  {"annotations", {{"org.opencontainers.image.ref.name", tag}}}});
  std::ofstream(layout / "index.json") << json::serialize(top);
  return digest;
}

std::vector<std::string> ReachableBlobs(const fs::path& layout, const std::string& digest) {
  std::vector<std::string> out = {digest};
  json::value doc = json::parse(ReadBlob(layout, digest));
  const json::object& o = doc.as_object();
  if (const json::value* list = o.if_contains("manifests")) {
    for (const auto& m : list->as_array()) {
      auto sub = ReachableBlobs(layout, std::string(m.at("digest").as_string()));
      out.insert(out.end(), sub.begin(), sub.end());
    }
  }
  if (const json::value* config = o.if_contains("config")) {
    out.emplace_back(config->at("digest").as_string());
  }
  if (const json::value* layers = o.if_contains("layers")) {
    for (const auto& l : layers->as_array()) out.emplace_back(l.at("digest").as_string());
  }
  return out;
}

void MakeBusyboxTree(const fs::path& dir) {
  fs::create_directories(dir / "bin");
  fs::copy_file(fs::canonical("/bin/busybox"), dir / "bin" / "busybox",
                fs::copy_options::overwrite_existing);
  fs::permissions(dir / "bin" / "busybox", fs::perms(0755));
  fs::create_symlink("busybox", dir / "bin" / "sh");
}

RunResult RunWithRunc(const fs::path& layout, const std::string& name, const fs::path& scratch) {
  fs::path bundle = scratch / ("bundle-" + name);
  fs::remove_all(bundle);
  RunResult unpack =
      RunCommand({"umoci", "unpack", "--image", layout.string() + ":" + name, bundle.string()});
  if (unpack.exit_code != 0) return unpack;
  // umoci writes a config for an interactive terminal; tests have none.
  std::ifstream in(bundle / "config.json");
  std::string config((std::istreambuf_iterator<char>(in)), {});
  size_t at = config.find("\"terminal\": true");
  if (at != std::string::npos) config.replace(at, 16, "\"terminal\": false");
  std::ofstream(bundle / "config.json") << config;
  std::string id = "lockstep-test-" + std::to_string(::getpid()) + "-" + name;
  return RunCommand({"runc", "run", "--bundle", bundle.string(), id}, std::chrono::seconds(60));
}

std::vector<std::string> Skopeo(std::vector<std::string> args) {
  std::vector<std::string> argv = {"skopeo", "--insecure-policy"};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

}  // namespace lockstep::testing
