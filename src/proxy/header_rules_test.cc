#include "proxy/header_rules.h"

#include <gtest/gtest.h>

namespace lockstep::proxy {
namespace {

namespace http = boost::beast::http;

TEST(HeaderRules, HopByHopHeadersAreNotPassedOn) {
  http::fields f;
  f.set(http::field::connection, "keep-alive");
  f.set(http::field::keep_alive, "timeout=5");
  f.set(http::field::transfer_encoding, "chunked");
  f.set(http::field::upgrade, "websocket");
  f.set(http::field::te, "trailers");
  f.set(http::field::proxy_authorization, "Basic c2VjcmV0");
  f.set("Proxy-Connection", "keep-alive");
  f.set(http::field::content_type, "text/plain");
  f.set(http::field::authorization, "Bearer t");
  StripHopByHop(f);
  EXPECT_EQ(std::distance(f.begin(), f.end()), 2) << "only end-to-end headers are left";
  EXPECT_EQ(f[http::field::content_type], "text/plain");
  EXPECT_EQ(f[http::field::authorization], "Bearer t");
}

TEST(HeaderRules, ForwardedForAppendsTheClient) {
  EXPECT_EQ(ForwardedFor("", "127.0.0.1"), "127.0.0.1");
  EXPECT_EQ(ForwardedFor("10.1.2.3", "127.0.0.1"), "10.1.2.3, 127.0.0.1");
}

TEST(HeaderRules, ErrorAnswersArePlainTextWithALength) {
  http::response<http::string_body> r =
      ErrorResponse(http::status::bad_gateway, 11, "prod/web failed");
  EXPECT_EQ(r.result(), http::status::bad_gateway);
  EXPECT_EQ(r.body(), "prod/web failed\n");
  EXPECT_EQ(r[http::field::content_length], "16");
  EXPECT_EQ(r[http::field::server], "lockstep-proxy");
}

}  // namespace
}  // namespace lockstep::proxy
