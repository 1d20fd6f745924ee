#include "cli/arguments.h"

#include "base/json.h"
#include "base/strings.h"

namespace lockstep::cli {

Result<std::vector<std::string>> ParseCommandFlag(const std::string& text,
                                                  const std::string& flag) {
  std::vector<std::string> out;
  if (!text.empty() && text.front() == '[') {
    Status refused = InvalidArgument(flag + " '" + text + "' is not a JSON array of strings");
    Result<json::Document> doc = json::Document::Parse(text, flag);
    if (!doc.ok()) return refused;
    Result<json::ArrayView> list = json::ArrayView::Of(doc->root(), flag);
    if (!list.ok()) return refused;
    for (size_t i = 0; i < list->size(); ++i) {
      if (!list->at(i).is_string()) return refused;
      out.emplace_back(list->at(i).as_string());
    }
    return out;
  }
  for (std::string_view word : Split(text, ' ')) {
    if (!word.empty()) out.emplace_back(word);
  }
  return out;
}

Status CheckKeyValue(const std::string& kv, const std::string& flag) {
  size_t eq = kv.find('=');
  if (eq == std::string::npos || eq == 0) {
    return InvalidArgument(flag + " '" + kv + "' must be KEY=VALUE");
  }
  return Status::Ok();
}

}  // namespace lockstep::cli
