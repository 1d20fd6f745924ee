// Network namespaces of lockstep's own (Linux): a namespace that outlives the processes in
// it (held by a bind mount on a file, as `ip netns` does), and sockets opened inside one.
//
// A service's container joins such a namespace, so it has nothing but loopback; the proxy
// and the health checks reach it by opening their sockets inside that namespace, where the
// service's 127.0.0.1 is. A socket keeps the namespace it was created in, so only the
// creation switches namespaces, on the calling thread, and switches back at once.
// Thread-safe.
#pragma once

#include <filesystem>

#include "base/status.h"
#include "os/file.h"

namespace lockstep::os {

// Creates a new network namespace with loopback up, held by a bind mount on `file`
// (created; must not exist). Needs CAP_SYS_ADMIN.
Status CreateNetworkNamespace(const std::filesystem::path& file);

// Releases the namespace held on `file` and removes the file; nothing if it is not there.
Status RemoveNetworkNamespace(const std::filesystem::path& file);

// A socket(domain, type | SOCK_CLOEXEC) created inside the namespace held on `file`.
Result<UniqueFd> SocketIn(const std::filesystem::path& file, int domain, int type);

}  // namespace lockstep::os
