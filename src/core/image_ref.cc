#include "core/image_ref.h"

#include "core/names.h"

namespace lockstep {

Result<ImageRef> ImageRef::Parse(std::string_view text, std::string_view default_registry) {
  ImageRef ref;
  std::string_view rest = text;
  if (size_t at = rest.find('@'); at != std::string_view::npos) {
    LS_ASSIGN_OR_RETURN(Digest d, Digest::Parse(rest.substr(at + 1)));
    ref.digest = d;
    rest = rest.substr(0, at);
  }
  size_t slash = rest.find('/');
  std::string_view first = rest.substr(0, slash);
  if (slash != std::string_view::npos &&
      (first.find('.') != std::string_view::npos || first.find(':') != std::string_view::npos ||
       first == "localhost" || first == "embedded")) {
    ref.registry = std::string(first);
    rest = rest.substr(slash + 1);
  } else if (!default_registry.empty()) {
    ref.registry = std::string(default_registry);
  } else {
    return InvalidArgument("image reference '" + std::string(text) +
                           "' names no registry: write REGISTRY/NAME or set LOCKSTEP_REGISTRY");
  }
  size_t last_slash = rest.rfind('/');
  size_t colon = rest.find(':', last_slash == std::string_view::npos ? 0 : last_slash);
  if (colon != std::string_view::npos) {
    std::string_view tag = rest.substr(colon + 1);
    LS_RETURN_IF_ERROR(ValidateTag(tag).WithContext("image reference '" + std::string(text) + "'"));
    ref.tag = std::string(tag);
    rest = rest.substr(0, colon);
  }
  LS_RETURN_IF_ERROR(
      ValidateRepositoryName(rest).WithContext("image reference '" + std::string(text) + "'"));
  ref.repository = std::string(rest);
  if (!ref.tag && !ref.digest) ref.tag = "latest";
  return ref;
}

std::string ImageRef::reference() const { return digest ? digest->str() : *tag; }

std::string ImageRef::str() const {
  std::string out = registry + "/" + repository;
  if (tag) out += ":" + *tag;
  if (digest) out += "@" + digest->str();
  return out;
}

}  // namespace lockstep
