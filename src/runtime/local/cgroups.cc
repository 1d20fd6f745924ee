#include "runtime/local/cgroups.h"

#include <sys/stat.h>
#include <unistd.h>

#include <vector>

#include "base/strings.h"
#include "os/file.h"

namespace lockstep::runtime::local {

namespace fs = std::filesystem;

namespace {

const fs::path kRoot = "/sys/fs/cgroup";

bool Unified() { return os::Exists(kRoot / "cgroup.controllers"); }

// Every hierarchy the container's cgroup appears in: the unified root, or each v1
// controller mount (runc creates the path in all of them).
std::vector<fs::path> Hierarchies() {
  if (Unified()) return {kRoot};
  std::vector<fs::path> out;
  Result<std::vector<std::string>> names = os::ListDir(kRoot);
  if (!names.ok()) return out;
  for (const std::string& n : *names) {
    fs::path p = kRoot / n;
    if (fs::is_directory(p) && !fs::is_symlink(p)) out.push_back(p);
  }
  return out;
}

uint64_t ReadNumber(const fs::path& file) {
  Result<std::string> text = os::ReadFile(file, 64);
  if (!text.ok()) return 0;
  return ParseUint(Trim(*text)).value_or(0);
}

}  // namespace

uint64_t MemoryInUse(const std::string& cgroups_path) {
  const fs::path relative = fs::path(cgroups_path).relative_path();
  if (relative.empty() || cgroups_path.find("..") != std::string::npos) return 0;
  if (Unified()) return ReadNumber(kRoot / relative / "memory.current");
  return ReadNumber(kRoot / "memory" / relative / "memory.usage_in_bytes");
}

Result<OwnCgroup> OwnCgroup::Create(const std::string& scope, const std::string& id) {
  std::string name = scope + "/" + id;
  // Only the memory hierarchy needs to exist before runc runs; runc makes the rest.
  fs::path dir = Unified() ? kRoot / "lockstep" / name : kRoot / "memory" / "lockstep" / name;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return FailedPrecondition("cannot create cgroup " + dir.string() + ": " + ec.message(),
                              "the local runtime runs containers with runc and needs root");
  }
  // On v2, runc enables the controllers it needs in every parent's subtree_control.
  return OwnCgroup(name);
}

OwnCgroup::OwnCgroup(OwnCgroup&& o) noexcept : name_(std::exchange(o.name_, {})) {}

OwnCgroup::~OwnCgroup() { Remove(); }

uint64_t OwnCgroup::PeakMemory() const {
  if (Unified()) return ReadNumber(kRoot / "lockstep" / name_ / "memory.peak");
  return ReadNumber(kRoot / "memory" / "lockstep" / name_ / "memory.max_usage_in_bytes");
}

std::optional<uint64_t> OwnCgroup::OomKills() const {
  // The container's own cgroup (kept until runc deletes the container): memory.events on v2
  // (local, so a `memory_localevents` mount counts it too), memory.oom_control on v1
  // (kernel 4.13 and later).
  fs::path file = Unified() ? kRoot / "lockstep" / name_ / "c" / "memory.events"
                            : kRoot / "memory" / "lockstep" / name_ / "c" / "memory.oom_control";
  Result<std::string> text = os::ReadFile(file, 4096);
  if (!text.ok()) return std::nullopt;
  for (std::string_view line : Split(*text, '\n')) {
    if (line.rfind("oom_kill ", 0) == 0) return ParseUint(Trim(line.substr(9)));
  }
  return std::nullopt;
}

void OwnCgroup::Remove() {
  if (name_.empty()) return;
  for (const fs::path& h : Hierarchies()) {
    fs::path dir = h / "lockstep" / name_;
    // The container's own cgroup is normally gone already (runc deletes it).
    rmdir((dir / "c").c_str());
    rmdir(dir.c_str());
  }
  name_.clear();
}

void RemoveCgroupScope(const std::string& scope) {
  for (const fs::path& h : Hierarchies()) rmdir((h / "lockstep" / scope).c_str());
}

void RemoveIdleInvocationCgroups(const std::string& scope,
                                 const std::function<bool(const std::string&)>& in_progress) {
  for (const fs::path& h : Hierarchies()) {
    fs::path dir = h / "lockstep" / scope;
    Result<std::vector<std::string>> names = os::ListDir(dir);
    if (!names.ok()) continue;
    for (const std::string& n : *names) {
      if (!n.starts_with("inv-") || in_progress(n)) continue;
      rmdir((dir / n / "c").c_str());
      rmdir((dir / n).c_str());
    }
  }
}

}  // namespace lockstep::runtime::local
