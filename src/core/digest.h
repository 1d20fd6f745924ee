// Content addresses. A Digest is "algorithm:hex" as the OCI image spec defines it;
// lockstep accepts sha256 (the default) and sha512, always lowercase hex.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace lockstep {

enum class DigestAlgorithm { kSha256, kSha512 };

class Digest {
 public:
  // An empty digest, only as a placeholder before assignment; str() of it is "sha256:".
  Digest() = default;
  // Validates the whole string; errors say what is wrong ("sha256 digests have 64 hex
  // characters, got 12").
  static Result<Digest> Parse(std::string_view text);
  static Digest FromHex(DigestAlgorithm algorithm, std::string hex);

  DigestAlgorithm algorithm() const { return algorithm_; }
  std::string_view algorithm_name() const;
  const std::string& hex() const { return hex_; }
  std::string str() const { return std::string(algorithm_name()) + ":" + hex_; }

  friend bool operator==(const Digest&, const Digest&) = default;
  friend auto operator<=>(const Digest& a, const Digest& b) { return a.str() <=> b.str(); }

 private:
  Digest(DigestAlgorithm a, std::string hex) : algorithm_(a), hex_(std::move(hex)) {}
  DigestAlgorithm algorithm_ = DigestAlgorithm::kSha256;
  std::string hex_;
};

// Incremental hashing (OpenSSL EVP, which uses the CPU's SHA extensions). Copyable, so a
// caller can snapshot the state before a chunk and roll back if the chunk fails.
class Hasher {
 public:
  explicit Hasher(DigestAlgorithm algorithm = DigestAlgorithm::kSha256);
  Hasher(const Hasher& other);
  Hasher& operator=(const Hasher& other);
  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;
  ~Hasher();

  void Update(std::string_view data);
  // Finishes this hasher; it must not be updated afterwards.
  Digest Finish();
  DigestAlgorithm algorithm() const { return algorithm_; }

 private:
  struct Ctx;
  DigestAlgorithm algorithm_;
  std::unique_ptr<Ctx> ctx_;
};

Digest DigestOf(std::string_view data, DigestAlgorithm algorithm = DigestAlgorithm::kSha256);

// HMAC-SHA256 of `data` under `key`, raw bytes.
std::string HmacSha256(std::string_view key, std::string_view data);

// Compares two byte strings in time that depends only on their lengths.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace lockstep
