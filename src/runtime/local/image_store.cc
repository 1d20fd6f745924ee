#include "runtime/local/image_store.h"

#include <signal.h>

#include <cerrno>
#include <mutex>
#include <optional>

#include "base/strings.h"
#include "image/manifest.h"
#include "os/file.h"
#include "runtime/local/layer_unpack.h"

namespace lockstep::runtime::local {

namespace fs = std::filesystem;

namespace {

// Fetches into the shared layout run one at a time: OciLayout is not thread-safe, and two
// fetches of one image would only download it twice.
std::mutex fetch_mutex;

}  // namespace

ImageStore::ImageStore(fs::path dir, ImageFetcher fetch)
    : dir_(std::move(dir)), fetch_(std::move(fetch)) {}

Result<UnpackedImage> ImageStore::Ensure(const ImageRef& ref) {
  if (!ref.digest) return InvalidArgument("image " + ref.str() + " is not pinned to a digest");
  std::unique_lock lock(fetch_mutex);
  LS_ASSIGN_OR_RETURN(image::OciLayout layout, image::OciLayout::Create(dir_ / "images"));
  if (!layout.HasBlob(*ref.digest)) {
    LS_RETURN_IF_ERROR(fetch_(ref, layout));
    if (!layout.HasBlob(*ref.digest)) {
      return Internal("fetching " + ref.str() + " did not store its manifest");
    }
  }
  lock.unlock();
  return Load(layout, *ref.digest, 0);
}

void ImageStore::SweepTemporaries() {
  Result<std::vector<std::string>> names = os::ListDir(dir_ / "layers");
  if (!names.ok()) return;
  for (const std::string& name : *names) {
    if (!name.starts_with(".unpack.")) continue;
    std::optional<uint64_t> pid = ParseUint(name.substr(8, name.find('-') - 8));
    // Left by a process that died mid-extraction (a live one is still writing it).
    if (!pid || (kill(static_cast<pid_t>(*pid), 0) != 0 && errno == ESRCH)) {
      (void)os::RemoveTree(dir_ / "layers" / name);
    }
  }
}

Result<UnpackedImage> ImageStore::Load(const image::OciLayout& layout, const Digest& digest,
                                       int depth) {
  LS_ASSIGN_OR_RETURN(std::string body, layout.ReadBlob(digest));
  LS_ASSIGN_OR_RETURN(image::Manifest manifest, image::ParseManifest(body, ""));
  if (manifest.is_index) {
    if (depth > 0) return InvalidArgument("image index " + digest.str() + " nests an index");
    std::optional<Digest> chosen;
    for (const image::Descriptor& m : manifest.references) {
      if (!m.platform || (m.platform->os == "linux" && m.platform->architecture == "amd64")) {
        chosen = m.digest;
        break;
      }
    }
    if (chosen) return Load(layout, *chosen, depth + 1);
    return NotFound("image index " + digest.str() + " has no linux/amd64 image");
  }
  if (!manifest.config) return InvalidArgument("manifest " + digest.str() + " has no config");
  LS_ASSIGN_OR_RETURN(std::string config_text, layout.ReadBlob(manifest.config->digest));
  Result<ImageConfig> config = image::ParseImageConfig(config_text);
  if (!config.ok()) {
    return InvalidArgument("image config " + manifest.config->digest.str() + ": " +
                           config.status().message());
  }
  UnpackedImage image;
  image.manifest = digest;
  image.config = *config;
  const std::vector<Digest>& diff_ids = config->diff_ids;
  if (diff_ids.size() != manifest.references.size()) {
    return InvalidArgument(
        "image " + digest.str() + " has " + std::to_string(manifest.references.size()) +
        " layers but its config lists " + std::to_string(diff_ids.size()) + " diff_ids");
  }
  for (size_t i = 0; i < diff_ids.size(); ++i) {
    const Digest& diff_id = diff_ids[i];
    const image::Descriptor& layer = manifest.references[i];
    LS_ASSIGN_OR_RETURN(fs::path dir,
                        UnpackedLayer(layout, layer.media_type, layer.digest, diff_id));
    image.layers.push_back(std::move(dir));
  }
  return image;
}

Result<fs::path> ImageStore::UnpackedLayer(const image::OciLayout& layout,
                                           const std::string& media_type, const Digest& blob,
                                           const Digest& diff_id) {
  fs::path layers = dir_ / "layers";
  fs::path dest = layers / diff_id.hex();
  if (os::Exists(dest)) return dest;
  LS_RETURN_IF_ERROR(os::MakeDirs(layers));
  // ".unpack.PID-RANDOM.DIFFID": SweepTemporaries knows whose it is.
  fs::path temp = layers / (".unpack." + os::TempSuffix() + "." + diff_id.hex().substr(0, 12));
  LS_RETURN_IF_ERROR(UnpackLayer(layout.BlobPath(blob), media_type, diff_id, temp));
  std::error_code ec;
  fs::rename(temp, dest, ec);
  if (ec) {
    // Another thread or process got there first; its copy is as good as ours.
    (void)os::RemoveTree(temp);
    if (!os::Exists(dest))
      return IoError("cannot move layer into " + dest.string() + ": " + ec.message());
  }
  return dest;
}

}  // namespace lockstep::runtime::local
