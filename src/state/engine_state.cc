#include "state/engine_state.h"

namespace lockstep::state {

std::string_view OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kRunning:
      return "running";
    case Outcome::kSucceeded:
      return "succeeded";
    case Outcome::kFailed:
      return "failed";
    case Outcome::kNoChange:
      return "no-change";
  }
  return "?";
}

std::string_view WriteBackStateName(WriteBackState state) {
  switch (state) {
    case WriteBackState::kPending:
      return "pending";
    case WriteBackState::kDone:
      return "done";
    case WriteBackState::kConflict:
      return "conflict";
  }
  return "?";
}

std::string_view ChangeName(Change change) {
  switch (change) {
    case Change::kAdded:
      return "added";
    case Change::kChanged:
      return "changed";
    case Change::kRemoved:
      return "removed";
  }
  return "?";
}

}  // namespace lockstep::state
