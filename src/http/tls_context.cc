#include "http/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/ssl/error.hpp>

namespace lockstep::http {

namespace ssl = boost::asio::ssl;

namespace {

// OpenSSL's reason for a failure (Asio takes it off OpenSSL's queue into `ec`).
std::string OpenSslReason(const boost::system::error_code& ec) {
  ERR_clear_error();
  return ec.message();
}

}  // namespace

Result<std::shared_ptr<ssl::context>> TlsContext::Build(const TlsFiles& files) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  // TLS 1.2 and 1.3 only; the session is not renegotiated.
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  SSL_CTX_set_options(ctx->native_handle(),
                      SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // An encrypted key is refused, never a prompt for its pass phrase on the terminal (which
  // would block the thread that serves connections, on a reload).
  ctx->set_password_callback(
      [](std::size_t, ssl::context::password_purpose) { return std::string(); });
  boost::system::error_code ec;
  ctx->use_certificate_chain_file(files.cert.string(), ec);
  if (ec) {
    return InvalidArgument("TLS certificate " + files.cert.string() + ": " + OpenSslReason(ec),
                           "give a PEM file holding the certificate, then its chain");
  }
  ctx->use_private_key_file(files.key.string(), ssl::context::pem, ec);
  // Asio takes OpenSSL's error off its queue into `ec`.
  const auto packed = static_cast<unsigned long>(ec.value());
  if (ec && ec.category() == boost::asio::error::get_ssl_category() &&
      ERR_GET_LIB(packed) == ERR_LIB_X509 && ERR_GET_REASON(packed) == X509_R_KEY_VALUES_MISMATCH) {
    return InvalidArgument(
        "TLS key " + files.key.string() + " is not the key of certificate " + files.cert.string(),
        "give the certificate and key of one pair (after a renewal, both)");
  }
  if (ec) {
    return InvalidArgument("TLS key " + files.key.string() + ": " + OpenSslReason(ec),
                           "give the PEM file of the certificate's private key, unencrypted "
                           "(readable by the user running lockstep only)");
  }
  return ctx;
}

Result<std::unique_ptr<TlsContext>> TlsContext::Load(const TlsFiles& files) {
  LS_ASSIGN_OR_RETURN(std::shared_ptr<ssl::context> ctx, Build(files));
  std::unique_ptr<TlsContext> out(new TlsContext(files));
  out->current_ = std::move(ctx);
  return out;
}

std::shared_ptr<ssl::context> TlsContext::Current() const {
  std::lock_guard lock(mu_);
  return current_;
}

Status TlsContext::Reload() {
  LS_ASSIGN_OR_RETURN(std::shared_ptr<ssl::context> ctx, Build(files_));
  std::lock_guard lock(mu_);
  current_ = std::move(ctx);
  return Status::Ok();
}

}  // namespace lockstep::http
