#include "api/registry/oci_errors.h"

#include <boost/json.hpp>
#include <iostream>

#include "os/file.h"

namespace lockstep::api {

namespace {

int StatusFor(const Status& s, std::string_view code) {
  if (code == "BLOB_UNKNOWN" || code == "MANIFEST_UNKNOWN" || code == "NAME_UNKNOWN" ||
      code == "BLOB_UPLOAD_UNKNOWN") {
    return 404;
  }
  if (code == "UNAUTHORIZED") return 401;
  if (code == "RANGE_INVALID") return 416;
  switch (s.code()) {
    case Code::kInvalidArgument:
      return 400;
    case Code::kNotFound:
      return 404;
    case Code::kAlreadyExists:
      return 409;
    case Code::kFailedPrecondition:
      return code == "BLOB_UPLOAD_INVALID" ? 400 : 409;
    case Code::kPermissionDenied:
      return 403;
    case Code::kUnauthenticated:
      return 401;
    case Code::kOutOfRange:
      return code == "SIZE_INVALID" ? 413 : 416;
    case Code::kAborted:
      return 400;
    case Code::kUnavailable:
      return 503;
    case Code::kIo:
    case Code::kInternal:
    case Code::kOk:
      return 500;
  }
  return 500;
}

}  // namespace

http::Response OciError(int http_status, std::string_view code, std::string_view message) {
  boost::json::object error;
  error["code"] = code;
  error["message"] = message;
  error["detail"] = nullptr;
  boost::json::object body;
  body["errors"] = boost::json::array{std::move(error)};
  http::Response r;
  r.status = http_status;
  r.Set("Content-Type", "application/json");
  r.body = boost::json::serialize(body);
  return r;
}

http::Response OciError(const Status& status, std::string_view fallback_code) {
  std::string_view code = status.reason().empty() ? fallback_code : status.reason();
  if (status.code() == Code::kUnauthenticated) code = "UNAUTHORIZED";
  if (status.code() == Code::kPermissionDenied) code = "DENIED";
  if (status.code() == Code::kIo && status.reason() == os::kNoSpace) {
    std::cerr << "lockstep: out of disk space: " << status.message() << "\n";
    return OciError(507, "UNKNOWN",
                    "the registry is out of disk space, so nothing of this request was kept; "
                    "retry once its operator has freed space");
  }
  if (status.code() == Code::kIo || status.code() == Code::kInternal) {
    // The details name server paths: they go to the server's log, not to the client.
    std::cerr << "lockstep: request failed: " << status.ToString() << "\n";
    return OciError(500, "UNKNOWN", "the registry could not complete the request; see its log");
  }
  return OciError(StatusFor(status, code), code, status.message());
}

}  // namespace lockstep::api
