// The Sampler on temp trees laid out like a hybrid host (v1 controllers apart + cgroup2
// twin, files captured on this machine) and like a pure v2 host (files from the kernel
// docs). The real-kernel behaviour (held descriptors, ENODEV, a real OOM) is in
// tests/integration/MetricsTest.cpp.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "collectors/Sampler.h"
#include "unit/collectors/FixtureTrees.h"

namespace cgwarden::collectors {
namespace {

using testing::HybridTree;
using testing::V2Tree;
using testing::fixture;
using testing::optionsFor;

TEST(SamplerTest, HybridTargetMatchesTheCapturedFiles) {
  HybridTree h;
  SampleTarget target = h.addCgroup("web");
  Sampler sampler(h.layout, [&] { return std::vector<SampleTarget>{target}; }, optionsFor(h.tree));
  auto snap = sampler.tick();
  ASSERT_EQ(snap->targets.size(), 1u);
  EXPECT_EQ(snap->stats.tickErrors, 0u);
  const TargetSample& s = snap->targets[0];
  EXPECT_EQ(s.target->id, "/web");
  ASSERT_TRUE(s.hasCpu);
  // A managed target's CPU time comes from the cgroup2 twin's cpu.stat (µs), not cpuacct.
  EXPECT_EQ(s.cpu.usageNs, 612476000u);
  EXPECT_EQ(s.cpu.userNs, 488337000u);
  EXPECT_EQ(s.cpu.systemNs, 124139000u);
  EXPECT_TRUE(s.cpu.hasBandwidth) << "a quota is set: cpu.stat's throttling is read";
  EXPECT_EQ(s.cpu.periods, 15u);
  EXPECT_EQ(s.cpu.throttledPeriods, 11u);
  EXPECT_EQ(s.cpu.throttledNs, 250297182u);
  ASSERT_TRUE(s.hasMemory);
  EXPECT_EQ(s.memory.usageBytes, 503808u);
  EXPECT_EQ(s.memory.maxUsageBytes, 1830912u);
  EXPECT_TRUE(s.memory.hasFailcnt);
  EXPECT_EQ(s.memory.cacheBytes, 147456u);
  EXPECT_EQ(s.memory.inactiveFileBytes, 20480u);
  EXPECT_EQ(s.memory.workingSetBytes(), 503808u - 20480u);
  EXPECT_TRUE(s.memory.hasOomKills);
  EXPECT_FALSE(s.memory.hasEvents) << "v1 has no memory.events";
  ASSERT_TRUE(s.hasIo);
  auto io = snap->ioOf(s);
  ASSERT_EQ(io.size(), 1u);
  EXPECT_EQ(io[0].readBytes, 21118976u);
  EXPECT_EQ(io[0].writeOps, 20u);
  EXPECT_EQ(snap->deviceName(254, 0), "/dev/vda");
  EXPECT_EQ(snap->deviceName(7, 1), "7:1") << "unknown device";
  EXPECT_TRUE(s.hasPids);
  EXPECT_EQ(s.pidsCurrent, 0u);
  ASSERT_TRUE(s.hasProcesses);
  EXPECT_EQ(s.processes, 2u) << "cgroup.procs of the pids hierarchy";
  ASSERT_TRUE(s.hasCpuPressure && s.hasMemoryPressure && s.hasIoPressure);
  EXPECT_EQ(s.cpuPressure.some.totalUs, 470559u);
  ASSERT_TRUE(s.hasSpec);
  EXPECT_TRUE(s.spec.hasCpu);
  EXPECT_EQ(s.spec.cpuQuotaUs, 50000u);
  EXPECT_EQ(s.spec.cpuPeriodUs, 100000u);
  EXPECT_EQ(s.spec.cpuShares, 1024u);
  EXPECT_EQ(s.spec.memoryLimit, kUnlimited) << "9223372036854771712 is v1's unlimited";
  EXPECT_TRUE(s.spec.hasSwapLimit);
  EXPECT_EQ(s.spec.pidsMax, kUnlimited);
  EXPECT_GT(s.startTime, 0) << "the directory's ctime when the target has no start time";
  EXPECT_GT(s.sampleTime, 0);
}

TEST(SamplerTest, HybridObservedTargetKeepsCpuacctAndQuotaLessTargetSkipsThrottling) {
  HybridTree h;
  SampleTarget observed = h.addCgroup("obs");
  observed.managed = false;  // its cgroup2 twin may hold other tasks than its v1 cgroups
  SampleTarget noQuota = h.addCgroup("free");
  h.tree.write("cpu/free/cpu.cfs_quota_us", "-1\n");
  Sampler sampler(h.layout, [&] { return std::vector<SampleTarget>{observed, noQuota}; }, optionsFor(h.tree));
  auto snap = sampler.tick();
  const TargetSample* o = snap->find("/obs");
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(o->cpu.usageNs, 612668499u) << "cpuacct.usage";
  EXPECT_EQ(o->cpu.userNs, 480000000u) << "cpuacct.stat, USER_HZ ticks";
  EXPECT_TRUE(o->cpu.hasBandwidth);
  const TargetSample* f = snap->find("/free");
  ASSERT_NE(f, nullptr);
  EXPECT_TRUE(f->hasCpu);
  EXPECT_FALSE(f->cpu.hasBandwidth) << "no quota: no CFS periods run, cpu.stat is not read";
  EXPECT_EQ(snap->stats.tickErrors, 0u);
}

TEST(SamplerTest, DetailSectionsAreReadEveryDetailIntervalAndCarriedBetween) {
  HybridTree h;
  SampleTarget t = h.addCgroup("web");
  SamplerOptions o = optionsFor(h.tree);
  o.interval = std::chrono::milliseconds(1000);
  o.detailInterval = std::chrono::milliseconds(3000);  // every third tick
  Sampler sampler(h.layout, [&] { return std::vector<SampleTarget>{t}; }, o);
  auto first = sampler.tick();
  const TargetSample& a = first->targets.at(0);
  ASSERT_TRUE(a.hasProcesses && a.hasCpuPressure && a.memory.hasMaxUsage);
  EXPECT_EQ(a.processes, 2u);
  EXPECT_DOUBLE_EQ(a.detailTime, a.sampleTime) << "the first sample reads every section";
  const uint64_t firstReads = first->stats.filesRead;  // the limits files too
  uint64_t carriedReads = 0;

  h.tree.write("pids/web/cgroup.procs", "1\n2\n3\n");
  h.tree.write("unified/web/cpu.pressure", "some avg10=1.00 avg60=0.50 avg300=0.10 total=999999\n");
  h.tree.write("memory/web/memory.max_usage_in_bytes", "4096000\n");
  h.tree.write("memory/web/memory.usage_in_bytes", "600000\n");
  h.tree.write("unified/web/cpu.stat", "usage_usec 700000\nuser_usec 500000\nsystem_usec 200000\n");
  h.tree.write("pids/web/pids.current", "7\n");
  h.tree.write("memory/web/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 4\n");
  h.tree.write("cpu/web/cpu.stat", "nr_periods 900\nnr_throttled 90\nthrottled_time 390000000\n");
  h.tree.write("blkio/web/blkio.throttle.io_service_bytes_recursive",
               "254:0 Read 21200000\n254:0 Write 20975000\n254:0 Total 42175000\nTotal 42175000\n");
  for (int i = 0; i < 2; ++i) {
    auto snap = sampler.tick();
    const TargetSample& b = snap->targets.at(0);
    EXPECT_EQ(b.memory.usageBytes, 600000u) << "every-tick sections are fresh";
    EXPECT_EQ(b.cpu.usageNs, 700000000u);
    EXPECT_EQ(b.processes, 2u) << "carried from the last detail read";
    EXPECT_EQ(b.cpuPressure.some.totalUs, 470559u);
    EXPECT_EQ(b.memory.maxUsageBytes, 1830912u);
    EXPECT_EQ(b.pidsCurrent, a.pidsCurrent);
    EXPECT_EQ(b.memory.oomKills, a.memory.oomKills);
    EXPECT_EQ(b.cpu.periods, a.cpu.periods);
    EXPECT_EQ(b.cpu.throttledNs, a.cpu.throttledNs);
    EXPECT_EQ(snap->ioTotals(b), first->ioTotals(a));
    EXPECT_DOUBLE_EQ(b.ioTime, a.sampleTime);
    EXPECT_TRUE(b.hasProcesses && b.hasCpuPressure && b.memory.hasMaxUsage && b.hasPids && b.hasIo &&
                b.memory.hasOomKills && b.cpu.hasBandwidth);
    EXPECT_DOUBLE_EQ(b.detailTime, a.sampleTime);
    EXPECT_LT(snap->stats.filesRead, firstReads);
    carriedReads = snap->stats.filesRead;
  }
  auto third = sampler.tick();
  const TargetSample& c = third->targets.at(0);
  EXPECT_EQ(c.processes, 3u);
  EXPECT_EQ(c.cpuPressure.some.totalUs, 999999u);
  EXPECT_EQ(c.memory.maxUsageBytes, 4096000u);
  EXPECT_EQ(c.pidsCurrent, 7u);
  EXPECT_EQ(c.memory.oomKills, 4u);
  EXPECT_EQ(c.cpu.periods, 900u);
  EXPECT_EQ(c.cpu.throttledNs, 390000000u);
  EXPECT_EQ(third->ioTotals(c), std::make_pair(uint64_t{21200000}, uint64_t{20975000}));
  EXPECT_DOUBLE_EQ(c.detailTime, c.sampleTime);
  EXPECT_DOUBLE_EQ(c.ioTime, c.sampleTime);
  EXPECT_EQ(third->stats.filesRead, carriedReads + 11)
      << "cpu.stat (v1, under a quota), memory.oom_control, two blkio files, pids.current, "
         "memory.max_usage_in_bytes, memory.failcnt, cgroup.procs and the three PSI files";

  // A consumer that needs PSI at tick resolution (a policy on pressure) asks for it.
  sampler.setEveryTick(kSectionPressure);
  h.tree.write("unified/web/cpu.pressure", "some avg10=2.00 avg60=1.00 avg300=0.20 total=1000500\n");
  h.tree.write("pids/web/cgroup.procs", "1\n");
  auto fourth = sampler.tick();
  EXPECT_EQ(fourth->targets.at(0).cpuPressure.some.totalUs, 1000500u);
  EXPECT_EQ(fourth->targets.at(0).processes, 3u) << "not asked for: still carried";
  EXPECT_EQ(fourth->stats.tickErrors, 0u);

  // The workload restarted (a new run start): every section is read on the next tick.
  t.startTimeSeconds = 1700000500;
  auto fifth = sampler.tick();
  EXPECT_EQ(fifth->targets.at(0).processes, 1u);
  EXPECT_DOUBLE_EQ(fifth->targets.at(0).detailTime, fifth->targets.at(0).sampleTime);
}

TEST(SamplerTest, CpuacctUserSystemSplitIsADetailSectionUsageIsNot) {
  HybridTree h;
  SampleTarget observed = h.addCgroup("obs");
  observed.managed = false;  // CPU from cpuacct.usage + cpuacct.stat
  SamplerOptions o = optionsFor(h.tree);
  o.detailInterval = o.interval * 3;
  Sampler sampler(h.layout, [&] { return std::vector<SampleTarget>{observed}; }, o);
  auto first = sampler.tick();
  ASSERT_EQ(first->targets.at(0).cpu.userNs, 480000000u);
  h.tree.write("cpuacct/obs/cpuacct.usage", "912668499\n");
  h.tree.write("cpuacct/obs/cpuacct.stat", "user 70\nsystem 20\n");
  auto second = sampler.tick();
  EXPECT_EQ(second->targets.at(0).cpu.usageNs, 912668499u) << "usage: every tick";
  EXPECT_EQ(second->targets.at(0).cpu.userNs, 480000000u) << "user/system: carried";
  EXPECT_TRUE(second->targets.at(0).cpu.hasUserSystem);
  sampler.tick();
  auto fourth = sampler.tick();
  EXPECT_EQ(fourth->targets.at(0).cpu.userNs, 700000000u);
  EXPECT_EQ(fourth->targets.at(0).cpu.systemNs, 200000000u);
}

TEST(SamplerTest, DetailReadsAreStaggeredAcrossTargets) {
  HybridTree h;
  std::vector<SampleTarget> targets;
  for (int i = 0; i < 6; ++i) targets.push_back(h.addCgroup("c" + std::to_string(i)));
  SamplerOptions o = optionsFor(h.tree);
  o.interval = std::chrono::milliseconds(500);
  o.detailInterval = std::chrono::milliseconds(1500);  // every third tick
  Sampler sampler(h.layout, [&] { return targets; }, o);
  const uint64_t first = sampler.tick()->stats.filesRead;  // every section of every target
  std::vector<uint64_t> reads;
  for (int i = 0; i < 6; ++i) reads.push_back(sampler.tick()->stats.filesRead);
  for (uint64_t r : reads) {
    EXPECT_LT(r, first);
    EXPECT_EQ(r, reads.front()) << "each tick reads the detail files of a third of the targets";
  }
}

TEST(SamplerTest, V2TargetMatchesTheDocumentedFiles) {
  V2Tree v;
  SampleTarget target = v.addCgroup("db");
  target.startTimeSeconds = 1700000000.5;
  Sampler sampler(v.layout, [&] { return std::vector<SampleTarget>{target}; }, optionsFor(v.tree));
  auto snap = sampler.tick();
  ASSERT_EQ(snap->targets.size(), 1u);
  EXPECT_EQ(snap->stats.tickErrors, 0u);
  const TargetSample& s = snap->targets[0];
  EXPECT_EQ(s.cpu.usageNs, 2470161000u);
  EXPECT_EQ(s.cpu.userNs, 1830245000u);
  EXPECT_EQ(s.cpu.throttledNs, 1261045000u);
  EXPECT_TRUE(s.cpu.hasBurst);
  EXPECT_EQ(s.cpu.burstNs, 15000000u);
  EXPECT_EQ(s.memory.usageBytes, 4694016u);
  EXPECT_EQ(s.memory.maxUsageBytes, 9437184u);
  EXPECT_FALSE(s.memory.hasFailcnt);
  EXPECT_TRUE(s.memory.hasSwap);
  EXPECT_EQ(s.memory.rssBytes, 1048576u);
  EXPECT_EQ(s.memory.cacheBytes, 3170304u);
  EXPECT_EQ(s.memory.workingSetBytes(), 4694016u - 2174976u);
  EXPECT_TRUE(s.memory.hasEvents);
  EXPECT_EQ(s.memory.eventsHigh, 12u);
  EXPECT_EQ(s.memory.oomKills, 1u);
  EXPECT_EQ(s.memory.pgscan, 145u);
  auto io = snap->ioOf(s);
  ASSERT_EQ(io.size(), 2u);
  EXPECT_EQ(snap->deviceName(io[0].major, io[0].minor), "/dev/sdb");
  EXPECT_EQ(snap->deviceName(io[1].major, io[1].minor), "/dev/sda");
  EXPECT_TRUE(io[1].hasCost);
  EXPECT_EQ(s.pidsCurrent, 3u);
  EXPECT_EQ(s.processes, 2u);
  EXPECT_EQ(s.ioPressure.full.totalUs, 4001u);
  EXPECT_EQ(s.spec.cpuQuotaUs, 50000u);
  EXPECT_EQ(s.spec.cpuShares, 2597u) << "cAdvisor's linear map: 2 + (100 - 1) * 262142 / 9999";
  EXPECT_EQ(s.spec.memoryLimit, 64u * 1024 * 1024);
  EXPECT_EQ(s.spec.memorySwapLimit, kUnlimited);
  EXPECT_EQ(s.spec.memoryReservation, 0u);
  EXPECT_EQ(s.spec.pidsMax, 64u);
  EXPECT_DOUBLE_EQ(s.startTime, 1700000000.5);
}

TEST(SamplerTest, VanishedCgroupDropsOutWithoutAnError) {
  // Budget 0: everything opened per read (files in temp trees stay readable through held
  // descriptors after an unlink, unlike the kernel's cgroup files, which return ENODEV:
  // the integration suite covers held descriptors).
  for (size_t budget : {size_t{0}}) {
    HybridTree h;
    std::vector<SampleTarget> targets = {h.addCgroup("a"), h.addCgroup("b")};
    SamplerOptions o = optionsFor(h.tree);
    o.maxOpenFiles = budget;
    Sampler sampler(h.layout, [&] { return targets; }, o);
    ASSERT_EQ(sampler.tick()->targets.size(), 2u);
    EXPECT_EQ(sampler.latest()->stats.heldFiles, budget);
    for (const char* c : {"cpu", "cpuacct", "memory", "blkio", "pids", "unified"}) {
      std::filesystem::remove_all(h.tree.path(std::string(c) + "/a"));
    }
    auto snap = sampler.tick();
    ASSERT_EQ(snap->targets.size(), 1u);
    EXPECT_EQ(snap->targets[0].target->id, "/b");
    EXPECT_EQ(snap->stats.tickErrors, 0u);
    EXPECT_EQ(snap->stats.errorsTotal, 0u);
    // Still listed and still gone: still no error, and back when it reappears.
    EXPECT_EQ(sampler.tick()->targets.size(), 1u);
    // Recreated (a restart of the workload): its counters continue from the old ones.
    h.addCgroup("a");
    snap = sampler.tick();
    EXPECT_EQ(snap->targets.size(), 2u);
    EXPECT_EQ(snap->find("/a")->cpu.usageNs, 2u * 612476000u);
    EXPECT_EQ(snap->find("/b")->cpu.usageNs, 612476000u);
  }
}

// Files read without a held descriptor are counted, so an operator can see the budget is
// spent; with room for everything, none are after the first tick.
TEST(SamplerTest, FilesBeyondTheBudgetAreCountedAsOpened) {
  HybridTree h;
  std::vector<SampleTarget> targets = {h.addCgroup("a"), h.addCgroup("b")};
  for (size_t budget : {size_t{0}, size_t{5}, size_t{1000}}) {
    SCOPED_TRACE("budget " + std::to_string(budget));
    SamplerOptions o = optionsFor(h.tree);
    o.maxOpenFiles = budget;
    Sampler sampler(h.layout, [&] { return targets; }, o);
    auto first = sampler.tick();
    EXPECT_EQ(first->stats.descriptorBudget, budget);
    auto second = sampler.tick();  // every-tick files only: no limits, no detail sections
    ASSERT_EQ(second->targets.size(), 2u);
    ASSERT_GT(second->stats.filesRead, 0u);
    EXPECT_LE(second->stats.heldFiles, budget);
    if (budget == 0) {
      EXPECT_EQ(second->stats.filesOpened, second->stats.filesRead);
    } else if (budget == 1000) {
      EXPECT_EQ(second->stats.filesOpened, 0u);
    } else {
      EXPECT_GT(second->stats.filesOpened, 0u);
      EXPECT_LT(second->stats.filesOpened, second->stats.filesRead);
    }
  }
}

TEST(SamplerTest, MissingFilesAreAbsentNotErrors) {
  HybridTree h;
  SampleTarget t = h.addCgroup("nob", /*withBlkio=*/false);
  t.dirs.erase("blkio");
  std::filesystem::remove(h.tree.path("memory/nob/memory.memsw.limit_in_bytes"));  // no swap accounting
  std::filesystem::remove(h.tree.path("memory/nob/memory.max_usage_in_bytes"));
  Sampler sampler(h.layout, [&] { return std::vector<SampleTarget>{t}; }, optionsFor(h.tree));
  auto snap = sampler.tick();
  ASSERT_EQ(snap->targets.size(), 1u);
  EXPECT_EQ(snap->stats.tickErrors, 0u);
  const TargetSample& s = snap->targets[0];
  EXPECT_FALSE(s.hasIo);
  EXPECT_TRUE(s.hasMemory);
  EXPECT_FALSE(s.memory.hasMaxUsage);
  EXPECT_FALSE(s.spec.hasSwapLimit);
}

TEST(SamplerTest, ParseErrorCountsAndKeepsTheRest) {
  HybridTree h;
  SampleTarget t = h.addCgroup("bad");
  h.tree.write("memory/bad/memory.stat", "cache 1\nrss banana\n");
  Sampler sampler(h.layout, [&] { return std::vector<SampleTarget>{t}; }, optionsFor(h.tree));
  auto snap = sampler.tick();
  ASSERT_EQ(snap->targets.size(), 1u);
  EXPECT_EQ(snap->stats.tickErrors, 1u);
  EXPECT_FALSE(snap->targets[0].hasMemory);
  EXPECT_TRUE(snap->targets[0].hasCpu);
  EXPECT_EQ(sampler.tick()->stats.errorsTotal, 2u) << "counted every tick while it lasts";
  h.tree.write("memory/bad/memory.stat", fixture("cgroup-v1-hybrid/memory.stat"));
  auto fixed = sampler.tick();
  EXPECT_EQ(fixed->stats.tickErrors, 0u);
  EXPECT_TRUE(fixed->targets[0].hasMemory);
}

TEST(SamplerTest, ManagedCountersStayMonotonicWhenTheCgroupIsRecreated) {
  HybridTree h;
  SampleTarget managed = h.addCgroup("job");
  SampleTarget observed = h.addCgroup("obs");
  observed.managed = false;
  Sampler sampler(h.layout, [&] { return std::vector<SampleTarget>{managed, observed}; }, optionsFor(h.tree));
  sampler.setEveryTick(kAllDetailSections);
  auto first = sampler.tick();
  ASSERT_EQ(first->find("/job")->cpu.usageNs, 612476000u);
  ASSERT_EQ(first->find("/obs")->cpu.usageNs, 612668499u);
  // The workload's cgroup is removed and created again: the kernel counts from zero.
  h.tree.write("unified/job/cpu.stat", "usage_usec 1\nuser_usec 1\nsystem_usec 0\n");
  h.tree.write("cpuacct/obs/cpuacct.usage", "1000\n");
  for (const char* cg : {"job", "obs"}) {
    h.tree.write(std::string("memory/") + cg + "/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n");
  }
  auto second = sampler.tick();
  EXPECT_EQ(second->find("/job")->cpu.usageNs, 612476000u + 1000u);
  EXPECT_EQ(second->find("/job")->memory.oomKills, 1u) << "0 -> 1 is not a reset";
  EXPECT_EQ(second->find("/obs")->cpu.usageNs, 1000u) << "observed cgroups report the kernel's value";
  h.tree.write("unified/job/cpu.stat", "usage_usec 5\nuser_usec 5\nsystem_usec 0\n");
  EXPECT_EQ(sampler.tick()->find("/job")->cpu.usageNs, 612476000u + 5000u);
}

TEST(SamplerTest, LimitsAreReReadPeriodicallyAndOnConfiguredChange) {
  HybridTree h;
  SampleTarget t = h.addCgroup("lim");
  SamplerOptions o = optionsFor(h.tree);
  o.specRefreshTicks = 1000;
  std::vector<SampleTarget> targets = {t};
  Sampler sampler(h.layout, [&] { return targets; }, o);
  EXPECT_EQ(sampler.tick()->targets[0].spec.cpuQuotaUs, 50000u);
  h.tree.write("cpu/lim/cpu.cfs_quota_us", "-1\n");
  EXPECT_EQ(sampler.tick()->targets[0].spec.cpuQuotaUs, 50000u) << "not yet re-read";
  Limits changed = *targets[0].configuredLimits;  // the supervisor applied a change
  changed.cpu.quotaUs = kUnlimited;
  targets[0].configuredLimits = changed;
  EXPECT_EQ(sampler.tick()->targets[0].spec.cpuQuotaUs, kUnlimited);
}

TEST(SamplerTest, PublishedSnapshotsAreNeverModified) {
  HybridTree h;
  std::vector<SampleTarget> targets = {h.addCgroup("one")};
  Sampler sampler(h.layout, [&] { return targets; }, optionsFor(h.tree));
  auto held = sampler.tick();
  targets.push_back(h.addCgroup("two"));
  for (int i = 0; i < 4; ++i) sampler.tick();  // enough for storage recycling to come around
  EXPECT_EQ(held->targets.size(), 1u);
  EXPECT_EQ(held->targets[0].target->id, "/one");
  EXPECT_EQ(held->stats.ticks, 1u);
  EXPECT_EQ(sampler.latest()->targets.size(), 2u);
  EXPECT_EQ(sampler.latest()->stats.ticks, 5u);
}

TEST(SamplerTest, CarriedSectionsKeepTheirContinuityOffsets) {
  HybridTree h;
  SampleTarget managed = h.addCgroup("job");
  for (const char* f : {"unified/job/cpu.pressure", "unified/job/memory.pressure"}) {
    h.tree.write(f, "some avg10=0.00 avg60=0.00 avg300=0.00 total=5000\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=3000\n");
  }
  h.tree.write("memory/job/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n");
  h.tree.write("cpu/job/cpu.stat", "nr_periods 1000\nnr_throttled 10\nthrottled_time 500\n");
  SamplerOptions o = optionsFor(h.tree);
  o.detailInterval = o.interval * 3;
  Sampler sampler(h.layout, [&] { return std::vector<SampleTarget>{managed}; }, o);
  // Two detail reads with carried ticks between them: offsets apply only to what was read,
  // so an unread section (nothing in this tick's files) never looks like a counter reset.
  for (int i = 0; i < 7; ++i) {
    auto snap = sampler.tick();
    const TargetSample& t = snap->targets.at(0);
    EXPECT_EQ(t.memory.oomKills, 3u) << "tick " << i;
    EXPECT_EQ(t.cpuPressure.some.totalUs, 5000u) << "tick " << i;
    EXPECT_EQ(t.memoryPressure.full.totalUs, 3000u) << "tick " << i;
    EXPECT_EQ(t.cpu.periods, 1000u) << "tick " << i;
  }
}

TEST(SamplerTest, EachTargetCarriesItsPreviousSampleForRates) {
  HybridTree h;
  std::vector<SampleTarget> targets = {h.addCgroup("one")};
  SamplerOptions o = optionsFor(h.tree);
  o.detailInterval = o.interval * 3;  // IO on ticks 0, 3, 6, ...
  Sampler sampler(h.layout, [&] { return targets; }, o);
  auto first = sampler.tick();
  const TargetSample& a = first->targets.at(0);
  EXPECT_EQ(a.previous.time, 0) << "a first sample has no window for a rate yet";
  EXPECT_FALSE(a.previous.hasIo);
  const auto ioA = first->ioTotals(a);
  h.tree.write("unified/one/cpu.stat", "usage_usec 700000\nuser_usec 500000\nsystem_usec 200000\n");
  h.tree.write("blkio/one/blkio.throttle.io_service_bytes_recursive",
               "254:0 Read 21200000\n254:0 Write 20975000\n254:0 Sync 0\n254:0 Async 0\n254:0 Discard 0\n"
               "254:0 Total 21204096\nTotal 21204096\n");
  std::shared_ptr<const Snapshot> second = sampler.tick();
  const TargetSample& b = second->targets.at(0);
  EXPECT_DOUBLE_EQ(b.previous.time, a.sampleTime) << "CPU: one tick back";
  EXPECT_TRUE(b.previous.hasCpu);
  EXPECT_EQ(b.previous.cpuUsageNs, a.cpu.usageNs);
  EXPECT_EQ(b.cpu.usageNs, 700000000u);
  EXPECT_DOUBLE_EQ(b.ioTime, a.sampleTime) << "IO is carried between its reads";
  EXPECT_EQ(second->ioTotals(b), ioA);
  EXPECT_FALSE(b.previous.hasIo) << "no IO read before the first";
  sampler.tick();
  std::shared_ptr<const Snapshot> last = sampler.tick();  // snapshot storage is recycled meanwhile
  const TargetSample& c = last->targets.at(0);
  EXPECT_DOUBLE_EQ(c.ioTime, c.sampleTime);
  EXPECT_EQ(last->ioTotals(c), std::make_pair(uint64_t{21200000}, uint64_t{20975000}));
  EXPECT_TRUE(c.previous.hasIo) << "IO: one IO read back";
  EXPECT_DOUBLE_EQ(c.previous.ioTime, a.sampleTime);
  EXPECT_EQ(std::make_pair(c.previous.ioReadBytes, c.previous.ioWriteBytes), ioA);
  EXPECT_EQ(c.previous.cpuUsageNs, 700000000u);
  auto next = sampler.tick();
  const TargetSample& d = next->targets.at(0);
  EXPECT_DOUBLE_EQ(d.ioTime, c.sampleTime);
  EXPECT_DOUBLE_EQ(d.previous.ioTime, a.sampleTime) << "the rate base stays until IO is read again";
  // A held snapshot stays intact while the sampler goes on (only the latest is kept).
  double held = c.previous.time;
  for (int i = 0; i < 4; ++i) sampler.tick();
  EXPECT_DOUBLE_EQ(last->targets.at(0).previous.time, held);
  EXPECT_EQ(last->stats.ticks, 4u);
}

TEST(SamplerTest, TargetsLeaveWithTheProviderAndReleaseDescriptors) {
  HybridTree h;
  std::vector<SampleTarget> targets = {h.addCgroup("x"), h.addCgroup("y"), h.addCgroup("x")};
  targets[2].name = "duplicate";
  Sampler sampler(h.layout, [&] { return targets; }, optionsFor(h.tree));
  auto snap = sampler.tick();
  ASSERT_EQ(snap->targets.size(), 2u) << "a duplicate id is sampled once";
  EXPECT_EQ(snap->find("/x")->target->name, "x") << "the first one wins";
  EXPECT_GT(snap->stats.heldFiles, 0u);
  targets.clear();
  snap = sampler.tick();
  EXPECT_TRUE(snap->targets.empty());
  EXPECT_EQ(snap->stats.heldFiles, 0u);
}

TEST(SamplerTest, RunningOutOfDescriptorsShrinksTheBudgetInsteadOfFailing) {
  HybridTree h;
  std::vector<SampleTarget> targets;
  for (int i = 0; i < 12; ++i) targets.push_back(h.addCgroup("fd" + std::to_string(i)));
  SamplerOptions o = optionsFor(h.tree);
  o.maxOpenFiles = 100000;  // far more than the process may open
  pid_t child = ::fork();
  if (child == 0) {
    rlimit rl{};
    ::getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = 96;  // 12 targets need ~250 descriptors to hold everything
    ::setrlimit(RLIMIT_NOFILE, &rl);
    Sampler sampler(h.layout, [&] { return targets; }, o);
    for (int t = 0; t < 3; ++t) {
      auto snap = sampler.tick();
      if (snap->targets.size() != 12) ::_exit(10 + t);
      if (snap->stats.tickErrors != 0) ::_exit(20 + t);
      if (snap->find("/fd11")->memory.usageBytes != 503808u) ::_exit(30 + t);
    }
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "10+t: a target missing, 20+t: errors, 30+t: a wrong value in tick t";
}

TEST(SamplerTest, RaisesTheSoftDescriptorLimitToTheHardOne) {
  pid_t child = ::fork();
  if (child == 0) {
    rlimit rl{};
    ::getrlimit(RLIMIT_NOFILE, &rl);
    rlim_t hard = rl.rlim_max;
    rl.rlim_cur = 256;
    ::setrlimit(RLIMIT_NOFILE, &rl);
    if (raiseFileDescriptorLimit() != 256) ::_exit(1);
    ::getrlimit(RLIMIT_NOFILE, &rl);
    rlim_t want = hard == RLIM_INFINITY ? (rlim_t{1} << 20) : std::min<rlim_t>(hard, rlim_t{1} << 20);
    ::_exit(rl.rlim_cur == want ? 0 : 2);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: wrong previous limit, 2: not raised";
}

TEST(SamplerTest, LoopTicksUntilStopped) {
  V2Tree v;
  SampleTarget t = v.addCgroup("loop");
  SamplerOptions o = optionsFor(v.tree);
  o.interval = std::chrono::milliseconds(5);
  Sampler sampler(v.layout, [&] { return std::vector<SampleTarget>{t}; }, o);
  EXPECT_EQ(sampler.latest()->stats.ticks, 0u);
  EXPECT_TRUE(sampler.latest()->targets.empty());
  sampler.start();
  EXPECT_TRUE(sampler.running());
  for (int i = 0; i < 2000 && sampler.latest()->stats.ticks < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_GE(sampler.latest()->stats.ticks, 3u);
  sampler.stop();
  EXPECT_FALSE(sampler.running());
  uint64_t after = sampler.latest()->stats.ticks;
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_EQ(sampler.latest()->stats.ticks, after);
}

}  // namespace
}  // namespace cgwarden::collectors
