// Reading JSON that comes from outside (manifests, configs, registry answers, files other
// programs wrote) without exceptions: Boost.JSON parses with its error_code overloads, and
// every accessor returns a Result whose error names the field by its path
// ("manifests[2].digest must be a string"), so callers only pass errors on.
//
// Views refer to a value the caller owns (a `Document`); they must not outlive it.
// Writing JSON uses Boost.JSON directly.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace lockstep::json {

// A parsed document. Parse errors are kInvalidArgument and say where the text broke.
class Document {
 public:
  // `what` names the text in errors ("manifest", "/etc/docker/config.json").
  static Result<Document> Parse(std::string_view text, std::string_view what);

  const boost::json::value& root() const& { return root_; }
  // The root of a temporary document would dangle.
  const boost::json::value& root() const&& = delete;

 private:
  boost::json::value root_;
};

class ArrayView;

// An object found at `path` ("" for a document's root).
class ObjectView {
 public:
  // kInvalidArgument unless `v` is an object.
  static Result<ObjectView> Of(const boost::json::value& v, std::string path);
  static Result<ObjectView> Of(const Document& d, std::string path) {
    return Of(d.root(), std::move(path));
  }
  // A view of a temporary would dangle.
  static Result<ObjectView> Of(const Document&& d, std::string path) = delete;
  static Result<ObjectView> Of(const boost::json::value&& v, std::string path) = delete;

  const std::string& path() const { return path_; }
  bool Has(std::string_view key) const;
  // The member as it is, or null: for values kept whole (annotations to copy, say).
  const boost::json::value* Raw(std::string_view key) const;
  const boost::json::object& object() const { return *object_; }

  // Required members: absent or of another type is an error naming the field.
  Result<std::string> String(std::string_view key) const;
  Result<uint64_t> Uint(std::string_view key) const;  // a non-negative integer
  Result<int64_t> Int(std::string_view key) const;
  Result<ObjectView> Object(std::string_view key) const;
  Result<ArrayView> Array(std::string_view key) const;

  // Optional members: absent (or null) gives nullopt; present of another type is an error.
  Result<std::optional<std::string>> OptionalString(std::string_view key) const;
  Result<std::optional<uint64_t>> OptionalUint(std::string_view key) const;
  Result<std::optional<bool>> OptionalBool(std::string_view key) const;
  Result<std::optional<ObjectView>> OptionalObject(std::string_view key) const;
  Result<std::optional<ArrayView>> OptionalArray(std::string_view key) const;
  // An array of strings, empty when absent.
  Result<std::vector<std::string>> Strings(std::string_view key) const;

  // "path.key", for messages about a member.
  std::string PathOf(std::string_view key) const;

 private:
  ObjectView(const boost::json::object* o, std::string path) : object_(o), path_(std::move(path)) {}
  const boost::json::value* Member(std::string_view key) const;  // null when absent or null

  const boost::json::object* object_;
  std::string path_;
};

// An array found at `path`.
class ArrayView {
 public:
  static Result<ArrayView> Of(const boost::json::value& v, std::string path);
  static Result<ArrayView> Of(const boost::json::value&& v, std::string path) = delete;

  const std::string& path() const { return path_; }
  size_t size() const { return array_->size(); }
  const boost::json::value& at(size_t i) const { return (*array_)[i]; }
  // "path[i]".
  std::string PathOf(size_t i) const { return path_ + "[" + std::to_string(i) + "]"; }
  // Element `i` as an object (kInvalidArgument otherwise).
  Result<ObjectView> ObjectAt(size_t i) const { return ObjectView::Of(at(i), PathOf(i)); }
  // Every element as an object.
  Result<std::vector<ObjectView>> Objects() const;
  // Element `i` as a string (kInvalidArgument otherwise).
  Result<std::string> StringAt(size_t i) const;

 private:
  ArrayView(const boost::json::array* a, std::string path) : array_(a), path_(std::move(path)) {}

  const boost::json::array* array_;
  std::string path_;
};

}  // namespace lockstep::json
