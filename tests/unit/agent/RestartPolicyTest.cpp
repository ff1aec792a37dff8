#include <gtest/gtest.h>

#include "agent/RestartPolicy.h"

namespace cgwarden::agent {
namespace {

using std::chrono::milliseconds;

config::RestartSpec spec(config::RestartPolicy policy, uint32_t maxRestarts = 5) {
  config::RestartSpec s;
  s.policy = policy;
  s.maxRestarts = maxRestarts;
  s.initialBackoff = milliseconds(1000);
  s.maxBackoff = milliseconds(30000);
  return s;
}

TEST(RestartPolicyTest, NeverRestartsWhateverTheOutcome) {
  for (bool ok : {true, false}) {
    RestartDecision d = decideRestart(spec(config::RestartPolicy::Never), ok, 0);
    EXPECT_FALSE(d.restart);
    EXPECT_FALSE(d.failed);
  }
}

TEST(RestartPolicyTest, OnFailureRestartsOnlyFailures) {
  EXPECT_FALSE(decideRestart(spec(config::RestartPolicy::OnFailure), true, 0).restart);
  RestartDecision d = decideRestart(spec(config::RestartPolicy::OnFailure), false, 0);
  EXPECT_TRUE(d.restart);
  EXPECT_EQ(d.delay, milliseconds(1000));
}

TEST(RestartPolicyTest, AlwaysRestartsSuccessesToo) {
  EXPECT_TRUE(decideRestart(spec(config::RestartPolicy::Always), true, 0).restart);
}

TEST(RestartPolicyTest, BackoffDoublesUpToTheCap) {
  auto s = spec(config::RestartPolicy::Always, 0);
  std::vector<int64_t> got;
  for (uint32_t a = 0; a < 8; ++a) got.push_back(decideRestart(s, false, a).delay.count());
  EXPECT_EQ(got, (std::vector<int64_t>{1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000}));
  EXPECT_EQ(backoffDelay(s, 4000000000U).count(), 30000);  // no overflow
}

TEST(RestartPolicyTest, FailsAfterMaxRestartsInARow) {
  auto s = spec(config::RestartPolicy::OnFailure, 3);
  EXPECT_TRUE(decideRestart(s, false, 2).restart);
  RestartDecision d = decideRestart(s, false, 3);
  EXPECT_FALSE(d.restart);
  EXPECT_TRUE(d.failed);
  // A success under on-failure is not a failure, whatever the streak.
  EXPECT_FALSE(decideRestart(s, true, 3).failed);
}

TEST(RestartPolicyTest, ZeroMaxRestartsMeansNoLimit) {
  EXPECT_TRUE(decideRestart(spec(config::RestartPolicy::Always, 0), false, 100000).restart);
}

TEST(RestartPolicyTest, Names) {
  EXPECT_STREQ(restartPolicyName(config::RestartPolicy::OnFailure), "on-failure");
}

}  // namespace
}  // namespace cgwarden::agent
