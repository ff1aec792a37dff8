// The cgroup layer against this host's real cgroups (v1/hybrid here, v2 in the VM).
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "agent/CgroupCommon.h"
#include "collectors/FileIo.h"
#include "collectors/ProcCgroup.h"
#include "collectors/LimitFiles.h"
#include "collectors/TextParse.h"
#include "integration/CgroupFixture.h"

namespace cgwarden::testing {
namespace {

using namespace std::chrono_literals;

constexpr uint64_t kMiB = 1024 * 1024;

Limits testLimits() {
  Limits l;
  l.memory.max = 64 * kMiB;
  l.pids.max = 16;
  l.cpu.quotaUs = 20000;
  l.cpu.periodUs = 100000;
  return l;
}

// CPU time used by the cgroup, in ns: v1 cpuacct.usage, v2 cpu.stat usage_usec.
uint64_t cpuUsageNs(const agent::Cgroup& cg) {
  if (auto acct = cg.directoryFor("cpuacct")) return readNumber(*acct, "cpuacct.usage");
  std::string stat = readText(joinPath(*cg.directoryFor("cpu"), "cpu.stat"));
  for (auto& [key, value] : parseFlatKeyed(stat)) {
    if (key == "usage_usec") return value * 1000;
  }
  ADD_FAILURE() << "no usage_usec in cpu.stat";
  return 0;
}

// OOM kills recorded by the kernel: v1 memory.oom_control "oom_kill", v2 memory.events "oom_kill".
uint64_t oomKills(const agent::Cgroup& cg) {
  std::string dir = *cg.directoryFor("memory");
  std::string file = pathExists(joinPath(dir, "memory.oom_control")) ? "memory.oom_control" : "memory.events";
  for (auto& [key, value] : parseFlatKeyed(readText(joinPath(dir, file)))) {
    if (key == "oom_kill") return value;
  }
  ADD_FAILURE() << "no oom_kill line in " << dir << "/" << file;
  return 0;
}

// The first real block device of this host ("MAJ:MIN" from /sys/block/*/dev).
std::pair<uint32_t, uint32_t> someBlockDevice() {
  auto names = agent::detail::listSubdirs("/sys/block");
  std::vector<std::string> candidates;
  if (names) candidates = *names;
  // /sys/block entries are symlinks (d_type LNK), so listSubdirs may find none: fall back.
  for (const char* n : {"vda", "sda", "nvme0n1", "ram0", "loop0"}) candidates.emplace_back(n);
  for (const auto& name : candidates) {
    auto text = readFile("/sys/block/" + name + "/dev");
    if (!text) continue;
    if (auto dev = parseMajorMinor(*text)) return *dev;
  }
  return {0, 0};
}

TEST_F(CgroupTest, CreatesCgroupInEveryHierarchyAndAppliesLimits) {
  auto cg = manager_->create("limits");
  ASSERT_TRUE(cg.ok()) << cg.error().message();
  for (const auto& dir : (*cg)->directories()) EXPECT_TRUE(pathExists(dir)) << dir;

  ASSERT_TRUE((*cg)->applyLimits(testLimits()).ok());
  auto read = (*cg)->readLimits();
  ASSERT_TRUE(read.ok()) << read.error().message();
  EXPECT_EQ(read->memory.max, 64 * kMiB);
  EXPECT_EQ(read->pids.max, 16u);
  EXPECT_EQ(read->cpu.quotaUs, 20000u);
  EXPECT_EQ(read->cpu.periodUs, 100000u);

  // The kernel files themselves, in whichever version this host has.
  std::string mem = *(*cg)->directoryFor("memory");
  std::string memFile = pathExists(joinPath(mem, "memory.limit_in_bytes")) ? "memory.limit_in_bytes" : "memory.max";
  EXPECT_EQ(readNumber(mem, memFile), 64 * kMiB);
  EXPECT_EQ(readNumber(*(*cg)->directoryFor("pids"), "pids.max"), 16u);
}

TEST_F(CgroupTest, WeightSharesCpusetSwapAndIoRoundTrip) {
  auto cg = manager_->create("roundtrip");
  ASSERT_TRUE(cg.ok()) << cg.error().message();
  Limits l;
  l.cpu.weight = 100;
  l.cpu.cpus = "0";
  l.cpu.mems = "0";
  l.memory.max = 128 * kMiB;
  l.memory.low = 32 * kMiB;
  auto [major, minor] = someBlockDevice();
  ASSERT_NE(major, 0u) << "no block device found";
  IoDeviceLimit dev;
  dev.major = major;
  dev.minor = minor;
  dev.readBps = 10 * kMiB;
  dev.writeIops = 500;
  l.io.devices.push_back(dev);
  auto st = (*cg)->applyLimits(l);
  ASSERT_TRUE(st.ok()) << st.error().message();

  auto read = (*cg)->readLimits();
  ASSERT_TRUE(read.ok()) << read.error().message();
  EXPECT_EQ(read->cpu.weight, 100u);
  EXPECT_EQ(read->cpu.cpus, "0");
  EXPECT_EQ(read->memory.low, 32 * kMiB);
  ASSERT_EQ(read->io.devices.size(), 1u);
  EXPECT_EQ(read->io.devices[0].readBps, 10 * kMiB);
  EXPECT_EQ(read->io.devices[0].writeIops, 500u);
  if (auto cpuDir = (*cg)->directoryFor("cpu"); cpuDir && pathExists(joinPath(*cpuDir, "cpu.shares"))) {
    EXPECT_EQ(readNumber(*cpuDir, "cpu.shares"), 1024u);  // weight 100 <-> 1024 shares
  }

  // Removing the device limit again.
  dev.readBps = kUnlimited;
  dev.writeIops = kUnlimited;
  Limits clear;
  clear.io.devices.push_back(dev);
  ASSERT_TRUE((*cg)->applyLimits(clear).ok());
  read = (*cg)->readLimits();
  ASSERT_TRUE(read.ok());
  for (const auto& d : read->io.devices) {
    EXPECT_TRUE(!d.readBps || *d.readBps == kUnlimited || *d.readBps == 0);
  }
}

TEST_F(CgroupTest, SwapLimitConvertsToMemswOnV1) {
  auto cg = manager_->create("swap");
  ASSERT_TRUE(cg.ok());
  std::string mem = *(*cg)->directoryFor("memory");
  bool v1 = pathExists(joinPath(mem, "memory.limit_in_bytes"));
  if (v1 && !pathExists(joinPath(mem, "memory.memsw.limit_in_bytes"))) {
    GTEST_SKIP() << "SKIPPING: kernel without swapaccount=1 has no memory.memsw.limit_in_bytes";
  }
  Limits l;
  l.memory.max = 64 * kMiB;
  l.memory.swapMax = 16 * kMiB;
  auto st = (*cg)->applyLimits(l);
  ASSERT_TRUE(st.ok()) << st.error().message();
  if (v1) {
    EXPECT_EQ(readNumber(mem, "memory.memsw.limit_in_bytes"), 80 * kMiB);
  }
  // Lowering the memory limit below the old memsw needs the right order of writes.
  l.memory.max = 32 * kMiB;
  l.memory.swapMax = 0;
  st = (*cg)->applyLimits(l);
  ASSERT_TRUE(st.ok()) << st.error().message();
  auto read = (*cg)->readLimits();
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->memory.max, 32 * kMiB);
  EXPECT_EQ(read->memory.swapMax, 0u);
  // And raising both again.
  l.memory.max = 256 * kMiB;
  l.memory.swapMax = 64 * kMiB;
  st = (*cg)->applyLimits(l);
  ASSERT_TRUE(st.ok()) << st.error().message();
  read = (*cg)->readLimits();
  EXPECT_EQ(read->memory.swapMax, 64 * kMiB);
}

TEST_F(CgroupTest, AttachedChildIsInTheCgroupInEveryHierarchy) {
  auto cg = manager_->create("attach");
  ASSERT_TRUE(cg.ok());
  BlockedChild child([] {
    ::pause();
    return 0;
  });
  ASSERT_TRUE((*cg)->attach(child.pid()).ok());
  auto members = (*cg)->pids();
  ASSERT_TRUE(members.ok());
  EXPECT_EQ(*members, std::vector<pid_t>{child.pid()});
  auto self = collectors::readProcCgroup(child.pid());
  ASSERT_TRUE(self.ok());
  for (const auto& entry : self->entries) {
    bool named = !entry.controllers.empty() && entry.controllers[0].rfind("name=", 0) == 0;
    bool managed = entry.controllers.empty() || (entry.controllers[0] != "devices" && !named &&
                                                 entry.controllers[0] != "net_cls" && entry.controllers[0] != "perf_event");
    if (managed) {
      EXPECT_EQ(entry.path, "/" + (*cg)->path()) << "hierarchy " << entry.hierarchyId;
    }
  }
  EXPECT_TRUE((*cg)->populated().valueOr(false));
}

TEST_F(CgroupTest, AllocationBeyondMemoryMaxIsOomKilled) {
  auto cg = manager_->create("oom");
  ASSERT_TRUE(cg.ok());
  Limits l = testLimits();
  l.memory.swapMax = 0;  // no escape into swap where the host has some
  auto st = (*cg)->applyLimits(l);
  if (!st.ok() && st.error().errnum == ENOENT) {
    l.memory.swapMax.reset();
    st = (*cg)->applyLimits(l);
  }
  ASSERT_TRUE(st.ok()) << st.error().message();
  uint64_t before = oomKills(**cg);
  BlockedChild child([] {
    const size_t size = 200 * kMiB;
    auto* p = static_cast<char*>(::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (p == MAP_FAILED) return 3;
    for (size_t i = 0; i < size; i += 4096) p[i] = 1;
    return 0;  // survived: the limit did not hold
  });
  ASSERT_TRUE((*cg)->attach(child.pid()).ok());
  child.release();
  int status = child.wait(20000);
  ASSERT_NE(status, -1) << "child did not finish";
  ASSERT_TRUE(WIFSIGNALED(status)) << "exit status " << WEXITSTATUS(status);
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  EXPECT_EQ(oomKills(**cg), before + 1);
}

TEST_F(CgroupTest, ForkLoopStopsAtPidsMax) {
  auto cg = manager_->create("forks");
  ASSERT_TRUE(cg.ok());
  ASSERT_TRUE((*cg)->applyLimits(testLimits()).ok());
  BlockedChild child([] {
    int forked = 0;
    for (int i = 0; i < 100; ++i) {
      pid_t p = ::fork();
      if (p == 0) {
        ::pause();
        ::_exit(0);
      }
      if (p < 0) break;
      ++forked;
    }
    return forked;
  });
  ASSERT_TRUE((*cg)->attach(child.pid()).ok());
  child.release();
  int status = child.wait();
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 15) << "16 tasks: the child itself and 15 forks";
  EXPECT_EQ(readNumber(*(*cg)->directoryFor("pids"), "pids.current"), 15u);
  ASSERT_TRUE((*cg)->killAll(5s).ok());
}

TEST_F(CgroupTest, BusyLoopIsHeldToItsCpuQuota) {
  auto cg = manager_->create("cpu");
  ASSERT_TRUE(cg.ok());
  ASSERT_TRUE((*cg)->applyLimits(testLimits()).ok());
  BlockedChild child([] {
    auto end = std::chrono::steady_clock::now() + 2s;
    uint64_t spin = 0;
    while (std::chrono::steady_clock::now() < end) spin = spin + 1;
    return spin == 0 ? 1 : 0;
  });
  ASSERT_TRUE((*cg)->attach(child.pid()).ok());
  uint64_t before = cpuUsageNs(**cg);
  auto start = std::chrono::steady_clock::now();
  child.release();
  int status = child.wait(10000);
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(WIFEXITED(status));
  double cores = static_cast<double>(cpuUsageNs(**cg) - before) / 1e9 / wall;
  EXPECT_NEAR(cores, 0.2, 0.05) << "wall " << wall << " s";
}

TEST_F(CgroupTest, FreezeStopsProgressAndThawResumesIt) {
  auto cg = manager_->create("freeze");
  ASSERT_TRUE(cg.ok());
  auto* counter = static_cast<std::atomic<uint64_t>*>(
      ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(counter, MAP_FAILED);
  new (counter) std::atomic<uint64_t>(0);
  BlockedChild child([counter] {
    for (;;) counter->fetch_add(1, std::memory_order_relaxed);
    return 0;
  });
  ASSERT_TRUE((*cg)->attach(child.pid()).ok());
  child.release();
  std::this_thread::sleep_for(50ms);
  ASSERT_GT(counter->load(), 0u);

  auto st = (*cg)->freeze(5s);
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_TRUE((*cg)->frozen().valueOr(false));
  uint64_t frozenAt = counter->load();
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(counter->load(), frozenAt) << "a frozen process made progress";

  ASSERT_TRUE((*cg)->thaw().ok());
  std::this_thread::sleep_for(100ms);
  EXPECT_GT(counter->load(), frozenAt) << "a thawed process made no progress";
  EXPECT_FALSE((*cg)->frozen().valueOr(true));
  ASSERT_TRUE((*cg)->killAll(5s).ok());
  ::munmap(counter, 4096);
}

TEST_F(CgroupTest, KillAllEmptiesTheCgroupEvenWhenFrozen) {
  auto cg = manager_->create("kill");
  ASSERT_TRUE(cg.ok());
  BlockedChild child([] {
    for (int i = 0; i < 5; ++i) {
      if (::fork() == 0) break;
    }
    for (;;) ::pause();
    return 0;
  });
  ASSERT_TRUE((*cg)->attach(child.pid()).ok());
  child.release();
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while ((*cg)->pids().valueOr({}).size() < 6 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_EQ((*cg)->pids().valueOr({}).size(), 6u);
  ASSERT_TRUE((*cg)->freeze(5s).ok());
  auto st = (*cg)->killAll(5s);
  ASSERT_TRUE(st.ok()) << st.error().message();
  (void)child.wait(5000);
  EXPECT_TRUE((*cg)->pids().valueOr({1}).empty());
  EXPECT_FALSE((*cg)->populated().valueOr(true));
}

TEST_F(CgroupTest, RemoveLeavesNothingBehindAndRefusesWhileBusy) {
  auto cg = manager_->create("remove");
  ASSERT_TRUE(cg.ok());
  std::vector<std::string> dirs = (*cg)->directories();
  BlockedChild child([] {
    ::pause();
    return 0;
  });
  ASSERT_TRUE((*cg)->attach(child.pid()).ok());
  auto busy = (*cg)->remove(100ms);
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(busy.error().errnum, ETIMEDOUT) << busy.error().message();

  ASSERT_TRUE((*cg)->killAll(5s).ok());
  auto st = (*cg)->remove(5s);
  ASSERT_TRUE(st.ok()) << st.error().message();
  for (const auto& dir : dirs) EXPECT_FALSE(pathExists(dir)) << dir;
  // A second remove of a cgroup that is gone is fine.
  EXPECT_TRUE((*cg)->remove(100ms).ok());
}

TEST_F(CgroupTest, LimitsChangeLiveWhileTheProcessRuns) {
  auto cg = manager_->create("live");
  ASSERT_TRUE(cg.ok());
  ASSERT_TRUE((*cg)->applyLimits(testLimits()).ok());
  BlockedChild child([] {
    ::pause();
    return 0;
  });
  ASSERT_TRUE((*cg)->attach(child.pid()).ok());
  Limits raised;
  raised.memory.max = 128 * kMiB;
  raised.cpu.quotaUs = 50000;
  raised.pids.max = kUnlimited;
  ASSERT_TRUE((*cg)->applyLimits(raised).ok());
  auto read = (*cg)->readLimits();
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->memory.max, 128 * kMiB);
  EXPECT_EQ(read->cpu.quotaUs, 50000u);
  EXPECT_EQ(read->cpu.periodUs, 100000u) << "period kept";
  EXPECT_EQ(read->pids.max, kUnlimited);
  EXPECT_EQ((*cg)->pids().valueOr({}), std::vector<pid_t>{child.pid()});
}

TEST_F(CgroupTest, ErrorsNamePathAndErrno) {
  auto cg = manager_->create("errors");
  ASSERT_TRUE(cg.ok());
  Limits bad;
  bad.cpu.cpus = "999";  // no such CPU
  auto st = (*cg)->applyLimits(bad);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("cpuset.cpus"), std::string::npos) << st.error().message();
  EXPECT_NE(st.error().errnum, 0);
  auto missing = manager_->open("does-not-exist");
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(missing.error().cgroupGone()) << missing.error().message();
  EXPECT_FALSE(manager_->create("../escape").ok());
  EXPECT_FALSE(manager_->create("a/../../b").ok());
}

TEST_F(CgroupTest, ChildrenListsCreatedCgroups) {
  ASSERT_TRUE(manager_->create("one").ok());
  ASSERT_TRUE(manager_->create("two").ok());
  auto names = manager_->children();
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, (std::vector<std::string>{"one", "two"}));
}

}  // namespace
}  // namespace cgwarden::testing
