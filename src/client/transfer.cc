#include "client/transfer.h"

#include <set>

#include "image/manifest.h"
#include "os/file.h"

namespace lockstep::client {

namespace {

using image::Descriptor;

// Indexes may name indexes; real images nest one or two levels. A registry answering a
// deeper chain is refused before it can exhaust the stack.
constexpr int kMaxNesting = 4;

// The manifests a walk has already done: each is walked once, however often indexes name
// it (an index repeating one child 40,000 times would otherwise cost 40,000 requests).
using Seen = std::set<Digest>;

// A child descriptor is a manifest to walk when an index names it; a manifest's config
// and layers are blobs, whatever media type they claim.
struct Children {
  bool manifests = false;
  std::vector<Descriptor> list;
};

// What a manifest from a layout or a registry needs: its config and layers, or an index's
// manifests. The media type comes from the body (a registry's Content-Type may differ).
Result<Children> References(std::string_view body, const Digest& d, int depth) {
  if (depth > kMaxNesting) {
    return InvalidArgument("manifest " + d.str() + " is nested more than " +
                           std::to_string(kMaxNesting) + " indexes deep; refused");
  }
  LS_ASSIGN_OR_RETURN(image::Manifest m, image::ParseManifest(body, ""));
  return Children{m.is_index, m.Children()};
}

// Pushes one manifest (and, depth first, what it references) from a layout.
Status PushTree(const image::OciLayout& layout, const Descriptor& manifest, RegistryClient& client,
                const std::string& repo, const std::string& reference, Pushed& stats, int depth,
                Seen& seen) {
  LS_ASSIGN_OR_RETURN(std::string body, layout.ReadBlob(manifest.digest));
  LS_ASSIGN_OR_RETURN(Children refs, References(body, manifest.digest, depth));
  for (const Descriptor& d : refs.list) {
    if (refs.manifests) {
      if (!seen.insert(d.digest).second) continue;
      LS_RETURN_IF_ERROR(PushTree(layout, d, client, repo, d.digest.str(), stats, depth + 1, seen));
      continue;
    }
    if (!layout.HasBlob(d.digest)) {
      return NotFound("blob " + d.digest.str() + " is missing from layout " +
                      layout.dir().string());
    }
    LS_ASSIGN_OR_RETURN(bool sent, client.UploadBlob(repo, d.digest, layout.BlobPath(d.digest)));
    ++(sent ? stats.blobs_sent : stats.blobs_skipped);
  }
  LS_ASSIGN_OR_RETURN(Digest put, client.PutManifest(repo, reference, manifest.media_type, body));
  if (put != manifest.digest) return Internal("manifest digest changed in transit");
  return Status::Ok();
}

Status PullTree(RegistryClient& client, const std::string& repo, const RemoteManifest& m,
                image::OciLayout& layout, int depth, Seen& seen) {
  LS_ASSIGN_OR_RETURN(Children refs, References(m.body, m.digest, depth));
  for (const Descriptor& d : refs.list) {
    if (refs.manifests) {
      if (!seen.insert(d.digest).second) continue;
      LS_ASSIGN_OR_RETURN(RemoteManifest child, client.GetManifest(repo, d.digest.str()));
      LS_RETURN_IF_ERROR(PullTree(client, repo, child, layout, depth + 1, seen));
      continue;
    }
    if (layout.HasBlob(d.digest)) continue;
    LS_RETURN_IF_ERROR(os::MakeDirs(layout.BlobPath(d.digest).parent_path()));
    LS_RETURN_IF_ERROR(client.DownloadBlob(repo, d.digest, layout.BlobPath(d.digest)));
  }
  if (!layout.HasBlob(m.digest)) {
    LS_RETURN_IF_ERROR(os::MakeDirs(layout.BlobPath(m.digest).parent_path()));
    LS_RETURN_IF_ERROR(os::WriteFileAtomic(layout.BlobPath(m.digest), m.body));
  }
  return Status::Ok();
}

Status CopyTree(RegistryClient& from, const std::string& src_repo, const RemoteManifest& m,
                RegistryClient& to, const std::string& dst_repo, const std::string& reference,
                const std::filesystem::path& scratch, Pushed& stats, int depth, Seen& seen) {
  LS_ASSIGN_OR_RETURN(Children refs, References(m.body, m.digest, depth));
  bool same_registry = from.registry() == to.registry();
  for (const Descriptor& d : refs.list) {
    if (refs.manifests) {
      if (!seen.insert(d.digest).second) continue;
      LS_ASSIGN_OR_RETURN(RemoteManifest child, from.GetManifest(src_repo, d.digest.str()));
      LS_RETURN_IF_ERROR(CopyTree(from, src_repo, child, to, dst_repo, d.digest.str(), scratch,
                                  stats, depth + 1, seen));
      continue;
    }
    LS_ASSIGN_OR_RETURN(std::optional<uint64_t> present, to.StatBlob(dst_repo, d.digest));
    if (present) {
      ++stats.blobs_skipped;
      continue;
    }
    if (same_registry) {
      LS_ASSIGN_OR_RETURN(bool mounted, to.MountBlob(dst_repo, d.digest, src_repo));
      if (mounted) {
        ++stats.blobs_skipped;
        continue;
      }
    }
    // Through a scratch file: never the whole blob in memory, and verified on the way.
    std::filesystem::path file = scratch / d.digest.hex();
    LS_RETURN_IF_ERROR(from.DownloadBlob(src_repo, d.digest, file));
    Result<bool> sent = to.UploadBlob(dst_repo, d.digest, file);
    (void)os::RemoveFile(file);
    LS_RETURN_IF_ERROR(sent.status());
    ++stats.blobs_sent;
  }
  LS_ASSIGN_OR_RETURN(Digest put, to.PutManifest(dst_repo, reference, m.media_type, m.body));
  if (put != m.digest) return Internal("manifest digest changed in transit");
  return Status::Ok();
}

}  // namespace

Result<Pushed> PushImage(const image::OciLayout& layout, const std::string& name,
                         RegistryClient& client, const ImageRef& ref) {
  LS_ASSIGN_OR_RETURN(image::LayoutEntry entry, layout.Resolve(name));
  if (ref.digest && *ref.digest != entry.digest) {
    return InvalidArgument("the layout's " + name + " is " + entry.digest.str() + ", not " +
                           ref.digest->str());
  }
  Pushed stats;
  Seen seen;
  stats.digest = entry.digest;
  std::string reference = ref.tag ? *ref.tag : entry.digest.str();
  LS_RETURN_IF_ERROR(PushTree(layout, Descriptor{entry.media_type, entry.digest, entry.size},
                              client, ref.repository, reference, stats, 0, seen));
  return stats;
}

Result<Digest> PullImage(RegistryClient& client, const ImageRef& ref, image::OciLayout& layout,
                         const std::string& name) {
  LS_ASSIGN_OR_RETURN(RemoteManifest m, client.GetManifest(ref.repository, ref.reference()));
  Seen seen;
  // Everything below fetches by this digest, whatever the tag does meanwhile.
  LS_RETURN_IF_ERROR(PullTree(client, ref.repository, m, layout, 0, seen));
  if (!name.empty()) {
    LS_RETURN_IF_ERROR(
        layout.SetEntry(image::LayoutEntry{m.media_type, m.digest, m.body.size(), name}));
  }
  return m.digest;
}

Result<Pushed> CopyImage(RegistryClient& from, const ImageRef& src, RegistryClient& to,
                         const ImageRef& dst, const std::filesystem::path& scratch) {
  LS_ASSIGN_OR_RETURN(RemoteManifest m, from.GetManifest(src.repository, src.reference()));
  Pushed stats;
  Seen seen;
  stats.digest = m.digest;
  std::string reference = dst.tag ? *dst.tag : m.digest.str();
  LS_RETURN_IF_ERROR(os::MakeDirs(scratch));
  LS_RETURN_IF_ERROR(
      CopyTree(from, src.repository, m, to, dst.repository, reference, scratch, stats, 0, seen));
  return stats;
}

}  // namespace lockstep::client
