// The routing table of the local target: switched in one step, saved to routes.json
// (atomically) before it is published, so after a crash the saved routes are never older
// than what the proxy last served.
#include <boost/json.hpp>

#include "base/json.h"
#include "os/file.h"
#include "runtime/local/local_target.h"
#include "runtime/local/local_target_internal.h"
#include "runtime/switch_routes.h"

namespace lockstep::runtime::local {

namespace fs = std::filesystem;
namespace bj = boost::json;

Status LocalTarget::SwitchRoutes(const std::string& environment, const RouteChanges& changes) {
  std::lock_guard switching(routes_mutex_);
  std::shared_ptr<const RoutingTable> next;
  {
    std::lock_guard lock(mutex_);
    RoutableInstance seen;
    auto find = [&](const std::string& id) -> const RoutableInstance* {
      auto it = instances_.find(id);
      if (it == instances_.end()) return nullptr;
      const Instance& i = *it->second;
      seen = {i.id,       i.where.environment, i.where.service, i.health.state, i.health.last_error,
              i.retiring, "127.0.0.1",         i.port,          i.netns};
      return &seen;
    };
    LS_ASSIGN_OR_RETURN(next, NextRoutingTable(*router_->Current(), environment, changes, find));
  }
  return PublishRoutes(std::move(next));
}

Status LocalTarget::PublishRoutes(std::shared_ptr<const RoutingTable> table) {
  bj::array routes;
  for (const auto& [port, b] : table->by_port) {
    routes.push_back({{"environment", b->environment},
                      {"service", b->service},
                      {"public_port", port},
                      {"instance", b->instance_id},
                      {"backend_port", b->port},
                      {"netns", b->netns}});
  }
  LS_RETURN_IF_ERROR(os::WriteFileAtomic(options_.dir / "routes.json",
                                         bj::serialize(bj::object{{"routes", routes}})));
  router_->Publish(std::move(table));
  return Status::Ok();
}

namespace {

// A port number from routes.json.
Result<uint16_t> Port(const json::ObjectView& o, std::string_view key) {
  LS_ASSIGN_OR_RETURN(uint64_t port, o.Uint(key));
  if (port == 0 || port > 65535) return InvalidArgument(o.PathOf(key) + " is not a port");
  return static_cast<uint16_t>(port);
}

Result<std::shared_ptr<RoutingTable>> ParseRoutes(std::string_view text) {
  LS_ASSIGN_OR_RETURN(json::Document doc, json::Document::Parse(text, "the file"));
  LS_ASSIGN_OR_RETURN(json::ObjectView root, json::ObjectView::Of(doc, ""));
  LS_ASSIGN_OR_RETURN(json::ArrayView routes, root.Array("routes"));
  LS_ASSIGN_OR_RETURN(std::vector<json::ObjectView> entries, routes.Objects());
  auto table = std::make_shared<RoutingTable>();
  for (const json::ObjectView& o : entries) {
    Backend b;
    LS_ASSIGN_OR_RETURN(uint16_t public_port, Port(o, "public_port"));
    LS_ASSIGN_OR_RETURN(b.instance_id, o.String("instance"));
    LS_ASSIGN_OR_RETURN(b.environment, o.String("environment"));
    LS_ASSIGN_OR_RETURN(b.service, o.String("service"));
    LS_ASSIGN_OR_RETURN(b.port, Port(o, "backend_port"));
    LS_ASSIGN_OR_RETURN(std::optional<std::string> netns, o.OptionalString("netns"));
    b.netns = netns.value_or("");
    table->by_port[public_port] = std::make_shared<const Backend>(std::move(b));
  }
  return table;
}

}  // namespace

Status LocalTarget::LoadRoutes() {
  fs::path file = options_.dir / "routes.json";
  Result<std::string> text = os::ReadFile(file);
  if (!text.ok()) return Status::Ok();  // nothing routed yet
  Result<std::shared_ptr<RoutingTable>> table = ParseRoutes(*text);
  if (!table.ok()) {
    return Internal(file.string() + " is damaged: " + table.status().message() +
                    "; fix or remove it (the next switch writes it anew)");
  }
  router_->Publish(std::move(*table));
  return Status::Ok();
}

}  // namespace lockstep::runtime::local
