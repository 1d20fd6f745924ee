// The environment of a `lockstep` client under test: nothing of the user running the tests
// (no credentials, auth files or registry defaults of theirs), so what a test writes under
// `home` and `runtime_dir` is all the client can read. Entries for Lockstep()/RunCommand(),
// applied in order, so `extra` overrides the defaults.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace lockstep::testing {

inline std::vector<std::string> ClientEnvironment(const std::filesystem::path& home,
                                                  const std::filesystem::path& runtime_dir,
                                                  const std::vector<std::string>& extra = {}) {
  std::vector<std::string> env = {"HOME=" + home.string(),
                                  "DOCKER_CONFIG=",
                                  "REGISTRY_AUTH_FILE=",
                                  "XDG_RUNTIME_DIR=" + runtime_dir.string(),
                                  "XDG_CONFIG_HOME=",
                                  "LOCKSTEP_REGISTRY=",
                                  "LOCKSTEP_REGISTRY_USERNAME=",
                                  "LOCKSTEP_REGISTRY_PASSWORD=",
                                  "LOCKSTEP_REGISTRY_INSECURE="};
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

}  // namespace lockstep::testing
