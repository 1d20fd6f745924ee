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

TEST(Wire, ARequestIsTheBytesBeastWouldWrite) {
  http::request<http::string_body> req{http::verb::post, "/a/b?c=d%20e", 11};
  req.set(http::field::host, "example.test:8080");
  req.insert("X-Twice", "one");
  req.insert("X-Twice", "two");
  req.set("X-Empty", "");
  req.body() = "{\"k\": 1}";
  req.prepare_payload();
  std::string out = "left over from an earlier message";
  RenderMessage(req, out);
  EXPECT_EQ(out, BeastWireForm(req));
  EXPECT_EQ(out.rfind("POST /a/b?c=d%20e HTTP/1.1\r\n", 0), 0u) << out;
}

TEST(Wire, ARequestOfHttp10AndAMethodBeastDoesNotKnow) {
  http::request<http::string_body> req;
  req.method_string("PURGE");
  req.target("/");
  req.version(10);
  std::string out;
  RenderMessage(req, out);
  EXPECT_EQ(out, BeastWireForm(req));
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
  RenderMessage(parser.get(), out);
  EXPECT_EQ(out, wire);
  EXPECT_EQ(out, BeastWireForm(parser.get()));
}

TEST(Wire, AResponseWithoutAReasonGetsTheStandardOneAsBeastWouldWrite) {
  for (unsigned status : {200u, 404u, 503u, 299u, 100u}) {
    http::response<http::string_body> res{static_cast<http::status>(status), 11};
    res.set(http::field::server, "lockstep-proxy");
    res.body() = "x";
    res.prepare_payload();
    std::string out;
    RenderMessage(res, out);
    EXPECT_EQ(out, BeastWireForm(res)) << status;
    EXPECT_EQ(out.rfind("HTTP/1.1 " + std::to_string(status) + " ", 0), 0u) << out;
  }
}

}  // namespace
}  // namespace lockstep::proxy
