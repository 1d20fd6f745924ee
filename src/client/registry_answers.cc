#include "client/registry_answers.h"

#include "base/json.h"
#include "base/strings.h"

namespace lockstep::client {

namespace {

// The root object of `body`, if it is one.
std::optional<json::ObjectView> RootOf(const Result<json::Document>& doc) {
  if (!doc.ok()) return std::nullopt;
  Result<json::ObjectView> root = json::ObjectView::Of(*doc, "");
  if (!root.ok()) return std::nullopt;
  return *root;
}
// A view of a temporary document would dangle.
std::optional<json::ObjectView> RootOf(const Result<json::Document>&& doc) = delete;

}  // namespace

Challenge ParseChallenge(std::string_view header) {
  Challenge c;
  header = Trim(header);
  size_t space = header.find(' ');
  c.scheme = std::string(header.substr(0, space));
  for (char& ch : c.scheme) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  std::string_view rest = space == std::string_view::npos ? "" : header.substr(space + 1);
  while (!rest.empty()) {
    size_t eq = rest.find('=');
    if (eq == std::string_view::npos) break;
    std::string key(Trim(rest.substr(0, eq)));
    rest = rest.substr(eq + 1);
    std::string value;
    if (!rest.empty() && rest[0] == '"') {
      size_t end = rest.find('"', 1);
      value = std::string(
          rest.substr(1, end == std::string_view::npos ? std::string_view::npos : end - 1));
      rest = end == std::string_view::npos ? "" : rest.substr(end + 1);
    } else {
      size_t comma = rest.find(',');
      value = std::string(Trim(rest.substr(0, comma)));
      rest = comma == std::string_view::npos ? "" : rest.substr(comma);
    }
    c.params[key] = value;
    size_t comma = rest.find(',');
    rest = comma == std::string_view::npos ? "" : rest.substr(comma + 1);
  }
  return c;
}

std::optional<std::string> ParseTokenAnswer(std::string_view body) {
  Result<json::Document> doc = json::Document::Parse(body, "token answer");
  std::optional<json::ObjectView> root = RootOf(doc);
  if (!root) return std::nullopt;
  for (std::string_view key : {"token", "access_token"}) {
    Result<std::optional<std::string>> token = root->OptionalString(key);
    if (token.ok() && *token && !(*token)->empty()) return **token;
  }
  return std::nullopt;
}

std::string ErrorDetail(std::string_view body) {
  std::string detail;
  Result<json::Document> doc = json::Document::Parse(body, "error body");
  if (std::optional<json::ObjectView> root = RootOf(doc)) {
    Result<std::optional<json::ArrayView>> errors = root->OptionalArray("errors");
    if (errors.ok() && *errors && (*errors)->size() > 0) {
      if (Result<json::ObjectView> first = (*errors)->ObjectAt(0); first.ok()) {
        Result<std::optional<std::string>> code = first->OptionalString("code");
        Result<std::optional<std::string>> message = first->OptionalString("message");
        if (code.ok() && *code) detail = **code;
        if (message.ok() && *message) detail += (detail.empty() ? "" : ": ") + **message;
      }
    }
  }
  if (detail.empty()) detail = std::string(Trim(body.substr(0, 200)));
  return detail.empty() ? "no details" : detail;
}

std::vector<std::string> ParseTagPage(std::string_view body) {
  std::vector<std::string> tags;
  Result<json::Document> doc = json::Document::Parse(body, "tag list");
  std::optional<json::ObjectView> root = RootOf(doc);
  if (!root) return tags;
  Result<std::optional<json::ArrayView>> list = root->OptionalArray("tags");
  if (!list.ok() || !*list) return tags;
  for (size_t i = 0; i < (*list)->size(); ++i) {
    const auto& t = (*list)->at(i);
    if (t.is_string()) tags.emplace_back(t.as_string());
  }
  return tags;
}

std::string NextLink(std::string_view link) {
  size_t open = link.find('<'), close = link.find('>');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open ||
      link.find("rel=\"next\"", close) == std::string_view::npos) {
    return "";
  }
  return std::string(link.substr(open + 1, close - open - 1));
}

std::string DeclaredMediaType(std::string_view body) {
  Result<json::Document> doc = json::Document::Parse(body, "manifest");
  std::optional<json::ObjectView> root = RootOf(doc);
  if (!root) return "";
  Result<std::optional<std::string>> mt = root->OptionalString("mediaType");
  return mt.ok() && *mt ? **mt : "";
}

}  // namespace lockstep::client
