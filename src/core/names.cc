#include "core/names.h"

namespace lockstep {

namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// One path component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
bool ValidComponent(std::string_view c) {
  if (c.empty() || !IsLowerAlnum(c.front()) || !IsLowerAlnum(c.back())) return false;
  size_t i = 0;
  while (i < c.size()) {
    if (IsLowerAlnum(c[i])) {
      ++i;
      continue;
    }
    // A separator run: ".", "_", "__" or one or more "-".
    size_t start = i;
    char sep = c[i];
    while (i < c.size() && c[i] == sep) ++i;
    size_t run = i - start;
    bool ok = (sep == '.' && run == 1) || (sep == '_' && run <= 2) || sep == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

Status ValidateRepositoryName(std::string_view name) {
  if (name.empty()) return InvalidArgument("repository name is empty", "NAME_INVALID");
  if (name.size() > kMaxRepositoryNameLength) {
    return InvalidArgument("repository name is longer than 255 characters", "NAME_INVALID");
  }
  size_t start = 0;
  while (start <= name.size()) {
    size_t slash = name.find('/', start);
    std::string_view comp = name.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (!ValidComponent(comp)) {
      return InvalidArgument("repository name '" + std::string(name) +
                                 "' is invalid: components are lowercase letters and digits, "
                                 "joined by '.', '_', '__' or '-', separated by '/'",
                             "NAME_INVALID");
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return Status::Ok();
}

Status ValidateTag(std::string_view tag) {
  auto invalid = [&] {
    return InvalidArgument("tag '" + std::string(tag) +
                               "' is invalid: up to 128 of [A-Za-z0-9_.-], not starting "
                               "with '.' or '-'",
                           "TAG_INVALID");
  };
  if (tag.empty() || tag.size() > 128) return invalid();
  auto word = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  };
  if (!word(tag.front())) return invalid();
  for (char c : tag) {
    if (!word(c) && c != '.' && c != '-') return invalid();
  }
  return Status::Ok();
}

Result<Reference> Reference::Parse(std::string_view text) {
  if (text.find(':') != std::string_view::npos) {
    LS_ASSIGN_OR_RETURN(Digest d, Digest::Parse(text));
    return Reference{d};
  }
  LS_RETURN_IF_ERROR(ValidateTag(text));
  return Reference{std::string(text)};
}

}  // namespace lockstep
