// The one error model of lockstep: a Status (code + message + optional reason) and a
// Result<T> that holds either a value or a failed Status. Functions that can fail
// return one of these; exceptions never cross a module boundary.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace lockstep {

enum class Code {
  kOk,
  kInvalidArgument,     // the caller's input is malformed
  kNotFound,            // the named thing does not exist
  kAlreadyExists,       // the thing exists and may not be replaced
  kFailedPrecondition,  // the system is not in a state where this may run
  kPermissionDenied,    // authenticated, but not allowed
  kUnauthenticated,     // no or bad credentials
  kOutOfRange,          // offsets, ranges and sizes beyond what is allowed
  kAborted,             // interrupted (client went away, concurrent change)
  kUnavailable,         // a dependency is down; retrying may help
  kIo,                  // the operating system refused (disk full, permissions)
  kInternal,            // a bug or a broken invariant
};

std::string_view CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message, std::string reason = {})
      : code_(code), message_(std::move(message)), reason_(std::move(reason)) {}

  static Status Ok() { return {}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // A machine-readable reason a protocol layer can forward (e.g. an OCI error code such
  // as "MANIFEST_BLOB_UNKNOWN"); empty when the code says enough.
  const std::string& reason() const { return reason_; }

  // "not found: blob sha256:..."
  std::string ToString() const;

  // Returns a copy whose message is "context: message".
  Status WithContext(std::string_view context) const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
  std::string reason_;
};

inline Status InvalidArgument(std::string m, std::string reason = {}) {
  return {Code::kInvalidArgument, std::move(m), std::move(reason)};
}
inline Status NotFound(std::string m, std::string reason = {}) {
  return {Code::kNotFound, std::move(m), std::move(reason)};
}
inline Status AlreadyExists(std::string m, std::string reason = {}) {
  return {Code::kAlreadyExists, std::move(m), std::move(reason)};
}
inline Status FailedPrecondition(std::string m, std::string reason = {}) {
  return {Code::kFailedPrecondition, std::move(m), std::move(reason)};
}
inline Status PermissionDenied(std::string m) { return {Code::kPermissionDenied, std::move(m)}; }
inline Status Unauthenticated(std::string m) { return {Code::kUnauthenticated, std::move(m)}; }
inline Status OutOfRange(std::string m, std::string reason = {}) {
  return {Code::kOutOfRange, std::move(m), std::move(reason)};
}
inline Status Aborted(std::string m) { return {Code::kAborted, std::move(m)}; }
inline Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
inline Status IoError(std::string m) { return {Code::kIo, std::move(m)}; }
inline Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }

// Ends the process with `status` in the message: what value() of a failed Result does.
[[noreturn]] void DieOnValueOfFailedResult(const Status& status);

// Holds a T or a failed Status. Accessing value() of a failed Result is a bug: it stops
// the process with the error in every build, never reads a variant that is not there.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT: implicit by design
    assert(!std::get<Status>(v_).ok() && "a Result needs a value or an error");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & {
    Check();
    return *std::get_if<T>(&v_);
  }
  const T& value() const& {
    Check();
    return *std::get_if<T>(&v_);
  }
  T&& value() && {
    Check();
    return std::move(*std::get_if<T>(&v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }

 private:
  void Check() const {
    if (const Status* s = std::get_if<Status>(&v_)) DieOnValueOfFailedResult(*s);
  }
  std::variant<T, Status> v_;
};

}  // namespace lockstep

// Early-return helpers. LS_RETURN_IF_ERROR(expr) returns expr's Status when it failed;
// LS_ASSIGN_OR_RETURN(lhs, expr) unwraps a Result or returns its Status.
#define LS_CONCAT_INNER(a, b) a##b
#define LS_CONCAT(a, b) LS_CONCAT_INNER(a, b)
#define LS_RETURN_IF_ERROR(expr)             \
  do {                                       \
    ::lockstep::Status ls_status_ = (expr);  \
    if (!ls_status_.ok()) return ls_status_; \
  } while (false)
#define LS_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                             \
  if (!tmp.ok()) return tmp.status();            \
  lhs = std::move(tmp).value()
#define LS_ASSIGN_OR_RETURN(lhs, expr) \
  LS_ASSIGN_OR_RETURN_IMPL(LS_CONCAT(ls_result_, __LINE__), lhs, expr)
