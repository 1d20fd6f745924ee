#include "core/digest.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdlib>

#include "base/strings.h"

namespace lockstep {

namespace {

size_t HexLength(DigestAlgorithm a) { return a == DigestAlgorithm::kSha256 ? 64 : 128; }

const EVP_MD* Md(DigestAlgorithm a) {
  return a == DigestAlgorithm::kSha256 ? EVP_sha256() : EVP_sha512();
}

}  // namespace

Result<Digest> Digest::Parse(std::string_view text) {
  size_t colon = text.find(':');
  if (colon == std::string_view::npos) {
    return InvalidArgument("digest '" + std::string(text) + "' has no 'algorithm:' prefix",
                           "DIGEST_INVALID");
  }
  std::string_view alg = text.substr(0, colon);
  std::string_view hex = text.substr(colon + 1);
  DigestAlgorithm a;
  if (alg == "sha256") {
    a = DigestAlgorithm::kSha256;
  } else if (alg == "sha512") {
    a = DigestAlgorithm::kSha512;
  } else {
    return InvalidArgument(
        "digest algorithm '" + std::string(alg) + "' is not supported (use sha256 or sha512)",
        "DIGEST_INVALID");
  }
  if (hex.size() != HexLength(a)) {
    return InvalidArgument(std::string(alg) + " digests have " + std::to_string(HexLength(a)) +
                               " hex characters, got " + std::to_string(hex.size()),
                           "DIGEST_INVALID");
  }
  for (char c : hex) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return InvalidArgument("digest '" + std::string(text) + "' must be lowercase hex",
                             "DIGEST_INVALID");
    }
  }
  return Digest(a, std::string(hex));
}

Digest Digest::FromHex(DigestAlgorithm algorithm, std::string hex) {
  return Digest(algorithm, std::move(hex));
}

std::string_view Digest::algorithm_name() const {
  return algorithm_ == DigestAlgorithm::kSha256 ? "sha256" : "sha512";
}

struct Hasher::Ctx {
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  ~Ctx() { EVP_MD_CTX_free(md); }
};

Hasher::Hasher(DigestAlgorithm algorithm) : algorithm_(algorithm), ctx_(std::make_unique<Ctx>()) {
  if (ctx_->md == nullptr || EVP_DigestInit_ex(ctx_->md, Md(algorithm), nullptr) != 1) {
    std::abort();  // only fails when OpenSSL is out of memory or broken
  }
}

Hasher::Hasher(const Hasher& other) : algorithm_(other.algorithm_), ctx_(std::make_unique<Ctx>()) {
  if (EVP_MD_CTX_copy_ex(ctx_->md, other.ctx_->md) != 1) std::abort();
}

Hasher& Hasher::operator=(const Hasher& other) {
  if (this != &other) {
    algorithm_ = other.algorithm_;
    if (EVP_MD_CTX_copy_ex(ctx_->md, other.ctx_->md) != 1) std::abort();
  }
  return *this;
}

Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;
Hasher::~Hasher() = default;

void Hasher::Update(std::string_view data) {
  if (EVP_DigestUpdate(ctx_->md, data.data(), data.size()) != 1) std::abort();
}

Digest Hasher::Finish() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_->md, out, &len) != 1) std::abort();
  return Digest::FromHex(algorithm_,
                         HexEncode(std::string_view(reinterpret_cast<char*>(out), len)));
}

Digest DigestOf(std::string_view data, DigestAlgorithm algorithm) {
  Hasher h(algorithm);
  h.Update(data);
  return h.Finish();
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), out,
           &len) == nullptr) {
    std::abort();
  }
  return std::string(reinterpret_cast<char*>(out), len);
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace lockstep
