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

TEST(HeaderRules, HeadersTheConnectionHeaderNamesAreHopByHopToo) {
  http::fields f;
  f.insert(http::field::connection, "keep-alive, X-Hop-Secret");
  f.set(http::field::content_type, "text/plain");
  f.insert(http::field::connection, " x-other-hop ,");
  f.set("X-Hop-Secret", "1");
  f.set("X-Other-Hop", "2");
  f.set("X-End-To-End", "3");
  StripHopByHop(f);
  EXPECT_EQ(f.count("X-Hop-Secret"), 0u);
  EXPECT_EQ(f.count("X-Other-Hop"), 0u) << "names are case-insensitive, in any Connection header";
  EXPECT_EQ(f["X-End-To-End"], "3");
  EXPECT_EQ(f[http::field::content_type], "text/plain");
}

TEST(HeaderRules, WhatTheClientSaysAboutItsOriginIsReplaced) {
  http::fields f;
  f.set(http::field::host, "shop.example");
  f.set("X-Forwarded-For", "6.6.6.6");
  f.insert("X-Forwarded-For", "7.7.7.7");
  f.set("Forwarded", "for=6.6.6.6;proto=https");
  f.set("X-Real-IP", "6.6.6.6");
  f.set("X-Forwarded-Host", "admin.internal");
  f.set("X-Forwarded-Proto", "https");
  SetForwardingHeaders(f, "127.0.0.1");
  EXPECT_EQ(f.count("X-Forwarded-For"), 1u);
  EXPECT_EQ(f["X-Forwarded-For"], "127.0.0.1");
  EXPECT_EQ(f["X-Real-IP"], "127.0.0.1");
  EXPECT_EQ(f["Forwarded"], "for=127.0.0.1;proto=http");
  EXPECT_EQ(f["X-Forwarded-Host"], "shop.example");
  EXPECT_EQ(f["X-Forwarded-Proto"], "http");
  SetForwardingHeaders(f, "::1");
  EXPECT_EQ(f["Forwarded"], "for=\"[::1]\";proto=http");
}

TEST(HeaderRules, OnlyIdempotentMethodsMayBeSentTwice) {
  for (http::verb v : {http::verb::get, http::verb::head, http::verb::put, http::verb::delete_,
                       http::verb::options}) {
    EXPECT_TRUE(IsIdempotent(v)) << http::to_string(v);
  }
  for (http::verb v : {http::verb::post, http::verb::patch, http::verb::connect}) {
    EXPECT_FALSE(IsIdempotent(v)) << http::to_string(v);
  }
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
