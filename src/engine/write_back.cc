#include "engine/write_back.h"

#include <algorithm>
#include <boost/json.hpp>
#include <functional>

#include "deploy/repo.h"
#include "deploy/rewrite.h"

namespace lockstep::engine {

namespace bj = boost::json;

namespace {

// Seconds until the next try after `attempts` failed ones: 2, 4, 8... at most 5 minutes.
int64_t Backoff(int attempts) {
  return std::min<int64_t>(int64_t{1} << std::min(attempts, 9), 300);
}

// One service's file a rollback owes git: what it said at `source`, or (`remove`) gone,
// the service not deployed in the environment then.
struct Owed {
  std::string service, source, from, to;
  bool remove = false;
};

Result<std::vector<Owed>> ParseFiles(const std::string& files) {
  bj::error_code ec;
  bj::value v = bj::parse(files, ec);
  if (ec || !v.is_array()) return Internal("write-back files are not what lockstep records");
  std::vector<Owed> out;
  for (const bj::value& e : v.as_array()) {
    const bj::object* o = e.if_object();
    auto str = [&](const char* key) -> std::string {
      const bj::value* m = o ? o->if_contains(key) : nullptr;
      return m && m->is_string() ? std::string(m->as_string()) : "";
    };
    const bj::value* remove = o ? o->if_contains("remove") : nullptr;
    out.push_back({str("service"), str("source"), str("from"), str("to"),
                   remove != nullptr && remove->is_bool() && remove->as_bool()});
  }
  return out;
}

// The file at `path` of `commit`, nullopt when the commit has none.
Result<std::optional<std::string>> FileAt(git::Mirror& mirror, const std::string& commit,
                                          const std::string& path) {
  LS_ASSIGN_OR_RETURN(git::TreeFiles tree,
                      mirror.ReadTree(commit, {}, {"services", "environments"}));
  auto it = tree.files.find(path);
  if (it == tree.files.end()) return std::optional<std::string>();
  return std::optional<std::string>(it->second);
}

// Up to three problems, as `lockstep validate` words them.
std::string Problems(const deploy::ReadResult& read, const git::TreeFiles& tree) {
  std::string what;
  int n = 0;
  for (const git::TreeFiles::Skipped& skipped : tree.skipped) {
    if (n++ < 3) what += (what.empty() ? "" : "; ") + skipped.path + ": " + skipped.why;
  }
  for (const deploy::Problem& p : read.problems) {
    if (n++ < 3) what += (what.empty() ? "" : "; ") + p.str();
  }
  if (n > 3) what += "; and " + std::to_string(n - 3) + " more";
  return what;
}

// Checks the deploy repository a write-back would leave at `commit` with `changes` made,
// read as a plan reads it, so a write-back never leaves the branch in a state no plan can
// be made of. Removing the last environment file of one of `removed` removes its service
// file too (no environment deploys it then, as when the environment's release was made),
// unless `changed_since` says someone changed that file since the rollback; that removal
// joins `changes`. kUnavailable when the branch does not read even without the changes
// (someone is in the middle of something: try later); kFailedPrecondition, for a person,
// when the changes would make it unreadable or a service file they would remove changed.
Status CheckResult(
    git::Mirror& mirror, const std::string& commit,
    std::map<std::string, std::optional<std::string>>& changes,
    const std::vector<std::string>& removed,
    const std::function<Result<bool>(const std::string&, const std::optional<std::string>&)>&
        changed_since) {
  LS_ASSIGN_OR_RETURN(git::TreeFiles tree,
                      mirror.ReadTree(commit, {"lockstep.toml"}, {"services", "environments"},
                                      {.max_files = deploy::kMaxRepoFiles,
                                       .max_file_bytes = deploy::kMaxFileBytes,
                                       .max_total_bytes = deploy::kMaxRepoBytes}));
  if (deploy::ReadResult now = deploy::ReadRepo(tree.files);
      !now.problems.empty() || !tree.skipped.empty()) {
    return Unavailable("the branch does not read at " + commit.substr(0, 12) + " (" +
                       Problems(now, tree) + "): written back once it does");
  }
  std::map<std::string, std::string>& files = tree.files;
  for (const auto& [path, text] : changes) {
    if (text) {
      files[path] = *text;
    } else {
      files.erase(path);
    }
  }
  for (const std::string& service : removed) {
    const std::string suffix = "/" + service + ".toml";
    bool deployed = std::any_of(files.begin(), files.end(), [&](const auto& f) {
      return f.first.starts_with("environments/") && f.first.ends_with(suffix);
    });
    const std::string service_file = "services/" + service + ".toml";
    auto found = files.find(service_file);
    if (deployed || found == files.end()) continue;
    LS_ASSIGN_OR_RETURN(bool changed, changed_since(service_file, found->second));
    if (changed) {
      return FailedPrecondition(service_file +
                                " changed on the branch after the rollback, which would "
                                "remove it: a person decides what it says; the services "
                                "stay held");
    }
    files.erase(found);
    changes[service_file] = std::nullopt;
  }
  deploy::ReadResult read = deploy::ReadRepo(files);
  if (read.problems.empty()) return Status::Ok();
  return FailedPrecondition(
      "written back, the deploy repository would not read: " + Problems(read, git::TreeFiles{}) +
      ": a person decides what it says; the services stay held");
}

}  // namespace

std::string ServiceFilePath(const std::string& environment, const std::string& service) {
  return "environments/" + environment + "/" + service + ".toml";
}

WriteBacks::WriteBacks(state::StateStore& store, git::Mirror* mirror, const os::Clock& clock)
    : store_(store),
      mirror_(mirror),
      clock_(clock),
      thread_([this](std::stop_token stop) { Run(std::move(stop)); }) {}

WriteBacks::~WriteBacks() {
  thread_.request_stop();
  thread_.join();
}

void WriteBacks::Wake() {
  std::lock_guard lock(mutex_);
  woken_ = true;
  wake_.notify_all();
}

void WriteBacks::Run(std::stop_token stop) {
  if (mirror_ == nullptr) return;
  for (;;) {
    RunDue();
    // Until the next one is due (or a minute), or woken.
    int64_t wait = 60;
    if (Result<std::vector<state::WriteBackRecord>> open = store_.OpenWriteBacks(""); open.ok()) {
      for (const state::WriteBackRecord& w : *open) {
        if (w.state != state::WriteBackState::kPending) continue;
        wait = std::min(wait, std::max<int64_t>(w.next_attempt_at - clock_.NowSeconds(), 1));
      }
    }
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, stop, std::chrono::seconds(wait), [&] { return woken_; });
    if (stop.stop_requested()) return;
    woken_ = false;
  }
}

int WriteBacks::RunDue() {
  if (mirror_ == nullptr) return 0;
  std::lock_guard one(attempt_);
  Result<std::vector<state::WriteBackRecord>> open = store_.OpenWriteBacks("");
  if (!open.ok()) return 0;
  int done = 0;
  for (state::WriteBackRecord& w : *open) {
    if (w.state != state::WriteBackState::kPending || w.next_attempt_at > clock_.NowSeconds()) {
      continue;
    }
    Attempt(w);
    done += w.state == state::WriteBackState::kDone;
    (void)store_.UpdateWriteBack(w);  // unrecorded, it is tried again
  }
  return done;
}

void WriteBacks::Attempt(state::WriteBackRecord& w) {
  auto failed = [&](const std::string& why) {
    ++w.attempts;
    w.last_error = why;
    w.next_attempt_at = clock_.NowSeconds() + Backoff(w.attempts);
  };
  Result<std::vector<Owed>> owed = ParseFiles(w.files);
  if (!owed.ok()) {
    w.state = state::WriteBackState::kConflict;
    w.last_error = owed.status().message();
    return;
  }
  // What the branch said when the rollback was made (as last fetched): a file that
  // differs from it later was changed by someone else.
  if (w.base.empty()) {
    Result<std::string> then = mirror_->Resolve(mirror_->remote().branch);
    if (!then.ok()) return failed(then.status().message());
    w.base = *then;
  }
  // A branch that moves while this runs is fetched again and built upon, a few times.
  for (int round = 0; round < 3; ++round) {
    Result<std::string> head = mirror_->Fetch();
    if (!head.ok()) return failed(head.status().message());
    std::map<std::string, std::optional<std::string>> changes;
    std::vector<std::string> removed;
    std::string subject, body;
    // Whether someone changed `path` on the branch since the rollback: then what it says
    // is theirs to say.
    auto changed_since = [&](const std::string& path,
                             const std::optional<std::string>& now) -> Result<bool> {
      if (*head == w.base) return false;
      LS_ASSIGN_OR_RETURN(std::optional<std::string> then, FileAt(*mirror_, w.base, path));
      return then != now;
    };
    auto someone_changed = [&](const std::string& path) {
      w.state = state::WriteBackState::kConflict;
      w.last_error = path + " changed on the branch after the rollback (now at " +
                     head->substr(0, 12) +
                     "): a person decides what it says; the service stays held";
    };
    for (const Owed& o : *owed) {
      const std::string path = ServiceFilePath(w.environment, o.service);
      if (o.remove) {
        Result<std::optional<std::string>> now = FileAt(*mirror_, *head, path);
        if (!now.ok()) return failed(now.status().message());
        if (!*now) continue;  // already gone
        Result<bool> changed = changed_since(path, *now);
        if (!changed.ok()) return failed(changed.status().message());
        if (*changed) return someone_changed(path);
        changes[path] = std::nullopt;
        removed.push_back(o.service);
        subject += (subject.empty() ? "" : ", ") + o.service + " " + o.from + " → removed";
        body += "  " + path + " (removed: " + o.service + " was not deployed in " + w.environment +
                " then)\n";
        continue;
      }
      if (o.source.empty()) {
        w.state = state::WriteBackState::kConflict;
        w.last_error = o.service +
                       "'s release was recorded before lockstep kept the commit it "
                       "came from: write " +
                       path + " by hand";
        return;
      }
      Result<std::optional<std::string>> wanted = FileAt(*mirror_, o.source, path);
      Result<std::optional<std::string>> now = FileAt(*mirror_, *head, path);
      if (!wanted.ok()) return failed(wanted.status().message());
      if (!now.ok()) return failed(now.status().message());
      if (!*wanted) {
        w.state = state::WriteBackState::kConflict;
        w.last_error = "commit " + o.source.substr(0, 12) + " has no " + path;
        return;
      }
      Result<deploy::Rewritten> text = deploy::RewriteToSay(now->value_or(""), **wanted, path);
      if (!text.ok()) {
        w.state = state::WriteBackState::kConflict;  // trying again would not change it
        w.last_error = text.status().message();
        return;
      }
      // Already says so (an earlier write-back, a person): nothing to write, whoever did.
      if (now->has_value() && text->text == **now) continue;
      Result<bool> changed = changed_since(path, *now);
      if (!changed.ok()) return failed(changed.status().message());
      if (*changed) return someone_changed(path);
      changes[path] = text->text;
      subject += (subject.empty() ? "" : ", ") + o.service + " " + o.from + " → " + o.to;
      body += "  " + path +
              (text->spliced ? ""
                             : " (written whole: it could not be changed "
                               "value by value)") +
              "\n";
    }
    if (changes.empty()) {
      w.state = state::WriteBackState::kDone;
      w.commit = *head;
      w.last_error.clear();
      return;
    }
    if (Status checked = CheckResult(*mirror_, *head, changes, removed, changed_since);
        !checked.ok()) {
      if (checked.code() != Code::kFailedPrecondition) return failed(checked.message());
      w.state = state::WriteBackState::kConflict;
      w.last_error = checked.message();
      return;
    }
    for (const auto& [path, text] : changes) {
      if (!text && path.starts_with("services/")) {
        body += "  " + path + " (removed: no environment deploys it any more)\n";
      }
    }
    std::string message = "Roll back " + subject + " in " + w.environment + "\n\n" + w.actor +
                          " rolled back " + w.environment + " (deployment " +
                          std::to_string(w.deployment_id) + ")" +
                          (w.reason.empty() ? "" : ": " + w.reason) +
                          "\n\nWhat each file says again, as when its release was made:\n" + body +
                          "\nThese services are held: `lockstep hold release " + w.environment +
                          " SERVICE --reason TEXT` lets applies move them.\n";
    Result<std::string> pushed =
        mirror_->CommitAndPush(*head, changes, message, {w.actor, "lockstep@localhost"});
    if (pushed.ok()) {
      w.state = state::WriteBackState::kDone;
      w.commit = *pushed;
      w.last_error.clear();
      return;
    }
    // The branch moved under it: again, on the new head. Otherwise the remote is down or
    // refuses: later.
    Result<std::string> moved = mirror_->Fetch();
    if (!moved.ok() || *moved == *head) return failed(pushed.status().message());
  }
  failed("the branch kept moving while lockstep wrote to it");
}

}  // namespace lockstep::engine
