// The commands that drive lockstep serve's engine over its API:
//   lockstep plan ENV [--commit REV] [--out FILE] [--output json]   exit 0 none, 2 changes
//   lockstep apply PLAN_ID|PLAN_FILE|ENV [--reason TEXT] [--detach]
//   lockstep status ENV [--output json]
//   lockstep history ENV [SERVICE] [--limit N] [--output json]
//   lockstep rollback ENV SERVICE [--to VERSION|RELEASE_ID] [--reason TEXT] [--detach]
//   lockstep rollback ENV --to DEPLOYMENT_ID [--reason TEXT] [--detach]
//   lockstep hold release ENV SERVICE --reason TEXT
//   lockstep unlock ENV
//   lockstep audit [--limit N] [--output json]
// (invoke and logs: function_commands.cc)
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <thread>

#include "base/strings.h"
#include "cli/cli.h"
#include "cli/command.h"
#include "cli/engine_client.h"
#include "core/release.h"
#include "os/file.h"

namespace lockstep::cli {

namespace bj = boost::json;

namespace {

struct PlanArgs {
  std::string environment, commit, out;
  ServerFlags server;
};

struct ApplyArgs {
  std::string what, reason, override_attestation;
  bool detach = false;
  ServerFlags server;
};

struct RollbackArgs {
  std::string environment, service, to, reason;
  bool detach = false;
  ServerFlags server;
};

struct DecideArgs {
  std::string plan_id;
  std::string comment;
  ServerFlags server;
};

struct PlansArgs {
  std::string environment;
  bool all = false;
  ServerFlags server;
};

// "bob 2026-12-07T10:02:00Z, carol ..." of a JSON array of decisions.
std::string Deciders(const bj::value* decisions) {
  std::string out;
  if (decisions == nullptr || !decisions->is_array()) return out;
  for (const bj::value& d : decisions->as_array()) {
    const bj::value* at = d.as_object().if_contains("at");
    out += (out.empty() ? "" : ", ") + Str(d, "by") +
           (at != nullptr && at->is_int64() ? " " + FormatRfc3339(at->as_int64()) : "");
  }
  return out;
}

struct EnvArgs {
  std::string environment, service;
  int limit = 20;
  std::string since;
  ServerFlags server;
};

// `--since`: a duration back from now, or a UTC time as RFC 3339 writes it.
Result<int64_t> SinceOf(const std::string& text) {
  if (std::optional<int64_t> back = ParseDurationSeconds(text)) {
    return std::max<int64_t>(0, static_cast<int64_t>(std::time(nullptr)) - *back);
  }
  std::tm tm{};
  const char* end = ::strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (end != nullptr && (std::string_view(end) == "Z" || std::string_view(end) == "+00:00")) {
    return static_cast<int64_t>(::timegm(&tm));
  }
  return InvalidArgument("--since " + text.substr(0, 64) +
                         " is neither a duration (90s, 15m, 24h, 7d) nor a UTC time "
                         "(2026-12-07T10:00:00Z)");
}

// Prints the problems of a repository the server refused to plan.
void PrintProblems(const bj::value& answer) {
  const bj::value* problems =
      answer.is_object() ? answer.as_object().if_contains("problems") : nullptr;
  if (problems == nullptr || !problems->is_array()) return;
  for (const bj::value& p : problems->as_array()) std::cerr << Str(p, "text") << "\n";
}

// Makes and saves a plan of `environment` at `revision` (empty: the server's branch);
// the problems of a broken repository are printed, one per line.
Result<bj::value> PostPlan(EngineClient& client, const std::string& environment,
                           const std::string& revision) {
  bj::object body;
  if (!revision.empty()) body["revision"] = revision;
  Result<bj::value> plan = client.Post("environments/" + environment + "/plans", body);
  if (!plan.ok()) PrintProblems(client.last_error());
  if (plan.ok() && !Str(*plan, "warning").empty()) {
    std::cerr << "lockstep: " << Str(*plan, "warning") << "\n";
  }
  return plan;
}

// Follows a deployment to its end, printing each step as it is journaled; exit 0 when it
// succeeded (or had nothing to do), 1 when it failed.
// On a terminal, a line under the steps says what the apply is waiting on and for how
// long; it is rewritten in place and cleared before the next step is printed.
class Progress {
 public:
  explicit Progress(bool on) : on_(on), since_(std::chrono::steady_clock::now()) {}
  void Step(const std::string& what) {
    Clear();
    last_ = what;
    since_ = std::chrono::steady_clock::now();
  }
  void Waiting() {
    if (!on_) return;
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - since_).count();
    if (s < 0.5) return;
    char elapsed[32];
    std::snprintf(elapsed, sizeof elapsed, "%.1f s", s);
    std::cout << "\r\x1b[2K  ... " << Doing() << ", " << elapsed << std::flush;
    shown_ = true;
  }
  void Clear() {
    if (!shown_) return;
    std::cout << "\r\x1b[2K" << std::flush;
    shown_ = false;
  }

 private:
  // What follows the last step printed.
  std::string Doing() const {
    if (last_ == "begin" || last_ == "prepare") return "preparing (fetching and unpacking images)";
    if (last_ == "start" || last_ == "started" || last_ == "healthy") return "waiting for health";
    if (last_ == "retire") return "draining the old instances";
    return "after " + last_;
  }

  bool on_;
  bool shown_ = false;
  std::string last_;
  std::chrono::steady_clock::time_point since_;
};

ExitCode Follow(EngineClient& client, int64_t id, const Globals& g) {
  int64_t seen = 0;
  const bool json = g.output == "json";
  Progress progress(!json && isatty(STDOUT_FILENO) == 1);
  // Steps take from a millisecond (a switch) to minutes (a pull): asked again soon after
  // each, then less often while nothing happens.
  auto pause = std::chrono::milliseconds(10);
  for (;;) {
    Result<bj::value> answer =
        client.Get("deployments/" + std::to_string(id) + "?after=" + std::to_string(seen));
    if (!answer.ok()) {
      progress.Clear();
      return Fail(answer.status().message() + "\ndeployment " + std::to_string(id) +
                  " is finished or undone when lockstep serve starts again; see `lockstep "
                  "history`");
    }
    const bj::value& d = answer->as_object().at("deployment");
    const bj::array& steps = answer->as_object().at("steps").as_array();
    if (!steps.empty()) pause = std::chrono::milliseconds(10);
    for (const bj::value& step : steps) {
      seen = step.as_object().at("seq").as_int64();
      if (json) continue;
      std::string service = Str(step, "service");
      progress.Step(Str(step, "step"));
      std::cout << "  " << Str(step, "step") << (service.empty() ? "" : " " + service) << "  "
                << Str(step, "detail") << "\n"
                << std::flush;
    }
    std::string outcome = Str(d, "outcome");
    if (outcome != "running") {
      progress.Clear();
      if (json) {
        std::cout << bj::serialize(*answer) << "\n";
      } else {
        std::cout << "deployment " << id << " of " << Str(d, "environment") << ": " << outcome
                  << (Str(d, "reason").empty() ? "" : ": " + Str(d, "reason")) << "\n";
      }
      return outcome == "failed" ? ExitCode::kError : ExitCode::kOk;
    }
    progress.Waiting();
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(200));
  }
}

// After a deployment was started: prints its id (--detach) or follows it to its end.
ExitCode Started(EngineClient& client, const bj::value& started, const std::string& plan_id,
                 bool detach, const Globals& g) {
  int64_t id = started.as_object().at("deployment_id").as_int64();
  if (detach) {
    std::cout << (g.output == "json" ? bj::serialize(started)
                                     : "deployment " + std::to_string(id) + " started")
              << "\n";
    return ExitCode::kOk;
  }
  if (g.output != "json") std::cout << "deployment " << id << " (plan " << plan_id << ")\n";
  return Follow(client, id, g);
}

// The id of the saved plan in a file `lockstep plan --out` wrote.
Result<std::string> PlanIdOfFile(const std::string& path) {
  Result<std::string> text = os::ReadFile(path, 16 << 20);
  if (!text.ok()) {
    return InvalidArgument(
        path + " is neither a plan id, an environment nor a plan file: " + text.status().message());
  }
  bj::error_code ec;
  bj::value v = bj::parse(*text, ec);
  std::string id = ec ? "" : Str(v, "plan_id");
  if (id.size() != 16 || id.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return InvalidArgument(path + " is not a plan file (lockstep plan ENV --out FILE)");
  }
  return id;
}

// Environment and service names go into URLs: only what the deploy repository allows.
Status CheckName(std::string_view what, const std::string& name) {
  if (IsResourceName(name)) return Status::Ok();
  return InvalidArgument(std::string(what) + " '" + name +
                         "' is not a name: 1-63 of a-z, 0-9 and '-', not starting with '-'");
}

bool IsPlanId(const std::string& s) {
  return s.size() == 16 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

}  // namespace

void AddEngineCommands(CLI::App& app, Globals& g, ExitCode* exit) {
  DefineCommand<PlanArgs>(
      app, exit, "plan", "show what an apply of ENV would change (exit 0 none, 2 changes)",
      [&g](CLI::App& sub, PlanArgs& a) {
        sub.add_option("ENV", a.environment, "the environment")->required();
        sub.add_option("--commit", a.commit, "a commit or branch of the deploy repository");
        sub.add_option("--out", a.out, "also write the saved plan (JSON) to this file");
        AddServerFlags(sub, a.server);
        AddOutputOption(sub, g);
      },
      [&g, exit](PlanArgs& a) -> Status {
        LS_RETURN_IF_ERROR(CheckName("environment", a.environment));
        EngineClient client(a.server);
        LS_ASSIGN_OR_RETURN(bj::value plan, PostPlan(client, a.environment, a.commit));
        bj::object& o = plan.as_object();
        std::string text = Str(plan, "text");
        o.erase("text");
        if (!a.out.empty()) LS_RETURN_IF_ERROR(os::WriteFileAtomic(a.out, bj::serialize(o) + "\n"));
        if (g.output == "json") {
          std::cout << bj::serialize(o) << "\n";
        } else if (Str(plan, "approval") == "required" && Flag(plan, "changes")) {
          std::cout << text << "plan " << Str(plan, "plan_id") << " needs "
                    << Str(plan, "approvals_needed") << " approval(s): ask approvers of "
                    << a.environment << " (not you, its author) to run lockstep approve "
                    << Str(plan, "plan_id") << "; then lockstep apply " << Str(plan, "plan_id")
                    << "\n";
        } else {
          std::cout << text << "plan " << Str(plan, "plan_id")
                    << (Flag(plan, "changes") ? ": lockstep apply " + Str(plan, "plan_id") : "")
                    << "\n";
        }
        if (Flag(plan, "changes")) *exit = ExitCode::kChanges;
        return Status::Ok();
      });

  DefineCommand<ApplyArgs>(
      app, exit, "apply",
      "apply a saved plan (its id or a file from plan --out), or plan and apply ENV",
      [&g](CLI::App& sub, ApplyArgs& a) {
        sub.add_option("PLAN", a.what, "a plan id, a plan file, or an environment")->required();
        sub.add_option("--reason", a.reason, "why, for history");
        sub.add_option("--override-attestation", a.override_attestation,
                       "(admin) apply although a digest lacks the attestation of the "
                       "environment this one promotes from; the reason is audited");
        sub.add_flag("--detach", a.detach, "return once the apply has started");
        AddServerFlags(sub, a.server);
        AddOutputOption(sub, g);
      },
      [&g, exit](ApplyArgs& a) -> Status {
        EngineClient client(a.server);
        // A plan id; else an environment name; else a plan file (./dev for a file of that
        // name).
        std::string plan_id = a.what;
        bj::object body;
        if (!a.reason.empty()) body["reason"] = a.reason;
        Result<bj::value> started = Internal("no request");
        if (!IsPlanId(a.what) && CheckName("environment", a.what).ok()) {
          if (!a.override_attestation.empty()) {
            return InvalidArgument(
                "--override-attestation applies a saved plan someone read: `lockstep plan " +
                a.what + "`, then `lockstep apply PLAN_ID --override-attestation REASON`");
          }
          // Planned and applied by the server in one step (refused where approval is
          // required).
          started = client.Post("environments/" + a.what + "/deployments", body);
          if (!started.ok()) PrintProblems(client.last_error());
          LS_RETURN_IF_ERROR(started.status());
          const bj::value& plan = started->as_object().at("plan");
          if (!Str(plan, "warning").empty())
            std::cerr << "lockstep: " << Str(plan, "warning") << "\n";
          if (g.output != "json") std::cout << Str(plan, "text");
          plan_id = Str(plan, "plan_id");
        } else {
          if (!IsPlanId(a.what)) {
            LS_ASSIGN_OR_RETURN(plan_id, PlanIdOfFile(a.what));
          }
          body["plan_id"] = plan_id;
          if (!a.override_attestation.empty())
            body["override_attestation"] = a.override_attestation;
          started = client.Post("deployments", body);
          LS_RETURN_IF_ERROR(started.status());
        }
        *exit = Started(client, *started, plan_id, a.detach, g);
        return Status::Ok();
      });

  for (const bool approve : {true, false}) {
    DefineCommand<DecideArgs>(
        app, exit, approve ? "approve" : "reject",
        approve ? "approve a saved plan of an environment that requires approval (an approver "
                  "of it, not the plan's author)"
                : "reject a saved plan: it is never applied",
        [&g](CLI::App& sub, DecideArgs& a) {
          sub.add_option("PLAN_ID", a.plan_id, "the saved plan")->required();
          sub.add_option("--comment", a.comment, "why, for history and the audit log");
          AddServerFlags(sub, a.server);
          AddOutputOption(sub, g);
        },
        [&g, approve](DecideArgs& a) -> Status {
          if (!IsPlanId(a.plan_id)) {
            return InvalidArgument("'" + a.plan_id.substr(0, 64) +
                                   "' is not a plan id (16 hex digits, as `lockstep plan` prints)");
          }
          EngineClient client(a.server);
          bj::object body{{"decision", approve ? "approve" : "reject"}};
          if (!a.comment.empty()) body["comment"] = a.comment;
          LS_ASSIGN_OR_RETURN(bj::value answer,
                              client.Post("plans/" + a.plan_id + "/approvals", body));
          if (g.output == "json") {
            std::cout << bj::serialize(answer) << "\n";
            return Status::Ok();
          }
          const bj::value& approvals = answer.as_object().at("approvals");
          if (!approve) {
            std::cout << "plan " << a.plan_id << " rejected: it is never applied\n";
          } else if (Flag(approvals, "satisfied")) {
            std::cout << "plan " << a.plan_id << " approved by "
                      << Deciders(approvals.as_object().if_contains("approved_by"))
                      << ": lockstep apply " << a.plan_id << "\n";
          } else {
            std::cout << "plan " << a.plan_id << " has "
                      << approvals.as_object().at("approved_by").as_array().size() << " of "
                      << Str(approvals, "needed") << " approvals ("
                      << Deciders(approvals.as_object().if_contains("approved_by")) << ")\n";
          }
          return Status::Ok();
        });
  }

  DefineCommand<PlansArgs>(
      app, exit, "plans", "the saved plans of ENV waiting for approval or to be applied",
      [&g](CLI::App& sub, PlansArgs& a) {
        sub.add_option("ENV", a.environment, "the environment")->required();
        sub.add_flag("--all", a.all, "every saved plan: applied, rejected and stale ones too");
        AddServerFlags(sub, a.server);
        AddOutputOption(sub, g);
      },
      [&g](PlansArgs& a) -> Status {
        LS_RETURN_IF_ERROR(CheckName("environment", a.environment));
        EngineClient client(a.server);
        LS_ASSIGN_OR_RETURN(bj::value answer, client.Get("environments/" + a.environment +
                                                         "/plans" + (a.all ? "?all=1" : "")));
        if (g.output == "json") {
          std::cout << bj::serialize(answer) << "\n";
          return Status::Ok();
        }
        for (const bj::value& p : answer.as_object().at("plans").as_array()) {
          const bj::value& approvals = p.as_object().at("approvals");
          const bj::value* at = p.as_object().if_contains("created_at");
          std::cout << Str(p, "plan_id") << "  " << Str(p, "state") << "  by " << Str(p, "actor")
                    << "  "
                    << (at != nullptr && at->is_int64() ? FormatRfc3339(at->as_int64()) : "")
                    << "  " << Str(p, "commit").substr(0, 12);
          if (Str(approvals, "needed") != "0") {
            std::cout << "  approvals " << approvals.as_object().at("approved_by").as_array().size()
                      << "/" << Str(approvals, "needed");
            std::string by = Deciders(approvals.as_object().if_contains("approved_by"));
            if (!by.empty()) std::cout << " (" << by << ")";
          }
          std::cout << "\n";
        }
        return Status::Ok();
      });

  DefineCommand<RollbackArgs>(
      app, exit, "rollback",
      "put SERVICE's earlier release (artifact and config) back in ENV, or all of ENV as "
      "deployment --to left it; what it puts back is held",
      [&g](CLI::App& sub, RollbackArgs& a) {
        sub.add_option("ENV", a.environment, "the environment")->required();
        sub.add_option("SERVICE", a.service, "the service (leave out to roll back all of ENV)");
        sub.add_option("--to", a.to,
                       "SERVICE's VERSION or RELEASE_ID (default: the release before the "
                       "current one); for ENV, the DEPLOYMENT_ID to go back to");
        sub.add_option("--reason", a.reason, "why, for history and the hold");
        sub.add_flag("--detach", a.detach, "return once the rollback has started");
        AddServerFlags(sub, a.server);
        AddOutputOption(sub, g);
      },
      [&g, exit](RollbackArgs& a) -> Status {
        LS_RETURN_IF_ERROR(CheckName("environment", a.environment));
        if (!a.service.empty()) LS_RETURN_IF_ERROR(CheckName("service", a.service));
        if (a.service.empty() && a.to.empty()) {
          return InvalidArgument("name the SERVICE to roll back, or roll all of " + a.environment +
                                 " back --to a DEPLOYMENT_ID (`lockstep history " + a.environment +
                                 "` lists them)");
        }
        EngineClient client(a.server);
        bj::object body;
        if (!a.service.empty()) body["service"] = a.service;
        if (!a.to.empty()) body["to"] = a.to;
        if (!a.reason.empty()) body["reason"] = a.reason;
        LS_ASSIGN_OR_RETURN(bj::value started,
                            client.Post("environments/" + a.environment + "/rollbacks", body));
        const bj::value& plan = started.as_object().at("plan");
        if (g.output != "json") std::cout << Str(plan, "text");
        *exit = Started(client, started, Str(plan, "plan_id"), a.detach, g);
        return Status::Ok();
      });

  CLI::App* hold = app.add_subcommand("hold", "holds: services no automated path moves");
  hold->require_subcommand(1);
  DefineCommand<RollbackArgs>(
      *hold, exit, "release", "let held SERVICE of ENV move again with the next apply (audited)",
      [](CLI::App& sub, RollbackArgs& a) {
        sub.add_option("ENV", a.environment, "the environment")->required();
        sub.add_option("SERVICE", a.service, "the held service")->required();
        sub.add_option("--reason", a.reason, "why the hold ends, for the audit log")->required();
        AddServerFlags(sub, a.server);
      },
      [](RollbackArgs& a) -> Status {
        LS_RETURN_IF_ERROR(CheckName("environment", a.environment));
        LS_RETURN_IF_ERROR(CheckName("service", a.service));
        EngineClient client(a.server);
        LS_RETURN_IF_ERROR(
            client
                .Post("environments/" + a.environment + "/holds/" + a.service + "/release",
                      bj::object{{"reason", a.reason}})
                .status());
        std::cout << a.service << " in " << a.environment
                  << " is no longer held: the next apply moves it to what git says\n";
        return Status::Ok();
      });

  DefineCommand<EnvArgs>(
      app, exit, "status", "what each service of ENV runs",
      [&g](CLI::App& sub, EnvArgs& a) {
        sub.add_option("ENV", a.environment, "the environment")->required();
        AddServerFlags(sub, a.server);
        AddOutputOption(sub, g);
      },
      [&g](EnvArgs& a) -> Status {
        LS_RETURN_IF_ERROR(CheckName("environment", a.environment));
        EngineClient client(a.server);
        LS_ASSIGN_OR_RETURN(bj::value s, client.Get("environments/" + a.environment));
        if (g.output == "json") {
          std::cout << bj::serialize(s) << "\n";
          return Status::Ok();
        }
        std::cout << a.environment << " at " << Str(s, "commit").substr(0, 12) << ", serial "
                  << Str(s, "serial")
                  << (Str(s, "locked_by").empty() ? "" : ", locked by " + Str(s, "locked_by"))
                  << "\n";
        if (const bj::value* git = s.as_object().if_contains("git"); git && Flag(*git, "behind")) {
          for (const bj::value& w : git->as_object().at("write_backs").as_array()) {
            std::cout << "  git is behind: the write-back of deployment " << Str(w, "deployment_id")
                      << (Str(w, "state") == "conflict" ? " needs a person: "
                          : Str(w, "error").empty()
                              ? " is pending"
                              : " failed " + Str(w, "attempts") + " time(s), retried: ")
                      << Str(w, "error") << "\n";
          }
        }
        for (const bj::value& svc : s.as_object().at("services").as_array()) {
          std::string port = Str(svc, "public_port");
          std::cout << "  " << Str(svc, "service") << "  " << Str(svc, "version") << " ("
                    << Str(svc, "digest").substr(0, 19) << ")  " << Str(svc, "release") << "  "
                    << (Str(svc, "health").empty() ? Str(svc, "kind") : Str(svc, "health"))
                    << (port.empty() ? "" : "  port " + port) << "\n";
          if (const bj::value* held = svc.as_object().if_contains("held");
              held != nullptr && held->is_object()) {
            std::cout << "    held by " << Str(*held, "by") << ": " << Str(*held, "reason")
                      << " (`lockstep hold release " << a.environment << " " << Str(svc, "service")
                      << " --reason TEXT` lets it move)\n";
          }
        }
        if (const bj::value* kept = s.as_object().if_contains("standbys");
            kept != nullptr && kept->is_array()) {
          for (const bj::value& k : kept->as_array()) {
            std::cout << "  standby " << Str(k, "service") << "  " << Str(k, "version") << "  "
                      << Str(k, "release") << "  " << Str(k, "instance") << "  "
                      << HumanBytes(static_cast<uint64_t>(std::max<int64_t>(
                             0, k.as_object().at("memory_bytes").to_number<int64_t>())))
                      << ", kept for an instant rollback until "
                      << FormatRfc3339(k.as_object().at("until").to_number<int64_t>()) << "\n";
          }
        }
        return Status::Ok();
      });

  DefineCommand<EnvArgs>(
      app, exit, "history", "the deployments and changes of ENV (or one SERVICE)",
      [&g](CLI::App& sub, EnvArgs& a) {
        sub.add_option("ENV", a.environment, "the environment")->required();
        sub.add_option("SERVICE", a.service, "only this service");
        sub.add_option("--limit", a.limit, "at most this many entries")->check(CLI::Range(1, 1000));
        AddServerFlags(sub, a.server);
        AddOutputOption(sub, g);
      },
      [&g](EnvArgs& a) -> Status {
        LS_RETURN_IF_ERROR(CheckName("environment", a.environment));
        if (!a.service.empty()) LS_RETURN_IF_ERROR(CheckName("service", a.service));
        EngineClient client(a.server);
        std::string path = "environments/" + a.environment +
                           "/history?limit=" + std::to_string(a.limit) +
                           (a.service.empty() ? "" : "&service=" + a.service);
        LS_ASSIGN_OR_RETURN(bj::value h, client.Get(path));
        if (g.output == "json") {
          std::cout << bj::serialize(h) << "\n";
          return Status::Ok();
        }
        for (const bj::value& d : h.as_object().at("deployments").as_array()) {
          std::cout << (Str(d, "kind") == "rollback" ? "rollback " : "deployment ") << Str(d, "id")
                    << "  " << Str(d, "outcome") << "  by " << Str(d, "actor") << "  plan "
                    << Str(d, "plan_id")
                    << (Str(d, "why").empty() ? "" : "  \"" + Str(d, "why") + "\"")
                    << (Str(d, "reason").empty() ? "" : "  " + Str(d, "reason"));
          std::string approved = Deciders(d.as_object().if_contains("approvals"));
          std::cout << (approved.empty() ? "" : "  approved by " + approved)
                    << (Str(d, "attestation_override").empty()
                            ? ""
                            : "  WITHOUT ATTESTATION: " + Str(d, "attestation_override"))
                    << "\n";
        }
        for (const bj::value& c : h.as_object().at("history").as_array()) {
          std::string from = Str(c, "from_release"), to = Str(c, "to_release");
          std::cout << "  " << Str(c, "service") << "  " << Str(c, "change") << "  "
                    << Str(c, "version") << "  "
                    << (from.empty() ? to
                        : to.empty() ? from
                                     : from + " -> " + to)
                    << "  (deployment " << Str(c, "deployment_id") << ")\n";
        }
        const bj::value* runs = h.as_object().if_contains("invocations");
        for (const bj::value& r : runs && runs->is_array() ? runs->as_array() : bj::array()) {
          std::string error = Str(r, "error");
          std::string outcome = !error.empty()             ? "error: " + error
                                : Flag(r, "timed_out")     ? "timed out"
                                : Flag(r, "out_of_memory") ? "out of memory"
                                                           : "exit " + Str(r, "exit_code");
          std::cout << "run " << Str(r, "id") << "  " << Str(r, "function") << "  "
                    << Str(r, "trigger") << " by " << Str(r, "actor") << "  " << outcome << "  "
                    << Str(r, "duration_ms") << " ms  " << Str(r, "release") << "\n";
        }
        return Status::Ok();
      });

  DefineCommand<EnvArgs>(
      app, exit, "audit", "who changed what, newest first",
      [&g](CLI::App& sub, EnvArgs& a) {
        sub.add_option("--limit", a.limit, "at most this many entries")->check(CLI::Range(1, 1000));
        sub.add_option("--since", a.since,
                       "only what happened since then: a duration back from now (90s, 15m, 24h, "
                       "7d) or a time (2026-12-07T10:00:00Z)");
        AddServerFlags(sub, a.server);
        AddOutputOption(sub, g);
      },
      [&g](EnvArgs& a) -> Status {
        EngineClient client(a.server);
        std::string query = "audit?limit=" + std::to_string(a.limit);
        if (!a.since.empty()) {
          LS_ASSIGN_OR_RETURN(int64_t since, SinceOf(a.since));
          query += "&since=" + std::to_string(since);
        }
        LS_ASSIGN_OR_RETURN(bj::value answer, client.Get(query));
        if (g.output == "json") {
          std::cout << bj::serialize(answer) << "\n";
          return Status::Ok();
        }
        for (const bj::value& e : answer.as_object().at("audit").as_array()) {
          const bj::value* at = e.as_object().if_contains("at");
          std::cout << Str(e, "id") << "  "
                    << (at != nullptr && at->is_int64() ? FormatRfc3339(at->as_int64()) : "")
                    << "  " << Str(e, "actor") << "  " << Str(e, "action") << " "
                    << Str(e, "target") << "  " << Str(e, "detail") << "\n";
        }
        return Status::Ok();
      });

  DefineCommand<EnvArgs>(
      app, exit, "unlock", "end the lock of ENV now (audited)",
      [](CLI::App& sub, EnvArgs& a) {
        sub.add_option("ENV", a.environment, "the environment")->required();
        AddServerFlags(sub, a.server);
      },
      [](EnvArgs& a) -> Status {
        EngineClient client(a.server);
        LS_RETURN_IF_ERROR(
            client.Post("environments/" + a.environment + "/unlock", bj::object{}).status());
        std::cout << a.environment << " unlocked\n";
        return Status::Ok();
      });
}

}  // namespace lockstep::cli
