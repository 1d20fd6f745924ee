#include "api/engine/access.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace lockstep::api {

namespace {

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

Status WebhookAllowed(const http::Request& req, const std::string& body,
                      const std::string& secret) {
  if (secret.empty()) {
    return PermissionDenied(
        "the webhook is off: set [deploy] webhook_secret in the server's config.toml");
  }
  std::string_view signature = req.Header("x-hub-signature-256");
  if (!signature.empty()) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string expected = "sha256=";
    for (unsigned int i = 0; i < len; ++i) {
      expected += kHex[mac[i] >> 4];
      expected += kHex[mac[i] & 15];
    }
    if (ConstantTimeEquals(signature, expected)) return Status::Ok();
  } else {
    std::string_view given = req.Header("x-gitlab-token");
    if (given.empty()) given = req.Header("x-lockstep-secret");
    if (!given.empty() && ConstantTimeEquals(given, secret)) return Status::Ok();
  }
  return Unauthenticated(
      "the webhook needs [deploy] webhook_secret: as GitHub's X-Hub-Signature-256, GitLab's "
      "X-Gitlab-Token or an X-Lockstep-Secret header");
}

}  // namespace lockstep::api
