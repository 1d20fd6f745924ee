#include "http/routes.h"

#include <gtest/gtest.h>

#include "http/fake_exchange.h"

namespace lockstep::http {
namespace {

Handler Answer(int status) {
  return [status](Exchange& ex) -> Task<void> { co_await ex.Send(Response::Empty(status)); };
}

TEST(Routes, PrefixesMatchWholeSegmentsAndTheLongestWins) {
  Routes routes;
  routes.Prefix("/v2", Answer(201));
  routes.Prefix("/v2/special/", Answer(202));
  routes.Exact("/healthz", Answer(200));
  auto status = [&](std::string target) {
    FakeExchange ex("GET", std::move(target));
    ex.Run([&](Exchange& e) { return routes.Handle(e); });
    return ex.response().status;
  };
  EXPECT_EQ(status("/v2"), 201);
  EXPECT_EQ(status("/v2/"), 201);
  EXPECT_EQ(status("/v2/a/b/manifests/latest?x=1"), 201);
  EXPECT_EQ(status("/v2/special/x"), 202);
  EXPECT_EQ(status("/v2x"), 404) << "a prefix matches whole segments";
  EXPECT_EQ(status("/healthz"), 200);
  EXPECT_EQ(status("/healthz/more"), 404) << "an exact route matches itself only";
  EXPECT_EQ(status("/healthz?probe=1"), 200) << "the query is not part of the path";
  EXPECT_EQ(status(""), 404);
}

TEST(Routes, TheFallbackAnswersWhatNoRouteMatches) {
  Routes routes;
  routes.Exact("/a", Answer(200));
  EXPECT_EQ(routes.Find("/b"), nullptr);
  routes.Fallback(Answer(418));
  FakeExchange ex("GET", "/b");
  ex.Run([&](Exchange& e) { return routes.Handle(e); });
  EXPECT_EQ(ex.response().status, 418);
  EXPECT_EQ(ex.responses(), 1);
}

TEST(FakeExchange, FeedsTheBodyThroughTheSinkAndRecordsTheAnswer) {
  FakeExchange ex("PUT", "/x", std::string(200000, 'b'), {{"Content-Type", "text/plain"}});
  EXPECT_EQ(ex.request().Header("content-type"), "text/plain");
  ex.Run([](Exchange& e) -> Task<void> {
    Result<std::string> body = co_await e.ReadSmallBody(1000);
    Response r;
    r.status = body.ok() ? 200 : 413;
    r.Set("X-Got", std::to_string(body.ok() ? body->size() : 0));
    co_await e.Send(std::move(r));
  });
  EXPECT_EQ(ex.response().status, 413) << "the limit is enforced as the transport does";
  EXPECT_EQ(ex.ResponseHeader("x-got"), "0");
}

}  // namespace
}  // namespace lockstep::http
