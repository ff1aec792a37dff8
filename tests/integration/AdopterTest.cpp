// The rule-driven adopter on real processes: every rule matches only binaries this test
// copied under unique names (or its own forked children), never anyone else's process.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "agent/Adopter.h"
#include "collectors/FileIo.h"
#include "integration/AdoptHelpers.h"
#include "integration/CgroupFixture.h"

namespace cgwarden::testing {
namespace {

using namespace std::chrono_literals;
using agent::AdoptionEvent;

class AdopterTest : public CgroupTest {
 protected:
  void SetUp() override {
    CgroupTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    becomeSubreaper();
    tag_ = std::to_string(::getpid());
  }
  void TearDown() override {
    if (adopter_) adopter_->stop();
    killAndReap(started_);
    for (const auto& c : copies_) removeCopy(c);
    adopter_.reset();
    CgroupTest::TearDown();
  }

  // A copy of `src` named `name` (at most 15 characters: it is also the comm).
  std::string copy(const std::string& src, const std::string& name) {
    copies_.push_back(copyBinary(src, name));
    return copies_.back();
  }

  config::AdoptRule commRule(const std::string& ruleName, const std::string& comm, const std::string& workload) {
    config::AdoptRule r;
    r.name = ruleName;
    r.comm = comm;
    r.workload = workload;
    return r;
  }

  void startAdopter(std::vector<config::AdoptRule> rules, bool netlink = true) {
    agent::AdopterOptions o;
    o.rules = std::move(rules);
    o.useNetlink = netlink;
    o.rescanInterval = netlink ? 60s : 100ms;  // with events, adoption must not come from the timer
    o.emptyCheckInterval = 100ms;
    auto a = agent::Adopter::create(*manager_, std::move(o));
    ASSERT_TRUE(a.ok()) << a.error().message();
    adopter_ = std::move(*a);
    adopter_->onAdopted([this](const AdoptionEvent& ev) {
      std::lock_guard lock(mu_);
      events_.push_back(ev);
      cv_.notify_all();
    });
    adopter_->onRemoved([this](const std::string& name) {
      std::lock_guard lock(mu_);
      removed_.push_back(name);
      cv_.notify_all();
    });
    ASSERT_TRUE(adopter_->start().ok());
    ASSERT_EQ(adopter_->stats().netlinkActive, netlink) << "the proc connector did not open";
  }

  // Waits for the adoption of `pid` (as the matched process).
  std::optional<AdoptionEvent> waitAdopted(pid_t pid, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(mu_);
    std::optional<AdoptionEvent> found;
    cv_.wait_for(lock, timeout, [&] {
      for (const auto& ev : events_) {
        if (ev.pid == pid) found = ev;
      }
      return found.has_value();
    });
    return found;
  }

  bool waitRemoved(const std::string& name, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout,
                        [&] { return std::find(removed_.begin(), removed_.end(), name) != removed_.end(); });
  }

  std::string tag_;
  std::vector<pid_t> started_;
  std::vector<std::string> copies_;
  std::unique_ptr<agent::Adopter> adopter_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<AdoptionEvent> events_;
  std::vector<std::string> removed_;
};

TEST_F(AdopterTest, RuleOnCommAdoptsProcessesStartedAfterItAndMeasuresTheLatency) {
  std::string comm = "cgwa" + tag_;
  std::string bin = copy("/bin/sleep", comm);
  startAdopter({commRule("test-comm", comm, "commrule")});

  for (int i = 0; i < 10; ++i) {
    pid_t p = spawn(bin, {comm, "30"});
    started_.push_back(p);
    auto ev = waitAdopted(p);
    ASSERT_TRUE(ev) << "exec " << i << " of " << comm << " (pid " << p << ") was not adopted";
    EXPECT_EQ(ev->trigger, AdoptionEvent::Trigger::Exec);
    EXPECT_EQ(ev->rule, "test-comm");
    EXPECT_EQ(ev->workload, "commrule");
    EXPECT_EQ(ev->cgroupPath, manager_->root() + "/commrule");
    EXPECT_EQ(ev->createdWorkload, i == 0);
    EXPECT_EQ(ev->comm, comm);
    EXPECT_EQ(ev->members, std::vector<pid_t>{p});
    ASSERT_TRUE(ev->latency);
    EXPECT_GT(ev->latency->count(), 0) << "kernel exec event -> moved";
  }
  auto cg = manager_->open("commrule");
  ASSERT_TRUE(cg.ok()) << cg.error().message();
  for (pid_t p : started_) {
    std::string why;
    EXPECT_TRUE(inCgroup(p, **cg, layout_, &why)) << p << " is in " << why;
  }
  auto stats = adopter_->stats();
  EXPECT_EQ(stats.adoptionsByRule["test-comm"], 10u);
  EXPECT_EQ(stats.latency.count, 10u);
  EXPECT_EQ(stats.workloadsCreated, 1u);
  EXPECT_GE(stats.scans, 1u);  // the start-up scan
  // The latency budget (exec event -> moved) is bench/adopt's, not a test's.

  // A workload a rule created is removed once empty.
  killAndReap(started_);
  started_.clear();
  EXPECT_TRUE(waitRemoved("commrule")) << "the emptied workload was not removed";
  EXPECT_FALSE(manager_->open("commrule").ok());
  EXPECT_EQ(adopter_->stats().workloadsRemoved, 1u);
  EXPECT_TRUE(adopter_->workloads().empty());
}

TEST_F(AdopterTest, ChildrenForkedBeforeTheMoveAreNotLeftBehind) {
  // The cgrulesengd race: a matching shell forks children before it is moved.
  std::string comm = "cgws" + tag_;
  std::string sh = copy("/bin/sh", comm);
  pid_t early = spawn(sh, {comm, "-c", "sleep 30 & sleep 30 & wait"});
  started_.push_back(early);
  for (int i = 0; i < 500 && liveTree(early).size() < 3; ++i) std::this_thread::sleep_for(2ms);
  ASSERT_EQ(liveTree(early).size(), 3u) << "the shell did not start its two children";

  // Present before the adopter: the start-up scan takes it, children included.
  startAdopter({commRule("test-shell", comm, "shells")});
  auto ev = waitAdopted(early, 1s);
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->trigger, AdoptionEvent::Trigger::Scan);
  EXPECT_FALSE(ev->latency);
  EXPECT_EQ(ev->members, liveTree(early));
  auto cg = manager_->open("shells");
  ASSERT_TRUE(cg.ok());
  for (pid_t p : liveTree(early)) {
    std::string why;
    EXPECT_TRUE(inCgroup(p, **cg, layout_, &why)) << p << " is in " << why;
  }

  // Started after it: whatever the shell forked before its exec event was handled follows.
  for (int i = 0; i < 5; ++i) {
    pid_t late = spawn(sh, {comm, "-c", "sleep 30 & sleep 30 & sleep 30 & wait"});
    started_.push_back(late);
    auto lev = waitAdopted(late);
    ASSERT_TRUE(lev) << "pid " << late << " was not adopted";
    for (int k = 0; k < 500 && liveTree(late).size() < 4; ++k) std::this_thread::sleep_for(2ms);
    ASSERT_EQ(liveTree(late).size(), 4u);
    for (pid_t p : liveTree(late)) {
      std::string why;
      bool inside = false;
      for (int k = 0; k < 500 && !(inside = inCgroup(p, **cg, layout_, &why)); ++k) std::this_thread::sleep_for(2ms);
      EXPECT_TRUE(inside) << "pid " << p << " of adopted shell " << late << " was left in " << why;
    }
  }
  EXPECT_EQ(adopter_->stats().adoptionsByRule["test-shell"], 6u);
}

TEST_F(AdopterTest, UidChangeOfARunningProcessTriggersAdoption) {
  std::string comm = "cgwu" + tag_;
  int go[2];
  ASSERT_EQ(::pipe(go), 0);
  pid_t child = ::fork();
  if (child == 0) {
    ::close(go[1]);
    ::prctl(PR_SET_NAME, comm.c_str());
    char c;
    if (::read(go[0], &c, 1) != 1) ::_exit(1);
    if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) ::_exit(2);
    for (;;) ::pause();
  }
  ::close(go[0]);
  started_.push_back(child);
  for (int i = 0; i < 500; ++i) {
    auto st = collectors::readProcStat(child);
    if (st && st->comm == comm) break;
    std::this_thread::sleep_for(1ms);
  }
  config::AdoptRule rule = commRule("test-uid", comm, "nobody-%u");
  rule.uid = 65534;
  startAdopter({rule});
  EXPECT_FALSE(waitAdopted(child, 200ms)) << "adopted while still root";
  ASSERT_EQ(::write(go[1], "g", 1), 1);
  ::close(go[1]);
  auto ev = waitAdopted(child);
  ASSERT_TRUE(ev) << "the uid change did not lead to an adoption";
  EXPECT_EQ(ev->trigger, AdoptionEvent::Trigger::IdChange);
  // %u is the user name when it resolves (nobody on Debian), else the uid.
  EXPECT_TRUE(ev->workload == "nobody-nobody" || ev->workload == "nobody-65534") << ev->workload;
  EXPECT_TRUE(ev->latency);
  auto cg = manager_->open(ev->workload);
  ASSERT_TRUE(cg.ok());
  std::string why;
  EXPECT_TRUE(inCgroup(child, **cg, layout_, &why)) << why;
}

TEST_F(AdopterTest, WithoutEventsTheRescanTimerAdopts) {
  std::string comm = "cgwt" + tag_;
  std::string bin = copy("/bin/sleep", comm);
  startAdopter({commRule("test-timer", comm, "timer-%p")}, /*netlink=*/false);
  pid_t p = spawn(bin, {comm, "30"});
  started_.push_back(p);
  auto ev = waitAdopted(p, 5s);
  ASSERT_TRUE(ev) << "the periodic scan did not adopt pid " << p;
  EXPECT_EQ(ev->trigger, AdoptionEvent::Trigger::Scan);
  EXPECT_EQ(ev->workload, "timer-" + std::to_string(p));
  EXPECT_GE(adopter_->stats().scans, 2u);
  auto cg = manager_->open(ev->workload);
  ASSERT_TRUE(cg.ok());
  EXPECT_TRUE(inCgroup(p, **cg, layout_));
  // A per-match workload goes away with its process.
  killAndReap(started_);
  started_.clear();
  EXPECT_TRUE(waitRemoved(ev->workload));
}

TEST_F(AdopterTest, AdoptByPidAppliesLimitsAndRefusesClearly) {
  auto a = agent::Adopter::create(*manager_, {});
  ASSERT_TRUE(a.ok());
  adopter_ = std::move(*a);
  std::vector<AdoptionEvent> seen;
  adopter_->onAdopted([&](const AdoptionEvent& ev) { seen.push_back(ev); });
  ASSERT_TRUE(adopter_->start().ok());  // no rules: nothing subscribed, adoptPid still works

  pid_t sh = spawn("/bin/sh", {"sh", "-c", "sleep 30 & sleep 30 & wait"});
  started_.push_back(sh);
  for (int i = 0; i < 500 && liveTree(sh).size() < 3; ++i) std::this_thread::sleep_for(2ms);
  Limits limits;
  limits.pids.max = 10;
  auto ev = adopter_->adoptPid(sh, "bypid", limits);
  ASSERT_TRUE(ev.ok()) << ev.error().message();
  EXPECT_EQ(ev->trigger, AdoptionEvent::Trigger::Request);
  EXPECT_EQ(ev->rule, "");
  EXPECT_TRUE(ev->createdWorkload);
  EXPECT_TRUE(ev->complete);
  EXPECT_EQ(ev->moved.size(), 3u);
  EXPECT_EQ(ev->members, liveTree(sh));
  ASSERT_EQ(seen.size(), 1u);
  auto cg = manager_->open("bypid");
  ASSERT_TRUE(cg.ok());
  EXPECT_EQ(readNumber(*(*cg)->directoryFor("pids"), "pids.max"), 10u);
  for (pid_t p : liveTree(sh)) EXPECT_TRUE(inCgroup(p, **cg, layout_));
  EXPECT_EQ(adopter_->stats().adoptionsByPid, 1u);

  // Refusals create nothing.
  auto init = adopter_->adoptPid(1, "init", {});
  ASSERT_FALSE(init.ok());
  EXPECT_NE(init.error().message().find("refusing to adopt pid 1: it is init"), std::string::npos);
  EXPECT_FALSE(manager_->open("init").ok());
  auto self = adopter_->adoptPid(::getpid(), "self", {});
  ASSERT_FALSE(self.ok());
  EXPECT_NE(self.error().message().find("it is the agent itself"), std::string::npos);
  auto kthread = adopter_->adoptPid(2, "kt", {});
  ASSERT_FALSE(kthread.ok());
  EXPECT_NE(kthread.error().message().find("it is a kernel thread"), std::string::npos);
  auto badName = adopter_->adoptPid(sh, "Bad Name", {});
  ASSERT_FALSE(badName.ok());
  EXPECT_NE(badName.error().message().find("workload name \"Bad Name\" must match"), std::string::npos);
  // Another managed workload's process is not stolen.
  auto steal = adopter_->adoptPid(sh, "thief", {});
  ASSERT_FALSE(steal.ok());
  EXPECT_NE(steal.error().message().find("already in managed workload \"bypid\""), std::string::npos)
      << steal.error().message();
  EXPECT_FALSE(manager_->open("thief").ok());
  EXPECT_EQ(adopter_->stats().refusals, 4u);
  // Not removed when empty: the supervisor owns adopt-by-pid workloads.
  killAndReap(started_);
  started_.clear();
  EXPECT_EQ(adopter_->workloads().count("bypid"), 1u);
}

TEST_F(AdopterTest, BadRulesAreAllReported) {
  config::AdoptRule a = commRule("dup", "x", "w");
  config::AdoptRule b = commRule("dup", "y", "w");
  config::AdoptRule c = commRule("badre", "z", "w");
  c.cmdline = "(";
  agent::AdopterOptions o;
  o.rules = {a, b, c};
  auto r = agent::Adopter::create(*manager_, o);
  ASSERT_FALSE(r.ok());
  std::string msg = r.error().message();
  EXPECT_NE(msg.find("adopt rule \"dup\": the name is used by an earlier rule"), std::string::npos) << msg;
  EXPECT_NE(msg.find("adopt rule \"badre\""), std::string::npos) << msg;
}

}  // namespace
}  // namespace cgwarden::testing
