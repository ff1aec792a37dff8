// The v2-only paths of the cgroup layer, against a real pure-v2 kernel: they run in the
// qemu VM of tests/v2vm (label v2vm) and skip loudly on v1/hybrid hosts. PSI, which
// hybrid hosts have too, runs everywhere.
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "collectors/FileIo.h"
#include "collectors/LimitFiles.h"
#include "collectors/ProcCgroup.h"
#include "collectors/TextParse.h"
#include "integration/CgroupFixture.h"

namespace cgwarden::testing {
namespace {

using namespace std::chrono_literals;

constexpr uint64_t kMiB = 1024 * 1024;

class CgroupV2Test : public CgroupTest {
 protected:
  void SetUp() override {
    CgroupTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    if (layout_.mode != collectors::CgroupMode::V2) {
      GTEST_SKIP() << "SKIPPING v2-only test: this host is " << collectors::cgroupModeName(layout_.mode)
                   << " (tests/v2vm/run.sh runs it on a pure-v2 kernel)";
    }
  }

  std::string dirOf(const std::string& rel) const { return joinPath(layout_.unifiedMount, rel); }
};

std::vector<std::string> words(const std::string& text) {
  std::vector<std::string> out;
  for (auto w : splitFields(trim(text))) out.emplace_back(w);
  return out;
}

bool contains(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

std::string unifiedPathOf(pid_t pid) {
  auto self = collectors::readProcCgroup(pid);
  EXPECT_TRUE(self.ok()) << self.error().message();
  const std::string* path = self.ok() ? self->unifiedPath() : nullptr;
  return path ? *path : std::string();
}

// Puts this process back into the cgroup it started in: the fixture's TearDown kills
// whatever is left below the test root, this process included.
class ReturnHome {
 public:
  explicit ReturnHome(std::string mount) : mount_(std::move(mount)), home_(unifiedPathOf(::getpid())) {}
  ~ReturnHome() {
    auto st = writeFile(mount_ + home_ + (home_ == "/" ? "" : "/") + "cgroup.procs", std::to_string(::getpid()));
    EXPECT_TRUE(st.ok()) << st.error().message();
  }

 private:
  std::string mount_, home_;
};

// "some"/"full" line of a PSI file: "some avg10=0.00 avg60=0.00 avg300=0.00 total=12345" -> total (µs).
std::optional<uint64_t> psiTotal(const std::string& text, std::string_view kind) {
  for (auto line : splitLines(text)) {
    if (line.substr(0, kind.size()) != kind) continue;
    auto at = line.find("total=");
    if (at == std::string_view::npos) return std::nullopt;
    return parseUint64(line.substr(at + 6));
  }
  return std::nullopt;
}

TEST_F(CgroupV2Test, DelegatedRootHoldingTheAgentMovesItIntoALeaf) {
  // As under systemd with Delegate=yes: the agent starts inside the root it was given.
  std::string delegated = testCgroupRoot() + "/delegated";
  ASSERT_EQ(::mkdir(dirOf(delegated).c_str(), 0755), 0) << std::strerror(errno);
  ReturnHome home(layout_.unifiedMount);
  ASSERT_TRUE(writeFile(joinPath(dirOf(delegated), "cgroup.procs"), std::to_string(::getpid())).ok());
  ASSERT_EQ(unifiedPathOf(::getpid()), "/" + delegated);

  auto manager = agent::CgroupManager::create(layout_, delegated);
  ASSERT_TRUE(manager.ok()) << manager.error().message();
  auto st = (*manager)->prepareRoot();
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(unifiedPathOf(::getpid()), "/" + delegated + "/agent") << "no internal processes: the agent moves into a leaf";
  auto enabled = words(readText(joinPath(dirOf(delegated), "cgroup.subtree_control")));
  for (const char* c : {"cpu", "memory", "pids", "io"}) EXPECT_TRUE(contains(enabled, c)) << c;
  // Preparing again (an agent restart) changes nothing.
  st = (*manager)->prepareRoot();
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(unifiedPathOf(::getpid()), "/" + delegated + "/agent");

  auto work = (*manager)->create("work");
  ASSERT_TRUE(work.ok()) << work.error().message();
  Limits l;
  l.memory.max = 64 * kMiB;
  l.pids.max = 8;
  st = (*work)->applyLimits(l);
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(readNumber(*(*work)->directoryFor("memory"), "memory.max"), 64 * kMiB);
  BlockedChild child([] {
    ::pause();
    return 0;
  });
  ASSERT_TRUE((*work)->attach(child.pid()).ok());
  EXPECT_EQ((*work)->pids().valueOr({}), std::vector<pid_t>{child.pid()});
  auto names = (*manager)->children();
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, std::vector<std::string>{"work"}) << "the agent's own leaf is not a workload";
}

TEST_F(CgroupV2Test, AgentInAnAncestorOfTheRootMovesIntoALeafBelowTheRoot) {
  // The agent's own cgroup holds the root further down (root "<delegated>/cgwarden"): it
  // cannot pass controllers down while it holds a process, so the agent moves out.
  std::string outer = testCgroupRoot() + "/outer";
  std::string root = outer + "/cgwarden";
  ASSERT_EQ(::mkdir(dirOf(outer).c_str(), 0755), 0) << std::strerror(errno);
  ReturnHome home(layout_.unifiedMount);
  ASSERT_TRUE(writeFile(joinPath(dirOf(outer), "cgroup.procs"), std::to_string(::getpid())).ok());

  auto manager = agent::CgroupManager::create(layout_, root);
  ASSERT_TRUE(manager.ok()) << manager.error().message();
  auto st = (*manager)->prepareRoot();
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(unifiedPathOf(::getpid()), "/" + root + "/agent");
  auto work = (*manager)->create("work");
  ASSERT_TRUE(work.ok()) << work.error().message();
  Limits l;
  l.pids.max = 8;
  st = (*work)->applyLimits(l);
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(readNumber(*(*work)->directoryFor("pids"), "pids.max"), 8u);
}

TEST_F(CgroupV2Test, NestedNamesGetControllersAtEveryLevelAndNoInternalProcesses) {
  auto leaf = manager_->create("group/leaf");
  ASSERT_TRUE(leaf.ok()) << leaf.error().message();
  std::string group = dirOf(testCgroupRoot() + "/group");
  auto enabled = words(readText(joinPath(group, "cgroup.subtree_control")));
  for (const char* c : {"cpu", "cpuset", "memory", "pids", "io"}) EXPECT_TRUE(contains(enabled, c)) << c;

  Limits l;
  l.memory.max = 32 * kMiB;
  l.memory.high = 24 * kMiB;
  l.pids.max = 4;
  l.cpu.quotaUs = 10000;
  l.cpu.periodUs = 50000;
  l.cpu.weight = 50;
  l.io.weight = 200;
  auto st = (*leaf)->applyLimits(l);
  ASSERT_TRUE(st.ok()) << st.error().message();
  std::string dir = *(*leaf)->directoryFor("");
  EXPECT_EQ(readNumber(dir, "memory.max"), 32 * kMiB);
  EXPECT_EQ(readNumber(dir, "memory.high"), 24 * kMiB);
  EXPECT_EQ(readNumber(dir, "pids.max"), 4u);
  EXPECT_EQ(readNumber(dir, "cpu.weight"), 50u);
  EXPECT_EQ(std::string(trim(readText(joinPath(dir, "cpu.max")))), "10000 50000");
  auto read = (*leaf)->readLimits();
  ASSERT_TRUE(read.ok()) << read.error().message();
  EXPECT_EQ(read->memory.high, 24 * kMiB);
  EXPECT_EQ(read->cpu.weight, 50u);
  EXPECT_EQ(read->io.weight, 200u) << readText(joinPath(dir, "io.weight"));

  // The kernel refuses processes in a cgroup that passes controllers to its children.
  auto parent = manager_->open("group");
  ASSERT_TRUE(parent.ok());
  BlockedChild child([] {
    ::pause();
    return 0;
  });
  auto refused = (*parent)->attach(child.pid());
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().errnum, EBUSY) << refused.error().message();
  ASSERT_TRUE((*leaf)->attach(child.pid()).ok());
  EXPECT_TRUE((*parent)->populated().valueOr(false)) << "populated counts the subtree";
}

TEST_F(CgroupV2Test, CloneIntoCgroupStartsTheChildInside) {
  auto cg = manager_->create("clone");
  ASSERT_TRUE(cg.ok());
  int fd = (*cg)->cloneIntoFd();
  ASSERT_GE(fd, 0);
  clone_args args{};
  args.flags = CLONE_INTO_CGROUP;
  args.exit_signal = SIGCHLD;
  args.cgroup = static_cast<uint64_t>(fd);
  long pid = ::syscall(SYS_clone3, &args, sizeof(args));
  if (pid == 0) {
    ::pause();
    ::_exit(0);
  }
  ASSERT_GT(pid, 0) << "clone3: " << std::strerror(errno);
  auto child = static_cast<pid_t>(pid);
  EXPECT_EQ(unifiedPathOf(child), "/" + (*cg)->path());
  EXPECT_EQ((*cg)->pids().valueOr({}), std::vector<pid_t>{child});
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
}

TEST_F(CgroupV2Test, IoMaxThrottlesDirectWritesOnTheRamDisk) {
  if (!pathExists("/sys/block/ram0/dev") || !pathExists("/dev/ram0")) {
    GTEST_SKIP() << "SKIPPING: no /dev/ram0 (tests/v2vm loads the brd module for it)";
  }
  auto dev = parseMajorMinor(readText("/sys/block/ram0/dev"));
  ASSERT_TRUE(dev.ok());
  auto cg = manager_->create("io");
  ASSERT_TRUE(cg.ok());
  IoDeviceLimit d;
  d.major = dev->first;
  d.minor = dev->second;
  d.writeIops = 20;
  Limits l;
  l.io.devices.push_back(d);
  auto st = (*cg)->applyLimits(l);
  ASSERT_TRUE(st.ok()) << st.error().message();

  constexpr int kWrites = 60;  // 3 s at 20 IOPS; unthrottled a RAM disk takes milliseconds
  BlockedChild child([] {
    int out = ::open("/dev/ram0", O_WRONLY | O_DIRECT | O_CLOEXEC);
    if (out < 0) return 2;
    void* buf = std::aligned_alloc(4096, 4096);
    std::memset(buf, 0x5a, 4096);
    for (int i = 0; i < kWrites; ++i) {
      if (::pwrite(out, buf, 4096, static_cast<off_t>(i) * 4096) != 4096) return 3;
    }
    return 0;
  });
  ASSERT_TRUE((*cg)->attach(child.pid()).ok());
  auto start = std::chrono::steady_clock::now();
  child.release();
  int status = child.wait(30000);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
  ASSERT_EQ(WEXITSTATUS(status), 0) << "2: open /dev/ram0 failed, 3: a direct write failed";
  // The proof is the time: io.stat's counters are not (6.1 once showed "wios=0" right
  // after a run that had been throttled), so they only go into the message.
  EXPECT_GE(seconds, 1.5) << kWrites << " direct writes under wiops=20 were not throttled; io.stat:\n"
                          << readText(joinPath(*(*cg)->directoryFor("io"), "io.stat"));
}

// Every cgroup has its own PSI files in the cgroup2 directory (v2, and hybrid's twin).
TEST_F(CgroupTest, PressureFilesCountCpuContentionInTheCgroup) {
  auto cg = manager_->create("psi");
  ASSERT_TRUE(cg.ok());
  auto dir = (*cg)->directoryFor("");
  if (!dir || !pathExists(joinPath(*dir, "cpu.pressure"))) {
    GTEST_SKIP() << "SKIPPING: no cpu.pressure (no cgroup2 mount, or a kernel booted with psi=0)";
  }
  for (const char* file : {"cpu.pressure", "memory.pressure", "io.pressure"}) {
    std::string text = readText(joinPath(*dir, file));
    EXPECT_TRUE(psiTotal(text, "some").has_value()) << file << ": " << text;
    EXPECT_TRUE(psiTotal(text, "full").has_value()) << file << ": " << text;
  }
  Limits l;
  l.cpu.cpus = "0";
  l.cpu.mems = "0";
  auto st = (*cg)->applyLimits(l);
  ASSERT_TRUE(st.ok()) << st.error().message();
  uint64_t before = psiTotal(readText(joinPath(*dir, "cpu.pressure")), "some").value_or(0);
  auto spin = [] {
    auto end = std::chrono::steady_clock::now() + 500ms;
    uint64_t n = 0;
    while (std::chrono::steady_clock::now() < end) n = n + 1;
    return n == 0 ? 1 : 0;
  };
  BlockedChild a(spin), b(spin);  // two busy tasks on one CPU: each waits for the other
  ASSERT_TRUE((*cg)->attach(a.pid()).ok());
  ASSERT_TRUE((*cg)->attach(b.pid()).ok());
  a.release();
  b.release();
  ASSERT_NE(a.wait(), -1);
  ASSERT_NE(b.wait(), -1);
  uint64_t after = psiTotal(readText(joinPath(*dir, "cpu.pressure")), "some").value_or(0);
  EXPECT_GE(after - before, 100000u) << "µs of cpu 'some' stall for ~500 ms of two tasks sharing one CPU";
}

}  // namespace
}  // namespace cgwarden::testing
