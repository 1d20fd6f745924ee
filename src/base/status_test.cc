#include "base/status.h"

#include <gtest/gtest.h>

namespace lockstep {
namespace {

Result<int> Half(int v) {
  if (v % 2 != 0) return InvalidArgument("odd: " + std::to_string(v));
  return v / 2;
}

Result<int> Quarter(int v) {
  LS_ASSIGN_OR_RETURN(int h, Half(v));
  LS_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

TEST(Status, CarriesCodeMessageAndReason) {
  Status s = NotFound("blob sha256:ab", "BLOB_UNKNOWN");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_EQ(s.reason(), "BLOB_UNKNOWN");
  EXPECT_EQ(s.ToString(), "not found: blob sha256:ab");
  EXPECT_EQ(s.WithContext("pull").message(), "pull: blob sha256:ab");
}

TEST(Result, AssignOrReturnPropagatesTheFirstError) {
  EXPECT_EQ(Quarter(8).value(), 2);
  Result<int> r = Quarter(6);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "odd: 3");
}

}  // namespace
}  // namespace lockstep
