#include "auth/auth.h"

#include "base/strings.h"
#include "core/digest.h"
#include "os/file.h"
#include "os/random.h"

namespace lockstep::auth {

namespace {

constexpr int64_t kBearerLifetimeSeconds = 300;
constexpr std::string_view kBearerPrefix = "lsb.";
// The subject of a bearer minted for --dev's anonymous caller (no token id looks so).
constexpr std::string_view kAnonymous = "anonymous";

Status BadCredentials() {
  return Unauthenticated("the credentials are not valid (revoked, mistyped or expired)");
}

}  // namespace

Authenticator::Authenticator(state::TokenStore* tokens, std::string signing_key,
                             const os::Clock* clock, bool dev_mode)
    : tokens_(tokens), key_(std::move(signing_key)), clock_(clock), dev_mode_(dev_mode) {}

Result<Identity> Authenticator::IdentifyBasic(std::string_view header) const {
  if (header.empty()) {
    if (dev_mode_) return Identity::Admin("anonymous");
    return Unauthenticated("credentials are required: use a lockstep token as the password");
  }
  if (!IEquals(header.substr(0, 6), "basic ")) return BadCredentials();
  bool ok = false;
  std::string decoded = Base64Decode(Trim(header.substr(6)), &ok);
  size_t colon = decoded.find(':');
  if (!ok || colon == std::string::npos) return BadCredentials();
  return tokens_->Authenticate(std::string_view(decoded).substr(colon + 1));
}

Result<Identity> Authenticator::Identify(std::string_view header) const {
  if (IEquals(header.substr(0, 7), "bearer ")) return VerifyBearer(Trim(header.substr(7)));
  return IdentifyBasic(header);
}

Authenticator::Minted Authenticator::MintBearer(const Identity& who) const {
  int64_t now = clock_->NowSeconds();
  // The bearer names the token by its id, never reused: revoking a token and making
  // another of the same name does not revive the old one's bearers.
  std::string subject = who.id.empty() ? std::string(kAnonymous) : who.id;
  std::string payload = subject + "\n" + std::to_string(now + kBearerLifetimeSeconds);
  std::string token = std::string(kBearerPrefix) + Base64UrlEncode(payload) + "." +
                      Base64UrlEncode(HmacSha256(key_, payload));
  return Minted{std::move(token), kBearerLifetimeSeconds, now};
}

Result<Identity> Authenticator::VerifyBearer(std::string_view token) const {
  if (!StartsWith(token, kBearerPrefix)) return BadCredentials();
  token.remove_prefix(kBearerPrefix.size());
  size_t dot = token.find('.');
  if (dot == std::string_view::npos) return BadCredentials();
  bool ok1 = false, ok2 = false;
  std::string payload = Base64Decode(token.substr(0, dot), &ok1);
  std::string mac = Base64Decode(token.substr(dot + 1), &ok2);
  if (!ok1 || !ok2 || !ConstantTimeEquals(mac, HmacSha256(key_, payload))) return BadCredentials();
  size_t nl = payload.find('\n');
  if (nl == std::string::npos) return BadCredentials();
  std::optional<uint64_t> expiry = ParseUint(std::string_view(payload).substr(nl + 1));
  if (!expiry || static_cast<int64_t>(*expiry) < clock_->NowSeconds()) return BadCredentials();
  std::string subject = payload.substr(0, nl);
  if (subject == kAnonymous) {
    if (dev_mode_) return Identity::Admin("anonymous");
    return BadCredentials();
  }
  Result<Identity> source = tokens_->LookupById(subject);
  if (!source.ok()) return BadCredentials();
  return source;
}

Result<std::string> LoadOrCreateSigningKey(const std::string& path) {
  Result<std::string> existing = os::ReadFile(path, 4096);
  if (existing.ok() && existing->size() >= 32) return existing;
  if (!existing.ok() && existing.status().code() != Code::kNotFound) return existing.status();
  std::string key = os::RandomBytes(32);
  LS_RETURN_IF_ERROR(os::MakePrivateDir(std::filesystem::path(path).parent_path()));
  LS_RETURN_IF_ERROR(os::WriteFileAtomic(path, key, 0600));
  return key;
}

}  // namespace lockstep::auth
