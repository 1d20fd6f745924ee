// The front proxy between a client and a backend that behaves as real (and odd) servers
// do: interim 100 answers, kept-alive connections it closes without answering, hop headers
// of its own. Plain loopback sockets on both sides; no container is needed for these.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>

#include "proxy/proxy.h"
#include "runtime/local/health_probe.h"
#include "tests/support/http.h"

namespace lockstep::testing {
namespace {

struct SeenRequest {
  int connection = 0;  // 1 for the first connection accepted
  int index = 0;       // 1 for the first request on its connection
  std::string method;
  std::string head;  // request line and headers, each ending in CRLF
  std::string body;
};

// A backend on a loopback port the kernel picked. For each request it reads (headers, and a
// body of Content-Length bytes) the script returns the raw bytes to answer, or nullopt to
// close the connection without answering. Connections are kept alive otherwise.
class ScriptedBackend {
 public:
  using Script = std::function<std::optional<std::string>(const SeenRequest&)>;

  explicit ScriptedBackend(Script script) : script_(std::move(script)) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        ::listen(listener_, 16) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error("backend: cannot listen");
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~ScriptedBackend() {
    ::shutdown(listener_, SHUT_RDWR);
    thread_.join();
    ::close(listener_);
  }

  uint16_t port() const { return port_; }
  std::vector<SeenRequest> seen() const {
    std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  void Serve() {
    for (int n = 1;; ++n) {
      int fd = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      ServeConnection(fd, n);  // one at a time: the tests use one client
      ::close(fd);
    }
  }

  void ServeConnection(int fd, int connection) {
    std::string buffer;
    for (int index = 1;; ++index) {
      size_t end;
      while ((end = buffer.find("\r\n\r\n")) == std::string::npos) {
        if (!Read(fd, buffer)) return;
      }
      SeenRequest r{connection, index, buffer.substr(0, buffer.find(' ')),
                    buffer.substr(0, end + 2)};
      size_t length = 0;
      if (size_t at = Lower(r.head).find("\r\ncontent-length:"); at != std::string::npos) {
        length = std::stoul(r.head.substr(at + 17));
      }
      while (buffer.size() < end + 4 + length) {
        if (!Read(fd, buffer)) return;
      }
      r.body = buffer.substr(end + 4, length);
      buffer.erase(0, end + 4 + length);
      {
        std::lock_guard lock(mu_);
        seen_.push_back(r);
      }
      std::optional<std::string> answer = script_(r);
      if (!answer) return;
      if (::send(fd, answer->data(), answer->size(), MSG_NOSIGNAL) < 0) return;
    }
  }

  static bool Read(int fd, std::string& buffer) {
    char chunk[4096];
    ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer.append(chunk, static_cast<size_t>(n));
    return true;
  }

  static std::string Lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  }

  Script script_;
  int listener_ = -1;
  uint16_t port_ = 0;
  mutable std::mutex mu_;
  std::vector<SeenRequest> seen_;
  std::thread thread_;
};

std::string Ok(const std::string& body, const std::string& extra = "") {
  return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra +
         "\r\n" + body;
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// One answer with a Content-Length body from a kept-alive connection ("" when it closes
// first).
std::string ReadOneAnswer(int fd) {
  std::string answer;
  char chunk[4096];
  for (;;) {
    size_t end = answer.find("\r\n\r\n");
    if (end != std::string::npos) {
      size_t at = answer.find("Content-Length: ");
      size_t length = at == std::string::npos ? 0 : std::stoul(answer.substr(at + 16));
      if (answer.size() >= end + 4 + length) return answer;
    }
    ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return answer;
    answer.append(chunk, static_cast<size_t>(n));
  }
}

// Sends a whole request on `fd` and reads one answer.
std::string Exchange(int fd, const std::string& request) {
  EXPECT_EQ(::send(fd, request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  return ReadOneAnswer(fd);
}

// A backend script that answers the first request of each connection and closes the
// connection on the second without answering (as a server whose keep-alive timer just
// ran out).
ScriptedBackend::Script AnswerOnlyTheFirstRequestOfAConnection(const std::string& body) {
  return [body](const SeenRequest& r) -> std::optional<std::string> {
    if (r.index > 1) return std::nullopt;
    return Ok(body);
  };
}

// A proxy whose one public port routes to `backend_port` as prod/web.
class ProxyRules : public ::testing::Test {
 protected:
  void Route(uint16_t backend_port) {
    auto table = std::make_shared<runtime::RoutingTable>();
    public_port_ = runtime::local::PickFreePort().value();
    table->by_port[public_port_] = std::make_shared<const runtime::Backend>(
        runtime::Backend{"i-7f3a", "prod", "web", "127.0.0.1", backend_port, ""});
    router_.Publish(table);
    Result<std::unique_ptr<proxy::Proxy>> started = proxy::Proxy::Start(router_, {});
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    proxy_ = std::move(started).value();
  }

  runtime::Router router_;
  uint16_t public_port_ = 0;
  std::unique_ptr<proxy::Proxy> proxy_;
};

TEST_F(ProxyRules, ABackendsInterimAnswerIsNotPassedOffAsTheAnswer) {
  ScriptedBackend backend([](const SeenRequest& r) -> std::optional<std::string> {
    std::string body = r.index == 1 ? "first" : "second";
    return "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n" +
           Ok(body);
  });
  Route(backend.port());
  std::string answers = SendRaw(public_port_,
                                "POST /upload HTTP/1.1\r\nHost: shop\r\nExpect: 100-continue\r\n"
                                "Content-Length: 4\r\n\r\ndata"
                                "GET /next HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n");
  // The client's Expect is the proxy's to answer (once); the backend never sees it.
  EXPECT_EQ(Count(answers, "HTTP/1.1 100 Continue"), 1u) << answers;
  EXPECT_EQ(Count(answers, "103 Early Hints"), 0u) << answers;
  EXPECT_EQ(Count(answers, "HTTP/1.1 200 OK"), 2u) << answers;
  size_t first = answers.find("first");
  size_t second = answers.find("second");
  EXPECT_TRUE(first != std::string::npos && second != std::string::npos && first < second)
      << "each request gets its own answer, in order: " << answers;
  for (const SeenRequest& r : backend.seen()) {
    EXPECT_EQ(r.head.find("Expect"), std::string::npos) << r.head;
  }
}

TEST_F(ProxyRules, OnlyIdempotentRequestsAreSentAgainWhenAKeptConnectionDies) {
  ScriptedBackend backend(AnswerOnlyTheFirstRequestOfAConnection("hello"));
  Route(backend.port());
  int fd = ConnectLoopback(public_port_);
  ASSERT_GE(fd, 0);
  EXPECT_NE(Exchange(fd, "GET /a HTTP/1.1\r\nHost: shop\r\n\r\n").find("200 OK"),
            std::string::npos);
  // GET on the kept upstream connection: it dies unanswered, the proxy sends it again.
  EXPECT_NE(Exchange(fd, "GET /b HTTP/1.1\r\nHost: shop\r\n\r\n").find("200 OK"),
            std::string::npos);
  // POST on the kept connection: it dies unanswered, and is not sent a second time.
  std::string post =
      Exchange(fd, "POST /pay HTTP/1.1\r\nHost: shop\r\nContent-Length: 2\r\n\r\n{}");
  EXPECT_NE(post.find("502 Bad Gateway"), std::string::npos) << post;
  ::close(fd);
  int posts = 0, gets_b = 0;
  for (const SeenRequest& r : backend.seen()) {
    posts += r.method == "POST";
    gets_b += r.head.starts_with("GET /b");
  }
  EXPECT_EQ(gets_b, 2) << "the GET was sent twice";
  EXPECT_EQ(posts, 1) << "the POST was sent once";
}

TEST_F(ProxyRules, ARequestSentAgainCarriesItsWholeBodyAgain) {
  // Larger than what a connection keeps of its send buffer between messages: the second
  // sending must not find it gone.
  std::string body(200 * 1024, 'b');
  for (size_t i = 0; i < body.size(); i += 1000) body[i] = static_cast<char>('0' + i % 10);
  ScriptedBackend backend(AnswerOnlyTheFirstRequestOfAConnection("stored"));
  Route(backend.port());
  int fd = ConnectLoopback(public_port_);
  ASSERT_GE(fd, 0);
  EXPECT_NE(Exchange(fd, "GET /a HTTP/1.1\r\nHost: shop\r\n\r\n").find("200 OK"),
            std::string::npos);
  std::string put = Exchange(fd, "PUT /object HTTP/1.1\r\nHost: shop\r\nContent-Length: " +
                                     std::to_string(body.size()) + "\r\n\r\n" + body);
  EXPECT_NE(put.find("200 OK"), std::string::npos) << put.substr(0, 200);
  ::close(fd);
  int puts = 0;
  for (const SeenRequest& r : backend.seen()) {
    if (r.method != "PUT") continue;
    ++puts;
    EXPECT_EQ(r.body.size(), body.size()) << "sending " << puts;
    EXPECT_TRUE(r.body == body) << "sending " << puts << " carried other bytes";
  }
  EXPECT_EQ(puts, 2) << "the PUT went once on the kept connection and once on a fresh one";
}

TEST_F(ProxyRules, ForwardingHeadersAreTheProxysAndHopHeadersStayOnTheirHop) {
  ScriptedBackend backend([](const SeenRequest&) -> std::optional<std::string> {
    return Ok("ok", "Connection: X-Backend-Hop\r\nX-Backend-Hop: internal\r\nX-App: 1\r\n");
  });
  Route(backend.port());
  std::string answer = SendRaw(public_port_,
                               "GET / HTTP/1.1\r\nHost: shop.example\r\n"
                               "X-Forwarded-For: 6.6.6.6\r\nX-Real-IP: 6.6.6.6\r\n"
                               "Forwarded: for=6.6.6.6\r\nX-Forwarded-Host: admin.internal\r\n"
                               "Connection: close, X-Client-Hop\r\nX-Client-Hop: secret\r\n\r\n");
  EXPECT_NE(answer.find("200 OK"), std::string::npos) << answer;
  EXPECT_NE(answer.find("X-App: 1"), std::string::npos) << answer;
  EXPECT_EQ(answer.find("X-Backend-Hop"), std::string::npos) << answer;
  std::vector<SeenRequest> seen = backend.seen();
  ASSERT_EQ(seen.size(), 1u);
  const std::string& head = seen[0].head;
  EXPECT_EQ(head.find("6.6.6.6"), std::string::npos) << head;
  EXPECT_EQ(head.find("admin.internal"), std::string::npos) << head;
  EXPECT_EQ(head.find("X-Client-Hop"), std::string::npos) << head;
  EXPECT_NE(head.find("X-Forwarded-For: 127.0.0.1\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("X-Real-IP: 127.0.0.1\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("X-Forwarded-Host: shop.example\r\n"), std::string::npos) << head;
}

TEST_F(ProxyRules, AFailureAnswerNamesTheServiceButNotItsInsides) {
  // A port nothing listens on: the connection is refused.
  uint16_t dead = runtime::local::PickFreePort().value();
  Route(dead);
  std::string answer =
      SendRaw(public_port_, "GET / HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n");
  EXPECT_NE(answer.find("502 Bad Gateway"), std::string::npos) << answer;
  EXPECT_NE(answer.find("prod/web"), std::string::npos) << answer;
  EXPECT_EQ(answer.find("i-7f3a"), std::string::npos) << answer;
  EXPECT_EQ(answer.find("refused"), std::string::npos) << answer;
}

}  // namespace
}  // namespace lockstep::testing
