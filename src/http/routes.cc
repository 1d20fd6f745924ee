#include "http/routes.h"

namespace lockstep::http {

void Routes::Prefix(std::string prefix, Handler handler) {
  while (prefix.size() > 1 && prefix.back() == '/') prefix.pop_back();
  routes_.push_back({std::move(prefix), true, std::move(handler)});
}

void Routes::Exact(std::string path, Handler handler) {
  routes_.push_back({std::move(path), false, std::move(handler)});
}

void Routes::Fallback(Handler handler) { fallback_ = std::move(handler); }

const Handler* Routes::Find(std::string_view target) const {
  std::string_view path = target.substr(0, target.find('?'));
  const Route* best = nullptr;
  for (const Route& r : routes_) {
    bool matches = r.prefix ? path == r.path || (path.starts_with(r.path) &&
                                                 (r.path == "/" || path[r.path.size()] == '/'))
                            : path == r.path;
    if (matches && (best == nullptr || r.path.size() > best->path.size())) best = &r;
  }
  if (best != nullptr) return &best->handler;
  return fallback_ ? &fallback_ : nullptr;
}

Task<void> Routes::Handle(Exchange& ex) const {
  if (const Handler* h = Find(ex.request().target)) co_return co_await (*h)(ex);
  Response r;
  r.status = 404;
  r.Set("Content-Type", "text/plain; charset=utf-8");
  r.body = "no endpoint at this path\n";
  co_await ex.Send(std::move(r));
}

}  // namespace lockstep::http
