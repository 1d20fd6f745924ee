// The Exchange of the HTTP server over a Beast stream (internal to http/: it pulls in
// Beast). Three habits of Beast are corrected here (see docs/DEPENDENCIES.md):
// - `Expect: 100-continue` is answered before the body is read (clients stall otherwise);
// - a body of known length is read straight from the socket into the consumer's buffer,
//   with SO_RCVLOWAT so a large upload wakes the thread once per buffer;
// - file bodies go out with sendfile(2) after Beast writes the header, instead of
//   http::file_body's 4 KiB reads.
#pragma once

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <type_traits>

#include "http/exchange.h"
#include "http/http_server.h"

namespace lockstep::http {

namespace beast = boost::beast;
namespace asio = boost::asio;

inline constexpr size_t kReadBufferBytes = 256 * 1024;

// One request of a connection: what handlers see, and what the connection loop asks of
// it afterwards (whether it answered, whether the connection can carry another request).
// `Stream` is a plain TCP stream or TLS over one (TlsStream); under TLS the socket carries
// records, so files are copied through the stream instead of sendfile(2), and no
// low-water mark is set.
template <class Stream>
class BasicBeastExchange final : public Exchange {
 public:
  static constexpr bool kPlain = std::is_same_v<Stream, beast::tcp_stream>;

  BasicBeastExchange(Stream& stream, beast::flat_buffer& buffer,
                     beast::http::request_parser<beast::http::empty_body>& header,
                     const ConnectionLimits& limits);

  const Request& request() const override { return req_; }
  bool responded() const { return responded_; }
  bool reusable() const { return keep_alive_ && !must_close_ && !body_pending_; }
  void ForceClose() { must_close_ = true; }

  Task<Status> ReadBody(BodySink& sink) override;

  // Hands `n` received bytes to the sink. A refusal leaves the rest of the body unread,
  // so the connection cannot carry another request.
  Status Deliver(BodySink& sink, size_t n);

  // A body of known length bypasses the parser: bytes already buffered past the header
  // are handed over first, then the socket is read straight into the sink's space, so a
  // large upload crosses user space exactly once.
  Task<Status> ReadSizedBody(BodySink& sink);

  // Receives up to `want` bytes. SO_RCVLOWAT makes the kernel report the socket readable
  // only once a worthwhile amount has arrived, so a large upload costs about one wakeup
  // per buffer rather than one per TCP segment.
  Task<Result<size_t>> ReceiveInto(char* data, size_t want);

  void SetLowWater(int bytes);

  Task<Result<std::string>> ReadSmallBody(uint64_t limit) override;

  Task<void> Send(Response r) override;

  Task<void> SendFile(Response head, int fd, uint64_t offset, uint64_t length) override;

 private:
  template <class Message>
  void Fill(Message& res, const Headers& headers);

  template <class Message>
  Task<void> Write(Message& res);

  Task<void> MaybeContinue();
  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }
  // The file body of SendFile: sendfile(2) on a plain socket, copied through TLS.
  Task<void> SendFileBody(int fd, uint64_t offset, uint64_t length,
                          std::chrono::steady_clock::time_point start);
  Task<void> CopyFileBody(int fd, uint64_t offset, uint64_t length,
                          std::chrono::steady_clock::time_point start);
  // What the reader has taken of the `sent` bytes of a response.
  uint64_t Taken(uint64_t sent);
  // Completes once the reader of a response that began at `start` has fallen behind
  // (send_timeout, then body_min_rate over what it took of `sent`, which the caller moves
  // on); raced against each wait of the response.
  Task<void> FallenBehind(std::chrono::steady_clock::time_point start, const uint64_t& sent);

  // Sets the stream's deadline for the next read of the body, which waits for `awaiting`
  // bytes: the body may take header_timeout, plus what it has delivered and is awaited at
  // body_min_rate.
  void ArmBodyDeadline(uint64_t awaiting);
  // Until when a response that began at `start` may send, having sent `bytes`:
  // send_timeout, plus those bytes at body_min_rate.
  std::chrono::steady_clock::time_point SendDeadline(std::chrono::steady_clock::time_point start,
                                                     uint64_t bytes) const;

  Stream& stream_;
  beast::flat_buffer& buffer_;
  beast::http::request_parser<beast::http::empty_body>& header_;
  Request req_;
  bool keep_alive_ = true;
  bool body_pending_ = false;
  bool must_close_ = false;
  bool responded_ = false;
  bool continued_ = false;
  int lowat_ = 1;  // the socket's SO_RCVLOWAT
  const ConnectionLimits& limits_;
  std::chrono::steady_clock::time_point body_start_{};
  uint64_t body_received_ = 0;
};

using TlsStream = beast::ssl_stream<beast::tcp_stream>;
using BeastExchange = BasicBeastExchange<beast::tcp_stream>;
using TlsBeastExchange = BasicBeastExchange<TlsStream>;
extern template class BasicBeastExchange<beast::tcp_stream>;
extern template class BasicBeastExchange<TlsStream>;

}  // namespace lockstep::http
