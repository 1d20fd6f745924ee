// Building OCI image layouts for tests with real tools (umoci), and reading them back.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace lockstep::testing {

// Adds image `tag` to the OCI layout at `layout` (created if needed), with one layer
// holding `files` (path -> content). Returns the manifest digest.
std::string MakeImage(const std::filesystem::path& layout, const std::string& tag,
                      const std::map<std::string, std::string>& files);

// Adds an image index named `tag` to `layout` that lists the manifests of `tags`.
// Returns the index digest.
std::string MakeIndex(const std::filesystem::path& layout, const std::string& tag,
                      const std::vector<std::string>& tags);

// The digest (sha256:...) that index.json of `layout` gives for `tag`.
std::string LayoutDigest(const std::filesystem::path& layout, const std::string& tag);

// Every blob digest reachable from `digest` in the layout (manifests, configs, layers).
std::vector<std::string> ReachableBlobs(const std::filesystem::path& layout,
                                        const std::string& digest);

std::string ReadBlob(const std::filesystem::path& layout, const std::string& digest);

// `n` pseudo-random bytes (incompressible, reproducible from `seed`).
std::string RandomBytes(size_t n, unsigned seed);

// A root filesystem with Debian's static busybox as /bin/busybox and /bin/sh.
void MakeBusyboxTree(const std::filesystem::path& dir);

// Unpacks layout:name with umoci and runs it with runc; returns what it printed.
RunResult RunWithRunc(const std::filesystem::path& layout, const std::string& name,
                      const std::filesystem::path& scratch);

// skopeo arguments for a plain-HTTP loopback registry.
std::vector<std::string> Skopeo(std::vector<std::string> args);

}  // namespace lockstep::testing
