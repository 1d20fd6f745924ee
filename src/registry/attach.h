// Attaching an artifact to an image in the registry's own store, as a client would push
// it: a blob and an OCI image manifest whose `subject` is the image, so that the image's
// referrers (GET /v2/NAME/referrers/DIGEST, `oras discover`, `skopeo`'s sigstore-style
// lookups) list it. Used for attestations.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "registry/registry.h"

namespace lockstep::registry {

struct Attachment {
  std::string artifact_type;  // e.g. "application/vnd.lockstep.attestation.v1+json"
  std::string content;        // the one layer's bytes
  std::map<std::string, std::string> annotations;
};

// Stores `a` in `repo` as a referrer of the manifest `subject` (which must be in `repo`);
// returns the artifact manifest's digest. Pushing the same attachment again stores
// nothing new.
Result<Digest> Attach(Registry& registry, std::string_view repo, const Digest& subject,
                      const Attachment& a);

}  // namespace lockstep::registry
