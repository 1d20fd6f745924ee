#include "cli/engine_client.h"

#include <boost/json.hpp>
#include <cstdlib>

#include "base/strings.h"

namespace lockstep::cli {

std::string Str(const boost::json::value& v, std::string_view key) {
  const boost::json::value* m = v.is_object() ? v.as_object().if_contains(key) : nullptr;
  if (m == nullptr || m->is_null()) return "";
  if (m->is_string()) return std::string(m->as_string());
  return boost::json::serialize(*m);
}

bool Flag(const boost::json::value& v, std::string_view key) {
  const boost::json::value* m = v.is_object() ? v.as_object().if_contains(key) : nullptr;
  return m != nullptr && m->is_bool() && m->as_bool();
}

int64_t Number(const boost::json::value& v, std::string_view key) {
  const boost::json::value* m = v.is_object() ? v.as_object().if_contains(key) : nullptr;
  return m != nullptr && m->is_int64() ? m->as_int64() : 0;
}

namespace bj = boost::json;

void AddServerFlags(CLI::App& sub, ServerFlags& flags) {
  sub.add_option("--server", flags.server,
                 "URL of lockstep serve (default: $LOCKSTEP_URL, else http://127.0.0.1:5000)");
}

EngineClient::EngineClient(const ServerFlags& flags) : http_(client::HttpOptions{}) {
  const char* env = std::getenv("LOCKSTEP_URL");
  base_ = !flags.server.empty() ? flags.server
          : env != nullptr      ? std::string(env)
                                : "http://127.0.0.1:5000";
  while (!base_.empty() && base_.back() == '/') base_.pop_back();
  if (const char* token = std::getenv("LOCKSTEP_TOKEN")) token_ = token;
}

Result<bj::value> EngineClient::Get(const std::string& path, long* answer_status) {
  return Call("GET", path, "", answer_status);
}

Result<bj::value> EngineClient::Post(const std::string& path, const bj::value& body,
                                     long* answer_status) {
  return Call("POST", path, bj::serialize(body), answer_status);
}

Result<bj::value> EngineClient::Call(const std::string& method, const std::string& path,
                                     const std::string& body, long* answer_status) {
  LS_ASSIGN_OR_RETURN(client::HttpResponse resp,
                      Send(method, path, body, "application/json", answer_status));
  bj::error_code ec;
  bj::value v = bj::parse(resp.body, ec);
  if (ec) return Internal("lockstep serve answered /api/v1/" + path + " with no JSON");
  return v;
}

Result<client::HttpResponse> EngineClient::Send(const std::string& method, const std::string& path,
                                                const std::string& body,
                                                const std::string& content_type,
                                                long* answer_status) {
  client::HttpRequest req;
  req.method = method;
  req.url = base_ + "/api/v1/" + path;
  if (!token_.empty()) {
    req.headers.push_back("Authorization: Basic " + Base64Encode("lockstep:" + token_));
  }
  if (method == "POST") {
    req.headers.push_back("Content-Type: " + content_type);
    req.body = body;
    req.send_body = true;
  }
  Result<client::HttpResponse> resp = http_.Do(req);
  if (!resp.ok()) {
    return Unavailable("cannot reach lockstep serve at " + base_ + ": " + resp.status().message() +
                       " (start it with `lockstep serve`, or point --server or LOCKSTEP_URL "
                       "at it)");
  }
  if (answer_status != nullptr) *answer_status = resp->status;
  if (resp->status >= 200 && resp->status < 300) return std::move(*resp);
  bj::error_code ec;
  bj::value v = bj::parse(resp->body, ec);
  last_error_ = ec ? bj::value() : v;
  std::string message = "HTTP " + std::to_string(resp->status);
  if (!ec && v.is_object()) {
    if (const bj::value* e = v.as_object().if_contains("error"); e && e->is_object()) {
      if (const bj::value* m = e->as_object().if_contains("message"); m && m->is_string()) {
        message = std::string(m->as_string());
      }
    }
  }
  switch (resp->status) {
    case 400:
      return InvalidArgument(message);
    case 401:
      return Unauthenticated(message + " (set LOCKSTEP_TOKEN to a token of this server)");
    case 403:
      return PermissionDenied(message);
    case 404:
      return NotFound(message);
    case 409:
      return FailedPrecondition(message);
    case 423:
      return Aborted(message);
    case 422:
      return InvalidArgument(message);
    default:
      return Unavailable(message);
  }
}

}  // namespace lockstep::cli
