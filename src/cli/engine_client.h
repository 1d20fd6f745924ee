// The CLI's side of the engine's JSON API (/api/v1/ on lockstep serve): where the server
// is (--server, else $LOCKSTEP_URL, else http://127.0.0.1:5000) and the token it is called
// with ($LOCKSTEP_TOKEN, sent as Basic credentials). An error answer becomes a Status
// carrying the server's message.
#pragma once

#include <CLI/CLI.hpp>
#include <boost/json/value.hpp>
#include <string>

#include "base/status.h"
#include "client/http.h"

namespace lockstep::cli {

struct ServerFlags {
  std::string server;  // empty: $LOCKSTEP_URL, else the default
};
void AddServerFlags(CLI::App& sub, ServerFlags& flags);

// Fields of an answer, for printing: a string as it is, any other value as JSON, "" (or
// false, 0) when absent or null.
std::string Str(const boost::json::value& v, std::string_view key);
bool Flag(const boost::json::value& v, std::string_view key);
int64_t Number(const boost::json::value& v, std::string_view key);

class EngineClient {
 public:
  explicit EngineClient(const ServerFlags& flags);

  // The answer's JSON (any 2xx); for another status, a Status with the server's message.
  // `answer_status` receives the HTTP status when given.
  Result<boost::json::value> Get(const std::string& path, long* answer_status = nullptr);
  Result<boost::json::value> Post(const std::string& path, const boost::json::value& body,
                                  long* answer_status = nullptr);

  // Any request, its answer as it came (any 2xx); errors as Get's. For what is not JSON:
  // logs, a function's event and output.
  Result<client::HttpResponse> Send(const std::string& method, const std::string& path,
                                    const std::string& body, const std::string& content_type,
                                    long* answer_status = nullptr);

  // The last answer's body, when it was JSON (problems of a 422, say).
  const boost::json::value& last_error() const { return last_error_; }

 private:
  Result<boost::json::value> Call(const std::string& method, const std::string& path,
                                  const std::string& body, long* answer_status);

  std::string base_;
  std::string token_;
  client::HttpClient http_;
  boost::json::value last_error_;
};

}  // namespace lockstep::cli
