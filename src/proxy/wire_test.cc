#include "proxy/wire.h"

#include <gtest/gtest.h>

#include <sstream>

namespace lockstep::proxy {
namespace {

namespace http = boost::beast::http;

template <class Message>
std::string BeastWireForm(const Message& m) {
  std::ostringstream out;
  out << m;
  return out.str();
}

// The head as rendered, then the body, as the proxy sends them.
template <class Message>
std::string Rendered(const Message& m, std::string& out) {
  EXPECT_TRUE(RenderHead(m, out));
  return out + m.body();
}

TEST(Wire, ARequestIsTheBytesBeastWouldWrite) {
  http::request<http::string_body> req{http::verb::post, "/a/b?c=d%20e", 11};
  req.set(http::field::host, "example.test:8080");
  req.insert("X-Twice", "one");
  req.insert("X-Twice", "two");
  req.set("X-Empty", "");
  req.body() = "{\"k\": 1}";
  req.prepare_payload();
  std::string out = "left over from an earlier message";
  EXPECT_EQ(Rendered(req, out), BeastWireForm(req));
  EXPECT_EQ(out.rfind("POST /a/b?c=d%20e HTTP/1.1\r\n", 0), 0u) << out;
  EXPECT_TRUE(out.ends_with("\r\n\r\n")) << "the head only";
}

TEST(Wire, ARequestOfHttp10AndAMethodBeastDoesNotKnow) {
  http::request<http::string_body> req;
  req.method_string("PURGE");
  req.target("/");
  req.version(10);
  std::string out;
  EXPECT_EQ(Rendered(req, out), BeastWireForm(req));
  EXPECT_EQ(out, "PURGE / HTTP/1.0\r\n\r\n");
}

TEST(Wire, AResponseKeepsItsReasonPhrase) {
  http::response_parser<http::string_body> parser;
  std::string_view wire =
      "HTTP/1.1 201 Made It\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nabc";
  boost::system::error_code ec;
  parser.eager(true);
  parser.put(boost::asio::buffer(wire.data(), wire.size()), ec);
  ASSERT_FALSE(ec) << ec.message();
  ASSERT_TRUE(parser.is_done());
  std::string out;
  EXPECT_EQ(Rendered(parser.get(), out), wire);
  EXPECT_EQ(Rendered(parser.get(), out), BeastWireForm(parser.get()));
}

TEST(Wire, AResponseWithoutAReasonGetsTheStandardOneAsBeastWouldWrite) {
  for (unsigned status : {200u, 404u, 503u, 299u, 100u}) {
    http::response<http::string_body> res{static_cast<http::status>(status), 11};
    res.set(http::field::server, "lockstep-proxy");
    if (status >= 200) {
      res.body() = "x";
      res.prepare_payload();
    }
    std::string out;
    EXPECT_EQ(Rendered(res, out), BeastWireForm(res)) << status;
    EXPECT_EQ(out.rfind("HTTP/1.1 " + std::to_string(status) + " ", 0), 0u) << out;
  }
}

TEST(Wire, AHeadThatWouldCarryALineItDidNotMeanIsNotRendered) {
  std::string out = "stale";
  http::request<http::string_body> req{http::verb::get, "/", 11};
  req.set("X-Forwarded-For", "10.0.0.1\r\nX-Admin: yes");
  EXPECT_FALSE(RenderHead(req, out));
  EXPECT_EQ(out, "") << "nothing half rendered is left to send";
  http::request<http::string_body> target{http::verb::get, "/a HTTP/1.1\r\nHost: evil", 11};
  EXPECT_FALSE(RenderHead(target, out));
  http::request<http::string_body> nul{http::verb::get, "/", 11};
  nul.set("X-Id", std::string("a\0b", 3));
  EXPECT_FALSE(RenderHead(nul, out));
  http::response<http::string_body> res{http::status::ok, 11};
  res.set(http::field::location, "/next\nSet-Cookie: session=stolen");
  EXPECT_FALSE(RenderHead(res, out));
  http::response<http::string_body> chunked{http::status::ok, 11};
  chunked.chunked(true);
  EXPECT_FALSE(RenderHead(chunked, out)) << "a chunked body cannot go as one buffer";
}

}  // namespace
}  // namespace lockstep::proxy
