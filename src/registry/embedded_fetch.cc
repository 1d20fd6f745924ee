#include "registry/embedded_fetch.h"

#include <unistd.h>

#include "image/manifest.h"
#include "os/file.h"

namespace lockstep::registry {

namespace {

Status CopyBlob(const Registry& registry, const std::string& repo, const Digest& d,
                image::OciLayout& into) {
  if (into.HasBlob(d)) return Status::Ok();
  LS_ASSIGN_OR_RETURN(os::UniqueFd in, registry.OpenBlob(repo, d));
  std::filesystem::path temp = into.TempPath();
  LS_ASSIGN_OR_RETURN(os::UniqueFd out, os::OpenAppend(temp));
  Hasher hasher(d.algorithm());
  std::string buf(1 << 20, '\0');
  LS_RETURN_IF_ERROR(os::ReadChunks(in.get(), "blob " + d.str(), buf, [&](std::string_view chunk) {
    hasher.Update(chunk);
    return os::WriteAll(out.get(), chunk);
  }));
  if (hasher.Finish() != d) {
    (void)os::RemoveFile(temp);
    return Status(Code::kInternal,
                  "stored blob " + d.str() + " of " + repo + " does not match its digest",
                  "push the image again");
  }
  LS_RETURN_IF_ERROR(os::Fsync(out.get(), temp));
  return into.AdoptBlob(temp, d);
}

Status CopyManifest(const Registry& registry, const std::string& repo, const Digest& d,
                    image::OciLayout& into, int depth) {
  LS_ASSIGN_OR_RETURN(registry::ManifestContent content, registry.GetManifest(repo, Reference{d}));
  LS_ASSIGN_OR_RETURN(image::Manifest manifest,
                      image::ParseManifest(content.body, content.media_type));
  if (manifest.config) LS_RETURN_IF_ERROR(CopyBlob(registry, repo, manifest.config->digest, into));
  for (const image::Descriptor& child : manifest.references) {
    if (manifest.is_index) {
      if (depth > 0) return InvalidArgument("image index " + d.str() + " nests an index");
      LS_RETURN_IF_ERROR(CopyManifest(registry, repo, child.digest, into, depth + 1));
    } else {
      LS_RETURN_IF_ERROR(CopyBlob(registry, repo, child.digest, into));
    }
  }
  // The manifest goes in last: its presence means the image is complete.
  LS_ASSIGN_OR_RETURN(Digest stored, into.PutBlob(content.body));
  if (stored != d) return Internal("manifest " + d.str() + " changed in the store");
  return Status::Ok();
}

}  // namespace

Status FetchFromEmbedded(const Registry& registry, const std::string& own_address,
                         const ImageRef& ref, image::OciLayout& into) {
  if (!ref.digest) return InvalidArgument("image " + ref.str() + " is not pinned to a digest");
  if (ref.registry != kEmbedded && ref.registry != own_address &&
      ref.registry != "localhost" + own_address.substr(own_address.rfind(':'))) {
    return FailedPrecondition("image " + ref.str() + " is in another registry",
                              "copy it into this server's registry first: lockstep copy " +
                                  ref.str() + " " + own_address + "/" + ref.repository);
  }
  return CopyManifest(registry, ref.repository, *ref.digest, into, 0);
}

}  // namespace lockstep::registry
