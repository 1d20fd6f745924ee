// How `lockstep serve` gets images for its local target: straight from its own registry's
// store, without HTTP. Copies the manifest (or index and children), config and layers of a
// pinned image into the target's image store; every blob is checked against its digest on
// the way (the store verified it when it was pushed; this catches later damage).
#pragma once

#include "base/status.h"
#include "core/image_ref.h"
#include "image/oci_layout.h"
#include "registry/registry.h"

namespace lockstep::registry {

// The registry name releases of the engine record for this server's own registry (as the
// deploy repository's `registry = "embedded"` says): its address may change between runs.
inline constexpr const char* kEmbedded = "embedded";

// kFailedPrecondition for an image of another registry than `own_address` (host:port this
// server serves on) or kEmbedded.
Status FetchFromEmbedded(const Registry& registry, const std::string& own_address,
                         const ImageRef& ref, image::OciLayout& into);

}  // namespace lockstep::registry
