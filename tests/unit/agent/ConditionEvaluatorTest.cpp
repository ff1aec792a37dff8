// Each condition on hand-built snapshots: gauges, fractions of limits, rates over windows
// from the history, PSI, OOM kills and restarts in a window, all/any.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent/ConditionEvaluator.h"
#include "config/PolicySection.h"
#include "unit/agent/PolicyTestKit.h"

namespace cgwarden::testing {
namespace {

using agent::PolicyHistory;
using collectors::TargetSample;

config::PolicyConditionTree leafTree(const std::string& text) {
  std::string error;
  auto c = config::parsePolicyCondition(text, error);
  EXPECT_TRUE(c.has_value()) << error;
  config::PolicyConditionTree t;
  if (c) t.leaf = *c;
  return t;
}

// Records samples into a history the way the engine does (one snapshot each).
class HistoryBuilder {
 public:
  void add(const TargetSample& s) { history_.record(*snapshotOf({s})); }
  const std::deque<agent::HistoryPoint>* of(const TargetSample& s) const { return history_.of(s.target->id); }

 private:
  PolicyHistory history_{3600};
};

std::optional<double> measure(const std::string& text, const TargetSample& s, const std::deque<agent::HistoryPoint>* h) {
  return agent::measureLeaf(leafTree(text).leaf, s, h);
}

TEST(ConditionEvaluatorTest, MemoryBytesAndFractionOfLimit) {
  auto web = makeTarget("web");
  TargetSample s = sampleOf(web, 0, 48 * kMiB, 64 * kMiB);
  s.memory.inactiveFileBytes = 16 * kMiB;
  EXPECT_DOUBLE_EQ(*measure("memory.usage > 80%", s, nullptr), 0.75);
  EXPECT_DOUBLE_EQ(*measure("memory.working_set > 80%", s, nullptr), 0.5);
  EXPECT_DOUBLE_EQ(*measure("memory.usage > 40Mi", s, nullptr), 48.0 * kMiB);
  EXPECT_FALSE(agent::evaluateCondition(leafTree("memory.usage > 80%"), s, nullptr).holds);
  EXPECT_TRUE(agent::evaluateCondition(leafTree("memory.usage >= 75%"), s, nullptr).holds);
  EXPECT_TRUE(agent::evaluateCondition(leafTree("memory.usage > 40Mi"), s, nullptr).holds);
  EXPECT_TRUE(agent::evaluateCondition(leafTree("memory.working_set < 40Mi"), s, nullptr).holds);
  // No limit: a fraction cannot be measured and does not hold.
  TargetSample unlimited = sampleOf(web, 0, 48 * kMiB, kUnlimited);
  auto r = agent::evaluateCondition(leafTree("memory.usage > 1%"), unlimited, nullptr);
  EXPECT_FALSE(r.holds);
  ASSERT_EQ(r.leaves.size(), 1u);
  EXPECT_FALSE(r.leaves[0].value.has_value());
  EXPECT_EQ(r.leaves[0].unit, "fraction of limit");
}

TEST(ConditionEvaluatorTest, PidsCountAndFractionOfPidsMax) {
  TargetSample s = sampleOf(makeTarget("web"), 0);
  s.hasPids = true;
  s.pidsCurrent = 29;
  s.spec.hasPids = true;
  s.spec.pidsMax = 32;
  EXPECT_DOUBLE_EQ(*measure("pids > 90%", s, nullptr), 29.0 / 32.0);
  EXPECT_TRUE(agent::evaluateCondition(leafTree("pids > 90%"), s, nullptr).holds);
  EXPECT_FALSE(agent::evaluateCondition(leafTree("pids > 29"), s, nullptr).holds);
  s.spec.pidsMax = kUnlimited;
  EXPECT_FALSE(measure("pids > 90%", s, nullptr).has_value());
}

TEST(ConditionEvaluatorTest, CpuUsageInCoresOverTheWindow) {
  auto web = makeTarget("web");
  HistoryBuilder h;
  for (int i = 0; i <= 20; ++i) {
    TargetSample s = sampleOf(web, i);
    s.hasCpu = true;
    // 0.5 cores for the first 10 s, then 1.5 cores.
    s.cpu.usageNs = i <= 10 ? static_cast<uint64_t>(i * 0.5e9) : static_cast<uint64_t>(5e9 + (i - 10) * 1.5e9);
    s.spec.hasCpu = true;
    s.spec.cpuQuotaUs = 200000;
    s.spec.cpuPeriodUs = 100000;
    h.add(s);
    if (i == 20) {
      EXPECT_NEAR(*measure("cpu.usage > 1 over 10s", s, h.of(s)), 1.5, 1e-9);
      EXPECT_NEAR(*measure("cpu.usage > 1 over 20s", s, h.of(s)), 1.0, 1e-9);
      EXPECT_NEAR(*measure("cpu.usage > 50% over 10s", s, h.of(s)), 0.75, 1e-9);  // of a 2-core quota
      EXPECT_TRUE(agent::evaluateCondition(leafTree("cpu.usage >= 1.5 over 5s"), s, h.of(s)).holds);
    }
    if (i == 0) {
      EXPECT_FALSE(measure("cpu.usage > 1", s, h.of(s)).has_value()) << "one point is no rate";
    }
  }
}

TEST(ConditionEvaluatorTest, ThrottledRatioOverTheWindow) {
  auto web = makeTarget("web");
  HistoryBuilder h;
  TargetSample last;
  for (int i = 0; i <= 10; ++i) {
    TargetSample s = sampleOf(web, i);
    s.hasCpu = true;
    s.cpu.hasBandwidth = true;
    s.cpu.periods = static_cast<uint64_t>(i) * 10;
    s.cpu.throttledPeriods = static_cast<uint64_t>(i) * 6;
    h.add(s);
    last = s;
  }
  EXPECT_NEAR(*measure("cpu.throttled > 50% over 5s", last, h.of(last)), 0.6, 1e-9);
  EXPECT_TRUE(agent::evaluateCondition(leafTree("cpu.throttled > 0.5 over 5s"), last, h.of(last)).holds);
}

TEST(ConditionEvaluatorTest, PressureRateFromTotalsAndAverages) {
  auto web = makeTarget("web");
  HistoryBuilder h;
  TargetSample s0 = sampleOf(web, 0);
  s0.hasMemoryPressure = true;
  s0.memoryPressure.some.totalUs = 1'000'000;
  s0.memoryPressure.full.totalUs = 500'000;
  s0.memoryPressure.hasFull = true;
  h.add(s0);
  TargetSample s1 = s0;
  s1.sampleTime = kT0 + 5;
  s1.memoryPressure.some.totalUs = 2'000'000;  // 1 s of stall in 5 s
  s1.memoryPressure.full.totalUs = 750'000;
  s1.memoryPressure.some.avg10 = 35.5;
  s1.memoryPressure.full.avg60 = 4.0;
  h.add(s1);
  EXPECT_NEAR(*measure("memory.pressure.some > 10% over 5s", s1, h.of(s1)), 0.2, 1e-9);
  EXPECT_NEAR(*measure("memory.pressure.full > 10% over 5s", s1, h.of(s1)), 0.05, 1e-9);
  EXPECT_NEAR(*measure("memory.pressure.some.avg10 > 30%", s1, h.of(s1)), 0.355, 1e-9);
  EXPECT_NEAR(*measure("memory.pressure.full.avg60 > 30%", s1, h.of(s1)), 0.04, 1e-9);
  EXPECT_FALSE(measure("cpu.pressure.some > 10%", s1, h.of(s1)).has_value()) << "no cpu.pressure in the sample";
  // A mini-sample between ticks: the rate runs to its own time.
  TargetSample mini = s1;
  mini.sampleTime = kT0 + 6;
  mini.memoryPressure.some.totalUs = 2'600'000;
  EXPECT_NEAR(*measure("memory.pressure.some > 10% over 5s", mini, h.of(s1)), 1.6 / 6.0, 1e-9)
      << "no point at or before t=1: from the oldest (t=0) to t=6";
  EXPECT_NEAR(*measure("memory.pressure.some > 10% over 1s", mini, h.of(s1)), 0.6, 1e-9) << "from t=5 to t=6";
}

TEST(ConditionEvaluatorTest, OomKillsAndRestartsInTheWindow) {
  auto target = std::make_shared<collectors::SampleTarget>(*makeTarget("grower"));
  HistoryBuilder h;
  TargetSample last;
  for (int i = 0; i <= 12; ++i) {
    auto t = std::make_shared<collectors::SampleTarget>(*target);
    t->restarts = static_cast<uint32_t>(i / 2);  // a restart every 2 s
    TargetSample s = sampleOf(t, i * 10.0);     // one sample per 10 s: a restart every 20 s
    s.memory.oomKills = static_cast<uint64_t>(i >= 11 ? 3 : 1);
    h.add(s);
    last = s;
  }
  EXPECT_DOUBLE_EQ(*measure("memory.oom_kills >= 1 over 30s", last, h.of(last)), 2.0);
  EXPECT_DOUBLE_EQ(*measure("memory.oom_kills >= 1 over 5m", last, h.of(last)), 2.0);
  EXPECT_DOUBLE_EQ(*measure("restarts >= 3 over 1m", last, h.of(last)), 3.0);
  EXPECT_TRUE(agent::evaluateCondition(leafTree("restarts >= 3 over 1m"), last, h.of(last)).holds);
  EXPECT_FALSE(agent::evaluateCondition(leafTree("restarts >= 4 over 1m"), last, h.of(last)).holds);
  // Observed cgroups have no restarts.
  TargetSample observed = sampleOf(makeTarget("system.slice/x", false), 0);
  EXPECT_FALSE(measure("restarts >= 1", observed, nullptr).has_value());
}

TEST(ConditionEvaluatorTest, IoBytesPerSecond) {
  auto web = makeTarget("web");
  PolicyHistory history(3600);
  auto snap = [&](double t, uint64_t read, uint64_t written) {
    TargetSample s = sampleOf(web, t);
    s.hasIo = true;
    s.ioBegin = 0;
    s.ioCount = 2;
    auto sn = std::make_shared<collectors::Snapshot>(*snapshotOf({s}));
    sn->io = {collectors::IoDeviceUsage{8, 0, read / 2, written, 0, 0, 0, 0, 0, 0, 0, 0, false},
              collectors::IoDeviceUsage{8, 16, read / 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, false}};
    history.record(*sn);
    return s;
  };
  snap(0, 0, 0);
  TargetSample s = snap(10, 100'000'000, 50'000'000);
  EXPECT_DOUBLE_EQ(*measure("io.read > 1M/s", s, history.of(web->id)), 10e6);
  EXPECT_DOUBLE_EQ(*measure("io.write > 1M/s", s, history.of(web->id)), 5e6);
  EXPECT_DOUBLE_EQ(*measure("io.total > 1M/s", s, history.of(web->id)), 15e6);
}

TEST(ConditionEvaluatorTest, AllAndAnyEvaluateEveryLeaf) {
  config::PolicyConditionTree all;
  all.kind = config::PolicyConditionTree::Kind::All;
  all.children = {leafTree("memory.usage > 50%"), leafTree("pids > 10")};
  config::PolicyConditionTree any = all;
  any.kind = config::PolicyConditionTree::Kind::Any;
  TargetSample s = sampleOf(makeTarget("web"), 0, 40 * kMiB);
  s.hasPids = true;
  s.pidsCurrent = 5;
  auto ra = agent::evaluateCondition(all, s, nullptr);
  auto rn = agent::evaluateCondition(any, s, nullptr);
  EXPECT_FALSE(ra.holds);
  EXPECT_TRUE(rn.holds);
  ASSERT_EQ(ra.leaves.size(), 2u);
  EXPECT_TRUE(ra.leaves[0].holds);
  EXPECT_FALSE(ra.leaves[1].holds);
  EXPECT_DOUBLE_EQ(*ra.leaves[1].value, 5);
  EXPECT_EQ(ra.leaves[1].condition, "pids > 10");
}

TEST(ConditionEvaluatorTest, HistoryIsBoundedAndForgetsVanishedTargets) {
  PolicyHistory history(10, 5);
  auto web = makeTarget("web");
  for (int i = 0; i < 20; ++i) history.record(*snapshotOf({sampleOf(web, i)}));
  ASSERT_NE(history.of(web->id), nullptr);
  EXPECT_EQ(history.of(web->id)->size(), 5u);
  history.setMaxAge(2);
  history.record(*snapshotOf({sampleOf(web, 20)}));
  EXPECT_LE(history.of(web->id)->size(), 4u);
  EXPECT_GE(history.of(web->id)->front().time, kT0 + 17);
  history.record(*snapshotOf({sampleOf(makeTarget("other"), 21)}));
  EXPECT_EQ(history.of(web->id), nullptr);
  EXPECT_EQ(history.targets(), 1u);
}

}  // namespace
}  // namespace cgwarden::testing
