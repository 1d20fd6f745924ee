#include "git/mirror.h"

#include <algorithm>
#include <cstring>

#include "base/strings.h"
#include "git/known_hosts.h"
#include "git/libgit2.h"
#include "os/file.h"

namespace lockstep::git {

namespace fs = std::filesystem;

namespace {

std::string Hex(const git_oid& oid) {
  char hex[GIT_OID_HEXSZ + 1];
  git_oid_tostr(hex, sizeof hex, &oid);
  return hex;
}

std::string_view SshTypeName(git_cert_ssh_raw_type_t type) {
  switch (type) {
    case GIT_CERT_SSH_RAW_TYPE_KEY_ED25519:
      return "ssh-ed25519";
    case GIT_CERT_SSH_RAW_TYPE_KEY_ECDSA_256:
      return "ecdsa-sha2-nistp256";
    case GIT_CERT_SSH_RAW_TYPE_KEY_ECDSA_384:
      return "ecdsa-sha2-nistp384";
    case GIT_CERT_SSH_RAW_TYPE_KEY_ECDSA_521:
      return "ecdsa-sha2-nistp521";
    case GIT_CERT_SSH_RAW_TYPE_RSA:
      return "ssh-rsa";
    case GIT_CERT_SSH_RAW_TYPE_DSS:
      return "ssh-dss";
    default:
      return "";
  }
}

}  // namespace

struct Mirror::Impl {
  Library library;
  fs::path dir;
  Repo repo;  // Fetch's; reads open handles of their own (libgit2's are not shared)

  Result<Repo> OpenForReading() const {
    git_repository* raw = nullptr;
    if (git_repository_open_bare(&raw, dir.c_str()) != 0) {
      return Unavailable("deploy repository mirror " + dir.string() + ": " + LastError());
    }
    return Repo(raw);
  }
};

Mirror::Mirror(std::unique_ptr<Impl> impl, RemoteOptions remote)
    : impl_(std::move(impl)), remote_(std::move(remote)) {}

Mirror::~Mirror() = default;

Result<std::unique_ptr<Mirror>> Mirror::Open(const fs::path& dir, RemoteOptions remote) {
  if (remote.url.empty()) return InvalidArgument("the deploy repository's URL is empty");
  if (Status s = [&]() -> Status {
        for (char c : remote.branch) {
          if (static_cast<unsigned char>(c) <= ' ' || c == '~' || c == '^' || c == ':' ||
              c == '?' || c == '*' || c == '[' || c == '\\')
            return InvalidArgument("branch \"" + remote.branch + "\" is not a branch name");
        }
        if (remote.branch.empty() || remote.branch.find("..") != std::string::npos ||
            StartsWith(remote.branch, "-") || StartsWith(remote.branch, "/"))
          return InvalidArgument("branch \"" + remote.branch + "\" is not a branch name");
        return Status::Ok();
      }();
      !s.ok()) {
    return s;
  }
  bool ssh = StartsWith(remote.url, "ssh://") || (remote.url.find("://") == std::string::npos &&
                                                  remote.url.find('@') != std::string::npos);
  if (!remote.https_token.empty() && !StartsWith(remote.url, "https://")) {
    return InvalidArgument("a token is sent only over https://, not to " + remote.url);
  }
  if (ssh && remote.known_hosts.empty()) {
    return InvalidArgument(
        "an ssh remote needs a known_hosts file that pins the server's host "
        "key (lockstep accepts no host key blindly)");
  }
  auto impl = std::make_unique<Impl>();
  impl->dir = dir;
  git_repository* raw = nullptr;
  int rc = fs::exists(dir / "HEAD") ? git_repository_open_bare(&raw, dir.c_str())
                                    : git_repository_init(&raw, dir.c_str(), 1);
  if (rc != 0) return Unavailable("deploy repository mirror " + dir.string() + ": " + LastError());
  impl->repo.reset(raw);
  return std::unique_ptr<Mirror>(new Mirror(std::move(impl), std::move(remote)));
}

namespace {

struct FetchContext {
  const RemoteOptions* remote;
  int credential_attempts = 0;
  std::string refused;  // why a host key or credential was refused, for the error
};

int Credentials(git_credential** out, const char* /*url*/, const char* username_from_url,
                unsigned int allowed, void* payload) {
  auto* ctx = static_cast<FetchContext*>(payload);
  // libgit2 asks again after a refusal; once is enough to know.
  if (++ctx->credential_attempts > 1) {
    ctx->refused = "the remote refused lockstep's credentials";
    return GIT_EUSER;
  }
  if ((allowed & GIT_CREDENTIAL_SSH_KEY) != 0) {
    if (ctx->remote->ssh_key.empty()) {
      ctx->refused = "the ssh remote needs a key: set [deploy] ssh_key";
      return GIT_EUSER;
    }
    return git_credential_ssh_key_new(out, username_from_url ? username_from_url : "git", nullptr,
                                      ctx->remote->ssh_key.c_str(), "");
  }
  if ((allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) != 0 && !ctx->remote->https_token.empty()) {
    return git_credential_userpass_plaintext_new(out, ctx->remote->https_user.c_str(),
                                                 ctx->remote->https_token.c_str());
  }
  ctx->refused = "the remote asks for credentials lockstep has not been given";
  return GIT_EUSER;
}

int CertificateCheck(git_cert* cert, int valid, const char* host, void* payload) {
  auto* ctx = static_cast<FetchContext*>(payload);
  if (cert->cert_type != GIT_CERT_HOSTKEY_LIBSSH2) {
    // TLS: libgit2's own verification against the system's CAs decides.
    return valid ? 0 : GIT_PASSTHROUGH;
  }
  auto* key = reinterpret_cast<git_cert_hostkey*>(cert);
  std::string url_host;
  uint16_t port = 22;
  if (!SshHostPort(ctx->remote->url, url_host, port)) url_host = host ? host : "";
  if ((key->type & GIT_CERT_SSH_RAW) == 0) {
    ctx->refused = "the ssh server's host key could not be read to compare with known_hosts";
    return GIT_ECERTIFICATE;
  }
  Result<std::string> known = os::ReadFile(ctx->remote->known_hosts, 1 << 20);
  std::string_view type = SshTypeName(key->raw_type);
  if (!known.ok() || !KnownHostKey(*known, url_host, port, type,
                                   std::string_view(key->hostkey, key->hostkey_len))) {
    ctx->refused = "the ssh server " + url_host + ":" + std::to_string(port) + " showed a " +
                   std::string(type.empty() ? "host" : type) + " key that " +
                   ctx->remote->known_hosts.string() +
                   " does not pin (add the server's key there, e.g. from ssh-keyscan, after "
                   "checking it)";
    return GIT_ECERTIFICATE;
  }
  return 0;
}

}  // namespace

Result<std::string> Mirror::Fetch() {
  std::lock_guard lock(fetch_mu_);
  git_remote* raw = nullptr;
  // Anonymous, and blind to url.*.insteadOf of any git config: the URL checked in Open is
  // the one fetched (a rewrite could turn https into http and send the token in the clear).
  git_remote_create_options create = GIT_REMOTE_CREATE_OPTIONS_INIT;
  create.repository = impl_->repo.get();
  create.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
  // The transfer cap counts what arrives compressed; this bounds what a pack may unfold to.
  git_libgit2_opts(GIT_OPT_SET_PACK_MAX_OBJECTS, static_cast<size_t>(1'000'000));
  if (git_remote_create_with_opts(&raw, remote_.url.c_str(), &create) != 0) {
    return InvalidArgument("deploy repository " + remote_.url + ": " + LastError());
  }
  Remote remote(raw);
  FetchContext ctx{&remote_};
  git_fetch_options options = GIT_FETCH_OPTIONS_INIT;
  options.callbacks.credentials = Credentials;
  options.callbacks.certificate_check = CertificateCheck;
  options.callbacks.payload = &ctx;
  options.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
  // A redirect could hand the token to another host.
  options.follow_redirects = GIT_REMOTE_REDIRECT_NONE;
  options.callbacks.transfer_progress = [](const git_indexer_progress* progress,
                                           void* payload) -> int {
    auto* fetching = static_cast<FetchContext*>(payload);
    if (progress->received_bytes <= fetching->remote->max_fetch_bytes) return 0;
    fetching->refused = "the remote sent more than " +
                        HumanBytes(fetching->remote->max_fetch_bytes) +
                        " (max_fetch_bytes): a deploy repository is not that large";
    return GIT_EUSER;
  };
  std::string refspec = "+refs/heads/" + remote_.branch + ":refs/heads/" + remote_.branch;
  char* specs[] = {refspec.data()};
  git_strarray refspecs = {specs, 1};
  if (git_remote_fetch(remote.get(), &refspecs, &options, nullptr) != 0) {
    return Unavailable("fetching " + remote_.url +
                       " failed: " + (ctx.refused.empty() ? LastError() : ctx.refused));
  }
  git_oid head;
  if (git_reference_name_to_id(&head, impl_->repo.get(),
                               ("refs/heads/" + remote_.branch).c_str()) != 0) {
    return NotFound("the deploy repository " + remote_.url + " has no branch " + remote_.branch);
  }
  return Hex(head);
}

Result<std::string> Mirror::CommitAndPush(
    const std::string& parent_id, const std::map<std::string, std::optional<std::string>>& files,
    const std::string& message, const Signature& author) {
  std::lock_guard lock(fetch_mu_);
  git_repository* repo = impl_->repo.get();
  git_oid parent_oid;
  git_commit* parent_raw = nullptr;
  if (git_oid_fromstrn(&parent_oid, parent_id.data(), parent_id.size()) != 0 ||
      parent_id.size() != GIT_OID_HEXSZ || git_commit_lookup(&parent_raw, repo, &parent_oid) != 0) {
    return NotFound("the mirror has no commit " + parent_id.substr(0, 40));
  }
  Commit parent(parent_raw);
  git_tree* tree_raw = nullptr;
  git_index* index_raw = nullptr;
  if (git_commit_tree(&tree_raw, parent.get()) != 0) return Unavailable(LastError());
  Tree tree(tree_raw);
  if (git_index_new(&index_raw) != 0) return Unavailable(LastError());
  Index index(index_raw);
  if (git_index_read_tree(index.get(), tree.get()) != 0) return Unavailable(LastError());
  for (const auto& [path, contents] : files) {
    if (!contents) {
      if (git_index_remove_bypath(index.get(), path.c_str()) != 0) {
        return InvalidArgument("removing " + path + ": " + LastError());
      }
      continue;
    }
    git_index_entry entry{};
    if (git_blob_create_from_buffer(&entry.id, repo, contents->data(), contents->size()) != 0) {
      return Unavailable("writing " + path + ": " + LastError());
    }
    entry.mode = GIT_FILEMODE_BLOB;
    entry.path = path.c_str();
    if (git_index_add(index.get(), &entry) != 0) {
      return InvalidArgument("writing " + path + ": " + LastError());
    }
  }
  git_oid tree_oid, commit_oid;
  git_tree* new_tree_raw = nullptr;
  if (git_index_write_tree_to(&tree_oid, index.get(), repo) != 0 ||
      git_tree_lookup(&new_tree_raw, repo, &tree_oid) != 0) {
    return Unavailable(LastError());
  }
  Tree new_tree(new_tree_raw);
  git_signature *author_raw = nullptr, *committer_raw = nullptr;
  if (git_signature_now(&author_raw, author.name.c_str(), author.email.c_str()) != 0) {
    return InvalidArgument("commit author " + author.name + ": " + LastError());
  }
  SignaturePtr by(author_raw);
  if (git_signature_now(&committer_raw, "lockstep", author.email.c_str()) != 0) {
    return InvalidArgument(LastError());
  }
  SignaturePtr committer(committer_raw);
  const git_commit* parents[] = {parent.get()};
  if (git_commit_create(&commit_oid, repo, nullptr, by.get(), committer.get(), "UTF-8",
                        message.c_str(), new_tree.get(), 1, parents) != 0) {
    return Unavailable("committing: " + LastError());
  }
  // Pushed from a ref of its own: the branch moves only once the remote took it.
  const char* kPushRef = "refs/lockstep/write-back";
  git_reference* ref_raw = nullptr;
  if (git_reference_create(&ref_raw, repo, kPushRef, &commit_oid, 1, "lockstep write-back") != 0) {
    return Unavailable(LastError());
  }
  Reference(ref_raw).reset();

  git_remote* remote_raw = nullptr;
  git_remote_create_options create = GIT_REMOTE_CREATE_OPTIONS_INIT;
  create.repository = repo;
  create.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
  if (git_remote_create_with_opts(&remote_raw, remote_.url.c_str(), &create) != 0) {
    return InvalidArgument("deploy repository " + remote_.url + ": " + LastError());
  }
  Remote remote(remote_raw);
  struct PushContext : FetchContext {
    std::string rejected;
  } ctx{{&remote_}, {}};
  git_push_options options = GIT_PUSH_OPTIONS_INIT;
  options.follow_redirects = GIT_REMOTE_REDIRECT_NONE;  // as Fetch: the token stays on its host
  options.callbacks.credentials = Credentials;
  options.callbacks.certificate_check = CertificateCheck;
  options.callbacks.payload = &ctx;
  options.callbacks.push_update_reference = [](const char* refname, const char* status,
                                               void* payload) -> int {
    if (status != nullptr) {
      static_cast<PushContext*>(payload)->rejected = std::string(refname) + ": " + status;
    }
    return 0;
  };
  std::string refspec = std::string(kPushRef) + ":refs/heads/" + remote_.branch;
  char* specs[] = {refspec.data()};
  git_strarray refspecs = {specs, 1};
  if (git_remote_push(remote.get(), &refspecs, &options) != 0) {
    return Unavailable("pushing to " + remote_.url +
                       " failed: " + (ctx.refused.empty() ? LastError() : ctx.refused));
  }
  if (!ctx.rejected.empty()) {
    return Unavailable(remote_.url + " refused the push (" + ctx.rejected + ")");
  }
  git_reference* branch_raw = nullptr;
  if (git_reference_create(&branch_raw, repo, ("refs/heads/" + remote_.branch).c_str(), &commit_oid,
                           1, "lockstep write-back pushed") == 0) {
    Reference(branch_raw).reset();
  }
  return Hex(commit_oid);
}

Result<std::string> Mirror::Resolve(const std::string& revision) const {
  if (revision.empty() || revision.size() > 255 || StartsWith(revision, "-") ||
      revision.find_first_of(" \t\n:^~@{") != std::string::npos) {
    return InvalidArgument("\"" + revision + "\" is not a commit id or a branch name");
  }
  LS_ASSIGN_OR_RETURN(Repo repo, impl_->OpenForReading());
  git_object* raw = nullptr;
  bool hex = revision.size() >= 4 && revision.size() <= GIT_OID_HEXSZ &&
             revision.find_first_not_of("0123456789abcdef") == std::string::npos;
  int rc = -1;
  if (hex) {
    git_oid oid;
    git_oid_fromstrn(&oid, revision.data(), revision.size());
    rc = git_object_lookup_prefix(&raw, repo.get(), &oid, revision.size(), GIT_OBJECT_ANY);
    if (rc == GIT_EAMBIGUOUS) {
      return InvalidArgument("\"" + revision +
                             "\" names more than one object: give more of the "
                             "commit id");
    }
  }
  if (rc != 0) {
    rc = git_revparse_single(&raw, repo.get(), ("refs/heads/" + revision).c_str());
  }
  if (rc != 0) {
    return NotFound("the deploy repository has no commit or branch \"" + revision + "\"");
  }
  Object object(raw);
  git_object* peeled = nullptr;
  if (git_object_peel(&peeled, object.get(), GIT_OBJECT_COMMIT) != 0) {
    return InvalidArgument("\"" + revision + "\" is not a commit");
  }
  Object commit(peeled);
  return Hex(*git_object_id(commit.get()));
}

Result<TreeFiles> Mirror::ReadTree(const std::string& commit, const std::vector<std::string>& top,
                                   const std::vector<std::string>& dirs,
                                   const TreeLimits& limits) const {
  git_oid oid;
  if (commit.size() != GIT_OID_HEXSZ || git_oid_fromstr(&oid, commit.c_str()) != 0) {
    return InvalidArgument("\"" + commit + "\" is not a full commit id");
  }
  LS_ASSIGN_OR_RETURN(Repo repo, impl_->OpenForReading());
  git_object* raw = nullptr;
  if (git_object_lookup(&raw, repo.get(), &oid, GIT_OBJECT_COMMIT) != 0) {
    return NotFound("the deploy repository has no commit " + commit);
  }
  Object object(raw);
  git_tree* tree_raw = nullptr;
  if (git_commit_tree(&tree_raw, reinterpret_cast<git_commit*>(object.get())) != 0) {
    return Unavailable("commit " + commit + ": " + LastError());
  }
  Tree tree(tree_raw);
  git_odb* odb_raw = nullptr;
  if (git_repository_odb(&odb_raw, repo.get()) != 0) {
    return Unavailable("deploy repository mirror: " + LastError());
  }
  Odb odb(odb_raw);

  struct Walk {
    const std::vector<std::string>* top;
    const std::vector<std::string>* dirs;
    const TreeLimits* limits;
    git_odb* odb;
    TreeFiles out;
    size_t total = 0;
    size_t entries = 0;
    Status error;

    // Lists what is left out; false (with `error` set) past as many as files may be.
    bool Skip(const std::string& path, std::string why) {
      if (out.skipped.size() >= limits->max_files) {
        error = OutOfRange("the commit leaves out more than " + std::to_string(limits->max_files) +
                           " entries: refusing it");
        return false;
      }
      out.skipped.push_back({path, std::move(why)});
      return true;
    }
  } walk{&top, &dirs, &limits, odb.get(), {}, 0, 0, Status::Ok()};

  auto visit = [](const char* root, const git_tree_entry* entry, void* payload) -> int {
    auto* w = static_cast<Walk*>(payload);
    // Every entry walked counts, directories too: a million empty ones cost as much.
    if (++w->entries > 2 * w->limits->max_files) {
      w->error =
          OutOfRange("the commit's tree has more than " + std::to_string(2 * w->limits->max_files) +
                     " entries where a deploy repository's go: refusing it");
      return -1;
    }
    std::string_view name = git_tree_entry_name(entry);
    std::string path = std::string(root) + std::string(name);
    if (name.empty() || name == "." || name == ".." || name.find('/') != std::string_view::npos ||
        w->out.files.contains(path)) {
      w->error = InvalidArgument("the commit's tree holds an entry \"" + path +
                                 "\" that git itself would not make: refusing the commit");
      return -1;
    }
    git_filemode_t mode = git_tree_entry_filemode(entry);
    bool wanted_dir = false, under = false;
    for (const std::string& d : *w->dirs) {
      wanted_dir = wanted_dir || path == d;
      under = under || StartsWith(path, d + "/");
    }
    bool at_top = std::find(w->top->begin(), w->top->end(), path) != w->top->end();
    if (mode == GIT_FILEMODE_TREE) {
      if (!wanted_dir && !under) return 1;  // 1: not descended into
      // Deeper than the format goes: listed, not descended into (libgit2 walks a tree by
      // recursion, so a nest a hostile commit makes deep must not be walked).
      size_t depth = static_cast<size_t>(std::count(path.begin(), path.end(), '/')) + 1;
      if (depth > w->limits->max_depth)
        return w->Skip(path,
                       "is a directory deeper than the "
                       "format has a place for")
                   ? 1
                   : -1;
      return 0;
    }
    if (!under && !at_top) return 0;
    if (mode == GIT_FILEMODE_LINK) return w->Skip(path, "is a symbolic link") ? 0 : -1;
    if (mode == GIT_FILEMODE_COMMIT) return w->Skip(path, "is a submodule") ? 0 : -1;
    if (w->out.files.size() >= w->limits->max_files) {
      w->error = OutOfRange("the commit holds more than " + std::to_string(w->limits->max_files) +
                            " files where a deploy repository's go: refusing it");
      return -1;
    }
    size_t size = 0;
    git_object_t type = GIT_OBJECT_INVALID;
    if (git_odb_read_header(&size, &type, w->odb, git_tree_entry_id(entry)) != 0) {
      w->error = Unavailable(path + ": " + LastError());
      return -1;
    }
    if (type != GIT_OBJECT_BLOB) {
      w->error = InvalidArgument(path + " is listed as a file but is no blob: refusing the commit");
      return -1;
    }
    if (size > w->limits->max_file_bytes) {
      return w->Skip(path, "is larger than " + HumanBytes(w->limits->max_file_bytes)) ? 0 : -1;
    }
    if (w->total + size > w->limits->max_total_bytes) {
      w->error =
          OutOfRange("the commit's files pass the " + HumanBytes(w->limits->max_total_bytes) +
                     " a deploy repository may hold in all: refusing it");
      return -1;
    }
    git_odb_object* obj_raw = nullptr;
    if (git_odb_read(&obj_raw, w->odb, git_tree_entry_id(entry)) != 0) {
      w->error = Unavailable(path + ": " + LastError());
      return -1;
    }
    OdbObject obj(obj_raw);
    w->total += git_odb_object_size(obj.get());
    w->out.files.emplace(path, std::string(static_cast<const char*>(git_odb_object_data(obj.get())),
                                           git_odb_object_size(obj.get())));
    return 0;
  };
  int walked = git_tree_walk(tree.get(), GIT_TREEWALK_PRE, visit, &walk);
  if (!walk.error.ok()) return walk.error;
  // A walk that failed on its own (an object the fetch did not bring, a corrupt tree) must
  // not pass for a tree with less in it.
  if (walked != 0) return Unavailable("reading commit " + commit + ": " + LastError());
  return std::move(walk.out);
}

}  // namespace lockstep::git
