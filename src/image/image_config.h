// The parts of an OCI image config (application/vnd.oci.image.config.v1+json) that running
// an image needs: how to start it and which layers make its root filesystem.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "core/digest.h"

namespace lockstep::image {

struct ImageConfig {
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::string> env;  // KEY=VALUE
  std::string working_dir;
  std::string user;
  std::vector<Digest> diff_ids;  // rootfs.diff_ids: each layer's uncompressed digest
};

// kInvalidArgument naming the field when a member is of the wrong type or a diff_id is no
// digest; absent members are empty.
Result<ImageConfig> ParseImageConfig(std::string_view text);

}  // namespace lockstep::image
