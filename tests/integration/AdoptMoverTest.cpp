// moveTree on real processes this test starts, into real cgroups under the test root.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "agent/ProcessMover.h"
#include "collectors/FileIo.h"
#include "collectors/TextParse.h"
#include "integration/AdoptHelpers.h"
#include "integration/CgroupFixture.h"

namespace cgwarden::testing {
namespace {

using namespace std::chrono_literals;

class AdoptMoverTest : public CgroupTest {
 protected:
  void SetUp() override {
    CgroupTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    becomeSubreaper();
  }
  void TearDown() override {
    killAndReap(started_);
    CgroupTest::TearDown();
  }
  agent::MoveOptions options() const {
    agent::MoveOptions o;
    o.managedRoot = manager_->root();
    return o;
  }
  // `p` is in `cg`. A child caught inside fork(), between becoming visible in /proc and
  // cgroup_post_fork(), shows the root cgroup for a moment (the kernel parks it on
  // init_css_set), and so does a zombie on v1: an outsider is looked at again for up to 1 s
  // (a preempted parent can hold it there), and one that exited meanwhile is not counted.
  // The source-cgroup checks below have no such window.
  void expectInside(pid_t p, const agent::Cgroup& cg, const std::string& when) {
    std::string why;
    bool inside = false;
    for (int i = 0; i < 1000 && !(inside = inCgroup(p, cg, layout_, &why)); ++i) std::this_thread::sleep_for(1ms);
    auto st = collectors::readProcStat(p);
    if (!st || st->state == 'Z' || st->state == 'X') return;
    EXPECT_TRUE(inside) << when << ": pid " << p << " is outside, in " << why << " (ppid " << st->ppid << ", state "
                        << st->state << ")";
  }
  // Every live member of `root`'s tree is in `cg`.
  void expectTreeInside(pid_t root, const agent::Cgroup& cg, const std::string& when) {
    for (pid_t p : liveTree(root)) expectInside(p, cg, when);
  }
  std::vector<pid_t> started_;
};

TEST_F(AdoptMoverTest, AdoptsAShellThatKeepsForkingAndItsLimitsApply) {
  // bash retries a failed fork (dash gives up and exits), so the shell outlives the limit.
  std::string shell = pathExists("/bin/bash") ? "/bin/bash" : "/bin/sh";
  // It starts in a cgroup of its own, so "left behind" is visible as a non-empty source.
  // Its children live 100 ms: longer than the grace period the first move may wait for.
  auto src = manager_->create("src");
  ASSERT_TRUE(src.ok()) << src.error().message();
  pid_t sh = forkInto(**src, [&shell] {
    int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::execl(shell.c_str(), "sh", "-c", "while :; do sleep 0.1 & done", static_cast<char*>(nullptr));
    return 127;
  });
  ASSERT_GT(sh, 0);
  started_.push_back(sh);
  // Wait until it has started children (it keeps forking).
  for (int i = 0; i < 200 && liveTree(sh).size() <= 2; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_GT(liveTree(sh).size(), 2u) << "the shell should have children by now";

  auto cg = manager_->create("forking-shell");
  ASSERT_TRUE(cg.ok()) << cg.error().message();
  auto o = options();
  o.allowedSources = {"src"};
  auto r = agent::moveTree(sh, **cg, o);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_TRUE(r->complete) << "passes " << r->passes;
  EXPECT_EQ(membersAnywhere(**src), "") << "left behind in the source cgroup";
  EXPECT_TRUE(r->failures.empty());
  EXPECT_EQ(r->moved.front(), sh) << "the parent goes first";
  EXPECT_GE(r->moved.size(), 2u) << "children forked before the move were moved too";
  ASSERT_FALSE(r->members.empty());
  for (pid_t p : r->members) expectInside(p, **cg, "reported member");
  expectTreeInside(sh, **cg, "right after the move");

  // The adopted tree is under the cgroup's limits: with pids.max = 4, forks are refused
  // and the tree shrinks to the limit while the shell lives on.
  Limits limits;
  limits.pids.max = 4;
  ASSERT_TRUE((*cg)->applyLimits(limits).ok());
  std::string pidsDir = *(*cg)->directoryFor("pids");
  uint64_t refused = 0;
  size_t live = 0;
  for (int i = 0; i < 300; ++i) {
    std::this_thread::sleep_for(10ms);
    for (auto& [k, v] : parseFlatKeyed(readText(joinPath(pidsDir, "pids.events")))) {
      if (k == "max") refused = v;
    }
    live = liveTree(sh).size();
    if (refused > 0 && live <= 4) break;
  }
  EXPECT_GT(refused, 0u) << "no fork was refused by pids.max = 4";
  EXPECT_LE(live, 4u) << "the adopted tree did not shrink to pids.max";
  if (shell == "/bin/bash") {
    EXPECT_EQ(::kill(sh, 0), 0) << "the shell died";
  }
  expectTreeInside(sh, **cg, "under the limit");
  EXPECT_EQ(membersAnywhere(**src), "");
}

// A forker that starts a child every ~100 µs for `forkMs`, each child forking a
// grandchild; both live 30 ms (longer than the RCU grace period the mover's first write
// waits for, so children forked before the move are still there to be moved), then the
// forker waits for SIGKILL.
int forker(int forkMs) {
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(forkMs);
  while (std::chrono::steady_clock::now() < until) {
    pid_t c = ::fork();
    if (c == 0) {
      pid_t g = ::fork();
      if (g == 0) {
        ::usleep(30000);
        ::_exit(0);
      }
      ::usleep(30000);
      ::waitpid(g, nullptr, 0);
      ::_exit(0);
    }
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    ::usleep(100);
  }
  for (;;) {
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    ::pause();
  }
}

TEST_F(AdoptMoverTest, NoProcessForkedDuringTheMoveIsLeftBehind100Times) {
  // The forker starts in "src": whatever the move leaves behind stays listed there. (A /proc
  // check would see forks in flight in the root cgroup; cgroup.procs does not list them.)
  auto src = manager_->create("src");
  auto cg = manager_->create("race");
  ASSERT_TRUE(src.ok() && cg.ok());
  auto o = options();
  o.allowedSources = {"src"};
  int movesDuringForking = 0;
  for (int i = 0; i < 100; ++i) {
    pid_t f = forkInto(**src, [] { return forker(40); });
    ASSERT_GT(f, 0);
    started_.push_back(f);
    ::usleep(2000);  // a few children exist, more are coming
    auto r = agent::moveTree(f, **cg, o);
    ASSERT_TRUE(r.ok()) << "iteration " << i << ": " << r.error().message();
    ASSERT_TRUE(r->complete) << "iteration " << i << ": passes " << r->passes;
    if (r->moved.size() > 1) ++movesDuringForking;
    EXPECT_EQ(membersAnywhere(**src), "") << "iteration " << i << ": left behind right after the move";
    // The forker keeps forking for the rest of its 40 ms (the move itself takes 10-80 ms
    // here: each pass's first write waits for an RCU grace period): none of it may land
    // in the source. Checked through the kernel's own list, src's cgroup.procs.
    ::usleep(30000);
    EXPECT_EQ(membersAnywhere(**src), "") << "iteration " << i << ": left behind after the forking phase";
    if (HasFailure()) break;
    ASSERT_TRUE((*cg)->killAll(5s).ok());
    killAndReap({f});
    started_.clear();
  }
  // The test only means something if children existed outside when the move began.
  EXPECT_GT(movesDuringForking, 50) << "too few iterations moved more than the forker itself";
}

TEST_F(AdoptMoverTest, RefusesInitTheAgentAndKernelThreads) {
  auto cg = manager_->create("refusals");
  ASSERT_TRUE(cg.ok()) << cg.error().message();
  auto expectRefused = [&](pid_t pid, const std::string& want) {
    auto r = agent::moveTree(pid, **cg, options());
    ASSERT_FALSE(r.ok()) << "pid " << pid << " was not refused";
    EXPECT_EQ(r.error().errnum, 0);
    EXPECT_NE(r.error().message().find(want), std::string::npos) << r.error().message();
  };
  expectRefused(1, "refusing to adopt pid 1: it is init (pid 1)");
  expectRefused(::getpid(), "it is the agent itself");
  expectRefused(2, "refusing to adopt pid 2 (kthreadd): it is a kernel thread");
  expectRefused(::getppid(), "it is an ancestor of the agent");
  // A thread of this process.
  std::atomic<pid_t> tid{0};
  std::atomic<bool> done{false};
  std::thread t([&] {
    tid = ::gettid();
    while (!done) std::this_thread::sleep_for(1ms);
  });
  while (tid == 0) std::this_thread::sleep_for(1ms);
  expectRefused(tid, "it is a thread of the agent");
  done = true;
  t.join();
  // A zombie child.
  pid_t z = ::fork();
  if (z == 0) ::_exit(0);
  for (int i = 0; i < 200; ++i) {
    auto st = collectors::readProcStat(z);
    if (st && st->state == 'Z') break;
    std::this_thread::sleep_for(1ms);
  }
  expectRefused(z, "it is a zombie");
  ::waitpid(z, nullptr, 0);
  auto gone = agent::moveTree(z, **cg, options());
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().errnum, ESRCH);
  auto members = (*cg)->pids();
  ASSERT_TRUE(members.ok());
  EXPECT_TRUE(members->empty()) << "a refusal moved something";
}

TEST_F(AdoptMoverTest, RefusesAProcessOfAnotherManagedWorkload) {
  pid_t p = spawn("/bin/sleep", {"sleep", "30"});
  started_.push_back(p);
  auto web = manager_->create("web");
  auto other = manager_->create("other");
  ASSERT_TRUE(web.ok() && other.ok());
  ASSERT_TRUE((*web)->attach(p).ok());
  auto r = agent::moveTree(p, **other, options());
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("it is already in managed workload \"web\""), std::string::npos)
      << r.error().message();
  std::string why;
  EXPECT_TRUE(inCgroup(p, **web, layout_, &why)) << why;
  // Allowed as a source (a rule `parent: {workload: web}`), it moves.
  auto o = options();
  o.allowedSources = {"web"};
  auto ok = agent::moveTree(p, **other, o);
  ASSERT_TRUE(ok.ok()) << ok.error().message();
  EXPECT_EQ(ok->moved, std::vector<pid_t>{p});
  EXPECT_TRUE(inCgroup(p, **other, layout_, &why)) << why;
}

}  // namespace
}  // namespace cgwarden::testing
