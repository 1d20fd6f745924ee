// The path router of `lockstep serve`: which handler answers a request target. A prefix
// route matches whole segments ("/v2" answers "/v2" and "/v2/...", never "/v2x"); an exact
// route only its own path; the longest match wins; the query string is ignored. A
// request no route matches goes to the fallback. Built before serving, then read-only
// (thread-safe to use from every connection).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "http/exchange.h"

namespace lockstep::http {

class Routes {
 public:
  void Prefix(std::string prefix, Handler handler);
  void Exact(std::string path, Handler handler);
  void Fallback(Handler handler);

  // The handler for `target` (path and query), or null when none matches and there is no
  // fallback.
  const Handler* Find(std::string_view target) const;

  // Dispatches an exchange; 404 when nothing matches.
  Task<void> Handle(Exchange& ex) const;

 private:
  struct Route {
    std::string path;
    bool prefix;
    Handler handler;
  };
  std::vector<Route> routes_;
  Handler fallback_;
};

}  // namespace lockstep::http
