// Lockstep.toml (the Reader of reader.h).
#include <algorithm>

#include "core/names.h"
#include "deploy/reader.h"

namespace lockstep::deploy::reading {

void Reader::ReadTop() {
  const std::string top(kTop);
  if (!files_.contains(top)) {
    AddFile(top,
            "not found: a deploy repository has lockstep.toml at its root, naming its "
            "registry and its environments (see docs/deploy-repo.md)");
    return;
  }
  std::optional<toml::table> doc = Parse(top);
  if (!doc) return;
  CheckKeys(top, *doc, kTopKeys, "");
  repo_.registry = "embedded";
  if (const toml::node* node = doc->get("registry")) {
    if (std::optional<std::string> r =
            String(top, *node, "registry", "\"embedded\" or \"registry.example:5000\"")) {
      ReadRegistry(top, *node, *r);
    }
  }
  const toml::node* envs = doc->get("environment");
  const toml::array* list = envs ? envs->as_array() : nullptr;
  if (envs == nullptr || list == nullptr || list->empty() || !list->is_array_of_tables()) {
    if (envs == nullptr) {
      AddFile(top,
              "no environments: add one [[environment]] table per environment, in "
              "promotion order, e.g. [[environment]] name = \"dev\"");
    } else {
      Add(top, envs->source(),
          "environment must be [[environment]] tables, one per environment, in promotion "
          "order");
    }
    return;
  }
  for (const toml::node& node : *list) {
    if (auto n = (*node.as_table())["name"].value_exact<std::string>()) listed_.push_back(*n);
  }
  for (const toml::node& node : *list) ReadEnvironment(top, *node.as_table());
}

void Reader::ReadRegistry(const std::string& file, const toml::node& node, std::string registry) {
  if (registry == "embedded") {
    repo_.registry = registry;
    return;
  }
  for (std::string_view scheme : {"https://", "http://"}) {
    if (StartsWith(registry, scheme)) registry.erase(0, scheme.size());
  }
  if (!registry.empty() && registry.back() == '/') registry.pop_back();
  bool ok = !registry.empty() && std::all_of(registry.begin(), registry.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' ||
           c == '[' || c == ']';
  });
  if (!ok) {
    Add(file, node.source(),
        "registry " + Quote(registry) +
            " must be \"embedded\" (lockstep's own) or a registry's host and port, e.g. "
            "\"registry.example:5000\"");
    return;
  }
  repo_.registry = registry;
}

void Reader::ReadEnvironment(const std::string& file, const toml::table& t) {
  CheckKeys(file, t, kEnvironmentKeys, "[[environment]]");
  Environment env;
  const toml::node* name = t.get("name");
  if (name == nullptr) {
    Add(file, t.source(), "an [[environment]] needs a name, e.g. name = \"dev\"");
    return;
  }
  std::optional<std::string> n = String(file, *name, "name", "\"dev\"");
  if (!n) return;
  if (!IsResourceName(*n)) {
    Add(file, name->source(),
        "environment name " + Quote(*n) +
            " must be 1-63 of a-z, 0-9 and '-', not starting with '-', e.g. \"prod-eu\"");
    return;
  }
  if (repo_.Find(*n) != nullptr) {
    Add(file, name->source(), "environment " + Quote(*n) + " is named twice");
    return;
  }
  env.name = *n;
  if (const toml::node* node = t.get("target")) {
    if (std::optional<std::string> target = String(file, *node, "target", "\"local\"")) {
      if (*target != "local") {
        Add(file, node->source(),
            "target " + Quote(*target) +
                " is not known: \"local\" (this host) is the one "
                "target there is");
      }
      env.target = *target;
    }
  }
  if (const toml::node* node = t.get("promote_from")) {
    if (std::optional<std::string> from = String(file, *node, "promote_from", "\"dev\"")) {
      if (repo_.Find(*from) == nullptr) {
        bool later = std::find(listed_.begin(), listed_.end(), *from) != listed_.end();
        Add(file, node->source(),
            "promote_from " + Quote(*from) +
                (*from == env.name ? " is this environment itself"
                 : later           ? " comes later in the list: an environment promotes from "
                                     "one listed before it"
                                   : " is not an environment of this file") +
                (repo_.environments.empty()
                     ? ""
                     : " (environments before it: " + EnvironmentNames() + ")"));
      } else {
        env.promote_from = *from;
      }
    }
  }
  if (const toml::node* node = t.get("approval")) {
    if (std::optional<std::string> a = String(file, *node, "approval", "\"required\"")) {
      if (*a == "none") {
        env.approval = Approval::kNone;
      } else if (*a == "required") {
        env.approval = Approval::kRequired;
      } else {
        Add(file, node->source(), "approval " + Quote(*a) + " must be \"none\" or \"required\"");
      }
    }
  }
  if (const toml::node* node = t.get("approvals")) {
    if (auto count = Integer(file, *node, "approvals", 1, 10)) {
      env.approvals = static_cast<int>(*count);
      if (env.approval != Approval::kRequired) {
        Add(file, node->source(),
            "approvals = " + std::to_string(*count) +
                " counts approvers, but plans of this environment need none: add approval = "
                "\"required\"");
      }
    }
  }
  if (const toml::node* node = t.get("soak")) {
    if (auto s = Duration(file, *node, "soak", false, 30 * 86400)) env.soak_seconds = *s;
  }
  if (const toml::node* node = t.get("rollback_window")) {
    if (auto s = Duration(file, *node, "rollback_window", false, 90 * 86400))
      env.rollback_window_seconds = *s;
  }
  if (const toml::node* node = t.get("self_heal")) {
    if (auto b = Bool(file, *node, "self_heal")) env.self_heal = *b;
  }
  if (const toml::node* node = t.get("volumes")) {
    if (auto v = StringArray(file, *node, "volumes", "[\"uploads\", \"cache\"]")) {
      for (const std::string& volume : *v) {
        if (!IsResourceName(volume)) {
          Add(file, node->source(),
              "volume name " + Quote(volume) +
                  " must be 1-63 of a-z, 0-9 and '-', not starting with '-'");
        } else if (std::find(env.volumes.begin(), env.volumes.end(), volume) != env.volumes.end()) {
          Add(file, node->source(), "volume " + Quote(volume) + " is listed twice");
        } else {
          env.volumes.push_back(volume);
        }
      }
    }
  }
  repo_.environments.push_back(std::move(env));
}

std::string Reader::EnvironmentNames() const {
  std::string out;
  for (const Environment& e : repo_.environments) out += (out.empty() ? "" : ", ") + e.name;
  return out;
}

}  // namespace lockstep::deploy::reading
