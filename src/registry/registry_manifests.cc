// Manifests, tags and referrers of a repository.
//
// Immutability is enforced at the one place a tag file is written: a new tag is
// created with link(2), which fails if the name exists, so two racing pushes cannot both
// "create" a tag; an existing tag may only be rewritten when the tag policy marks it
// mutable. Deletes consult the same policy. There is no other code path that writes or
// removes a tag file, so every route (PUT by tag, PUT by digest with ?tag=, DELETE by tag
// or digest, mount) is covered by the checks below.
#include <boost/json.hpp>

#include "image/manifest.h"
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
  Result<std::string> media_type = os::ReadFile(layout_.ManifestLink(repo, d), 1024);
  if (!media_type.ok()) return ManifestUnknown(repo, ref.str());
  Result<std::string> body = blobs_.ReadSmall(d, image::kMaxManifestBytes);
  if (!body.ok()) return ManifestUnknown(repo, ref.str());
  return ManifestContent{d, std::move(media_type).value(), std::move(body).value()};
}

Status Registry::CheckReferencesPresent(std::string_view repo, const image::Manifest& m) const {
  auto present = [&](const image::Descriptor& desc) {
    if (m.is_index) return os::Exists(layout_.ManifestLink(repo, desc.digest));
    return os::Exists(layout_.BlobLink(repo, desc.digest)) && blobs_.Has(desc.digest);
  };
  if (m.config && !present(*m.config)) {
    return InvalidArgument("config blob " + m.config->digest.str() + " is not in repository " +
                               std::string(repo) + "; push it before the manifest",
                           "MANIFEST_BLOB_UNKNOWN");
  }
  for (const image::Descriptor& r : m.references) {
    if (r.has_urls) continue;  // foreign layers live elsewhere by definition
    if (!present(r)) {
      return InvalidArgument(std::string(m.is_index ? "manifest " : "layer ") + r.digest.str() +
                                 " is not in repository " + std::string(repo) +
                                 "; push it before this " + (m.is_index ? "index" : "manifest"),
                             "MANIFEST_BLOB_UNKNOWN");
    }
  }
  return Status::Ok();
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
  std::vector<std::string> tags = extra_tags;
  if (!ref.is_digest()) tags.insert(tags.begin(), ref.tag());
  for (const std::string& tag : tags) LS_RETURN_IF_ERROR(ValidateTag(tag));

  LS_ASSIGN_OR_RETURN(os::FileLock lock, CommitLock());
  LS_RETURN_IF_ERROR(CheckReferencesPresent(repo, m));
  // Refuse before writing anything if an immutable tag would move.
  for (const std::string& tag : tags) {
    Result<Digest> current = ResolveTag(repo, tag);
    if (current.ok() && *current != d && !options_.tag_policy.IsMutable(repo, tag)) {
      return ImmutableTag(repo, tag, *current);
    }
  }

  LS_RETURN_IF_ERROR(blobs_.Put(body, alg).status());
  fs::path link = layout_.ManifestLink(repo, d);
  LS_RETURN_IF_ERROR(os::MakeDirs(link.parent_path()));
  LS_RETURN_IF_ERROR(os::WriteFileAtomic(link, m.media_type));

  if (m.subject) {
    image::Descriptor self{.media_type = m.media_type,
                           .digest = d,
                           .size = body.size(),
                           .artifact_type = m.artifact_type,
                           .annotations_json = m.annotations_json};
    fs::path dir = layout_.ReferrersOf(repo, m.subject->digest);
    LS_RETURN_IF_ERROR(os::MakeDirs(dir));
    LS_RETURN_IF_ERROR(os::WriteFileAtomic(dir / Layout::FlatName(d), image::DescriptorJson(self)));
  }

  LS_RETURN_IF_ERROR(os::MakeDirs(layout_.Tags(repo)));
  for (const std::string& tag : tags) {
    fs::path tag_path = layout_.Tag(repo, tag);
    Status created = os::CreateFileExclusive(tag_path, d.str());
    if (created.ok()) continue;
    if (created.code() != Code::kAlreadyExists) return created;
    LS_ASSIGN_OR_RETURN(Digest current, ResolveTag(repo, tag));
    if (current == d) continue;  // re-push of identical content
    if (!options_.tag_policy.IsMutable(repo, tag)) return ImmutableTag(repo, tag, current);
    LS_RETURN_IF_ERROR(os::WriteFileAtomic(tag_path, d.str()));
  }
  return PutManifestResult{d, m.subject ? std::optional<Digest>(m.subject->digest) : std::nullopt};
}

Status Registry::DeleteManifest(std::string_view repo, const Reference& ref) {
  LS_ASSIGN_OR_RETURN(os::FileLock lock, CommitLock());
  if (!ref.is_digest()) {
    LS_ASSIGN_OR_RETURN(Digest current, ResolveTag(repo, ref.tag()));
    if (!options_.tag_policy.IsMutable(repo, ref.tag())) {
      return ImmutableTag(repo, ref.tag(), current);
    }
    return os::RemoveFile(layout_.Tag(repo, ref.tag()));
  }
  const Digest& d = ref.digest();
  fs::path link = layout_.ManifestLink(repo, d);
  if (!os::Exists(link)) return ManifestUnknown(repo, d.str());
  LS_ASSIGN_OR_RETURN(std::vector<std::string> tags, TagsOf(repo, d));
  for (const std::string& tag : tags) {
    if (!options_.tag_policy.IsMutable(repo, tag)) return ImmutableTag(repo, tag, d);
  }
  for (const std::string& tag : tags) LS_RETURN_IF_ERROR(os::RemoveFile(layout_.Tag(repo, tag)));
  Result<std::string> body = blobs_.ReadSmall(d, image::kMaxManifestBytes);
  if (body.ok()) {
    Result<image::Manifest> m = image::ParseManifest(*body, "");
    if (m.ok() && m->subject) {
      LS_RETURN_IF_ERROR(
          os::RemoveFile(layout_.ReferrersOf(repo, m->subject->digest) / Layout::FlatName(d)));
    }
  }
  return os::RemoveFile(link);
}

Result<TagPage> Registry::ListTags(std::string_view repo, std::optional<uint64_t> n,
                                   std::string_view last) const {
  if (!RepositoryExists(repo)) {
    return NotFound("repository " + std::string(repo) + " is not known", "NAME_UNKNOWN");
  }
  LS_ASSIGN_OR_RETURN(std::vector<std::string> all, os::ListDir(layout_.Tags(repo)));
  TagPage page;
  for (std::string& tag : all) {
    if (!ValidateTag(tag).ok()) continue;  // temporaries of an in-flight tag write
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
    if (name.find(".tmp-") != std::string::npos) continue;
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
