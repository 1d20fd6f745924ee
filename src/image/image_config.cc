#include "image/image_config.h"

#include "base/json.h"

namespace lockstep::image {

Result<ImageConfig> ParseImageConfig(std::string_view text) {
  LS_ASSIGN_OR_RETURN(json::Document doc, json::Document::Parse(text, "image config"));
  LS_ASSIGN_OR_RETURN(json::ObjectView root, json::ObjectView::Of(doc, ""));
  ImageConfig c;
  LS_ASSIGN_OR_RETURN(std::optional<json::ObjectView> run, root.OptionalObject("config"));
  if (run) {
    LS_ASSIGN_OR_RETURN(c.entrypoint, run->Strings("Entrypoint"));
    LS_ASSIGN_OR_RETURN(c.cmd, run->Strings("Cmd"));
    LS_ASSIGN_OR_RETURN(c.env, run->Strings("Env"));
    LS_ASSIGN_OR_RETURN(std::optional<std::string> dir, run->OptionalString("WorkingDir"));
    LS_ASSIGN_OR_RETURN(std::optional<std::string> user, run->OptionalString("User"));
    c.working_dir = dir.value_or("");
    c.user = user.value_or("");
  }
  LS_ASSIGN_OR_RETURN(std::optional<json::ObjectView> rootfs, root.OptionalObject("rootfs"));
  if (rootfs) {
    LS_ASSIGN_OR_RETURN(std::vector<std::string> diff_ids, rootfs->Strings("diff_ids"));
    for (size_t i = 0; i < diff_ids.size(); ++i) {
      Result<Digest> d = Digest::Parse(diff_ids[i]);
      if (!d.ok()) {
        return InvalidArgument("rootfs.diff_ids[" + std::to_string(i) +
                               "]: " + d.status().message());
      }
      c.diff_ids.push_back(*d);
    }
  }
  return c;
}

}  // namespace lockstep::image
