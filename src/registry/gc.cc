#include "registry/gc.h"

#include <set>

#include "base/json.h"
#include "image/manifest.h"

namespace lockstep::registry {

namespace {

// Digests stored under dir/<alg>/<hex> (the repository link directories).
Result<std::vector<Digest>> ListLinks(const fs::path& dir) {
  std::vector<Digest> out;
  for (const char* alg : {"sha256", "sha512"}) {
    LS_ASSIGN_OR_RETURN(std::vector<std::string> hexes, os::ListDir(dir / alg));
    for (const std::string& hex : hexes) {
      Result<Digest> d = Digest::Parse(std::string(alg) + ":" + hex);
      if (d.ok()) out.push_back(*d);
    }
  }
  return out;
}

bool Fresh(const fs::path& path, int64_t cutoff) {
  Result<int64_t> mtime = os::ModifiedTime(path);
  return mtime.ok() && *mtime >= cutoff;
}

struct RepoMark {
  std::set<Digest> live_manifests;
  std::set<Digest> live_blobs;
  // A live manifest (or a tag journal) could not be read: what it uses is unknown, so
  // every manifest and blob of the repository stays.
  bool keep_all_blobs = false;
};

// Marks what is live in one repository.
Result<RepoMark> MarkRepository(Registry& registry, const std::string& repo, int64_t cutoff) {
  const Layout& layout = registry.layout();
  RepoMark mark;
  std::vector<Digest> work;
  auto want = [&](const Digest& d) {
    if (mark.live_manifests.insert(d).second) work.push_back(d);
  };

  LS_ASSIGN_OR_RETURN(std::vector<std::string> tags, os::ListDir(layout.Tags(repo)));
  for (const std::string& tag : tags) {
    if (!ValidateTag(tag).ok()) continue;
    Result<std::string> target = os::ReadFile(layout.Tag(repo, tag), 256);
    if (!target.ok()) continue;
    if (Result<Digest> d = Digest::Parse(*target); d.ok()) want(*d);
  }
  LS_ASSIGN_OR_RETURN(std::vector<Digest> manifests, ListLinks(layout.ManifestLinks(repo)));
  for (const Digest& d : manifests) {
    if (Fresh(layout.ManifestLink(repo, d), cutoff)) want(d);
  }
  // Tags a crashed push journaled will name their manifest when the server next starts.
  Result<std::string> journal = os::ReadFile(layout.PendingTags(repo), 1 << 20);
  if (journal.ok()) {
    Result<Digest> d = InvalidArgument("unreadable");
    Result<json::Document> doc = json::Document::Parse(*journal, "tag journal");
    Result<json::ObjectView> o =
        doc.ok() ? json::ObjectView::Of(*doc, "") : Result<json::ObjectView>(doc.status());
    Result<std::string> text = o.ok() ? o->String("digest") : Result<std::string>(o.status());
    if (text.ok()) d = Digest::Parse(*text);
    if (d.ok()) {
      want(*d);
    } else {
      mark.keep_all_blobs = true;  // unreadable: keep what it might name
    }
  }

  // Follow index children and referrers until nothing new becomes live.
  while (!work.empty()) {
    Digest d = work.back();
    work.pop_back();
    Result<image::Manifest> m = registry.ReadManifest(repo, d);
    if (m.ok()) {
      if (m->config) mark.live_blobs.insert(m->config->digest);
      for (const image::Descriptor& r : m->references) {
        if (m->is_index) {
          want(r.digest);
        } else {
          mark.live_blobs.insert(r.digest);
        }
      }
    } else if (m.status().code() != Code::kNotFound) {
      mark.keep_all_blobs = true;  // a tag naming an absent manifest uses nothing
    }
    LS_ASSIGN_OR_RETURN(std::vector<std::string> referrers,
                        os::ListDir(layout.ReferrersOf(repo, d)));
    for (const std::string& name : referrers) {
      size_t dash = name.find('-');
      if (dash == std::string::npos || os::IsTempName(name)) continue;
      Result<Digest> r = Digest::Parse(name.substr(0, dash) + ":" + name.substr(dash + 1));
      if (r.ok() && os::Exists(layout.ManifestLink(repo, *r))) want(*r);
    }
  }
  return mark;
}

}  // namespace

Result<GcReport> CollectGarbage(Registry& registry, const os::Clock& clock,
                                const GcOptions& options) {
  const Layout& layout = registry.layout();
  const int64_t cutoff = clock.NowSeconds() - options.grace_seconds;
  GcReport report;

  LS_RETURN_IF_ERROR(os::MakeDirs(layout.root()));
  LS_ASSIGN_OR_RETURN(os::FileLock lock,
                      os::FileLock::Acquire(layout.gc_lock(), os::FileLock::Mode::kExclusive));

  std::set<Digest> live_content;
  LS_ASSIGN_OR_RETURN(std::vector<std::string> repos, registry.ListRepositories());
  for (const std::string& repo : repos) {
    LS_ASSIGN_OR_RETURN(RepoMark mark, MarkRepository(registry, repo, cutoff));

    LS_ASSIGN_OR_RETURN(std::vector<Digest> manifests, ListLinks(layout.ManifestLinks(repo)));
    for (const Digest& d : manifests) {
      if (mark.live_manifests.count(d) || mark.keep_all_blobs) {
        live_content.insert(d);
        continue;
      }
      report.manifests_removed.push_back(repo + "@" + d.str());
      if (options.dry_run) continue;
      Result<image::Manifest> m = registry.ReadManifest(repo, d);
      if (m.ok() && m->subject) {
        (void)os::RemoveFile(layout.ReferrersOf(repo, m->subject->digest) / Layout::FlatName(d));
      }
      LS_RETURN_IF_ERROR(os::RemoveFile(layout.ManifestLink(repo, d)));
    }

    LS_ASSIGN_OR_RETURN(std::vector<Digest> blobs, ListLinks(layout.BlobLinks(repo)));
    for (const Digest& d : blobs) {
      if (mark.keep_all_blobs || mark.live_blobs.count(d) ||
          Fresh(layout.BlobLink(repo, d), cutoff)) {
        live_content.insert(d);
        continue;
      }
      ++report.blob_links_removed;
      if (!options.dry_run) LS_RETURN_IF_ERROR(os::RemoveFile(layout.BlobLink(repo, d)));
    }
  }

  LS_ASSIGN_OR_RETURN(std::vector<Digest> stored, registry.blobs().List());
  for (const Digest& d : stored) {
    if (live_content.count(d) || Fresh(layout.BlobPath(d), cutoff)) {
      ++report.blobs_kept;
      continue;
    }
    Result<uint64_t> size = registry.blobs().Size(d);
    report.bytes_freed += size.ok() ? *size : 0;
    report.blobs_removed.push_back(d);
    if (!options.dry_run) LS_RETURN_IF_ERROR(registry.blobs().Remove(d));
  }

  if (!options.dry_run)
    report.uploads_expired = registry.uploads().ExpireIdle(options.upload_ttl_seconds);
  return report;
}

}  // namespace lockstep::registry
