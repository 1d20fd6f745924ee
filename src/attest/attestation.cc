#include "attest/attestation.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <boost/json.hpp>

#include "base/json.h"
#include "base/strings.h"
#include "core/digest.h"
#include "os/file.h"

namespace lockstep::attest {

namespace bj = boost::json;

namespace {

constexpr std::string_view kDomain = "lockstep-attestation-v1\n";
constexpr uint64_t kMaxPayload = 64 << 10;

std::string OpenSslError(std::string_view what) {
  unsigned long e = ERR_get_error();
  char text[256] = "no detail";
  if (e != 0) ERR_error_string_n(e, text, sizeof(text));
  ERR_clear_error();
  return std::string(what) + ": " + text;
}

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;

std::string BioText(BIO* b) {
  char* data = nullptr;
  long n = BIO_get_mem_data(b, &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

std::string RawPublicKey(EVP_PKEY* k) {
  size_t len = 0;
  if (EVP_PKEY_get_raw_public_key(k, nullptr, &len) != 1) return "";
  std::string out(len, '\0');
  if (EVP_PKEY_get_raw_public_key(k, reinterpret_cast<unsigned char*>(out.data()), &len) != 1) {
    return "";
  }
  out.resize(len);
  return out;
}

std::string SignedBytes(std::string_view payload) {
  return std::string(kDomain) + std::string(payload);
}

Result<PkeyPtr> ReadPublicKey(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PkeyPtr key(bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key || EVP_PKEY_is_a(key.get(), "ED25519") != 1) {
    ERR_clear_error();
    return InvalidArgument(
        "the public key is not an ed25519 key in PEM (-----BEGIN PUBLIC KEY-----)");
  }
  return key;
}

}  // namespace

std::string PayloadOf(const Attestation& a) {
  return bj::serialize(bj::object{{"type", "lockstep.attestation/v1"},
                                  {"kind", a.kind},
                                  {"service", a.service},
                                  {"repository", a.repository},
                                  {"digest", a.digest},
                                  {"release", a.release},
                                  {"environment", a.environment},
                                  {"from", a.from},
                                  {"live_since", a.live_since},
                                  {"soak_seconds", a.soak_seconds},
                                  {"health", a.health},
                                  {"by", a.by},
                                  {"at", a.at}});
}

Result<Attestation> ParsePayload(std::string_view payload) {
  if (payload.size() > kMaxPayload) return InvalidArgument("the attestation is over 64 KiB");
  LS_ASSIGN_OR_RETURN(json::Document doc, json::Document::Parse(payload, "attestation"));
  LS_ASSIGN_OR_RETURN(json::ObjectView o, json::ObjectView::Of(doc, ""));
  LS_ASSIGN_OR_RETURN(std::string type, o.String("type"));
  if (type != "lockstep.attestation/v1") {
    return InvalidArgument("the attestation is of type '" + type.substr(0, 64) +
                           "', not lockstep.attestation/v1");
  }
  Attestation a;
  LS_ASSIGN_OR_RETURN(a.kind, o.String("kind"));
  if (a.kind != "soak" && a.kind != "promotion") {
    return InvalidArgument("attestation kind '" + a.kind.substr(0, 32) + "' is unknown");
  }
  LS_ASSIGN_OR_RETURN(a.service, o.String("service"));
  LS_ASSIGN_OR_RETURN(a.repository, o.String("repository"));
  LS_ASSIGN_OR_RETURN(a.digest, o.String("digest"));
  LS_ASSIGN_OR_RETURN(a.release, o.String("release"));
  LS_ASSIGN_OR_RETURN(a.environment, o.String("environment"));
  LS_ASSIGN_OR_RETURN(a.from, o.String("from"));
  LS_ASSIGN_OR_RETURN(a.live_since, o.Int("live_since"));
  LS_ASSIGN_OR_RETURN(a.soak_seconds, o.Int("soak_seconds"));
  LS_ASSIGN_OR_RETURN(a.health, o.String("health"));
  LS_ASSIGN_OR_RETURN(a.by, o.String("by"));
  LS_ASSIGN_OR_RETURN(a.at, o.Int("at"));
  return a;
}

struct Signer::Key {
  PkeyPtr pkey;
};

Signer::Signer(std::unique_ptr<Key> key, std::string public_pem, std::string key_id)
    : key_(std::move(key)), public_pem_(std::move(public_pem)), key_id_(std::move(key_id)) {}

Signer::~Signer() = default;

Result<std::unique_ptr<Signer>> Signer::LoadOrCreate(const std::filesystem::path& path) {
  Result<std::string> pem = os::ReadFile(path, 64 << 10);
  if (!pem.ok() && pem.status().code() == Code::kNotFound) {
    PkeyPtr made(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
    if (!made) return Internal(OpenSslError("make an ed25519 key"));
    BioPtr out(BIO_new(BIO_s_mem()));
    if (!out || PEM_write_bio_PrivateKey(out.get(), made.get(), nullptr, nullptr, 0, nullptr,
                                         nullptr) != 1) {
      return Internal(OpenSslError("write the attestation key"));
    }
    LS_RETURN_IF_ERROR(os::MakePrivateDir(path.parent_path()));
    Status created = os::CreateFileExclusive(path, BioText(out.get()), 0600);
    // Made meanwhile by another process: that one is the key.
    if (!created.ok() && created.code() != Code::kAlreadyExists) return created;
    pem = os::ReadFile(path, 64 << 10);
  }
  LS_RETURN_IF_ERROR(pem.status());
  BioPtr in(BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size())));
  PkeyPtr key(in ? PEM_read_bio_PrivateKey(in.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key || EVP_PKEY_is_a(key.get(), "ED25519") != 1) {
    ERR_clear_error();
    return FailedPrecondition(path.string() +
                              " is not an ed25519 private key in PEM: move it away and "
                              "lockstep serve makes a new one (attestations it signed then no "
                              "longer verify with the new public key)");
  }
  BioPtr pub(BIO_new(BIO_s_mem()));
  if (!pub || PEM_write_bio_PUBKEY(pub.get(), key.get()) != 1) {
    return Internal(OpenSslError("write the attestation public key"));
  }
  std::string raw = RawPublicKey(key.get());
  if (raw.empty()) return Internal(OpenSslError("read the attestation public key"));
  auto k = std::make_unique<Key>();
  k->pkey = std::move(key);
  return std::unique_ptr<Signer>(new Signer(std::move(k), BioText(pub.get()), DigestOf(raw).hex()));
}

Signed Signer::Sign(const Attestation& a) const {
  Signed out{.payload = PayloadOf(a), .key_id = key_id_};
  std::string message = SignedBytes(out.payload);
  MdCtxPtr ctx(EVP_MD_CTX_new());
  unsigned char sig[64];
  size_t len = sizeof(sig);
  // Ed25519 with a valid key signs any message: a failure here is OpenSSL's own.
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_->pkey.get()) != 1 ||
      EVP_DigestSign(ctx.get(), sig, &len, reinterpret_cast<const unsigned char*>(message.data()),
                     message.size()) != 1) {
    ERR_clear_error();
    return out;  // no signature: never verifies
  }
  out.signature = Base64Encode(std::string_view(reinterpret_cast<const char*>(sig), len));
  return out;
}

Result<std::string> KeyIdOf(std::string_view public_key_pem) {
  LS_ASSIGN_OR_RETURN(PkeyPtr key, ReadPublicKey(public_key_pem));
  std::string raw = RawPublicKey(key.get());
  if (raw.empty()) return InvalidArgument("the public key does not read");
  return DigestOf(raw).hex();
}

Result<Attestation> Verify(const Signed& s, std::string_view public_key_pem) {
  LS_ASSIGN_OR_RETURN(PkeyPtr key, ReadPublicKey(public_key_pem));
  std::string id = DigestOf(RawPublicKey(key.get())).hex();
  if (s.key_id != id) {
    return PermissionDenied("signed by key " + s.key_id.substr(0, 16) + ", not by this key (" +
                            id.substr(0, 16) + ")");
  }
  bool ok = false;
  std::string sig = Base64Decode(s.signature, &ok);
  if (!ok || sig.size() != 64) return PermissionDenied("the signature is not an ed25519 signature");
  std::string message = SignedBytes(s.payload);
  MdCtxPtr ctx(EVP_MD_CTX_new());
  bool valid =
      ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) == 1 &&
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                       reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1;
  ERR_clear_error();
  if (!valid) return PermissionDenied("the signature does not match the statement");
  return ParsePayload(s.payload);
}

}  // namespace lockstep::attest
