#include "runtime/target.h"

namespace lockstep::runtime {

std::string_view HealthName(HealthState state) {
  switch (state) {
    case HealthState::kStarting:
      return "starting";
    case HealthState::kHealthy:
      return "healthy";
    case HealthState::kUnhealthy:
      return "unhealthy";
    case HealthState::kExited:
      return "exited";
  }
  return "unknown";
}

}  // namespace lockstep::runtime
