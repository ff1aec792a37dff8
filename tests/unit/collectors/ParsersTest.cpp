// Pure parsers of mountinfo, /proc/<pid>/cgroup and the limit files, on inline text.
#include <gtest/gtest.h>

#include "collectors/CgroupLayout.h"
#include "collectors/Conversions.h"
#include "collectors/LimitFiles.h"
#include "collectors/ProcCgroup.h"

namespace cgwarden::collectors {
namespace {

// Captured from this project's CI host (hybrid: cpu and cpuacct mounted apart).
constexpr const char* kHybridMountinfo = R"(24 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
)";

// A systemd host with cpu,cpuacct co-mounted (classic v1 layout, no cgroup2).
constexpr const char* kV1Mountinfo =
    "30 25 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755\n"
    "31 30 0:27 / /sys/fs/cgroup/systemd rw,nosuid shared:10 - cgroup cgroup rw,xattr,name=systemd\n"
    "34 30 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:15 - cgroup cgroup rw,cpu,cpuacct\n"
    "35 30 0:31 / /sys/fs/cgroup/memory rw,nosuid shared:16 - cgroup cgroup rw,memory\n"
    "36 30 0:32 / /sys/fs/cgroup/pids rw,nosuid shared:17 - cgroup cgroup rw,pids\n";

constexpr const char* kV2Mountinfo =
    "25 20 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n"
    "26 20 0:6 / /sys/kernel/mm/my\\040dir rw,relatime - tmpfs none rw\n";

TEST(MountinfoTest, ParsesFieldsAndDecodesOctalEscapes) {
  auto mounts = parseMountinfo(kV2Mountinfo);
  ASSERT_TRUE(mounts.ok()) << mounts.error().message();
  ASSERT_EQ(mounts->size(), 2u);
  EXPECT_EQ((*mounts)[0].fsType, "cgroup2");
  EXPECT_EQ((*mounts)[0].mountPoint, "/sys/fs/cgroup");
  EXPECT_EQ((*mounts)[0].superOptions, "rw,nsdelegate,memory_recursiveprot");
  EXPECT_EQ((*mounts)[1].mountPoint, "/sys/kernel/mm/my dir");
}

TEST(MountinfoTest, MalformedLineNamesItsNumber) {
  auto mounts = parseMountinfo("25 20 0:23 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\nthis is not mountinfo\n");
  ASSERT_FALSE(mounts.ok());
  EXPECT_NE(mounts.error().message().find("line 2"), std::string::npos) << mounts.error().message();
}

TEST(CgroupLayoutTest, DetectsHybridWithSeparateCpuAndCpuacct) {
  auto layout = CgroupLayout::fromMounts(*parseMountinfo(kHybridMountinfo));
  ASSERT_TRUE(layout.ok());
  EXPECT_EQ(layout->mode, CgroupMode::Hybrid);
  EXPECT_EQ(layout->unifiedMount, "/sys/fs/cgroup/unified");
  EXPECT_EQ(layout->v1Mounts.at("cpu"), "/sys/fs/cgroup/cpu");
  EXPECT_EQ(layout->v1Mounts.at("cpuacct"), "/sys/fs/cgroup/cpuacct");
  EXPECT_FALSE(layout->hasV1Controller("name=systemd"));
  EXPECT_EQ(layout->v1MountPoints().size(), 8u);
}

TEST(CgroupLayoutTest, DetectsV1WithCoMountedControllers) {
  auto layout = CgroupLayout::fromMounts(*parseMountinfo(kV1Mountinfo));
  ASSERT_TRUE(layout.ok());
  EXPECT_EQ(layout->mode, CgroupMode::V1);
  EXPECT_EQ(layout->v1Mounts.at("cpu"), layout->v1Mounts.at("cpuacct"));
  EXPECT_EQ(layout->v1MountPoints().size(), 3u);  // cpu,cpuacct counted once
  EXPECT_TRUE(layout->unifiedMount.empty());
}

TEST(CgroupLayoutTest, DetectsPureV2) {
  auto layout = CgroupLayout::fromMounts(*parseMountinfo(kV2Mountinfo));
  ASSERT_TRUE(layout.ok());
  EXPECT_EQ(layout->mode, CgroupMode::V2);
  EXPECT_TRUE(layout->v1Mounts.empty());
}

TEST(CgroupLayoutTest, NoCgroupFilesystemIsAnError) {
  auto layout = CgroupLayout::fromMounts(*parseMountinfo("24 1 254:0 / / rw - ext4 /dev/vda rw\n"));
  ASSERT_FALSE(layout.ok());
  EXPECT_NE(layout.error().message().find("no cgroup"), std::string::npos);
}

TEST(ProcCgroupTest, ParsesV1HybridAndV2Lines) {
  auto pc = parseProcCgroup("9:name=systemd:/\n4:memory:/cgwarden/web\n2:cpu,cpuacct:/cgwarden/web\n0::/cgwarden/web:odd\n");
  ASSERT_TRUE(pc.ok()) << pc.error().message();
  ASSERT_EQ(pc->entries.size(), 4u);
  EXPECT_EQ(*pc->pathFor("memory"), "/cgwarden/web");
  EXPECT_EQ(*pc->pathFor("cpuacct"), "/cgwarden/web");
  EXPECT_EQ(*pc->unifiedPath(), "/cgwarden/web:odd");  // ':' inside a path survives
  EXPECT_EQ(pc->pathFor("pids"), nullptr);
}

TEST(ProcCgroupTest, RejectsMalformedLines) {
  EXPECT_FALSE(parseProcCgroup("garbage\n").ok());
  EXPECT_FALSE(parseProcCgroup("x:memory:/a\n").ok());
  EXPECT_FALSE(parseProcCgroup("4:memory:relative\n").ok());
}

TEST(LimitFilesTest, MaxOrNumber) {
  EXPECT_EQ(*parseMaxOrNumber("max\n"), kUnlimited);
  EXPECT_EQ(*parseMaxOrNumber("67108864\n"), 67108864u);
  EXPECT_FALSE(parseMaxOrNumber("-1").ok());
  EXPECT_FALSE(parseMaxOrNumber("").ok());
  EXPECT_EQ(formatMaxOrNumber(kUnlimited), "max");
  EXPECT_EQ(formatMaxOrNumber(16), "16");
  EXPECT_EQ(*parseV1SignedLimit("-1\n"), kUnlimited);
  EXPECT_EQ(*parseV1SignedLimit("20000\n"), 20000u);
}

TEST(LimitFilesTest, CpuMax) {
  auto v = parseCpuMax("max 100000\n");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->quotaUs, kUnlimited);
  EXPECT_EQ(v->periodUs, 100000u);
  v = parseCpuMax("50000 100000");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->quotaUs, 50000u);
  EXPECT_EQ(formatCpuMax(*v), "50000 100000");
  EXPECT_FALSE(parseCpuMax("50000").ok());
  EXPECT_FALSE(parseCpuMax("50000 0").ok());
  EXPECT_FALSE(parseCpuMax("lots 100000").ok());
}

TEST(LimitFilesTest, IoMaxLinesRoundTrip) {
  auto v = parseIoMax("8:16 rbps=2097152 wbps=max riops=max wiops=120\n254:0 rbps=max wbps=max riops=max wiops=max\n");
  ASSERT_TRUE(v.ok()) << v.error().message();
  ASSERT_EQ(v->size(), 2u);
  EXPECT_EQ((*v)[0].major, 8u);
  EXPECT_EQ((*v)[0].minor, 16u);
  EXPECT_EQ((*v)[0].readBps, 2097152u);
  EXPECT_EQ((*v)[0].writeBps, kUnlimited);
  EXPECT_EQ((*v)[0].writeIops, 120u);
  IoDeviceLimit only;
  only.major = 8;
  only.minor = 16;
  only.readBps = 1048576;
  only.writeIops = kUnlimited;
  EXPECT_EQ(formatIoMaxLine(only), "8:16 rbps=1048576 wiops=max");
  EXPECT_FALSE(parseIoMax("8:16 rbps\n").ok());
  EXPECT_FALSE(parseIoMax("sda rbps=1\n").ok());
  EXPECT_FALSE(parseIoMax("8:16 speed=1\n").ok());
}

TEST(LimitFilesTest, BlkioThrottleAndDevices) {
  auto v = parseBlkioThrottle("8:16 1048576\n254:0 500\n");
  ASSERT_TRUE(v.ok());
  ASSERT_EQ(v->size(), 2u);
  EXPECT_EQ((*v)[1].major, 254u);
  EXPECT_EQ((*v)[1].value, 500u);
  EXPECT_FALSE(parseBlkioThrottle("8:16\n").ok());
  EXPECT_EQ(formatBlkioThrottleLine(8, 16, kUnlimited), "8:16 0");  // 0 removes a v1 throttle
  EXPECT_FALSE(parseMajorMinor("8-16").ok());
  EXPECT_EQ(parseMajorMinor(" 254:0\n")->first, 254u);
}

TEST(LimitFilesTest, IoWeightDefaultLine) {
  EXPECT_EQ(*parseIoWeightDefault("default 100\n8:16 200\n"), 100u);
  EXPECT_FALSE(parseIoWeightDefault("8:16 200\n").ok());
}

TEST(LimitFilesTest, CpuLists) {
  auto v = parseCpuList("0-3,6\n");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, (std::vector<uint32_t>{0, 1, 2, 3, 6}));
  EXPECT_TRUE(parseCpuList("")->empty());
  EXPECT_FALSE(parseCpuList("3-1").ok());
  EXPECT_FALSE(parseCpuList("a").ok());
  EXPECT_FALSE(parseCpuList("1-2-3").ok());
}

TEST(ConversionsTest, SharesToWeightUsesTheLogFormula) {
  EXPECT_EQ(sharesToWeight(2), 1u);
  EXPECT_EQ(sharesToWeight(1024), 100u);  // the linear formula gave 39
  EXPECT_EQ(sharesToWeight(262144), 10000u);
  EXPECT_EQ(sharesToWeight(512), 59u);
  EXPECT_EQ(sharesToWeight(0), 100u);
}

TEST(ConversionsTest, WeightToSharesInvertsIt) {
  EXPECT_EQ(weightToShares(1), 2u);
  EXPECT_EQ(weightToShares(100), 1024u);
  EXPECT_EQ(weightToShares(10000), 262144u);
  for (uint64_t shares : {2u, 100u, 512u, 1024u, 2048u, 10000u, 262144u}) {
    uint64_t back = weightToShares(sharesToWeight(shares));
    EXPECT_NEAR(static_cast<double>(back), static_cast<double>(shares), shares * 0.05 + 1) << shares;
  }
  EXPECT_EQ(cadvisorSharesFromWeight(100), 2u + 99u * 262142u / 9999u);
}

TEST(ConversionsTest, BlkioAndIoWeights) {
  EXPECT_EQ(blkioWeightToIoWeight(10), 1u);
  EXPECT_EQ(blkioWeightToIoWeight(1000), 10000u);
  EXPECT_EQ(blkioWeightToIoWeight(500), 1 + 490u * 9999u / 990u);
  for (uint64_t w = 10; w <= 1000; w += 7) EXPECT_EQ(ioWeightToBlkioWeight(blkioWeightToIoWeight(w)), w);
}

TEST(ConversionsTest, MemswAndSwap) {
  EXPECT_EQ(memswFromSwap(64, 16), 80u);
  EXPECT_EQ(memswFromSwap(64, kUnlimited), kUnlimited);
  EXPECT_EQ(*swapFromMemsw(64, 80), 16u);
  EXPECT_FALSE(swapFromMemsw(64, 32).has_value());
  EXPECT_EQ(*swapFromMemsw(64, kUnlimited), kUnlimited);
}

TEST(ConversionsTest, CoresAndQuota) {
  EXPECT_EQ(quotaForCores(1.5, 100000), 150000u);
  EXPECT_EQ(quotaForCores(0.2, 100000), 20000u);
  EXPECT_EQ(quotaForCores(0.001, 100000), 1000u);  // the kernel's minimum
  EXPECT_DOUBLE_EQ(coresForQuota(50000, 100000), 0.5);
  EXPECT_EQ(normalizeV1Unlimited(9223372036854771712u), kUnlimited);
  EXPECT_EQ(normalizeV1Unlimited(67108864), 67108864u);
}

}  // namespace
}  // namespace cgwarden::collectors
