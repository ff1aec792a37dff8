// Pure parsers of the accounting files, on captures from this host (v1/hybrid, under
// tests/fixtures/cgroup-v1-hybrid) and realistic v2 files (tests/fixtures/cgroup-v2), plus
// malformed input. Every error must say which line or key was wrong.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "collectors/CpuFiles.h"
#include "collectors/DeviceNames.h"
#include "collectors/IoFiles.h"
#include "collectors/MemoryFiles.h"
#include "collectors/PidsFiles.h"
#include "collectors/PressureFiles.h"
#include "collectors/StatScan.h"

namespace cgwarden::collectors {
namespace {

std::string fixture(const std::string& rel) {
  std::ifstream in(std::string(CGWARDEN_SOURCE_DIR) + "/tests/fixtures/" + rel);
  EXPECT_TRUE(in.good()) << rel;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

::testing::AssertionResult errorMentions(const Error& e, const std::string& what) {
  if (e.message().find(what) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << e.message() << "\" does not mention \"" << what << "\"";
}

// ---- single values --------------------------------------------------------------------

TEST(SingleValueTest, ParsesCapturedV1Files) {
  EXPECT_EQ(parseSingleValue(fixture("cgroup-v1-hybrid/cpuacct.usage")).valueOr(0), 612668499u);
  EXPECT_EQ(parseSingleValue(fixture("cgroup-v1-hybrid/memory.usage_in_bytes")).valueOr(0), 503808u);
  EXPECT_EQ(parseSingleValue(fixture("cgroup-v1-hybrid/memory.max_usage_in_bytes")).valueOr(0), 1830912u);
  EXPECT_EQ(parseSingleValue(fixture("cgroup-v1-hybrid/memory.failcnt")).valueOr(99), 0u);
  EXPECT_EQ(parseSingleValue(fixture("cgroup-v2/memory.peak")).valueOr(0), 9437184u);
}

TEST(SingleValueTest, RejectsGarbageEmptyAndNegative) {
  for (const char* bad : {"", "\n", "12a\n", "-1\n", "1 2\n", "max\n"}) {
    auto v = parseSingleValue(bad);
    ASSERT_FALSE(v.ok()) << "accepted \"" << bad << "\"";
    EXPECT_TRUE(errorMentions(v.error(), "expected one unsigned number"));
  }
}

// ---- CPU ---------------------------------------------------------------------------

TEST(CpuacctStatTest, ConvertsUserHzTicksToNanoseconds) {
  auto v = parseCpuacctStat(fixture("cgroup-v1-hybrid/cpuacct.stat"), 100);
  ASSERT_TRUE(v.ok()) << v.error().message();
  EXPECT_EQ(v->userNs, 480000000u);  // 48 ticks at 100 Hz
  EXPECT_EQ(v->systemNs, 120000000u);
  auto odd = parseCpuacctStat("user 1\nsystem 3\n", 300);  // USER_HZ need not divide 1e9
  ASSERT_TRUE(odd.ok());
  EXPECT_EQ(odd->userNs, 3333333u);
  EXPECT_EQ(odd->systemNs, 10000000u);
}

TEST(CpuacctStatTest, MalformedAndMissingKeys) {
  auto bad = parseCpuacctStat("user 48\nsystem twelve\n", 100);
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(errorMentions(bad.error(), "line 2"));
  EXPECT_TRUE(errorMentions(bad.error(), "system twelve"));
  auto missing = parseCpuacctStat("user 48\n", 100);
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(errorMentions(missing.error(), "\"system\""));
}

TEST(CpuacctUsagePercpuTest, OneValuePerCpu) {
  auto v = parseCpuacctUsagePercpu(fixture("cgroup-v1-hybrid/cpuacct.usage_percpu"));
  ASSERT_TRUE(v.ok()) << v.error().message();
  EXPECT_EQ(*v, (std::vector<uint64_t>{536285680, 76382819}));
  auto bad = parseCpuacctUsagePercpu("1 2 x 4\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(errorMentions(bad.error(), "cpu 2"));
  EXPECT_FALSE(parseCpuacctUsagePercpu("\n").ok());
}

TEST(CpuStatV1Test, CapturedWithBurstKeys) {
  auto v = parseCpuStatV1(fixture("cgroup-v1-hybrid/cpu.stat"));
  ASSERT_TRUE(v.ok()) << v.error().message();
  EXPECT_EQ(v->periods, 15u);
  EXPECT_EQ(v->throttledPeriods, 11u);
  EXPECT_EQ(v->throttledNs, 250297182u);
  EXPECT_TRUE(v->hasBurst);
  // An older kernel without burst accounting.
  auto old = parseCpuStatV1("nr_periods 5\nnr_throttled 1\nthrottled_time 77\n");
  ASSERT_TRUE(old.ok());
  EXPECT_FALSE(old->hasBurst);
  EXPECT_EQ(old->throttledNs, 77u);
}

TEST(CpuStatV1Test, MissingOrMalformed) {
  auto missing = parseCpuStatV1("nr_periods 5\nnr_throttled 1\n");
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(errorMentions(missing.error(), "throttled_time"));
  auto bad = parseCpuStatV1("nr_periods 5\nnr_throttled\nthrottled_time 1\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(errorMentions(bad.error(), "line 2"));
}

TEST(CpuStatV2Test, FullFileWithBandwidthAndBurst) {
  auto v = parseCpuStatV2(fixture("cgroup-v2/cpu.stat"));
  ASSERT_TRUE(v.ok()) << v.error().message();
  EXPECT_EQ(v->usageUs, 2470161u);
  EXPECT_EQ(v->userUs, 1830245u);
  EXPECT_EQ(v->systemUs, 639916u);
  EXPECT_TRUE(v->hasBandwidth);
  EXPECT_EQ(v->periods, 57u);
  EXPECT_EQ(v->throttledPeriods, 31u);
  EXPECT_EQ(v->throttledUs, 1261045u);
  EXPECT_TRUE(v->hasBurst);
  EXPECT_EQ(v->bursts, 2u);
  EXPECT_EQ(v->burstUs, 15000u);
}

TEST(CpuStatV2Test, ControllerLessTwinHasOnlyUsage) {
  // The hybrid host's cgroup2 twin (captured): no cpu controller, no bandwidth keys.
  auto v = parseCpuStatV2(fixture("cgroup-v1-hybrid/unified/cpu.stat"));
  ASSERT_TRUE(v.ok()) << v.error().message();
  EXPECT_EQ(v->usageUs, 612476u);
  EXPECT_FALSE(v->hasBandwidth);
  EXPECT_FALSE(v->hasBurst);
  auto missing = parseCpuStatV2("user_usec 1\nsystem_usec 2\n");
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(errorMentions(missing.error(), "usage_usec"));
}

// ---- memory ------------------------------------------------------------------------

TEST(MemoryStatV1Test, PrefersHierarchicalTotals) {
  auto v = parseMemoryStatV1(fixture("cgroup-v1-hybrid/memory.stat"));
  ASSERT_TRUE(v.ok()) << v.error().message();
  EXPECT_TRUE(v->hierarchical);
  EXPECT_EQ(v->cache, 147456u);
  EXPECT_EQ(v->rss, 0u);
  EXPECT_EQ(v->inactiveFile, 20480u);
  EXPECT_EQ(v->activeFile, 126976u);
  EXPECT_EQ(v->pgfault, 1194u);
  EXPECT_EQ(v->pgmajfault, 4u);
  EXPECT_EQ(v->workingsetRefaultFile, 14u);
  EXPECT_TRUE(v->hasSwap);

  // Totals differ from the local values: the totals win.
  auto t = parseMemoryStatV1("cache 1\nrss 2\ninactive_file 3\ntotal_cache 10\ntotal_rss 20\ntotal_inactive_file 30\n");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->cache, 10u);
  EXPECT_EQ(t->rss, 20u);
  EXPECT_EQ(t->inactiveFile, 30u);
  EXPECT_FALSE(t->hasSwap) << "no swap line without swap accounting";
  // Without totals (use_hierarchy 0 on old kernels) the local values are used.
  auto local = parseMemoryStatV1("cache 1\nrss 2\ninactive_file 3\nmapped_file 4\n");
  ASSERT_TRUE(local.ok());
  EXPECT_FALSE(local->hierarchical);
  EXPECT_EQ(local->mappedFile, 4u);
}

// Each of the twelve keys lands in its own member, local and total_, next to keys of the
// same length that must be skipped (shmem, unevictable, hierarchical_memory_limit...).
TEST(MemoryStatV1Test, EveryKeyByItsOwnName) {
  const char* names[] = {"cache", "rss", "mapped_file", "swap", "dirty", "writeback", "inactive_file",
                         "active_file", "pgfault", "pgmajfault", "workingset_refault_anon", "workingset_refault_file"};
  std::string text = "shmem 900\nrss_huge 901\nunevictable 902\npgpgin 903\nactive_anon 904\n";
  for (int i = 0; i < 12; ++i) {
    text += std::string(names[i]) + " " + std::to_string(i + 1) + "\n";
    text += "total_" + std::string(names[i]) + " " + std::to_string(100 + i) + "\n";
  }
  text += "hierarchical_memory_limit 9223372036854771712\nworkingset_activate_anon 905\ntotal_shmem 906\n";
  auto v = parseMemoryStatV1(text);
  ASSERT_TRUE(v.ok()) << v.error().message();
  EXPECT_EQ(v->cache, 100u);
  EXPECT_EQ(v->rss, 101u);
  EXPECT_EQ(v->mappedFile, 102u);
  EXPECT_EQ(v->swap, 103u);
  EXPECT_EQ(v->dirty, 104u);
  EXPECT_EQ(v->writeback, 105u);
  EXPECT_EQ(v->inactiveFile, 106u);
  EXPECT_EQ(v->activeFile, 107u);
  EXPECT_EQ(v->pgfault, 108u);
  EXPECT_EQ(v->pgmajfault, 109u);
  EXPECT_EQ(v->workingsetRefaultAnon, 110u);
  EXPECT_EQ(v->workingsetRefaultFile, 111u);
}

TEST(MemoryStatV1Test, MalformedAndMissing) {
  auto bad = parseMemoryStatV1("cache 1\nrss two\ninactive_file 3\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(errorMentions(bad.error(), "line 2"));
  EXPECT_TRUE(errorMentions(bad.error(), "rss two"));
  auto missing = parseMemoryStatV1("cache 1\ninactive_file 3\n");
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(errorMentions(missing.error(), "\"rss\""));
}

// The scanner's fast path (the kernel's "key value\n") and its general path (tabs, CR,
// repeated or leading blanks, no final newline, blank lines) read the same values; values
// past 64 bits and stray characters are errors naming their line.
TEST(FlatKeyedScanTest, KernelFormAndOddFormsReadAlike) {
  struct Two {
    uint64_t a = 0, b = 0;
  };
  static constexpr scan::FlatKey<Two> kKeys[] = {{"alpha", &Two::a}, {"beta", &Two::b}};
  for (const char* text : {"alpha 18446744073709551615\nbeta 0\n", "alpha\t18446744073709551615\r\nbeta 0",
                           "\n  alpha   18446744073709551615  \n\nbeta\t0\n", "other 7\nalpha 18446744073709551615\nbeta 0"}) {
    SCOPED_TRACE(text);
    Two out;
    auto seen = scan::scanFlatKeyed(text, kKeys, out);
    ASSERT_TRUE(seen.ok()) << seen.error().message();
    EXPECT_EQ(*seen, 0b11u);
    EXPECT_EQ(out.a, UINT64_MAX);
    EXPECT_EQ(out.b, 0u);
  }
  struct Case {
    const char* text;
    const char* line;
  };
  for (Case c : {Case{"alpha 1\nbeta 18446744073709551616\n", "line 2"}, Case{"alpha 12x\n", "line 1"},
                 Case{"alpha 1\n\nbeta\n", "line 3"}, Case{"alpha 1 2\n", "line 1"}, Case{"alpha -1\n", "line 1"},
                 Case{"alpha 123456789012345678901\n", "line 1"}}) {
    SCOPED_TRACE(c.text);
    Two out;
    auto seen = scan::scanFlatKeyed(c.text, kKeys, out);
    ASSERT_FALSE(seen.ok());
    EXPECT_TRUE(errorMentions(seen.error(), c.line));
  }
}

TEST(OomControlTest, CapturedAndOldKernel) {
  auto v = parseOomControl(fixture("cgroup-v1-hybrid/memory.oom_control"));
  ASSERT_TRUE(v.ok()) << v.error().message();
  EXPECT_TRUE(v->hasOomKill);
  EXPECT_EQ(v->oomKill, 0u);
  EXPECT_FALSE(v->underOom);
  auto killed = parseOomControl("oom_kill_disable 0\nunder_oom 1\noom_kill 3\n");
  ASSERT_TRUE(killed.ok());
  EXPECT_TRUE(killed->underOom);
  EXPECT_EQ(killed->oomKill, 3u);
  auto old = parseOomControl("oom_kill_disable 0\nunder_oom 0\n");
  ASSERT_TRUE(old.ok());
  EXPECT_FALSE(old->hasOomKill);
  auto bad = parseOomControl("oom_kill_disable 0\nunder_oom yes\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(errorMentions(bad.error(), "line 2"));
}

TEST(MemoryStatV2Test, ParsesTheKeysWeExport) {
  auto v = parseMemoryStatV2(fixture("cgroup-v2/memory.stat"));
  ASSERT_TRUE(v.ok()) << v.error().message();
  EXPECT_EQ(v->anon, 1048576u);
  EXPECT_EQ(v->file, 3170304u);
  EXPECT_EQ(v->fileMapped, 1052672u);
  EXPECT_EQ(v->fileDirty, 4096u);
  EXPECT_EQ(v->fileWriteback, 0u);
  EXPECT_EQ(v->inactiveFile, 2174976u);
  EXPECT_EQ(v->activeFile, 995328u);
  EXPECT_EQ(v->kernel, 512000u);
  EXPECT_EQ(v->workingsetRefaultAnon, 3u);
  EXPECT_EQ(v->workingsetRefaultFile, 12u);
  EXPECT_EQ(v->pgscan, 145u);
  EXPECT_EQ(v->pgsteal, 121u);
  EXPECT_EQ(v->pgfault, 2730u);
  EXPECT_EQ(v->pgmajfault, 1u);
}

TEST(MemoryStatV2Test, MalformedAndMissing) {
  auto bad = parseMemoryStatV2("anon 1\nfile 2\ninactive_file 3\npgfault -4\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(errorMentions(bad.error(), "line 4"));
  auto missing = parseMemoryStatV2("anon 1\nfile 2\n");
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(errorMentions(missing.error(), "inactive_file"));
  // A v1 file is not a v2 file.
  EXPECT_FALSE(parseMemoryStatV2(fixture("cgroup-v1-hybrid/memory.stat")).ok());
}

TEST(MemoryEventsTest, AllCounters) {
  auto v = parseMemoryEvents(fixture("cgroup-v2/memory.events"));
  ASSERT_TRUE(v.ok()) << v.error().message();
  EXPECT_EQ(v->low, 0u);
  EXPECT_EQ(v->high, 12u);
  EXPECT_EQ(v->max, 40u);
  EXPECT_EQ(v->oom, 2u);
  EXPECT_EQ(v->oomKill, 1u);
  auto missing = parseMemoryEvents("low 0\nhigh 0\nmax 0\noom 0\n");
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(errorMentions(missing.error(), "oom_kill"));
  auto bad = parseMemoryEvents("low 0\nhigh 0 0\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(errorMentions(bad.error(), "line 2"));
}

// ---- block IO ------------------------------------------------------------------------

TEST(BlkioTest, CapturedThrottleFilesMergeIntoOneDevice) {
  std::vector<IoDeviceUsage> devices;
  ASSERT_TRUE(parseBlkioRecursive(fixture("cgroup-v1-hybrid/blkio.throttle.io_service_bytes_recursive"),
                                  BlkioKind::Bytes, devices)
                  .ok());
  ASSERT_TRUE(
      parseBlkioRecursive(fixture("cgroup-v1-hybrid/blkio.throttle.io_serviced_recursive"), BlkioKind::Ops, devices)
          .ok());
  ASSERT_EQ(devices.size(), 1u);
  EXPECT_EQ(devices[0].major, 254u);
  EXPECT_EQ(devices[0].minor, 0u);
  EXPECT_EQ(devices[0].readBytes, 21118976u);
  EXPECT_EQ(devices[0].writeBytes, 20971520u);
  EXPECT_EQ(devices[0].readOps, 26u);
  EXPECT_EQ(devices[0].writeOps, 20u);
}

TEST(BlkioTest, EmptyBfqFileAndSeveralDevices) {
  std::vector<IoDeviceUsage> devices;
  ASSERT_TRUE(
      parseBlkioRecursive(fixture("cgroup-v1-hybrid/blkio.bfq.io_service_bytes_recursive"), BlkioKind::Bytes, devices)
          .ok());
  EXPECT_TRUE(devices.empty()) << "\"Total 0\" alone means no device";
  ASSERT_TRUE(parseBlkioRecursive("8:0 Read 10\n8:0 Write 20\n8:16 Read 1\n8:16 Discard 4096\nTotal 31\n",
                                  BlkioKind::Bytes, devices)
                  .ok());
  ASSERT_EQ(devices.size(), 2u);
  EXPECT_EQ(devices[1].major, 8u);
  EXPECT_EQ(devices[1].minor, 16u);
  EXPECT_EQ(devices[1].discardBytes, 4096u);
}

TEST(BlkioTest, MalformedLinesNameTheirNumber) {
  std::vector<IoDeviceUsage> devices;
  for (const char* bad : {"8:0 Read 10\n8:0 Sideways 3\n", "8:0 Read 10\nsda Read 3\n", "8:0 Read 10\n8:0 Read\n",
                          "8:0 Read 10\n8:0 Read 3 4\n"}) {
    auto st = parseBlkioRecursive(bad, BlkioKind::Bytes, devices);
    ASSERT_FALSE(st.ok()) << bad;
    EXPECT_TRUE(errorMentions(st.error(), "line 2")) << bad;
  }
}

TEST(IoStatTest, DocumentationExampleWithIocost) {
  std::vector<IoDeviceUsage> devices;
  ASSERT_TRUE(parseIoStat(fixture("cgroup-v2/io.stat"), devices).ok());
  ASSERT_EQ(devices.size(), 2u);
  EXPECT_EQ(devices[0].major, 8u);
  EXPECT_EQ(devices[0].minor, 16u);
  EXPECT_EQ(devices[0].readBytes, 1459200u);
  EXPECT_EQ(devices[0].writeBytes, 314773504u);
  EXPECT_EQ(devices[0].readOps, 192u);
  EXPECT_EQ(devices[0].writeOps, 353u);
  EXPECT_FALSE(devices[0].hasCost);
  EXPECT_EQ(devices[1].discardBytes, 50331648u);
  EXPECT_EQ(devices[1].discardOps, 3021u);
  EXPECT_TRUE(devices[1].hasCost);
  EXPECT_EQ(devices[1].costUsageUs, 1204u);
  EXPECT_EQ(devices[1].costWaitUs, 305u);
  EXPECT_EQ(devices[1].costIndebtUs, 7u);
  EXPECT_EQ(devices[1].costIndelayUs, 2u);
}

TEST(IoStatTest, UnknownKeysSkippedBadValuesRejected) {
  std::vector<IoDeviceUsage> devices;
  ASSERT_TRUE(parseIoStat("259:0 rbytes=1 wbytes=2 rios=3 wios=4 newkey=1.5\n", devices).ok());
  EXPECT_EQ(devices.at(0).writeOps, 4u);
  for (const char* bad : {"8:0 rbytes=1\nnvme rbytes=2\n", "8:0 rbytes=1\n8:16 rbytes=x\n", "8:0 rbytes=1\n8:16 rbytes\n"}) {
    std::vector<IoDeviceUsage> d;
    auto st = parseIoStat(bad, d);
    ASSERT_FALSE(st.ok()) << bad;
    EXPECT_TRUE(errorMentions(st.error(), "line 2")) << bad;
  }
}

// ---- PSI, tasks, device names ---------------------------------------------------------

TEST(PressureTest, CapturedTwinAndV2Files) {
  auto cpu = parsePressure(fixture("cgroup-v1-hybrid/unified/cpu.pressure"));
  ASSERT_TRUE(cpu.ok()) << cpu.error().message();
  EXPECT_EQ(cpu->some.totalUs, 470559u);
  EXPECT_TRUE(cpu->hasFull);
  EXPECT_EQ(cpu->full.totalUs, 470201u);
  auto v2 = parsePressure(fixture("cgroup-v2/cpu.pressure"));
  ASSERT_TRUE(v2.ok());
  EXPECT_FLOAT_EQ(v2->some.avg10, 0.81);
  EXPECT_FLOAT_EQ(v2->some.avg60, 0.42);
  EXPECT_FLOAT_EQ(v2->full.avg300, 0.05);
  // Kernels before 5.13: cpu.pressure has no "full" line.
  auto old = parsePressure("some avg10=1.00 avg60=2.00 avg300=3.00 total=99\n");
  ASSERT_TRUE(old.ok());
  EXPECT_FALSE(old->hasFull);
}

TEST(PressureTest, Malformed) {
  for (const char* bad : {"some avg10=0.00 avg60=0.00 avg300=0.00\n",                    // no total
                          "some avg10=0.00 avg60=0.00 avg300=0.00 total=-3\n",          // negative
                          "some avg10=x avg60=0.00 avg300=0.00 total=3\n",              // not a number
                          "half avg10=0.00 avg60=0.00 avg300=0.00 total=3\n"}) {        // unknown kind
    auto v = parsePressure(bad);
    ASSERT_FALSE(v.ok()) << bad;
    EXPECT_TRUE(errorMentions(v.error(), "line 1")) << bad;
  }
  auto noSome = parsePressure("full avg10=0.00 avg60=0.00 avg300=0.00 total=3\n");
  ASSERT_FALSE(noSome.ok());
  EXPECT_TRUE(errorMentions(noSome.error(), "\"some\""));
}

TEST(ProcsTest, CountsLinesAcrossChunks) {
  EXPECT_EQ(countProcs(fixture("cgroup-v2/cgroup.procs")).valueOr(0), 2u);
  EXPECT_EQ(countProcs("").valueOr(99), 0u);
  EXPECT_EQ(countProcs("17").valueOr(0), 1u) << "no trailing newline";
  ProcsCounter c;
  ASSERT_TRUE(c.feed("12").ok());
  ASSERT_TRUE(c.feed("34\n56\n7").ok());
  ASSERT_TRUE(c.feed("8\n").ok());
  ASSERT_TRUE(c.finish().ok());
  EXPECT_EQ(c.count, 3u) << "1234, 56, 78";
  auto bad = countProcs("1\n2\nthree\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(errorMentions(bad.error(), "line 3"));
}

TEST(UeventTest, Devname) {
  auto name = parseUeventDevname("MAJOR=254\nMINOR=0\nDEVNAME=vda\nDEVTYPE=disk\nDISKSEQ=9\n");
  ASSERT_TRUE(name.ok());
  EXPECT_EQ(*name, "vda");
  EXPECT_FALSE(parseUeventDevname("MAJOR=254\nMINOR=0\n").ok());
}

}  // namespace
}  // namespace cgwarden::collectors
