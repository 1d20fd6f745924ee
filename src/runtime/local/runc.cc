#include "runtime/local/runc.h"

#include <boost/json.hpp>
#include <ctime>
#include <optional>

#include "base/strings.h"
#include "os/file.h"
#include "os/process.h"

namespace lockstep::runtime::local {

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

// runc prints RFC 3339 with nanoseconds: 2026-11-26T13:01:02.123456789Z.
int64_t ParseCreated(std::string_view text) {
  std::tm tm{};
  std::string s(text.substr(0, 19));
  if (strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm) == nullptr) return 0;
  return timegm(&tm);
}

ContainerState FromJson(const json::object& o) {
  ContainerState s;
  if (auto* v = o.if_contains("id"); v && v->is_string()) s.id = std::string(v->as_string());
  if (auto* v = o.if_contains("pid"); v && v->is_int64()) s.pid = static_cast<int>(v->as_int64());
  if (auto* v = o.if_contains("status"); v && v->is_string())
    s.status = std::string(v->as_string());
  if (auto* v = o.if_contains("bundle"); v && v->is_string())
    s.bundle = std::string(v->as_string());
  if (auto* v = o.if_contains("created"); v && v->is_string())
    s.created_unix = ParseCreated(v->as_string());
  if (auto* v = o.if_contains("annotations"); v && v->is_object()) {
    for (const auto& [k, val] : v->as_object()) {
      if (val.is_string()) s.annotations[std::string(k)] = std::string(val.as_string());
    }
  }
  return s;
}

constexpr const char* kRuncLog = "runc.log";

// Whether runc would say the container is paused, read as runc 1.1 reads it: the v1
// freezer FROZEN by itself (not through an ancestor: freezer.self_freezing), else cgroup
// v2's cgroup.freeze. nullopt where runc would wait or fail (FREEZING, an unreadable or
// unknown state): the caller asks runc itself.
std::optional<bool> Frozen(const json::object& cgroup_paths) {
  auto path = [&](std::string_view key) -> std::string {
    const json::value* v = cgroup_paths.if_contains(key);
    return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  if (std::string v1 = path("freezer"); !v1.empty()) {
    Result<std::string> state = os::ReadFile(v1 + "/freezer.state", 64);
    if (!state.ok()) return std::nullopt;
    std::string_view s = Trim(*state);
    if (s == "THAWED") return false;
    if (s != "FROZEN") return std::nullopt;
    Result<std::string> self = os::ReadFile(v1 + "/freezer.self_freezing", 64);
    if (!self.ok())
      return self.status().code() == Code::kNotFound ? std::optional(true) : std::nullopt;
    if (Trim(*self) == "0") return false;
    if (Trim(*self) == "1") return true;
    return std::nullopt;
  }
  if (std::string v2 = path(""); !v2.empty()) {
    Result<std::string> freeze = os::ReadFile(v2 + "/cgroup.freeze", 64);
    if (!freeze.ok()) {
      return freeze.status().code() == Code::kNotFound ? std::optional(false) : std::nullopt;
    }
    return Trim(*freeze) == "1";
  }
  return false;
}

// One container from runc's state file (<root>/<id>/state.json, runc 1.1's layout), its
// status decided in runc's order: paused when frozen; else stopped unless the recorded
// init process is alive with its recorded start time; created while runc's exec.fifo is
// there; else running. nullopt when the file is not in the layout this reads, or runc
// would decide otherwise than by reading (the caller asks runc).
std::optional<ContainerState> FromStateFile(const fs::path& dir, std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const json::object& o = v.as_object();
  const json::value* id = o.if_contains("id");
  const json::value* pid = o.if_contains("init_process_pid");
  const json::value* start = o.if_contains("init_process_start");
  const json::value* created = o.if_contains("created");
  const json::value* config = o.if_contains("config");
  if (id == nullptr || !id->is_string() || pid == nullptr || !pid->is_int64() || start == nullptr ||
      !(start->is_uint64() || start->is_int64()) || created == nullptr || !created->is_string() ||
      config == nullptr || !config->is_object()) {
    return std::nullopt;
  }
  const json::value* labels = config->as_object().if_contains("labels");
  if (labels == nullptr || !labels->is_array()) return std::nullopt;
  ContainerState s;
  s.id = std::string(id->as_string());
  s.created_unix = ParseCreated(created->as_string());
  for (const json::value& label : labels->as_array()) {
    if (!label.is_string()) continue;
    std::string_view l = label.as_string();
    size_t eq = l.find('=');
    if (eq == std::string_view::npos) continue;
    if (l.substr(0, eq) == "bundle") {
      s.bundle = std::string(l.substr(eq + 1));
    } else {
      s.annotations[std::string(l.substr(0, eq))] = std::string(l.substr(eq + 1));
    }
  }
  const json::value* cgroups = o.if_contains("cgroup_paths");
  std::optional<bool> frozen =
      cgroups != nullptr && cgroups->is_object() ? Frozen(cgroups->as_object()) : false;
  if (!frozen) return std::nullopt;
  uint64_t recorded_start =
      start->is_uint64() ? start->as_uint64() : static_cast<uint64_t>(start->as_int64());
  std::optional<os::ProcessStat> proc;
  if (pid->as_int64() > 0 && pid->as_int64() <= INT32_MAX) {
    proc = os::ReadProcessStat(static_cast<int>(pid->as_int64()));
  }
  const bool alive =
      proc && proc->start_ticks == recorded_start && proc->state != 'Z' && proc->state != 'X';
  // `runc list` shows the recorded pid unless the container is stopped.
  if (*frozen) {
    s.status = "paused";
    s.pid = static_cast<int>(pid->as_int64());
  } else if (!alive) {
    s.status = "stopped";
  } else {
    s.pid = static_cast<int>(pid->as_int64());
    std::error_code fifo;
    s.status = fs::exists(dir / "exec.fifo", fifo) ? "created" : "running";
  }
  return s;
}

}  // namespace

std::string RuncErrors(std::string_view log) {
  std::string out;
  bool entries = false;
  for (std::string_view line : Split(log, '\n')) {
    line = Trim(line);
    if (line.empty() || line.front() != '{') continue;
    boost::system::error_code ec;
    json::value v = json::parse(line, ec);
    if (ec || !v.is_object()) continue;
    const json::object& o = v.as_object();
    const json::value* level = o.if_contains("level");
    const json::value* msg = o.if_contains("msg");
    if (!level || !level->is_string() || !msg || !msg->is_string()) continue;
    entries = true;
    if (level->as_string() != "error" && level->as_string() != "fatal") continue;
    std::string_view text = msg->as_string();
    // "runc run failed: unable to start container process: ..." -> what failed, once.
    if (text.rfind("runc ", 0) == 0) {
      size_t lead = text.find(" failed: ");
      if (lead != std::string_view::npos) text.remove_prefix(lead + 9);
    }
    if (!out.empty()) out += "; ";
    out += text;
  }
  if (entries) return out;
  return std::string(Trim(log));
}

// Found in PATH once (absolute entries only): every run is of the path whose version was
// checked, without walking PATH again.
Runc::Runc(fs::path state_dir, std::string binary)
    : state_dir_(std::move(state_dir)), binary_(os::FindInPath(binary).value_or(binary)) {}

std::vector<std::string> Runc::Args(std::initializer_list<std::string> rest,
                                    const fs::path& log) const {
  std::vector<std::string> args = {binary_, "--root", state_dir_.string(), "--log-format", "json"};
  if (!log.empty()) {
    args.push_back("--log");
    args.push_back(log.string());
  }
  args.insert(args.end(), rest.begin(), rest.end());
  return args;
}

Result<RuncVersion> Runc::Version() const {
  Result<os::Captured> run = os::RunCapture({binary_, "--version"});
  if (!run.ok() || run->exit_code != 0) {
    return Status(Code::kUnavailable,
                  "cannot run " + binary_ + " --version" +
                      (run.ok() ? ": " + std::string(Trim(run->err)) : ""),
                  "the local runtime needs runc (apt-get install runc)");
  }
  return ParseRuncVersion(run->out);
}

Status Runc::Check(const os::Captured& run, const std::string& what) const {
  if (run.exit_code == 0) return Status::Ok();
  std::string err = RuncErrors(run.err);
  if (err.find("does not exist") != std::string::npos) {
    return NotFound(what + ": " + err);
  }
  return Status(Code::kUnavailable,
                what + " failed (runc exit " + std::to_string(run.exit_code) + "): " + err);
}

Result<os::Child> Runc::Run(const std::string& id, const fs::path& bundle,
                            const os::Stdio& stdio) const {
  (void)os::RemoveFile(bundle / kRuncLog);  // a reused bundle says only this run's errors
  return os::Spawn(Args({"run", "--keep", "--bundle", bundle.string(), id}, bundle / kRuncLog),
                   stdio);
}

std::string Runc::StartError(const fs::path& bundle) {
  Result<std::string> log = os::ReadFile(bundle / kRuncLog, 1 << 20);
  return log.ok() ? RuncErrors(*log) : std::string();
}

Result<int> Runc::RunDetached(const std::string& id, const fs::path& bundle, int log_fd) const {
  (void)os::RemoveFile(bundle / kRuncLog);
  fs::path pid_file = bundle / "runc.pid";
  (void)os::RemoveFile(pid_file);
  // runc makes the pid file as .runc.pid (O_EXCL) and renames it: one a killed runc left
  // would fail every later start of this bundle.
  (void)os::RemoveFile(bundle / ".runc.pid");
  LS_ASSIGN_OR_RETURN(os::Child child,
                      os::Spawn(Args({"run", "--detach", "--pid-file", pid_file.string(),
                                      "--bundle", bundle.string(), id},
                                     bundle / kRuncLog),
                                {.out = log_fd, .err = log_fd}));
  LS_ASSIGN_OR_RETURN(int code, child.Wait());
  if (code != 0) {
    std::string why = StartError(bundle);
    return Unavailable("container " + id + " could not start" +
                       (why.empty() ? " (runc exit " + std::to_string(code) + ")" : ": " + why));
  }
  // runc writes the pid file before it returns; without one, ask it.
  Result<std::string> pid = os::ReadFile(pid_file, 64);
  std::optional<uint64_t> parsed = pid.ok() ? ParseUint(Trim(*pid)) : std::nullopt;
  if (parsed && *parsed > 0 && *parsed <= INT32_MAX) return static_cast<int>(*parsed);
  LS_ASSIGN_OR_RETURN(ContainerState state, State(id));
  return state.pid;
}

Result<ContainerState> Runc::State(const std::string& id) const {
  LS_ASSIGN_OR_RETURN(os::Captured run, os::RunCapture(Args({"state", id})));
  LS_RETURN_IF_ERROR(Check(run, "runc state " + id));
  boost::system::error_code ec;
  json::value v = json::parse(run.out, ec);
  if (ec || !v.is_object()) return Internal("runc state " + id + " printed no JSON object");
  return FromJson(v.as_object());
}

Result<std::vector<ContainerState>> Runc::List() const {
  // Reading runc's state files takes well under a millisecond a container, where starting
  // `runc list` takes 5 to 20 ms (plans and rollbacks observe what runs on every call); a
  // file in another layout than runc 1.1's, or a root that cannot be read, leaves it to
  // runc itself.
  if (std::optional<std::vector<ContainerState>> read = ReadStates()) return *std::move(read);
  return ListByRunc();
}

std::optional<std::vector<ContainerState>> Runc::ReadStates() const {
  Result<std::vector<std::string>> ids = os::ListDir(state_dir_);
  if (!ids.ok()) {
    if (ids.status().code() == Code::kNotFound) return std::vector<ContainerState>{};
    return std::nullopt;
  }
  std::vector<ContainerState> out;
  for (const std::string& id : *ids) {
    // runc keeps a directory per container and lists nothing else.
    std::error_code is_dir;
    if (!fs::is_directory(state_dir_ / id, is_dir)) continue;
    // A directory without its state file is a container runc is creating or deleting at
    // this moment: `runc list` leaves it out too.
    Result<std::string> text = os::ReadFile(state_dir_ / id / "state.json", 16 << 20);
    if (!text.ok()) {
      if (text.status().code() == Code::kNotFound) continue;
      return std::nullopt;
    }
    std::optional<ContainerState> state = FromStateFile(state_dir_ / id, *text);
    if (!state || state->id != id) return std::nullopt;
    out.push_back(*std::move(state));
  }
  return out;
}

Result<std::vector<ContainerState>> Runc::ListByRunc() const {
  // `runc list` fails when a container it is reading is deleted meanwhile (another thread
  // retiring an instance): listed again, the container is simply gone.
  Result<os::Captured> run = os::RunCapture(Args({"list", "--format", "json"}));
  for (int again = 0; again < 5 && run.ok() && run->exit_code != 0 &&
                      run->err.find("no such file or directory") != std::string::npos;
       ++again) {
    run = os::RunCapture(Args({"list", "--format", "json"}));
  }
  LS_RETURN_IF_ERROR(run.status());
  LS_RETURN_IF_ERROR(Check(*run, "runc list"));
  std::vector<ContainerState> out;
  std::string_view text = Trim(run->out);
  if (text.empty() || text == "null") return out;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_array()) return Internal("runc list printed no JSON array");
  for (const json::value& c : v.as_array()) {
    if (c.is_object()) out.push_back(FromJson(c.as_object()));
  }
  return out;
}

Status Runc::Kill(const std::string& id, std::string_view signal) const {
  LS_ASSIGN_OR_RETURN(os::Captured run, os::RunCapture(Args({"kill", id, std::string(signal)})));
  return Check(run, "runc kill " + id);
}

Status Runc::Delete(const std::string& id, bool force) const {
  LS_ASSIGN_OR_RETURN(os::Captured run, os::RunCapture(force ? Args({"delete", "--force", id})
                                                             : Args({"delete", id})));
  return Check(run, "runc delete " + id);
}

}  // namespace lockstep::runtime::local
