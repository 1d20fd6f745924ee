// The floor of an apply or a rollback that starts instances: the same release started by a
// local target of the benchmark's own, beside lockstep serve, and polled every millisecond
// until it answers.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "runtime/local/local_target.h"
#include "runtime/router.h"

namespace lockstep::bench {

// A local target under `dir` that fetches images from registries over plain HTTP.
std::unique_ptr<runtime::local::LocalTarget> FloorTarget(const std::filesystem::path& dir,
                                                         runtime::Router& router);

// `n` instances of `release_id` started side by side, each polled every millisecond until
// it answers at "/": milliseconds until the last one did. They are retired after.
double StartToHealthy(runtime::local::LocalTarget& target, const std::string& release_id, int n);

}  // namespace lockstep::bench
