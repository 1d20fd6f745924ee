// Attestations: signed statements that a release proved itself in an environment (its soak
// completed, healthy) or was promoted from one environment to the next. The payload is JSON
// whose exact bytes are signed (domain-separated by "lockstep-attestation-v1\n"), with the
// server's ed25519 key (OpenSSL); anyone holding the public key verifies one without the
// server.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "base/status.h"

namespace lockstep::attest {

// The media type of an attestation as published (the artifact type of its referrer).
inline constexpr std::string_view kMediaType = "application/vnd.lockstep.attestation.v1+json";

struct Attestation {
  std::string kind;  // "soak" or "promotion"
  std::string service;
  std::string repository;    // the image's, e.g. "apps/web"
  std::string digest;        // the image manifest's
  std::string release;       // the release id (artifact and configuration)
  std::string environment;   // where it proved itself, or where it was promoted to
  std::string from;          // a promotion: the environment it came from
  int64_t live_since = 0;    // when it went live in `environment` (a promotion: in `from`)
  int64_t soak_seconds = 0;  // how long it had been live when attested
  std::string health;        // what its health checks said
  std::string by;            // the token, or "lockstep" for a soak the server saw complete
  int64_t at = 0;
};

// The JSON that is signed, its keys in a fixed order.
std::string PayloadOf(const Attestation& a);
// kInvalidArgument for anything but a payload PayloadOf wrote.
Result<Attestation> ParsePayload(std::string_view payload);

// A payload and its signature, as stored and published.
struct Signed {
  std::string payload;
  std::string signature;  // base64
  std::string key_id;     // sha256 of the raw public key, hex: which key signed
};

class Signer {
 public:
  // The server's key at `path` (PEM, 0600), made when there is none. kFailedPrecondition
  // for a file that is not an ed25519 private key.
  static Result<std::unique_ptr<Signer>> LoadOrCreate(const std::filesystem::path& path);
  ~Signer();

  Signed Sign(const Attestation& a) const;
  const std::string& public_key_pem() const { return public_pem_; }
  const std::string& key_id() const { return key_id_; }

 private:
  struct Key;
  Signer(std::unique_ptr<Key> key, std::string public_pem, std::string key_id);
  std::unique_ptr<Key> key_;
  std::string public_pem_;
  std::string key_id_;
};

// Whether `s` was signed by the key whose public half is `public_key_pem`: its statement
// when it was, kPermissionDenied when the signature does not match (or another key signed
// it), kInvalidArgument for a key or payload that does not read.
Result<Attestation> Verify(const Signed& s, std::string_view public_key_pem);

// The key id of a PEM public key (as Signed::key_id names it).
Result<std::string> KeyIdOf(std::string_view public_key_pem);

}  // namespace lockstep::attest
