#include "runtime/local/runc.h"

#include <boost/json.hpp>
#include <ctime>

#include "base/strings.h"
#include "os/file.h"

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

Runc::Runc(fs::path state_dir, std::string binary)
    : state_dir_(std::move(state_dir)), binary_(std::move(binary)) {}

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

Status Runc::RunDetached(const std::string& id, const fs::path& bundle, int log_fd) const {
  (void)os::RemoveFile(bundle / kRuncLog);
  LS_ASSIGN_OR_RETURN(
      os::Child child,
      os::Spawn(Args({"run", "--detach", "--bundle", bundle.string(), id}, bundle / kRuncLog),
                {.out = log_fd, .err = log_fd}));
  LS_ASSIGN_OR_RETURN(int code, child.Wait());
  if (code != 0) {
    std::string why = StartError(bundle);
    return Unavailable("container " + id + " could not start" +
                       (why.empty() ? " (runc exit " + std::to_string(code) + ")" : ": " + why));
  }
  return Status::Ok();
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
