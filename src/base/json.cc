#include "base/json.h"

#include <boost/json/parse.hpp>

namespace lockstep::json {

namespace bj = boost::json;

namespace {

std::string Named(const std::string& path) { return path.empty() ? "the document" : path; }

Status WrongType(const std::string& path, std::string_view want) {
  return InvalidArgument(Named(path) + " must be " + std::string(want));
}

}  // namespace

Result<Document> Document::Parse(std::string_view text, std::string_view what) {
  boost::system::error_code ec;
  // Deeply nested hostile input stops at Boost.JSON's depth limit (32 by default) with an
  // error, not a stack overflow.
  bj::value v = bj::parse(bj::string_view(text.data(), text.size()), ec);
  if (ec) return InvalidArgument(std::string(what) + " is not valid JSON: " + ec.message());
  Document d;
  d.root_ = std::move(v);
  return d;
}

Result<ObjectView> ObjectView::Of(const bj::value& v, std::string path) {
  const bj::object* o = v.if_object();
  if (o == nullptr) return WrongType(path, "an object");
  return ObjectView(o, std::move(path));
}

std::string ObjectView::PathOf(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

bool ObjectView::Has(std::string_view key) const { return Member(key) != nullptr; }

const bj::value* ObjectView::Raw(std::string_view key) const {
  return object_->if_contains(bj::string_view(key.data(), key.size()));
}

const bj::value* ObjectView::Member(std::string_view key) const {
  const bj::value* v = Raw(key);
  return v == nullptr || v->is_null() ? nullptr : v;
}

Result<std::optional<std::string>> ObjectView::OptionalString(std::string_view key) const {
  const bj::value* v = Member(key);
  if (v == nullptr) return std::optional<std::string>();
  if (!v->is_string()) return WrongType(PathOf(key), "a string");
  return std::optional<std::string>(std::string(v->as_string()));
}

Result<std::optional<uint64_t>> ObjectView::OptionalUint(std::string_view key) const {
  const bj::value* v = Member(key);
  if (v == nullptr) return std::optional<uint64_t>();
  if (v->is_uint64()) return std::optional<uint64_t>(v->as_uint64());
  if (v->is_int64() && v->as_int64() >= 0) {
    return std::optional<uint64_t>(static_cast<uint64_t>(v->as_int64()));
  }
  return WrongType(PathOf(key), "a non-negative integer");
}

Result<std::optional<bool>> ObjectView::OptionalBool(std::string_view key) const {
  const bj::value* v = Member(key);
  if (v == nullptr) return std::optional<bool>();
  if (!v->is_bool()) return WrongType(PathOf(key), "true or false");
  return std::optional<bool>(v->as_bool());
}

Result<std::optional<ObjectView>> ObjectView::OptionalObject(std::string_view key) const {
  const bj::value* v = Member(key);
  if (v == nullptr) return std::optional<ObjectView>();
  LS_ASSIGN_OR_RETURN(ObjectView o, Of(*v, PathOf(key)));
  return std::optional<ObjectView>(std::move(o));
}

Result<std::optional<ArrayView>> ObjectView::OptionalArray(std::string_view key) const {
  const bj::value* v = Member(key);
  if (v == nullptr) return std::optional<ArrayView>();
  LS_ASSIGN_OR_RETURN(ArrayView a, ArrayView::Of(*v, PathOf(key)));
  return std::optional<ArrayView>(std::move(a));
}

Result<std::string> ObjectView::String(std::string_view key) const {
  LS_ASSIGN_OR_RETURN(std::optional<std::string> s, OptionalString(key));
  if (!s) return WrongType(PathOf(key), "a string");
  return std::move(*s);
}

Result<uint64_t> ObjectView::Uint(std::string_view key) const {
  LS_ASSIGN_OR_RETURN(std::optional<uint64_t> n, OptionalUint(key));
  if (!n) return WrongType(PathOf(key), "a non-negative integer");
  return *n;
}

Result<int64_t> ObjectView::Int(std::string_view key) const {
  const bj::value* v = Member(key);
  if (v != nullptr && v->is_int64()) return v->as_int64();
  if (v != nullptr && v->is_uint64() && v->as_uint64() <= INT64_MAX) {
    return static_cast<int64_t>(v->as_uint64());
  }
  return WrongType(PathOf(key), "an integer");
}

Result<ObjectView> ObjectView::Object(std::string_view key) const {
  LS_ASSIGN_OR_RETURN(std::optional<ObjectView> o, OptionalObject(key));
  if (!o) return WrongType(PathOf(key), "an object");
  return std::move(*o);
}

Result<ArrayView> ObjectView::Array(std::string_view key) const {
  LS_ASSIGN_OR_RETURN(std::optional<ArrayView> a, OptionalArray(key));
  if (!a) return WrongType(PathOf(key), "an array");
  return std::move(*a);
}

Result<std::vector<std::string>> ObjectView::Strings(std::string_view key) const {
  LS_ASSIGN_OR_RETURN(std::optional<ArrayView> a, OptionalArray(key));
  std::vector<std::string> out;
  if (!a) return out;
  for (size_t i = 0; i < a->size(); ++i) {
    const bj::value& e = a->at(i);
    if (!e.is_string()) return WrongType(a->PathOf(i), "a string");
    out.emplace_back(e.as_string());
  }
  return out;
}

Result<ArrayView> ArrayView::Of(const bj::value& v, std::string path) {
  const bj::array* a = v.if_array();
  if (a == nullptr) return WrongType(path, "an array");
  return ArrayView(a, std::move(path));
}

Result<std::vector<ObjectView>> ArrayView::Objects() const {
  std::vector<ObjectView> out;
  out.reserve(size());
  for (size_t i = 0; i < size(); ++i) {
    LS_ASSIGN_OR_RETURN(ObjectView o, ObjectAt(i));
    out.push_back(std::move(o));
  }
  return out;
}

Result<std::string> ArrayView::StringAt(size_t i) const {
  if (!at(i).is_string()) return WrongType(PathOf(i), "a string");
  return std::string(at(i).as_string());
}

}  // namespace lockstep::json
