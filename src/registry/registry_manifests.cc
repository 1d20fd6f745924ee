// Manifests, tags and referrers of a repository.
//
// Immutability is enforced where tags are written: every check and write of a
// repository's manifests and tags runs under its lock (inside the shared commit lock), so
// a push sees the tags as they are, refuses before writing anything if an immutable one
// would move, and no other push can slip in between. There is no other code path that
// writes or removes a tag file, so every route (PUT by tag, PUT by digest with ?tag=,
// DELETE by tag or digest, mount) is covered by the checks below.
#include <algorithm>
#include <boost/json.hpp>
#include <cstdio>
#include <optional>

#include "base/json.h"
#include "image/manifest.h"
#include "image/media_types.h"
#include "registry/registry.h"

namespace lockstep::registry {

namespace {

Status ManifestUnknown(std::string_view repo, std::string_view ref) {
  return NotFound("manifest " + std::string(ref) + " is not in repository " + std::string(repo),
                  "MANIFEST_UNKNOWN");
}

Status ImmutableTag(std::string_view repo, std::string_view tag, const Digest& current) {
  return AlreadyExists("tag " + std::string(tag) + " of " + std::string(repo) +
                           " is immutable and points at " + current.str() +
                           "; publish the new content under a new tag",
                       "DENIED");
}

// Digests stored under dir/<alg>/<hex>.
Result<std::vector<Digest>> ListDigests(const fs::path& dir) {
  std::vector<Digest> out;
  for (const char* alg : {"sha256", "sha512"}) {
    LS_ASSIGN_OR_RETURN(std::vector<std::string> hexes, os::ListDir(dir / alg));
    for (const std::string& hex : hexes) {
      if (Result<Digest> d = Digest::Parse(std::string(alg) + ":" + hex); d.ok()) {
        out.push_back(*d);
      }
    }
  }
  return out;
}

// The journal of one multi-tag move: {"digest": "...", "tags": ["a", "b"]}.
std::string PendingJson(const std::vector<std::string>& tags, const Digest& d) {
  boost::json::array list;
  for (const std::string& tag : tags) list.emplace_back(tag);
  return boost::json::serialize(boost::json::object{{"digest", d.str()}, {"tags", list}});
}

Status RemoveTemporaries(const fs::path& dir) {
  LS_ASSIGN_OR_RETURN(std::vector<std::string> names, os::ListDir(dir));
  for (const std::string& name : names) {
    if (os::IsTempName(name)) LS_RETURN_IF_ERROR(os::RemoveFile(dir / name));
  }
  return Status::Ok();
}

}  // namespace

Result<Digest> Registry::ResolveTag(std::string_view repo, std::string_view tag) const {
  Result<std::string> target = os::ReadFile(layout_.Tag(repo, tag), 256);
  if (!target.ok()) {
    if (target.status().code() == Code::kNotFound) return ManifestUnknown(repo, tag);
    return target.status();
  }
  Result<Digest> d = Digest::Parse(*target);
  if (!d.ok()) return Internal("tag file " + layout_.Tag(repo, tag).string() + " is corrupt");
  return d;
}

Result<ManifestContent> Registry::GetManifest(std::string_view repo, const Reference& ref) const {
  Digest d = ref.is_digest() ? ref.digest() : Digest();
  if (!ref.is_digest()) {
    LS_ASSIGN_OR_RETURN(d, ResolveTag(repo, ref.tag()));
  }
  // Only what is not there is unknown: any other failure (EIO, EMFILE) is said as such,
  // so GC and deletes never take a manifest they could not read for one that is gone.
  auto unknown_or = [&](const Status& s) {
    return s.code() == Code::kNotFound ? ManifestUnknown(repo, ref.str()) : s;
  };
  Result<std::string> media_type = os::ReadFile(layout_.ManifestLink(repo, d), 1024);
  if (!media_type.ok()) return unknown_or(media_type.status());
  Result<std::string> body = blobs_.ReadSmall(d, image::kMaxManifestBytes);
  if (!body.ok()) return unknown_or(body.status());
  return ManifestContent{d, std::move(media_type).value(), std::move(body).value()};
}

Result<image::Manifest> Registry::ReadManifest(std::string_view repo, const Digest& d) const {
  LS_ASSIGN_OR_RETURN(ManifestContent content, GetManifest(repo, Reference{d}));
  Result<image::Manifest> m = image::ParseManifest(content.body, content.media_type);
  if (!m.ok()) {
    return Internal("stored manifest " + d.str() + " of " + std::string(repo) +
                    " does not parse as " + content.media_type + ": " + m.status().message());
  }
  return m;
}

Result<os::FileLock> Registry::RepoLock(std::string_view repo) const {
  LS_RETURN_IF_ERROR(os::MakeDirs(layout_.Repo(repo)));
  return os::FileLock::Acquire(layout_.RepoLock(repo), os::FileLock::Mode::kExclusive);
}

Status Registry::CheckReferencesPresent(std::string_view repo, const image::Manifest& m) const {
  // Present in the repository, and of the size the descriptor says: a reader trusts the
  // descriptor's size to know how much to fetch.
  auto check = [&](const image::Descriptor& desc, std::string_view what) -> Status {
    bool present = m.is_index ? os::Exists(layout_.ManifestLink(repo, desc.digest))
                              : os::Exists(layout_.BlobLink(repo, desc.digest));
    Result<uint64_t> size = blobs_.Size(desc.digest);
    if (!present || !size.ok()) {
      return InvalidArgument(std::string(what) + " " + desc.digest.str() +
                                 " is not in repository " + std::string(repo) +
                                 "; push it before the " + (m.is_index ? "index" : "manifest"),
                             "MANIFEST_BLOB_UNKNOWN");
    }
    if (*size != desc.size) {
      return InvalidArgument(std::string(what) + " " + desc.digest.str() + " is " +
                                 std::to_string(*size) + " bytes, but the descriptor says " +
                                 std::to_string(desc.size) + "; correct its size",
                             "SIZE_INVALID");
    }
    return Status::Ok();
  };
  if (m.config) LS_RETURN_IF_ERROR(check(*m.config, "config blob"));
  for (const image::Descriptor& r : m.references) {
    if (r.has_urls) continue;  // foreign layers live elsewhere by definition
    LS_RETURN_IF_ERROR(check(r, m.is_index ? "manifest" : "layer"));
  }
  return Status::Ok();
}

Status Registry::FinishPendingTags(std::string_view repo) {
  fs::path journal = layout_.PendingTags(repo);
  Result<std::string> text = os::ReadFile(journal, 1 << 20);
  if (!text.ok()) return text.status().code() == Code::kNotFound ? Status::Ok() : text.status();
  auto corrupt = [&](const Status& why) {
    return Internal("tag journal " + journal.string() + " is corrupt (" + why.message() +
                    "); move it aside to serve the repository again");
  };
  Result<json::Document> doc = json::Document::Parse(*text, journal.string());
  if (!doc.ok()) return corrupt(doc.status());
  Result<json::ObjectView> o = json::ObjectView::Of(*doc, "");
  if (!o.ok()) return corrupt(o.status());
  Result<std::string> digest = o->String("digest");
  if (!digest.ok()) return corrupt(digest.status());
  Result<Digest> d = Digest::Parse(*digest);
  if (!d.ok()) return corrupt(d.status());
  Result<json::ArrayView> tags = o->Array("tags");
  if (!tags.ok()) return corrupt(tags.status());
  // (GC keeps a journaled manifest; should it be gone all the same, no tag may be moved
  // to nothing.)
  bool present = os::Exists(layout_.ManifestLink(repo, *d));
  if (present) LS_RETURN_IF_ERROR(os::MakeDirs(layout_.Tags(repo)));
  for (size_t i = 0; present && i < tags->size(); ++i) {
    Result<std::string> tag = tags->StringAt(i);
    if (!tag.ok()) return corrupt(tag.status());
    if (Status valid = ValidateTag(*tag); !valid.ok()) return corrupt(valid);
    LS_RETURN_IF_ERROR(os::WriteFileAtomic(layout_.Tag(repo, *tag), d->str()));
  }
  LS_RETURN_IF_ERROR(os::RemoveFile(journal));
  return os::FsyncDir(journal.parent_path());
}

Status Registry::MoveTags(std::string_view repo, const std::vector<std::string>& tags,
                          const Digest& d, bool* committed) {
  *committed = false;
  if (tags.empty()) return Status::Ok();
  LS_RETURN_IF_ERROR(os::MakeDirs(layout_.Tags(repo)));
  // Every new tag file is written in full first: a full disk stops the push here, with
  // nothing moved.
  std::vector<fs::path> temps;
  auto discard = [&temps] {
    for (const fs::path& temp : temps) (void)os::RemoveFile(temp);
  };
  for (const std::string& tag : tags) {
    Result<fs::path> temp = os::WriteTemp(layout_.Tag(repo, tag), d.str());
    if (!temp.ok()) {
      discard();
      return temp.status();
    }
    temps.push_back(*temp);
  }
  // Several tags are journaled before the first moves: a crash among the renames leaves
  // the journal, and whoever takes the lock next finishes the move.
  bool journaled = tags.size() > 1;
  if (journaled) {
    if (Status s = os::WriteFileAtomic(layout_.PendingTags(repo), PendingJson(tags, d)); !s.ok()) {
      discard();
      return s;
    }
    *committed = true;
  }
  for (size_t i = 0; i < tags.size(); ++i) {
    if (::rename(temps[i].c_str(), layout_.Tag(repo, tags[i]).c_str()) == 0) {
      *committed = true;
    } else {
      Status s = os::ErrnoStatus("rename", layout_.Tag(repo, tags[i]));
      discard();
      if (!journaled) return s;
      return FinishPendingTags(repo);  // past the journal, the move is owed
    }
  }
  LS_RETURN_IF_ERROR(os::FsyncDir(layout_.Tags(repo)));
  if (!journaled) return Status::Ok();
  LS_RETURN_IF_ERROR(os::RemoveFile(layout_.PendingTags(repo)));
  return os::FsyncDir(layout_.Repo(repo));
}

Result<PutManifestResult> Registry::PutManifest(std::string_view repo, const Reference& ref,
                                                std::string_view body,
                                                std::string_view content_type,
                                                const std::vector<std::string>& extra_tags) {
  LS_ASSIGN_OR_RETURN(image::Manifest m, image::ParseManifest(body, content_type));
  DigestAlgorithm alg = ref.is_digest() ? ref.digest().algorithm() : DigestAlgorithm::kSha256;
  Digest d = DigestOf(body, alg);
  if (ref.is_digest() && ref.digest() != d) {
    return InvalidArgument("manifest body has digest " + d.str() + ", not " + ref.digest().str(),
                           "DIGEST_INVALID");
  }
  std::vector<std::string> tags;
  if (!ref.is_digest()) tags.push_back(ref.tag());
  for (const std::string& tag : extra_tags) {
    if (std::find(tags.begin(), tags.end(), tag) == tags.end()) tags.push_back(tag);
  }
  for (const std::string& tag : tags) LS_RETURN_IF_ERROR(ValidateTag(tag));

  LS_ASSIGN_OR_RETURN(os::FileLock commit, CommitLock());
  LS_ASSIGN_OR_RETURN(os::FileLock lock, RepoLock(repo));
  LS_RETURN_IF_ERROR(FinishPendingTags(repo));
  LS_RETURN_IF_ERROR(CheckReferencesPresent(repo, m));
  // Decide every tag before writing anything: refused means nothing stored.
  std::vector<std::string> moving;
  for (const std::string& tag : tags) {
    Result<Digest> current = ResolveTag(repo, tag);
    if (!current.ok()) {
      if (current.status().code() != Code::kNotFound) return current.status();
      moving.push_back(tag);
      continue;
    }
    if (*current == d) continue;
    // The same bytes under another digest algorithm are the same manifest.
    Result<std::string> current_body = blobs_.ReadSmall(*current, image::kMaxManifestBytes);
    if (current_body.ok() && *current_body == body) continue;
    if (!options_.tag_policy.IsMutable(repo, tag)) return ImmutableTag(repo, tag, *current);
    moving.push_back(tag);
  }

  fs::path link = layout_.ManifestLink(repo, d);
  bool new_manifest = !os::Exists(link);
  fs::path referrer;
  if (m.subject) referrer = layout_.ReferrersOf(repo, m.subject->digest) / Layout::FlatName(d);
  bool committed = false;
  auto store = [&]() -> Status {
    LS_RETURN_IF_ERROR(blobs_.Put(body, alg).status());
    LS_RETURN_IF_ERROR(os::MakeDirs(link.parent_path()));
    LS_RETURN_IF_ERROR(os::WriteFileAtomic(link, m.media_type));
    if (m.subject) {
      image::Descriptor self{.media_type = m.media_type,
                             .digest = d,
                             .size = body.size(),
                             .artifact_type = m.artifact_type,
                             .annotations_json = m.annotations_json};
      LS_RETURN_IF_ERROR(os::MakeDirs(referrer.parent_path()));
      LS_RETURN_IF_ERROR(os::WriteFileAtomic(referrer, image::DescriptorJson(self)));
    }
    return MoveTags(repo, moving, d, &committed);
  };
  if (Status stored = store(); !stored.ok()) {
    // A push that could not finish (a full disk) leaves no manifest of its own behind,
    // unless a tag already names it or its tags were journaled (they will move).
    if (new_manifest && !committed) {
      if (m.subject) (void)os::RemoveFile(referrer);
      (void)os::RemoveFile(link);
    }
    return stored;
  }
  return PutManifestResult{d, m.subject ? std::optional<Digest>(m.subject->digest) : std::nullopt};
}

Result<std::vector<Digest>> Registry::IndexesNaming(std::string_view repo, const Digest& d) const {
  std::vector<Digest> out;
  LS_ASSIGN_OR_RETURN(std::vector<Digest> manifests, ListDigests(layout_.ManifestLinks(repo)));
  for (const Digest& candidate : manifests) {
    if (candidate == d) continue;
    // The stored media type says which are indexes; only those are read.
    Result<std::string> type = os::ReadFile(layout_.ManifestLink(repo, candidate), 1024);
    if (type.ok() && !image::media::IsIndex(*type)) continue;
    Result<image::Manifest> m = ReadManifest(repo, candidate);
    if (!m.ok()) {
      if (m.status().code() == Code::kNotFound) continue;  // deleted meanwhile
      return m.status();
    }
    if (!m->is_index) continue;
    for (const image::Descriptor& child : m->references) {
      if (child.digest == d) {
        out.push_back(candidate);
        break;
      }
    }
  }
  return out;
}

Status Registry::DeleteManifest(std::string_view repo, const Reference& ref) {
  LS_ASSIGN_OR_RETURN(os::FileLock commit, CommitLock());
  if (!RepositoryExists(repo)) return ManifestUnknown(repo, ref.str());
  LS_ASSIGN_OR_RETURN(os::FileLock lock, RepoLock(repo));
  LS_RETURN_IF_ERROR(FinishPendingTags(repo));
  if (!ref.is_digest()) {
    LS_ASSIGN_OR_RETURN(Digest current, ResolveTag(repo, ref.tag()));
    if (!options_.tag_policy.IsMutable(repo, ref.tag())) {
      return ImmutableTag(repo, ref.tag(), current);
    }
    LS_RETURN_IF_ERROR(os::RemoveFile(layout_.Tag(repo, ref.tag())));
    return os::FsyncDir(layout_.Tags(repo));
  }
  const Digest& d = ref.digest();
  fs::path link = layout_.ManifestLink(repo, d);
  if (!os::Exists(link)) return ManifestUnknown(repo, d.str());
  LS_ASSIGN_OR_RETURN(std::vector<std::string> tags, TagsOf(repo, d));
  for (const std::string& tag : tags) {
    if (!options_.tag_policy.IsMutable(repo, tag)) return ImmutableTag(repo, tag, d);
  }
  // A manifest an index names is part of that index: deleting it would break every pull
  // of the index.
  LS_ASSIGN_OR_RETURN(std::vector<Digest> parents, IndexesNaming(repo, d));
  if (!parents.empty()) {
    return FailedPrecondition("manifest " + d.str() + " is named by index " + parents[0].str() +
                                  " of " + std::string(repo) + "; delete the index first",
                              "DENIED");
  }
  Result<image::Manifest> m = ReadManifest(repo, d);
  for (const std::string& tag : tags) LS_RETURN_IF_ERROR(os::RemoveFile(layout_.Tag(repo, tag)));
  if (m.ok() && m->subject) {
    LS_RETURN_IF_ERROR(
        os::RemoveFile(layout_.ReferrersOf(repo, m->subject->digest) / Layout::FlatName(d)));
  }
  LS_RETURN_IF_ERROR(os::RemoveFile(link));
  if (!tags.empty()) LS_RETURN_IF_ERROR(os::FsyncDir(layout_.Tags(repo)));
  return os::FsyncDir(link.parent_path());
}

Status Registry::Recover() {
  LS_ASSIGN_OR_RETURN(std::vector<std::string> repos, ListRepositories());
  // What a crash left is rare: a repository is locked only when it has some.
  auto has_leftovers = [&](const std::string& repo) {
    std::vector<fs::path> dirs = {layout_.Repo(repo), layout_.Tags(repo),
                                  layout_.ManifestLinks(repo) / "sha256",
                                  layout_.ManifestLinks(repo) / "sha512"};
    Result<std::vector<std::string>> subjects = os::ListDir(layout_.Referrers(repo));
    for (const std::string& subject : subjects.ok() ? *subjects : std::vector<std::string>{}) {
      dirs.push_back(layout_.Referrers(repo) / subject);
    }
    if (os::Exists(layout_.PendingTags(repo))) return std::optional(dirs);
    for (const fs::path& dir : dirs) {
      Result<std::vector<std::string>> names = os::ListDir(dir);
      if (!names.ok()) continue;
      for (const std::string& name : *names) {
        if (os::IsTempName(name)) return std::optional(dirs);
      }
    }
    return std::optional<std::vector<fs::path>>();
  };
  Status first_failure;
  for (const std::string& repo : repos) {
    std::optional<std::vector<fs::path>> dirs = has_leftovers(repo);
    if (!dirs) continue;
    // Best effort, one repository at a time: one that cannot be finished is reported
    // (and refuses its own writes until it is) without stopping the rest.
    Status s = [&]() -> Status {
      LS_ASSIGN_OR_RETURN(os::FileLock commit, CommitLock());
      LS_ASSIGN_OR_RETURN(os::FileLock lock, RepoLock(repo));
      LS_RETURN_IF_ERROR(FinishPendingTags(repo));
      // Every temporary in a repository is written under its lock, so what is left is a
      // dead writer's.
      for (const fs::path& dir : *dirs) LS_RETURN_IF_ERROR(RemoveTemporaries(dir));
      return Status::Ok();
    }();
    if (!s.ok() && first_failure.ok()) first_failure = s.WithContext("repository " + repo);
  }
  return first_failure;
}

Result<TagPage> Registry::ListTags(std::string_view repo, std::optional<uint64_t> n,
                                   std::string_view last) const {
  if (!RepositoryExists(repo)) {
    return NotFound("repository " + std::string(repo) + " is not known", "NAME_UNKNOWN");
  }
  LS_ASSIGN_OR_RETURN(std::vector<std::string> all, os::ListDir(layout_.Tags(repo)));
  TagPage page;
  for (std::string& tag : all) {
    if (!ValidateTag(tag).ok()) continue;  // not a tag: a temporary of a tag write
    if (!last.empty() && tag <= last) continue;
    if (n && page.tags.size() == *n) {
      page.more = true;
      break;
    }
    page.tags.push_back(std::move(tag));
  }
  return page;
}

Result<std::vector<std::string>> Registry::TagsOf(std::string_view repo, const Digest& d) const {
  LS_ASSIGN_OR_RETURN(std::vector<std::string> all, os::ListDir(layout_.Tags(repo)));
  std::vector<std::string> out;
  for (const std::string& tag : all) {
    if (!ValidateTag(tag).ok()) continue;
    Result<Digest> target = ResolveTag(repo, tag);
    if (target.ok() && *target == d) out.push_back(tag);
  }
  return out;
}

Result<ReferrersResult> Registry::Referrers(std::string_view repo, const Digest& subject,
                                            std::string_view artifact_type) const {
  fs::path dir = layout_.ReferrersOf(repo, subject);
  LS_ASSIGN_OR_RETURN(std::vector<std::string> names, os::ListDir(dir));
  std::vector<std::string> descriptors;
  for (const std::string& name : names) {
    if (os::IsTempName(name)) continue;
    Result<std::string> text = os::ReadFile(dir / name, 1 << 20);
    if (!text.ok()) continue;
    if (!artifact_type.empty()) {
      boost::system::error_code ec;
      boost::json::value v = boost::json::parse(*text, ec);
      const boost::json::object* o = ec ? nullptr : v.if_object();
      const boost::json::value* at = o ? o->if_contains("artifactType") : nullptr;
      if (at == nullptr || !at->is_string() || at->as_string() != artifact_type) continue;
    }
    descriptors.push_back(std::move(text).value());
  }
  return ReferrersResult{image::IndexJson(descriptors), !artifact_type.empty()};
}

}  // namespace lockstep::registry
