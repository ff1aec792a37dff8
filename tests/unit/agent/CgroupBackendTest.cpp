// The v1 and v2 backends against temp trees laid out like real hierarchies.
// Files the code writes start empty, so what a file holds afterwards is exactly what
// the backend wrote (a real kernel file would parse it instead).
#include <gtest/gtest.h>

#include "unit/TempTree.h"
#include "agent/Cgroup.h"
#include "collectors/Conversions.h"

namespace cgwarden::agent {
namespace {

using testing::TempTree;
constexpr uint64_t kMiB = 1024 * 1024;

CgroupLayout hybridLayout(const TempTree& t) {
  CgroupLayout l;
  l.mode = CgroupMode::Hybrid;
  for (const char* c : {"cpu", "cpuacct", "cpuset", "memory", "blkio", "pids", "freezer"}) {
    l.v1Mounts[c] = t.path(c);
  }
  l.unifiedMount = t.path("unified");
  return l;
}

// A v1 cgroup "cgw/web" as the kernel would have created it, with empty writable files.
void layOutV1(const TempTree& t) {
  t.write("cpuset/cpuset.cpus", "0-1\n");
  t.write("cpuset/cpuset.mems", "0\n");
  for (const char* f : {"cpu/cgw/web/cpu.cfs_period_us", "cpu/cgw/web/cpu.cfs_quota_us", "cpu/cgw/web/cpu.shares",
                        "cpuset/cgw/web/cpuset.cpus", "cpuset/cgw/web/cpuset.mems",
                        "memory/cgw/web/memory.limit_in_bytes", "memory/cgw/web/memory.memsw.limit_in_bytes",
                        "memory/cgw/web/memory.soft_limit_in_bytes", "pids/cgw/web/pids.max",
                        "blkio/cgw/web/blkio.bfq.weight", "blkio/cgw/web/blkio.throttle.read_bps_device",
                        "blkio/cgw/web/blkio.throttle.write_iops_device", "freezer/cgw/web/freezer.state",
                        "cpuacct/cgw/web/cgroup.procs", "unified/cgw/web/cgroup.procs"}) {
    t.write(f, "");
  }
}

TEST(CgroupBackendV1Test, PrepareRootCreatesEveryHierarchyAndCopiesCpuset) {
  TempTree t;
  for (const char* c : {"cpu", "cpuacct", "cpuset", "memory", "blkio", "pids", "freezer", "unified"}) t.mkdir(c);
  t.write("cpuset/cpuset.cpus", "0-1\n");
  t.write("cpuset/cpuset.mems", "0\n");
  auto m = CgroupManager::create(hybridLayout(t), "/cgw/");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ((*m)->root(), "cgw");
  // The kernel gives a new cpuset cgroup empty cpuset.cpus/mems files; a temp tree gives
  // none, so the copy of the parent's values must fail naming exactly that file.
  auto st = (*m)->prepareRoot();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "open " + t.path("cpuset/cgw/cpuset.cpus") + ": No such file or directory (ENOENT)");

  // With the files in place (as the kernel makes them) the copy succeeds.
  t.write("cpuset/cgw/cpuset.cpus", "");
  t.write("cpuset/cgw/cpuset.mems", "");
  std::filesystem::remove_all(t.path("cpu/cgw"));
  st = (*m)->prepareRoot();
  ASSERT_TRUE(st.ok()) << st.error().message();
  for (const char* c : {"cpu", "cpuacct", "cpuset", "memory", "blkio", "pids", "freezer", "unified"}) {
    EXPECT_TRUE(t.exists(std::string(c) + "/cgw")) << c;
  }
}

TEST(CgroupBackendV1Test, NewCpusetCgroupInheritsParentCpusAndMems) {
  TempTree t;
  for (const char* c : {"cpu", "cpuacct", "memory", "blkio", "pids", "freezer", "unified"}) t.mkdir(std::string(c) + "/cgw");
  t.write("cpuset/cgw/cpuset.cpus", "0-1\n");
  t.write("cpuset/cgw/cpuset.mems", "0\n");
  auto m = CgroupManager::create(hybridLayout(t), "cgw");
  // create() copies into the new directory; make the kernel's empty files appear first
  // by creating the directory the way the kernel would, then calling create (EEXIST is fine).
  auto cg = (*m)->create("web");
  ASSERT_FALSE(cg.ok()) << "a temp tree has no kernel-made cpuset files";
  t.write("cpuset/cgw/job/cpuset.cpus", "");
  t.write("cpuset/cgw/job/cpuset.mems", "");
  std::filesystem::remove_all(t.path("cpuset/cgw/web"));
  // "job" already exists in cpuset: no copy there, and every other hierarchy gets a directory.
  cg = (*m)->create("job");
  ASSERT_TRUE(cg.ok()) << cg.error().message();
  EXPECT_TRUE(t.exists("memory/cgw/job"));
  EXPECT_TRUE(t.exists("unified/cgw/job"));
  EXPECT_EQ(t.read("cpuset/cgw/job/cpuset.cpus"), "");  // pre-existing: left alone
}

TEST(CgroupBackendV1Test, AppliesLimitsInV1UnitsAndFiles) {
  TempTree t;
  layOutV1(t);
  auto m = CgroupManager::create(hybridLayout(t), "cgw");
  ASSERT_TRUE(m.ok());
  auto cg = (*m)->open("web");
  ASSERT_TRUE(cg.ok()) << cg.error().message();
  EXPECT_EQ((*cg)->cloneIntoFd(), -1);
  EXPECT_EQ((*cg)->directoryFor("memory"), t.path("memory/cgw/web"));
  EXPECT_EQ((*cg)->directoryFor(""), t.path("unified/cgw/web"));
  EXPECT_EQ((*cg)->directories().size(), 8u);  // 7 controllers + the PSI twin

  Limits l;
  l.cpu.quotaUs = 20000;
  l.cpu.periodUs = 100000;
  l.cpu.weight = 100;
  l.cpu.cpus = "1";
  l.memory.max = 64 * kMiB;
  l.memory.swapMax = 16 * kMiB;
  l.memory.low = 8 * kMiB;
  l.pids.max = kUnlimited;
  l.io.weight = 10000;
  l.io.devices.push_back(IoDeviceLimit{8, 16, 1048576, {}, {}, 100});
  auto st = (*cg)->applyLimits(l);
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(t.read("cpu/cgw/web/cpu.cfs_quota_us"), "20000");
  EXPECT_EQ(t.read("cpu/cgw/web/cpu.cfs_period_us"), "100000");
  EXPECT_EQ(t.read("cpu/cgw/web/cpu.shares"), "1024");
  EXPECT_EQ(t.read("cpuset/cgw/web/cpuset.cpus"), "1");
  EXPECT_EQ(t.read("memory/cgw/web/memory.limit_in_bytes"), std::to_string(64 * kMiB));
  EXPECT_EQ(t.read("memory/cgw/web/memory.memsw.limit_in_bytes"), std::to_string(80 * kMiB));
  EXPECT_EQ(t.read("memory/cgw/web/memory.soft_limit_in_bytes"), std::to_string(8 * kMiB));
  EXPECT_EQ(t.read("pids/cgw/web/pids.max"), "max");
  EXPECT_EQ(t.read("blkio/cgw/web/blkio.bfq.weight"), "1000");
  EXPECT_EQ(t.read("blkio/cgw/web/blkio.throttle.read_bps_device"), "8:16 1048576");
  EXPECT_EQ(t.read("blkio/cgw/web/blkio.throttle.write_iops_device"), "8:16 100");
}

TEST(CgroupBackendV1Test, UnlimitedIsMinusOneInV1Files) {
  TempTree t;
  layOutV1(t);
  auto m = CgroupManager::create(hybridLayout(t), "cgw");
  auto cg = (*m)->open("web");
  ASSERT_TRUE(cg.ok());
  Limits l;
  l.cpu.quotaUs = kUnlimited;
  l.memory.max = kUnlimited;
  ASSERT_TRUE((*cg)->applyLimits(l).ok());
  EXPECT_EQ(t.read("cpu/cgw/web/cpu.cfs_quota_us"), "-1");
  EXPECT_EQ(t.read("memory/cgw/web/memory.limit_in_bytes"), "-1");
}

TEST(CgroupBackendV1Test, ReadsLimitsBackFromKernelFormats) {
  TempTree t;
  layOutV1(t);
  t.write("cpu/cgw/web/cpu.cfs_quota_us", "-1\n");
  t.write("cpu/cgw/web/cpu.cfs_period_us", "100000\n");
  t.write("cpu/cgw/web/cpu.shares", "512\n");
  t.write("memory/cgw/web/memory.limit_in_bytes", "9223372036854771712\n");
  t.write("memory/cgw/web/memory.memsw.limit_in_bytes", "9223372036854771712\n");
  t.write("memory/cgw/web/memory.soft_limit_in_bytes", "9223372036854771712\n");
  t.write("pids/cgw/web/pids.max", "32\n");
  t.write("blkio/cgw/web/blkio.bfq.weight", "default 500\n");
  t.write("blkio/cgw/web/blkio.throttle.read_bps_device", "8:16 1048576\n");
  t.write("blkio/cgw/web/blkio.throttle.write_iops_device", "8:16 100\n");
  t.write("cpuset/cgw/web/cpuset.cpus", "0-1\n");
  auto m = CgroupManager::create(hybridLayout(t), "cgw");
  auto cg = (*m)->open("web");
  ASSERT_TRUE(cg.ok());
  auto l = (*cg)->readLimits();
  ASSERT_TRUE(l.ok()) << l.error().message();
  EXPECT_EQ(l->cpu.quotaUs, kUnlimited);
  EXPECT_EQ(l->cpu.weight, 59u);  // 512 shares, log formula
  EXPECT_EQ(l->cpu.cpus, "0-1");
  EXPECT_EQ(l->memory.max, kUnlimited);
  EXPECT_EQ(l->memory.swapMax, kUnlimited);
  EXPECT_EQ(l->memory.low, kUnlimited);
  EXPECT_EQ(l->pids.max, 32u);
  EXPECT_EQ(l->io.weight, blkioWeightToIoWeight(500));
  ASSERT_EQ(l->io.devices.size(), 1u);
  EXPECT_EQ(l->io.devices[0].readBps, 1048576u);
  EXPECT_EQ(l->io.devices[0].writeIops, 100u);
  EXPECT_FALSE(l->io.devices[0].writeBps.has_value());
}

TEST(CgroupBackendV1Test, MissingFileErrorNamesPathAndErrno) {
  TempTree t;
  layOutV1(t);
  std::filesystem::remove(t.path("pids/cgw/web/pids.max"));
  auto m = CgroupManager::create(hybridLayout(t), "cgw");
  auto cg = (*m)->open("web");
  Limits l;
  l.pids.max = 10;
  auto st = (*cg)->applyLimits(l);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(), "open " + t.path("pids/cgw/web/pids.max") + ": No such file or directory (ENOENT)");
  EXPECT_TRUE(st.error().cgroupGone());
}

TEST(CgroupBackendV2Test, PrepareRootEnablesControllersTopDown) {
  TempTree t;
  t.write("cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
  t.write("cgroup.subtree_control", "");
  t.write("cgw/cgroup.subtree_control", "");
  CgroupLayout l;
  l.mode = CgroupMode::V2;
  l.unifiedMount = t.root();
  auto m = CgroupManager::create(l, "cgw");
  ASSERT_TRUE(m.ok());
  auto st = (*m)->prepareRoot();
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(t.read("cgroup.subtree_control"), "+cpu +cpuset +memory +io +pids");
  EXPECT_EQ(t.read("cgw/cgroup.subtree_control"), "+cpu +cpuset +memory +io +pids");
}

TEST(CgroupBackendV2Test, AlreadyEnabledControllersAreNotWrittenAgain) {
  TempTree t;
  t.write("cgroup.controllers", "cpu io memory pids\n");
  t.write("cgroup.subtree_control", "cpu io memory pids\n");
  t.write("cgw/cgroup.subtree_control", "cpu memory\n");
  CgroupLayout l;
  l.mode = CgroupMode::V2;
  l.unifiedMount = t.root();
  auto m = CgroupManager::create(l, "cgw");
  ASSERT_TRUE((*m)->prepareRoot().ok());
  EXPECT_EQ(t.read("cgroup.subtree_control"), "cpu io memory pids\n");  // untouched
  // write(2) without O_TRUNC overwrote the start of the old text: the kernel would parse it.
  EXPECT_EQ(t.read("cgw/cgroup.subtree_control").substr(0, 9), "+io +pids");
}

TEST(CgroupBackendV2Test, MissingControllerIsNamed) {
  TempTree t;
  t.write("cgroup.controllers", "cpu io\n");
  CgroupLayout l;
  l.mode = CgroupMode::V2;
  l.unifiedMount = t.root();
  auto m = CgroupManager::create(l, "cgw");
  auto st = (*m)->prepareRoot();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("\"memory\" controller is not available"), std::string::npos)
      << st.error().message();
}

TEST(CgroupBackendV2Test, AppliesAndReadsLimitsInV2Files) {
  TempTree t;
  t.write("cgroup.controllers", "cpu io memory pids\n");
  for (const char* f : {"cgw/web/cpu.weight", "cgw/web/memory.max", "cgw/web/memory.high", "cgw/web/memory.low",
                        "cgw/web/memory.swap.max", "cgw/web/pids.max", "cgw/web/io.weight", "cgw/web/io.max"}) {
    t.write(f, "");
  }
  t.write("cgw/web/cpu.max", "max 100000\n");
  CgroupLayout lay;
  lay.mode = CgroupMode::V2;
  lay.unifiedMount = t.root();
  auto m = CgroupManager::create(lay, "cgw");
  auto cg = (*m)->open("web");
  ASSERT_TRUE(cg.ok());
  EXPECT_GE((*cg)->cloneIntoFd(), 0);
  EXPECT_EQ((*cg)->directoryFor("memory"), t.path("cgw/web"));

  Limits l;
  l.cpu.quotaUs = 50000;  // period kept from cpu.max
  l.cpu.weight = 200;
  l.memory.max = 64 * kMiB;
  l.memory.high = 48 * kMiB;
  l.memory.swapMax = 0;
  l.pids.max = 16;
  l.io.weight = 300;
  l.io.devices.push_back(IoDeviceLimit{8, 16, 2097152, kUnlimited, {}, {}});
  auto st = (*cg)->applyLimits(l);
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(t.read("cgw/web/cpu.max"), "50000 100000");
  EXPECT_EQ(t.read("cgw/web/cpu.weight"), "200");
  EXPECT_EQ(t.read("cgw/web/memory.max"), std::to_string(64 * kMiB));
  EXPECT_EQ(t.read("cgw/web/memory.high"), std::to_string(48 * kMiB));
  EXPECT_EQ(t.read("cgw/web/memory.swap.max"), "0");
  EXPECT_EQ(t.read("cgw/web/pids.max"), "16");
  EXPECT_EQ(t.read("cgw/web/io.weight"), "default 300");
  EXPECT_EQ(t.read("cgw/web/io.max"), "8:16 rbps=2097152 wbps=max");

  t.write("cgw/web/io.max", "8:16 rbps=2097152 wbps=max riops=max wiops=max\n");
  t.write("cgw/web/io.weight", "default 300\n");
  t.write("cgw/web/memory.low", "0\n");
  auto back = (*cg)->readLimits();
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->cpu.quotaUs, 50000u);
  EXPECT_EQ(back->memory.max, 64 * kMiB);
  EXPECT_EQ(back->memory.low, 0u);
  EXPECT_EQ(back->io.weight, 300u);
  ASSERT_EQ(back->io.devices.size(), 1u);
  EXPECT_EQ(back->io.devices[0].readBps, 2097152u);
  EXPECT_EQ(back->io.devices[0].writeBps, kUnlimited);
}

TEST(CgroupBackendTest, NamesAreValidated) {
  EXPECT_TRUE(validateCgroupName("web").ok());
  EXPECT_TRUE(validateCgroupName("team-a/web_1.blue").ok());
  for (const char* bad : {"", "..", "../x", "a/../b", "a//b", "/abs", "-dash", "sp ace", "new\nline", "a/.hidden"}) {
    EXPECT_FALSE(validateCgroupName(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace cgwarden::agent
