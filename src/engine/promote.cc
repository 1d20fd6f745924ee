#include "engine/promote.h"

#include "base/strings.h"
#include "core/release.h"
#include "deploy/rewrite.h"
#include "engine/write_back.h"

namespace lockstep::engine {

namespace {

struct Candidate {
  state::CurrentRecord current;
  Release release;
};

// The files a deploy repository holds at `commit`, as the reader takes them.
Result<git::TreeFiles> RepoFilesAt(git::Mirror& mirror, const std::string& commit) {
  return mirror.ReadTree(commit, {"lockstep.toml"}, {"services", "environments"},
                         {.max_files = deploy::kMaxRepoFiles,
                          .max_file_bytes = deploy::kMaxFileBytes,
                          .max_total_bytes = deploy::kMaxRepoBytes});
}

}  // namespace

Result<PromoteResult> Promote(const PlanSources& sources, Attestor& attestor,
                              const os::Clock& clock, const PromoteRequest& request,
                              const std::string& actor) {
  if (sources.mirror == nullptr) {
    return FailedPrecondition(
        "no deploy repository is configured ([deploy] repo in config.toml): a promotion is a "
        "commit there");
  }
  git::Mirror& mirror = *sources.mirror;
  for (int attempt = 0; attempt < 3; ++attempt) {
    LS_ASSIGN_OR_RETURN(std::string head, mirror.Fetch());
    LS_ASSIGN_OR_RETURN(git::TreeFiles tree, RepoFilesAt(mirror, head));
    LS_ASSIGN_OR_RETURN(deploy::ReadResult read,
                        ReadRepoAt(mirror, head, sources.embedded_registry));
    if (!read.problems.empty()) {
      return FailedPrecondition("the deploy repository at " + head.substr(0, 12) +
                                " does not read (" + read.problems[0].str() +
                                (read.problems.size() > 1 ? ", and more" : "") +
                                "): fix it before promoting (lockstep validate)");
    }
    const deploy::Environment* to = read.repo.Find(request.to);
    if (to == nullptr) return NotFound("the deploy repository has no environment " + request.to);
    if (read.repo.Find(request.from) == nullptr) {
      return NotFound("the deploy repository has no environment " + request.from);
    }
    if (to->promote_from != request.from) {
      return FailedPrecondition(
          to->promote_from.empty()
              ? request.to +
                    " promotes from no environment (no promote_from in lockstep.toml): "
                    "its pins are set by hand"
              : request.to + " promotes from " + to->promote_from + ", not " + request.from);
    }
    std::map<std::string, state::CurrentRecord> live;
    std::map<std::string, state::HoldRecord> holds;
    {
      LS_ASSIGN_OR_RETURN(std::unique_ptr<state::Transaction> tx, sources.store->Begin());
      LS_ASSIGN_OR_RETURN(live, tx->Current(request.from));
      LS_ASSIGN_OR_RETURN(holds, tx->Holds(request.to));
    }
    const std::map<std::string, deploy::DeployedService>& pinned = read.repo.deployed[request.to];
    std::vector<std::string> names = request.services;
    if (request.all) {
      // Every service both run: a service `to` does not deploy yet is added by a person.
      names.clear();
      for (const auto& [service, c] : live) {
        if (pinned.contains(service)) names.push_back(service);
      }
      if (names.empty()) return PromoteResult{};
    }
    if (names.empty()) return InvalidArgument("name a service to promote, or promote --all");
    const int64_t now = clock.NowSeconds();
    std::vector<std::string> refused;
    std::vector<Candidate> moving;
    for (const std::string& service : names) {
      auto it = live.find(service);
      if (it == live.end()) {
        refused.push_back(service + " is not live in " + request.from + " (lockstep status " +
                          request.from + ")");
        continue;
      }
      Result<Release> release = ReleaseFromJson(it->second.release_spec);
      if (!release.ok()) {
        refused.push_back(service + "'s release in " + request.from +
                          " does not read: " + release.status().message());
        continue;
      }
      auto pin = pinned.find(service);
      if (pin != pinned.end() && pin->second.release.image.digest == release->image.digest &&
          pin->second.version == it->second.version) {
        continue;  // already pinned here
      }
      if (auto hold = holds.find(service); hold != holds.end()) {
        refused.push_back(service + " is held in " + request.to + " by " + hold->second.actor +
                          " (" + hold->second.reason + "): `lockstep hold release " + request.to +
                          " " + service + "` first");
        continue;
      }
      const int64_t live_for = now - it->second.since;
      if (live_for < to->soak_seconds) {
        refused.push_back(service + " " + it->second.version + ": live in " + request.from +
                          " for " + Span(live_for) + " of " + Span(to->soak_seconds) + " (" +
                          request.to + "'s soak)");
        continue;
      }
      if (std::string why = attestor.Unhealthy(it->second); !why.empty()) {
        refused.push_back(service + " " + it->second.version + ": " + why);
        continue;
      }
      moving.push_back({it->second, std::move(*release)});
    }
    if (!refused.empty()) {
      std::string text;
      for (const std::string& r : refused) text += (text.empty() ? "" : "; ") + r;
      return FailedPrecondition("nothing was promoted: " + text);
    }
    PromoteResult result;
    if (moving.empty()) return result;

    std::map<std::string, std::optional<std::string>> files;
    deploy::RepoFiles after = tree.files;
    std::string subject, body;
    for (const Candidate& c : moving) {
      const std::string path = ServiceFilePath(request.to, c.current.service);
      auto now_text = tree.files.find(path);
      LS_ASSIGN_OR_RETURN(deploy::Rewritten text,
                          deploy::WithPin(now_text == tree.files.end() ? "" : now_text->second,
                                          c.current.version, c.release.image.digest->str(), path));
      files[path] = text.text;
      after[path] = text.text;
      subject += (subject.empty() ? "" : ", ") + c.current.service + " " + c.current.version;
      body += "  " + path + ": " + c.current.version + " " + c.release.image.digest->str() + "\n";
    }
    // What the commit leaves must read, and pin what was promoted.
    deploy::ReadResult check = deploy::ReadRepo(after, sources.embedded_registry);
    if (!check.problems.empty()) {
      return FailedPrecondition("the pins would leave a repository that does not read (" +
                                check.problems[0].str() + "): nothing was promoted");
    }
    for (const Candidate& c : moving) {
      const auto& now_pinned = check.repo.deployed[request.to];
      auto p = now_pinned.find(c.current.service);
      if (p == now_pinned.end() || p->second.release.image.digest != c.release.image.digest) {
        return FailedPrecondition(c.current.service + " would not be pinned to " +
                                  c.release.image.digest->str() + " in " + request.to +
                                  ": nothing was promoted");
      }
    }
    std::string message = "Promote " + subject + " from " + request.from + " to " + request.to +
                          "\n\n" + actor + " promoted what runs in " + request.from +
                          (request.reason.empty() ? "" : ": " + request.reason) +
                          "\n\nThe artifact each file pins now:\n" + body;
    Result<std::string> pushed =
        mirror.CommitAndPush(head, files, message, {actor, "lockstep@localhost"});
    if (!pushed.ok()) {
      // The branch moved under it: again, on the new head. Otherwise the remote is down or
      // refuses.
      Result<std::string> moved = mirror.Fetch();
      if (!moved.ok() || *moved == head) return pushed.status();
      continue;
    }
    result.commit = *pushed;
    for (const Candidate& c : moving) {
      Promoted p{.service = c.current.service,
                 .version = c.current.version,
                 .digest = c.release.image.digest->str(),
                 .release_id = c.current.release_id,
                 .live_seconds = now - c.current.since};
      Result<Attestor::Recorded> attested =
          attestor.Record({.kind = "promotion",
                           .service = p.service,
                           .repository = c.release.image.repository,
                           .digest = p.digest,
                           .release = p.release_id,
                           .environment = request.to,
                           .from = request.from,
                           .live_since = c.current.since,
                           .soak_seconds = p.live_seconds,
                           .health = c.current.instance_id.empty() ? "a function (no health check)"
                                                                   : "healthy in " + request.from,
                           .by = actor});
      if (attested.ok()) p.attestation_id = attested->record.id;
      result.promoted.push_back(std::move(p));
    }
    {
      LS_ASSIGN_OR_RETURN(std::unique_ptr<state::Transaction> tx, sources.store->Begin());
      LS_RETURN_IF_ERROR(
          tx->AppendAudit({.actor = actor,
                           .action = "promote",
                           .target = request.to,
                           .detail = subject + " from " + request.from + ", commit " +
                                     result.commit.substr(0, 12) +
                                     (request.reason.empty() ? "" : ": " + request.reason)})
              .status());
      LS_RETURN_IF_ERROR(tx->Commit());
    }
    return result;
  }
  return Unavailable("the branch kept moving while lockstep wrote to it: promote again");
}

}  // namespace lockstep::engine
