// The server's TLS credentials (internal to http/): a certificate chain and its private
// key, read from PEM files and read again on demand (SIGHUP), so a renewed certificate is
// served without a restart. Connections take the context current when they are accepted;
// a reload that fails keeps the one in use.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <mutex>

#include "base/status.h"
#include "http/http_server.h"

namespace lockstep::http {

class TlsContext {
 public:
  // kInvalidArgument naming the file when a file cannot be read or parsed, or the key is
  // not the certificate's.
  static Result<std::unique_ptr<TlsContext>> Load(const TlsFiles& files);

  std::shared_ptr<boost::asio::ssl::context> Current() const;
  Status Reload();

 private:
  explicit TlsContext(TlsFiles files) : files_(std::move(files)) {}
  static Result<std::shared_ptr<boost::asio::ssl::context>> Build(const TlsFiles& files);

  TlsFiles files_;
  mutable std::mutex mu_;
  std::shared_ptr<boost::asio::ssl::context> current_;
};

}  // namespace lockstep::http
