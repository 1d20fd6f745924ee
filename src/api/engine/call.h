// One request to the engine's API as its handlers see it. Internal to api/engine/.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/engine/engine_api.h"

namespace lockstep::api {

// One request, parsed: its path segments after /api/v1, query and body, who sent it and
// the route it takes.
struct EngineApi::Call {
  std::vector<std::string> path;
  std::vector<std::pair<std::string, std::string>> query;
  std::string body;
  Identity who;
  const http::Request* request = nullptr;
  const Route* route = nullptr;

  std::string Query(std::string_view name) const {
    for (const auto& [k, v] : query) {
      if (k == name) return v;
    }
    return "";
  }
  // For a route about a plan: whether `who` may take its action in the plan's environment.
  Status Authorize(const std::string& environment) const {
    return who.Check(route->action, environment);
  }
};

}  // namespace lockstep::api
