#include "client/registry_answers.h"

#include <gtest/gtest.h>

namespace lockstep::client {
namespace {

TEST(ParseChallenge, ReadsTheSchemeAndQuotedOrBareParameters) {
  Challenge c = ParseChallenge(
      R"(Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push")");
  EXPECT_EQ(c.scheme, "bearer");
  EXPECT_EQ(c.params["realm"], "https://auth.example/token");
  EXPECT_EQ(c.params["service"], "registry.example");
  EXPECT_EQ(c.params["scope"], "repository:a/b:pull,push") << "a comma inside quotes is kept";

  Challenge basic = ParseChallenge("Basic realm=lockstep, charset=UTF-8");
  EXPECT_EQ(basic.scheme, "basic");
  EXPECT_EQ(basic.params["realm"], "lockstep");
  EXPECT_EQ(basic.params["charset"], "UTF-8");
}

TEST(ParseChallenge, ToleratesBrokenHeaders) {
  EXPECT_EQ(ParseChallenge("").scheme, "");
  EXPECT_TRUE(ParseChallenge("Bearer").params.empty());
  Challenge open_quote = ParseChallenge(R"(Bearer realm="https://never-closed)");
  EXPECT_EQ(open_quote.params["realm"], "https://never-closed");
  EXPECT_TRUE(ParseChallenge("Bearer ===,,,").params.size() <= 1);
}

TEST(ParseTokenAnswer, TakesTokenThenAccessToken) {
  EXPECT_EQ(ParseTokenAnswer(R"({"token":"a","access_token":"b"})"), "a");
  EXPECT_EQ(ParseTokenAnswer(R"({"access_token":"b"})"), "b");
  EXPECT_EQ(ParseTokenAnswer(R"({"token":7,"access_token":"b"})"), "b");
  EXPECT_FALSE(ParseTokenAnswer(R"({"token":""})").has_value());
  EXPECT_FALSE(ParseTokenAnswer("<html>").has_value());
  EXPECT_FALSE(ParseTokenAnswer("[]").has_value());
}

TEST(ErrorDetail, NamesTheOciCodeAndMessageElseTheBody) {
  EXPECT_EQ(ErrorDetail(R"({"errors":[{"code":"DENIED","message":"no"}]})"), "DENIED: no");
  EXPECT_EQ(ErrorDetail(R"({"errors":[{"code":"DENIED"}]})"), "DENIED");
  EXPECT_EQ(ErrorDetail("  upstream down \n"), "upstream down");
  EXPECT_EQ(ErrorDetail(""), "no details");
  EXPECT_EQ(ErrorDetail(std::string(500, 'x')).size(), 200u) << "a long body is cut";
}

TEST(ParseTagPage, KeepsStringsOnly) {
  EXPECT_EQ(ParseTagPage(R"({"name":"a","tags":["1.0",2,"1.1"]})"),
            (std::vector<std::string>{"1.0", "1.1"}));
  EXPECT_TRUE(ParseTagPage(R"({"tags":null})").empty());
  EXPECT_TRUE(ParseTagPage("nonsense").empty());
}

TEST(NextLink, FollowsOnlyRelNext) {
  EXPECT_EQ(NextLink(R"(</v2/a/tags/list?n=2&last=b>; rel="next")"), "/v2/a/tags/list?n=2&last=b");
  EXPECT_EQ(NextLink(R"(</v2/a/tags/list>; rel="prev")"), "");
  EXPECT_EQ(NextLink(R"(>< rel="next")"), "");
  EXPECT_EQ(NextLink(""), "");
}

TEST(DeclaredMediaType, ReadsTheBodysMediaType) {
  EXPECT_EQ(DeclaredMediaType(R"({"mediaType":"application/vnd.oci.image.index.v1+json"})"),
            "application/vnd.oci.image.index.v1+json");
  EXPECT_EQ(DeclaredMediaType(R"({"mediaType":1})"), "");
  EXPECT_EQ(DeclaredMediaType("{"), "");
}

}  // namespace
}  // namespace lockstep::client
