#include "base/json.h"

#include <gtest/gtest.h>

namespace lockstep::json {
namespace {

ObjectView Root(const Document& d) { return ObjectView::Of(d, "").value(); }

TEST(Json, ErrorsNameTheFieldByItsPath) {
  Result<Document> d = Document::Parse(
      R"({"layers":[{"digest":"sha256:x","size":1},{"digest":7}],"n":-1})", "manifest");
  ASSERT_TRUE(d.ok());
  ObjectView root = Root(*d);
  Result<std::vector<ObjectView>> layers = root.Array("layers").value().Objects();
  ASSERT_TRUE(layers.ok());
  EXPECT_EQ((*layers)[0].Uint("size").value(), 1u);
  Status bad = (*layers)[1].String("digest").status();
  EXPECT_EQ(bad.code(), Code::kInvalidArgument);
  EXPECT_EQ(bad.message(), "layers[1].digest must be a string");
  EXPECT_EQ((*layers)[1].String("mediaType").status().message(),
            "layers[1].mediaType must be a string")
      << "absent required fields are named too";
  EXPECT_EQ(root.Uint("n").status().message(), "n must be a non-negative integer");
  EXPECT_EQ(root.Int("n").value(), -1);
}

TEST(Json, OptionalMembersMayBeAbsentOrNullButNotOfAnotherType) {
  Document d = Document::Parse(R"({"a":null,"b":"x","c":3,"t":true})", "config").value();
  ObjectView root = Root(d);
  EXPECT_FALSE(root.OptionalString("a").value().has_value());
  EXPECT_FALSE(root.OptionalString("missing").value().has_value());
  EXPECT_EQ(*root.OptionalString("b").value(), "x");
  EXPECT_FALSE(root.OptionalString("c").ok());
  EXPECT_FALSE(root.OptionalObject("b").ok());
  EXPECT_TRUE(*root.OptionalBool("t").value());
  EXPECT_FALSE(root.OptionalBool("c").ok());
  EXPECT_TRUE(root.Strings("missing").value().empty());
  EXPECT_FALSE(root.Has("a")) << "null counts as absent";
  EXPECT_TRUE(root.Has("c"));
}

TEST(Json, StringArraysAreCheckedElementByElement) {
  Document d = Document::Parse(R"({"env":["A=1",2]})", "config").value();
  EXPECT_EQ(Root(d).Strings("env").status().message(), "env[1] must be a string");
}

TEST(Json, HostileDocumentsAreErrorsNotCrashes) {
  EXPECT_FALSE(Document::Parse("{\"a\":", "x").ok());
  EXPECT_FALSE(Document::Parse("", "x").ok());
  auto nested = [](int depth) { return std::string(depth, '[') + std::string(depth, ']'); };
  EXPECT_TRUE(Document::Parse(nested(20), "x").ok());
  EXPECT_FALSE(Document::Parse(nested(40), "x").ok()) << "nesting is bounded";
  EXPECT_FALSE(Document::Parse(nested(100000), "x").ok()) << "and costs no stack";
  Result<Document> d = Document::Parse("[1,2]", "index.json");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(ObjectView::Of(*d, "").status().message(), "the document must be an object");
  EXPECT_NE(Document::Parse("{]", "index.json").status().message().find("index.json"),
            std::string::npos);
}

// A view of a temporary document would dangle: it does not compile.
template <class D>
concept ViewableAs = requires(D&& d) {
  ObjectView::Of(std::forward<D>(d), std::string());
};
static_assert(ViewableAs<const Document&>);
static_assert(!ViewableAs<Document>);
template <class R>
concept RootOfResult = requires(R&& r) {
  (*std::forward<R>(r)).root();
};
static_assert(RootOfResult<Result<Document>&>);
static_assert(!RootOfResult<Result<Document>>);

}  // namespace
}  // namespace lockstep::json
