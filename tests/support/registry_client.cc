#include "tests/support/registry_client.h"

namespace lockstep::testing {

HttpResponse RegistryClient::Do(std::string method, const std::string& path, std::string body,
                                std::vector<std::string> headers) const {
  HttpRequest req;
  req.method = std::move(method);
  req.url = path.rfind("http", 0) == 0 ? path : base_ + path;
  req.headers = std::move(headers);
  req.send_body = req.method == "PUT" || req.method == "POST" || req.method == "PATCH";
  req.body = std::move(body);
  if (!token_.empty()) {
    req.basic_user = "test";
    req.basic_password = token_;
  }
  return Send(req);
}

std::string RegistryClient::StartUpload(const std::string& repo) const {
  HttpResponse r = Do("POST", "/v2/" + repo + "/blobs/uploads/");
  return r.status == 202 ? r.Header("location") : "";
}

std::string RegistryClient::PushBlob(const std::string& repo, const std::string& content) const {
  std::string digest = Sha(content);
  HttpResponse r = Do("POST", "/v2/" + repo + "/blobs/uploads/?digest=" + digest, content,
                      {"Content-Type: application/octet-stream"});
  return r.status == 201 ? digest : "";
}

std::string RegistryClient::PushImageParts(const std::string& repo, const std::string& seed,
                                           const std::string& extra_fields) const {
  std::string config = "{\"seed\":\"" + seed + "\"}";
  std::string layer = "layer-" + seed;
  PushBlob(repo, config);
  PushBlob(repo, layer);
  return R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
         Sha(config) + R"(","size":)" + std::to_string(config.size()) +
         R"(},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")" +
         Sha(layer) + R"(","size":)" + std::to_string(layer.size()) + "}]" + extra_fields + "}";
}

HttpResponse RegistryClient::PutManifest(const std::string& repo, const std::string& ref,
                                         const std::string& body) const {
  return Do("PUT", "/v2/" + repo + "/manifests/" + ref, body,
            {"Content-Type: application/vnd.oci.image.manifest.v1+json"});
}

}  // namespace lockstep::testing
