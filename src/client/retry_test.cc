#include "client/retry.h"

#include <gtest/gtest.h>

#include <vector>

namespace lockstep::client {
namespace {

using std::chrono::milliseconds;

TEST(Retries, BackOffExponentiallyUpToTheCapAndStop) {
  std::vector<milliseconds> waits;
  Retries retries({.max_attempts = 6, .first = milliseconds(100), .most = milliseconds(500)},
                  [&](milliseconds d) { waits.push_back(d); });
  int again = 0;
  while (retries.Again()) ++again;
  EXPECT_EQ(again, 5) << "six attempts: the first and five more";
  EXPECT_EQ(waits,
            (std::vector<milliseconds>{milliseconds(100), milliseconds(200), milliseconds(400),
                                       milliseconds(500), milliseconds(500)}));
  EXPECT_EQ(retries.failures(), 6);
}

TEST(Retries, OneAttemptMeansNoRetry) {
  int slept = 0;
  Retries retries({.max_attempts = 1}, [&](milliseconds) { ++slept; });
  EXPECT_FALSE(retries.Again());
  EXPECT_EQ(slept, 0);
}

TEST(IsTransient, RetriesThrottlingServerErrorsAndLostConnectionsOnly) {
  auto answer = [](long status) { return Result<HttpResponse>(HttpResponse{status, {}, ""}); };
  EXPECT_TRUE(IsTransient(answer(429)));
  EXPECT_TRUE(IsTransient(answer(503)));
  EXPECT_FALSE(IsTransient(answer(404)));
  EXPECT_FALSE(IsTransient(answer(401)));
  EXPECT_FALSE(IsTransient(answer(507))) << "a full disk stays full";
  EXPECT_FALSE(IsTransient(answer(501)));
  EXPECT_TRUE(IsTransient(answer(500)));
  EXPECT_TRUE(IsTransient(Result<HttpResponse>(Unavailable("connection reset"))));
  EXPECT_FALSE(IsTransient(Result<HttpResponse>(PermissionDenied("sink refused"))));
}

}  // namespace
}  // namespace lockstep::client
