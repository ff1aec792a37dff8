// The tree mover's refusals and its walk, on a fake /proc and a fake cgroup whose
// cgroup.procs files are plain files in a temp tree.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "agent/ProcessMover.h"
#include "collectors/FileIo.h"
#include "collectors/ProcessInfo.h"
#include "unit/TempTree.h"

namespace cgwarden::agent {
namespace {

using testing::TempTree;

// A cgroup in two fake hierarchies: attach appends the pid to both cgroup.procs files,
// as the kernel would list it; pids in `dying` fail with ESRCH, in `failing` with EINVAL.
class FakeCgroup : public Cgroup {
 public:
  FakeCgroup(const TempTree& t, std::string path, std::string procRoot) : path_(std::move(path)), proc_(std::move(procRoot)) {
    for (const char* h : {"pids", "memory"}) {
      std::string d = t.path("cg/" + std::string(h) + "/" + path_);
      std::filesystem::create_directories(d);
      dirs_.push_back(d);
      t.write("cg/" + std::string(h) + "/" + path_ + "/cgroup.procs", "");
    }
  }
  const std::string& path() const override { return path_; }
  std::vector<std::string> directories() const override { return dirs_; }
  std::optional<std::string> directoryFor(std::string_view) const override { return dirs_[0]; }
  int cloneIntoFd() const override { return -1; }
  Status attach(pid_t pid) override {
    attachCalls.push_back(pid);
    if (dying.count(pid) || !pathExists(proc_ + "/" + std::to_string(pid))) {
      return Error::fromErrno("write", dirs_[0] + "/cgroup.procs", ESRCH);
    }
    if (failing.count(pid)) return Error::fromErrno("write", dirs_[1] + "/cgroup.procs", EINVAL);
    for (const auto& d : dirs_) {
      std::string cur = readFile(d + "/cgroup.procs").valueOr("");
      (void)writeFile(d + "/cgroup.procs", cur + std::to_string(pid) + "\n");
    }
    return {};
  }
  Result<std::vector<pid_t>> pids() const override {
    return collectors::parsePidList(readFile(dirs_[0] + "/cgroup.procs").valueOr(""));
  }
  Result<bool> populated() const override { return !pids()->empty(); }
  Status applyLimits(const Limits&) override { return {}; }
  Result<Limits> readLimits() const override { return Limits{}; }
  Status freeze(std::chrono::milliseconds) override { return {}; }
  Status thaw() override { return {}; }
  Result<bool> frozen() const override { return false; }
  Status killAll(std::chrono::milliseconds) override { return {}; }
  Status remove(std::chrono::milliseconds) override { return {}; }

  std::vector<pid_t> attachCalls;
  std::set<pid_t> dying, failing;

 private:
  std::string path_, proc_;
  std::vector<std::string> dirs_;
};

// A fake process, built fluently: P("sh").parent(1).kids("301 302 ").
struct P {
  explicit P(std::string c) : comm(std::move(c)) {}
  P& parent(pid_t p) { ppid = p; return *this; }
  P& st(char s) { state = s; return *this; }
  P& fl(uint32_t f) { flags = f; return *this; }
  P& kids(std::string c) { children = std::move(c); return *this; }
  P& in(std::string cg) { cgroup = std::move(cg); return *this; }
  P& cmd(std::string c) { cmdline = std::move(c); return *this; }
  P& threadOf(pid_t t) { tgid = t; return *this; }

  std::string comm;
  pid_t ppid = 1;
  char state = 'S';
  uint32_t flags = 0x400100;
  std::string children;          // "301 302 "
  std::string cgroup = "/user.slice";
  std::string cmdline = std::string("prog\0", 5);
  pid_t tgid = 0;                // 0: itself
};
using FakeProc = P;

class ProcessMoverTest : public ::testing::Test {
 protected:
  std::string proc() const { return t_.path("proc"); }

  void add(pid_t pid, const FakeProc& p) {
    std::string d = "proc/" + std::to_string(pid);
    t_.write(d + "/stat", std::to_string(pid) + " (" + p.comm + ") " + p.state + " " + std::to_string(p.ppid) +
                              " 1 1 0 -1 " + std::to_string(p.flags) + " 0 0 0 0 0 0 0 0 20 0 1 0 " +
                              std::to_string(1000 + pid) + " 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0\n");
    pid_t tgid = p.tgid ? p.tgid : pid;
    t_.write(d + "/status", "Name:\t" + p.comm + "\nTgid:\t" + std::to_string(tgid) + "\nPPid:\t" +
                                std::to_string(p.ppid) + "\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n");
    t_.write(d + "/cmdline", p.cmdline);
    t_.write(d + "/cgroup", "5:pids:" + p.cgroup + "\n4:memory:" + p.cgroup + "\n0::" + p.cgroup + "\n");
    t_.write(d + "/task/" + std::to_string(pid) + "/children", p.children);
  }

  MoveOptions options() const {
    MoveOptions o;
    o.procRoot = proc();
    o.selfPid = 500;
    o.managedRoot = "cgwarden";
    return o;
  }

  void SetUp() override {
    // init, kthreadd, and the agent (500, child of a shell 400, child of init).
    add(1, P("init").parent(0).kids("400 "));
    add(2, P("kthreadd").parent(0).fl(0x00208040).cmd(""));
    add(400, P("bash").parent(1).kids("500 "));
    add(500, P("cgwarden").parent(400));
  }

  std::string refusalOf(pid_t pid, const MoveOptions& o, const std::string& target = "cgwarden/batch") {
    auto r = checkAdoptable(pid, o, target);
    if (r.ok()) return "accepted";
    EXPECT_EQ(r.error().errnum, 0) << r.error().message();
    return r.error().message();
  }

  // sh(300) -> sleep(301), sub(302) -> leaf(303); 304 a zombie child; 305 listed but gone;
  // 306 a child that lives in managed workload "web".
  void buildTree() {
    add(300, P("sh").parent(1).kids("301 302 304 305 306 "));
    add(301, P("sleep").parent(300));
    add(302, P("sub").parent(300).kids("303 "));
    add(303, P("leaf").parent(302));
    add(304, P("zomb").parent(300).st('Z').cmd(""));
    add(306, P("web-child").parent(300).in("/cgwarden/web"));
  }

  TempTree t_;
};

TEST_F(ProcessMoverTest, RefusesInitTheAgentItsThreadsAndAncestors) {
  auto o = options();
  EXPECT_EQ(refusalOf(1, o), "adopt: refusing to adopt pid 1: it is init (pid 1); moving it would take the whole system");
  EXPECT_EQ(refusalOf(500, o), "adopt: refusing to adopt pid 500 (cgwarden): it is the agent itself");
  add(501, P("cgwarden").parent(400).threadOf(500));  // a thread of the agent
  EXPECT_EQ(refusalOf(501, o), "adopt: refusing to adopt pid 501 (cgwarden): it is a thread of the agent (pid 500)");
  EXPECT_EQ(refusalOf(400, o),
            "adopt: refusing to adopt pid 400 (bash): it is an ancestor of the agent (pid 500), which would move with it");
}

TEST_F(ProcessMoverTest, RefusesKernelThreadsAndZombies) {
  auto o = options();
  EXPECT_EQ(refusalOf(2, o), "adopt: refusing to adopt pid 2 (kthreadd): it is a kernel thread");
  // Without PF_KTHREAD in the flags: a child of kthreadd with no command line.
  add(77, P("kworker/0:1").parent(2).fl(0).cmd(""));
  EXPECT_EQ(refusalOf(77, o), "adopt: refusing to adopt pid 77 (kworker/0:1): it is a kernel thread");
  add(300, P("dead").st('Z').cmd(""));
  EXPECT_EQ(refusalOf(300, o),
            "adopt: refusing to adopt pid 300 (dead): it is a zombie (exited, not yet reaped by its parent)");
}

TEST_F(ProcessMoverTest, RefusesAProcessOfAnotherManagedWorkload) {
  auto o = options();
  add(300, P("nginx").in("/cgwarden/web"));
  EXPECT_EQ(refusalOf(300, o),
            "adopt: refusing to adopt pid 300 (nginx): it is already in managed workload \"web\" (/cgwarden/web)");
  // Already in the target: fine (adopting again is a no-op).
  EXPECT_EQ(refusalOf(300, o, "cgwarden/web"), "accepted");
  // A rule `parent: {workload: web}` may take it out of web.
  o.allowedSources = {"web"};
  EXPECT_EQ(refusalOf(300, o), "accepted");
  // Outside the managed root: fine.
  add(301, P("x").in("/cgwarden-other/web"));
  EXPECT_EQ(refusalOf(301, options()), "accepted");
}

TEST_F(ProcessMoverTest, MissingProcessIsEsrchAndBadPidIsInvalid) {
  auto r = checkAdoptable(999, options());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().errnum, ESRCH);
  EXPECT_NE(r.error().message().find("No such process"), std::string::npos) << r.error().message();
  auto z = checkAdoptable(0, options());
  ASSERT_FALSE(z.ok());
  EXPECT_NE(z.error().message().find("pid 0 is not a process id"), std::string::npos);
}

TEST_F(ProcessMoverTest, RefusalMovesNothing) {
  FakeCgroup cg(t_, "cgwarden/batch", proc());
  auto r = moveTree(400, cg, options());
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(cg.attachCalls.empty());
}

TEST_F(ProcessMoverTest, MovesTheWholeTreeParentsFirst) {
  buildTree();
  FakeCgroup cg(t_, "cgwarden/batch", proc());
  auto r = moveTree(300, cg, options());
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_TRUE(r->complete);
  EXPECT_TRUE(r->usedChildrenFiles);
  EXPECT_EQ(r->root, 300);
  EXPECT_EQ(r->moved, (std::vector<pid_t>{300, 301, 302, 303}));
  EXPECT_EQ(r->members, (std::vector<pid_t>{300, 301, 302, 303}));
  EXPECT_TRUE(r->alreadyInside.empty());
  EXPECT_TRUE(r->failures.empty());
  ASSERT_EQ(r->skipped.size(), 1u);
  EXPECT_EQ(r->skipped[0].pid, 306);
  EXPECT_NE(r->skipped[0].reason.find("managed workload \"web\""), std::string::npos);
  EXPECT_NE(r->rootMovedNs, 0u);
  // The zombie and the gone pid were never written.
  EXPECT_EQ(std::count(cg.attachCalls.begin(), cg.attachCalls.end(), 304), 0);
  EXPECT_EQ(std::count(cg.attachCalls.begin(), cg.attachCalls.end(), 305), 0);
  // Each pid was written once: the confirming passes found everything inside.
  for (pid_t p : {300, 301, 302, 303}) EXPECT_EQ(std::count(cg.attachCalls.begin(), cg.attachCalls.end(), p), 1) << p;
  EXPECT_GE(r->passes, 2);  // one that moved, one confirmed by the PPid scan
}

TEST_F(ProcessMoverTest, FallsBackToAPpidScanWithoutChildrenFiles) {
  buildTree();
  for (pid_t p : {1, 2, 300, 301, 302, 303, 304, 306, 400, 500}) {
    std::filesystem::remove(t_.path("proc/" + std::to_string(p) + "/task/" + std::to_string(p) + "/children"));
  }
  FakeCgroup cg(t_, "cgwarden/batch", proc());
  auto r = moveTree(300, cg, options());
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_FALSE(r->usedChildrenFiles);
  EXPECT_TRUE(r->complete);
  EXPECT_EQ(r->members, (std::vector<pid_t>{300, 301, 302, 303}));
  EXPECT_EQ(r->skipped.size(), 1u);
}

TEST_F(ProcessMoverTest, AChildMissedByTheChildrenFilesIsCaughtByTheConfirmingScan) {
  buildTree();
  // 310 is a child of 301 by PPid, but 301's children file does not list it (as happens
  // while the kernel's list changes under a reader).
  add(310, P("hidden").parent(301));
  FakeCgroup cg(t_, "cgwarden/batch", proc());
  auto r = moveTree(300, cg, options());
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_TRUE(r->complete);
  EXPECT_NE(std::find(r->moved.begin(), r->moved.end(), 310), r->moved.end());
  EXPECT_EQ(r->members, (std::vector<pid_t>{300, 301, 302, 303, 310}));
}

TEST_F(ProcessMoverTest, ReportsAlreadyInsideVanishedAndFailed) {
  buildTree();
  FakeCgroup cg(t_, "cgwarden/batch", proc());
  for (const auto& d : cg.directories()) (void)writeFile(d + "/cgroup.procs", "301\n");
  cg.dying = {302};    // exits as we write it: its child 303 is still walked
  cg.failing = {303};  // e.g. EINVAL: a realtime task and a v1 cpu cgroup without rt budget
  auto r = moveTree(300, cg, options());
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->alreadyInside, (std::vector<pid_t>{301}));
  EXPECT_EQ(r->moved, (std::vector<pid_t>{300}));
  EXPECT_EQ(r->vanished, (std::vector<pid_t>{302}));
  ASSERT_EQ(r->failures.size(), 1u);
  EXPECT_EQ(r->failures[0].errnum, EINVAL);
  EXPECT_NE(r->failures[0].message().find("move pid 303"), std::string::npos) << r->failures[0].message();
  EXPECT_EQ(std::count(cg.attachCalls.begin(), cg.attachCalls.end(), 303), 1);  // not retried
  EXPECT_EQ(r->members, (std::vector<pid_t>{300, 301}));
}

TEST_F(ProcessMoverTest, AThreadIdMovesItsThreadGroup) {
  buildTree();
  add(320, P("sh").parent(1).threadOf(300));
  FakeCgroup cg(t_, "cgwarden/batch", proc());
  auto r = moveTree(320, cg, options());
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->root, 300);
  EXPECT_EQ(r->moved.front(), 300);
}

TEST_F(ProcessMoverTest, ManagedWorkloadOf) {
  add(300, P("nginx").in("/cgwarden/web/inner"));
  add(301, P("x").in("/user.slice"));
  EXPECT_EQ(managedWorkloadOf(300, "cgwarden", proc()).valueOr("?"), "web");
  EXPECT_EQ(managedWorkloadOf(301, "cgwarden", proc()).valueOr("?"), "");
  EXPECT_FALSE(managedWorkloadOf(999, "cgwarden", proc()).ok());
}

}  // namespace
}  // namespace cgwarden::agent
