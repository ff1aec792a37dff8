// The Supervisor against real cgroups: limits, OOM kills and restarts, stop with grace.
#include <signal.h>

#include <condition_variable>
#include <mutex>

#include "agent/Supervisor.h"
#include "integration/CgroupFixture.h"
#include "integration/LaunchHelpers.h"

namespace cgwarden::testing {
namespace {

using agent::WorkloadEvent;
using agent::WorkloadState;
using agent::WorkloadStatus;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr uint64_t kMiB = 1024 * 1024;

class SupervisorTest : public CgroupTest {
 protected:
  struct Seen {
    WorkloadEvent event;
    Clock::time_point at;
  };

  void SetUp() override {
    CgroupTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto manager = agent::CgroupManager::create(layout_, testCgroupRoot());
    ASSERT_TRUE(manager.ok());
    agent::SupervisorOptions options;
    options.stateDir = launchTempDir();
    supervisor_ = std::make_unique<agent::Supervisor>(std::move(*manager), options);
    supervisor_->onEvent([this](const WorkloadEvent& e) {
      std::lock_guard lock(mu_);
      events_.push_back({e, Clock::now()});
      eventSeen_.notify_all();
    });
  }

  void TearDown() override {
    supervisor_.reset();
    CgroupTest::TearDown();
  }

  std::vector<Seen> eventsOf(const std::string& name) {
    std::lock_guard lock(mu_);
    std::vector<Seen> out;
    for (const auto& s : events_) {
      if (s.event.name == name) out.push_back(s);
    }
    return out;
  }

  // The workload's events once the latest is `last`. Listeners run after the state changed,
  // so a state that waitFor saw may not have reached the listener yet.
  std::vector<Seen> eventsThrough(const std::string& name, WorkloadEvent::Kind last, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mu_);
    eventSeen_.wait_for(lock, timeout, [&] {
      for (auto it = events_.rbegin(); it != events_.rend(); ++it) {
        if (it->event.name == name) return it->event.kind == last;
      }
      return false;
    });
    lock.unlock();
    return eventsOf(name);
  }

  static std::string kinds(const std::vector<Seen>& seen) {
    std::string out;
    for (const auto& s : seen) out += std::string(out.empty() ? "" : " ") + agent::workloadEventName(s.event.kind);
    return out;
  }

  WorkloadStatus waitState(const std::string& name, WorkloadState state, std::chrono::milliseconds timeout = 30s) {
    auto s = supervisor_->waitFor(name, [state](const WorkloadStatus& st) { return st.state == state; }, timeout);
    EXPECT_TRUE(s.ok()) << s.error().message();
    return s.ok() ? *s : WorkloadStatus{};
  }

  config::WorkloadSpec sleeper(const std::string& name, std::vector<std::string> extra = {}) {
    std::vector<std::string> cmd = {cgwardenBinary(), "stress", "--sleep"};
    cmd.insert(cmd.end(), extra.begin(), extra.end());
    return outputSpec(name, cmd);
  }

  bool swapLimitable() const {
    auto mem = layout_.v1Mounts.count("memory") ? layout_.v1Mounts.at("memory") : layout_.unifiedMount;
    return pathExists(joinPath(joinPath(mem, testCgroupRoot()), "memory.memsw.limit_in_bytes")) ||
           layout_.mode == collectors::CgroupMode::V2;
  }

  std::unique_ptr<agent::Supervisor> supervisor_;
  std::mutex mu_;
  std::condition_variable eventSeen_;
  std::vector<Seen> events_;
};

TEST_F(SupervisorTest, LimitsAreInTheCgroupFilesAndChangeLive) {
  auto spec = sleeper("limited");
  spec.limits.memory.max = 64 * kMiB;
  spec.limits.pids.max = 32;
  spec.limits.cpu.quotaUs = 50000;
  spec.limits.cpu.periodUs = 100000;
  ASSERT_TRUE(supervisor_->launch(spec).ok());
  WorkloadStatus st = waitState("limited", WorkloadState::Running);
  EXPECT_EQ(st.cgroupPath, testCgroupRoot() + "/limited");

  auto cg = manager_->open("limited");
  ASSERT_TRUE(cg.ok()) << cg.error().message();
  auto read = (*cg)->readLimits();
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->memory.max, 64 * kMiB);
  EXPECT_EQ(read->pids.max, 32u);
  EXPECT_EQ(read->cpu.quotaUs, 50000u);
  if (layout_.mode != collectors::CgroupMode::V2) {
    EXPECT_EQ(readNumber(*(*cg)->directoryFor("memory"), "memory.limit_in_bytes"), 64 * kMiB);
    EXPECT_EQ(readNumber(*(*cg)->directoryFor("pids"), "pids.max"), 32u);
    EXPECT_EQ(readNumber(*(*cg)->directoryFor("cpu"), "cpu.cfs_quota_us"), 50000u);
  }
  auto members = (*cg)->pids();
  ASSERT_TRUE(members.ok());
  EXPECT_NE(std::find(members->begin(), members->end(), st.pid), members->end()) << "main pid " << st.pid;

  Limits more;
  more.memory.max = 128 * kMiB;
  ASSERT_TRUE(supervisor_->applyLimits("limited", more).ok());
  EXPECT_EQ((*cg)->readLimits()->memory.max, 128 * kMiB);
  auto after = supervisor_->status("limited");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->limits.memory.max, 128 * kMiB);
  EXPECT_EQ(after->limits.pids.max, 32u) << "fields not given stay";
}

TEST_F(SupervisorTest, MemoryGrowerIsOomKilledRecordedAndRestartedWithBackoff) {
  auto spec = outputSpec("grower", {cgwardenBinary(), "stress", "--memory-grow", "256Mi/s"});
  spec.limits.memory.max = 32 * kMiB;
  if (swapLimitable()) spec.limits.memory.swapMax = 0;
  spec.restart.policy = config::RestartPolicy::Always;
  spec.restart.maxRestarts = 2;
  spec.restart.initialBackoff = 300ms;
  spec.restart.maxBackoff = 10s;
  ASSERT_TRUE(supervisor_->launch(spec).ok());
  WorkloadStatus st = waitState("grower", WorkloadState::Failed, 60s);

  auto seen = eventsThrough("grower", WorkloadEvent::Kind::Failed);
  EXPECT_EQ(kinds(seen), "started oom_killed restarting started oom_killed restarting started oom_killed failed");
  EXPECT_EQ(st.oomKills, 3u);
  EXPECT_EQ(st.restarts, 2u);
  EXPECT_TRUE(st.lastExitWasOom);
  ASSERT_TRUE(st.lastExit.has_value());
  EXPECT_EQ(st.lastExit->shellCode(), 128 + SIGKILL);
  EXPECT_EQ(st.cgroupPath, testCgroupRoot() + "/grower") << "the cgroup is kept across restarts";

  // The back-off doubles: 300 ms, then 600 ms between the OOM kill and the next start.
  std::vector<std::chrono::milliseconds> delays;
  std::vector<std::chrono::milliseconds> waited;
  for (size_t i = 0; i + 1 < seen.size(); ++i) {
    if (seen[i].event.kind != WorkloadEvent::Kind::Restarting) continue;
    delays.push_back(seen[i].event.delay);
    waited.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(seen[i + 1].at - seen[i].at));
  }
  ASSERT_EQ(delays.size(), 2u);
  EXPECT_EQ(delays[0], 300ms);
  EXPECT_EQ(delays[1], 600ms);
  for (size_t i = 0; i < waited.size(); ++i) EXPECT_GE(waited[i], delays[i]) << "restart " << i;

  // The kernel's own counter agrees (one cgroup for all three runs).
  auto cg = manager_->open("grower");
  ASSERT_TRUE(cg.ok());
  std::string memDir = *(*cg)->directoryFor("memory");
  std::string file = pathExists(joinPath(memDir, "memory.oom_control")) ? "memory.oom_control" : "memory.events";
  uint64_t kernel = 0;
  for (auto& [k, v] : parseFlatKeyed(readText(joinPath(memDir, file)))) {
    if (k == "oom_kill") kernel = v;
  }
  EXPECT_EQ(kernel, 3u);

  auto targets = supervisor_->sampleTargets();
  ASSERT_EQ(targets.size(), 1u);
  EXPECT_EQ(targets[0].state, "failed");
  EXPECT_EQ(targets[0].restarts, 2u);
  EXPECT_EQ(targets[0].lastExitCode, 137);
}

TEST_F(SupervisorTest, NeverPolicyLeavesTheWorkloadOomKilled) {
  auto spec = outputSpec("oomonce", {cgwardenBinary(), "stress", "--memory-grow", "256Mi/s"});
  spec.limits.memory.max = 24 * kMiB;
  if (swapLimitable()) spec.limits.memory.swapMax = 0;
  ASSERT_TRUE(supervisor_->launch(spec).ok());
  WorkloadStatus st = waitState("oomonce", WorkloadState::OomKilled);
  EXPECT_EQ(st.oomKills, 1u);
  EXPECT_EQ(st.restarts, 0u);
}

TEST_F(SupervisorTest, OnFailureRestartsFailuresUntilMaxRestartsButNotSuccesses) {
  auto failing = outputSpec("failing", {"sh", "-c", "exit 3"});
  failing.restart.policy = config::RestartPolicy::OnFailure;
  failing.restart.maxRestarts = 2;
  failing.restart.initialBackoff = 50ms;
  auto fine = outputSpec("fine", {"true"});
  fine.restart.policy = config::RestartPolicy::OnFailure;
  ASSERT_TRUE(supervisor_->launch(failing).ok());
  ASSERT_TRUE(supervisor_->launch(fine).ok());
  WorkloadStatus f = waitState("failing", WorkloadState::Failed);
  EXPECT_EQ(f.restarts, 2u);
  EXPECT_EQ(f.lastExit->shellCode(), 3);
  EXPECT_FALSE(f.lastExitWasOom);
  WorkloadStatus ok = waitState("fine", WorkloadState::Exited);
  EXPECT_EQ(ok.restarts, 0u);
  EXPECT_EQ(ok.lastExit->shellCode(), 0);
}

TEST_F(SupervisorTest, StopSendsTheSignalThenKillsTheCgroupAfterTheGrace) {
  auto stubborn = sleeper("stubborn", {"--ignore-term"});
  stubborn.stopGrace = 1s;
  auto polite = sleeper("polite");
  polite.stopGrace = 20s;
  ASSERT_TRUE(supervisor_->launch(stubborn).ok());
  ASSERT_TRUE(supervisor_->launch(polite).ok());
  waitState("stubborn", WorkloadState::Running);
  waitState("polite", WorkloadState::Running);
  // Let stress install its SIG_IGN before the TERM comes.
  for (int i = 0; i < 300 && logOf(stubborn).find("alive") == std::string::npos; ++i) std::this_thread::sleep_for(10ms);
  auto cg = manager_->open("stubborn");
  ASSERT_TRUE(cg.ok());
  std::vector<std::string> dirs = (*cg)->directories();
  cg->reset();

  auto t0 = Clock::now();
  ASSERT_TRUE(supervisor_->stop("stubborn").ok());
  ASSERT_TRUE(supervisor_->stop("polite").ok());
  WorkloadStatus p = waitState("polite", WorkloadState::Stopped);
  auto politeTook = Clock::now() - t0;
  WorkloadStatus s = waitState("stubborn", WorkloadState::Stopped);
  auto stubbornTook = Clock::now() - t0;

  EXPECT_LT(politeTook, polite.stopGrace) << "a workload that exits on TERM stops before its grace ends";
  ASSERT_TRUE(p.lastExit.has_value());
  EXPECT_EQ(p.lastExit->shellCode(), 128 + SIGTERM);
  EXPECT_GE(stubbornTook, stubborn.stopGrace) << "TERM is ignored: only the SIGKILL after the grace ends it";
  ASSERT_TRUE(s.lastExit.has_value());
  EXPECT_EQ(s.lastExit->shellCode(), 128 + SIGKILL);
  EXPECT_EQ(s.cgroupPath, "") << "the cgroup is removed once stopped";
  for (const auto& d : dirs) EXPECT_FALSE(pathExists(d)) << d;
  EXPECT_TRUE(supervisor_->sampleTargets().empty());
}

TEST_F(SupervisorTest, LaunchFailuresAreReportedAndRecorded) {
  auto missing = outputSpec("missing", {"/nonexistent/daemon", "-f"});
  Status st = supervisor_->launch(missing);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("launch missing: exec /nonexistent/daemon: No such file or directory (ENOENT)"),
            std::string::npos)
      << st.error().message();
  auto status = supervisor_->status("missing");
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->state, WorkloadState::Failed);
  EXPECT_EQ(status->lastError, st.error().message());
  EXPECT_EQ(kinds(eventsOf("missing")), "launch_failed");

  Status dup = supervisor_->launch(sleeper("missing"));
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().errnum, EEXIST);

  Status bad = supervisor_->launch(sleeper("../escape"));
  ASSERT_FALSE(bad.ok());
  EXPECT_FALSE(pathExists(joinPath(layout_.v1Mounts.count("pids") ? layout_.v1Mounts.at("pids") : layout_.unifiedMount,
                                   "escape")));
  ASSERT_TRUE(supervisor_->remove("missing").ok());
  EXPECT_FALSE(supervisor_->status("missing").ok());
}

TEST_F(SupervisorTest, ManualRestartKeepsTheCgroupAndCountsNothing) {
  ASSERT_TRUE(supervisor_->launch(sleeper("svc")).ok());
  WorkloadStatus first = waitState("svc", WorkloadState::Running);
  ASSERT_TRUE(supervisor_->restart("svc").ok());
  auto second = supervisor_->waitFor(
      "svc", [&](const WorkloadStatus& s) { return s.state == WorkloadState::Running && s.pid != first.pid; }, 30s);
  ASSERT_TRUE(second.ok()) << second.error().message();
  EXPECT_EQ(second->cgroupPath, first.cgroupPath);
  EXPECT_EQ(second->restarts, 0u);
  EXPECT_NE(::kill(first.pid, 0), 0) << "the first run is gone";
}

TEST_F(SupervisorTest, SampleTargetsDescribeEachCgroup) {
  auto spec = sleeper("sampled");
  spec.labels["team"] = "web";
  spec.image = "demo:1";
  spec.limits.pids.max = 50;
  ASSERT_TRUE(supervisor_->launch(spec).ok());
  waitState("sampled", WorkloadState::Running);
  auto targets = supervisor_->sampleTargets();
  ASSERT_EQ(targets.size(), 1u);
  const auto& t = targets[0];
  EXPECT_EQ(t.id, "/" + testCgroupRoot() + "/sampled");
  EXPECT_EQ(t.name, "sampled");
  EXPECT_EQ(t.image, "demo:1");
  EXPECT_EQ(t.labels.at("team"), "web");
  EXPECT_TRUE(t.managed);
  EXPECT_EQ(t.state, "running");
  EXPECT_EQ(t.configuredLimits->pids.max, 50u);
  EXPECT_GT(t.startTimeSeconds, 1.7e9);
  for (const char* c : {"memory", "pids", "cpu"}) {
    ASSERT_TRUE(t.dirs.contains(c)) << c;
    EXPECT_TRUE(pathExists(std::string(t.dirs.find(c)))) << t.dirs.find(c);
  }
  if (!layout_.unifiedMount.empty()) {
    EXPECT_TRUE(t.dirs.contains(""));
  }
}

TEST_F(SupervisorTest, FreezeAndThaw) {
  ASSERT_TRUE(supervisor_->launch(sleeper("icy")).ok());
  waitState("icy", WorkloadState::Running);
  ASSERT_TRUE(supervisor_->freeze("icy").ok());
  auto cg = manager_->open("icy");
  ASSERT_TRUE(cg.ok());
  EXPECT_TRUE((*cg)->frozen().valueOr(false));
  ASSERT_TRUE(supervisor_->thaw("icy").ok());
  EXPECT_FALSE((*cg)->frozen().valueOr(true));
}

TEST_F(SupervisorTest, ShutdownStopsEveryWorkloadAndRemovesTheCgroups) {
  ASSERT_TRUE(supervisor_->launch(sleeper("a")).ok());
  ASSERT_TRUE(supervisor_->launch(sleeper("b")).ok());
  pid_t a = waitState("a", WorkloadState::Running).pid;
  waitState("b", WorkloadState::Running);
  supervisor_->shutdown();
  for (const auto& s : supervisor_->list()) EXPECT_EQ(s.state, WorkloadState::Stopped) << s.name;
  EXPECT_NE(::kill(a, 0), 0);
  auto children = manager_->children();
  ASSERT_TRUE(children.ok());
  EXPECT_TRUE(children->empty());
}

TEST_F(SupervisorTest, DetachLeavesWorkloadsRunningInTheirCgroups) {
  ASSERT_TRUE(supervisor_->launch(sleeper("kept")).ok());
  pid_t pid = waitState("kept", WorkloadState::Running).pid;
  supervisor_->detach();
  supervisor_.reset();
  EXPECT_EQ(::kill(pid, 0), 0) << "still running";
  auto cg = manager_->open("kept");
  ASSERT_TRUE(cg.ok());
  auto members = (*cg)->pids();
  ASSERT_TRUE(members.ok());
  EXPECT_NE(std::find(members->begin(), members->end(), pid), members->end());
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
}

// A process the test forked, in its own process group: `sleep 300`.
pid_t forkSleep() {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    ::execl("/bin/sleep", "sleep", "300", nullptr);
    ::_exit(127);
  }
  return pid;
}

TEST_F(SupervisorTest, AdoptedWorkloadIsWatchedByPidfdStoppedWithItsMembersAndNeverRestarted) {
  auto cg = manager_->create("adoptee");
  ASSERT_TRUE(cg.ok()) << cg.error().message();
  pid_t first = forkSleep(), second = forkSleep();
  ASSERT_TRUE((*cg)->attach(first).ok());
  ASSERT_TRUE((*cg)->attach(second).ok());
  agent::AdoptedWorkloadSpec spec;
  spec.name = "adoptee";
  spec.mainPid = first;
  spec.limits.memory.max = 32 * kMiB;
  spec.stopGrace = 300ms;
  ASSERT_TRUE(supervisor_->adopt(spec).ok());
  auto st = supervisor_->status("adoptee");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->kind, agent::WorkloadKind::Adopted);
  EXPECT_EQ(st->state, WorkloadState::Running);
  EXPECT_EQ(st->pid, first);
  EXPECT_FALSE(st->childOfAgent);
  EXPECT_EQ(st->limits.memory.max, 32 * kMiB);
  auto targets = supervisor_->sampleTargets();
  EXPECT_TRUE(std::any_of(targets.begin(), targets.end(), [](const auto& t) { return t.name == "adoptee"; }));
  EXPECT_EQ(supervisor_->adopt(spec).error().errnum, EEXIST);

  auto refused = supervisor_->restart("adoptee");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().errnum, 0);
  EXPECT_NE(refused.error().message().find("cannot be restarted"), std::string::npos);

  // The watched process ends: the one left in the cgroup is watched instead.
  ::kill(first, SIGKILL);
  ::waitpid(first, nullptr, 0);
  auto next = supervisor_->waitFor("adoptee", [&](const WorkloadStatus& s) { return s.pid == second; }, 10s);
  ASSERT_TRUE(next.ok()) << next.error().message();
  EXPECT_EQ(next->state, WorkloadState::Running);

  // Stop: the stop signal (SIGTERM ends sleep) to every member, then the cgroup goes.
  ASSERT_TRUE(supervisor_->stop("adoptee").ok());
  waitState("adoptee", WorkloadState::Stopped, 10s);
  EXPECT_EQ(::waitpid(second, nullptr, 0), second);
  EXPECT_FALSE(manager_->open("adoptee").ok()) << "the cgroup is removed";
  for (int i = 0; i < 100 && eventsOf("adoptee").size() < 2; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(kinds(eventsOf("adoptee")), "started stopped");
}

TEST_F(SupervisorTest, AnAdoptedWorkloadWhoseProcessesAllEndIsRemoved) {
  auto cg = manager_->create("brief");
  ASSERT_TRUE(cg.ok());
  pid_t only = forkSleep();
  ASSERT_TRUE((*cg)->attach(only).ok());
  ASSERT_TRUE(supervisor_->adopt({.name = "brief", .mainPid = only}).ok());
  ::kill(only, SIGKILL);
  ::waitpid(only, nullptr, 0);
  for (int i = 0; i < 200 && supervisor_->status("brief").ok(); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_FALSE(supervisor_->status("brief").ok());
  EXPECT_FALSE(manager_->open("brief").ok());
  for (int i = 0; i < 100 && eventsOf("brief").size() < 3; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(kinds(eventsOf("brief")), "started exited removed");
}

TEST_F(SupervisorTest, RestoreReadoptsTheLivingRestartsTheDeadAndRefusesARecycledPid) {
  std::string stateFile = joinPath(launchTempDir(), "restore-state.json");
  ::unlink(stateFile.c_str());
  auto manager = agent::CgroupManager::create(layout_, testCgroupRoot());
  ASSERT_TRUE(manager.ok());
  agent::SupervisorOptions options;
  options.stateDir = launchTempDir();
  options.stateFile = stateFile;
  auto first = std::make_unique<agent::Supervisor>(std::move(*manager), options);
  auto dying = sleeper("dying");
  dying.restart.policy = config::RestartPolicy::OnFailure;
  dying.restart.initialBackoff = 100ms;
  auto living = sleeper("alive");
  living.restart = dying.restart;
  ASSERT_TRUE(first->launch(living).ok());
  ASSERT_TRUE(first->launch(dying).ok());
  ASSERT_TRUE(first->applyLimits("alive", [] { Limits l; l.pids.max = 40; return l; }()).ok());
  auto alive = first->waitFor("alive", [](const WorkloadStatus& s) { return s.state == WorkloadState::Running; }, 10s);
  auto dead = first->waitFor("dying", [](const WorkloadStatus& s) { return s.state == WorkloadState::Running; }, 10s);
  ASSERT_TRUE(alive.ok() && dead.ok());
  first->detach();
  first.reset();

  auto saved = agent::readStateFile(stateFile);
  ASSERT_TRUE(saved.ok()) << saved.error().message();
  ASSERT_EQ(saved->workloads.size(), 2u);
  EXPECT_EQ(saved->workloads[0].spec.limits.pids.max, 40u) << "live limit changes are persisted";
  // A third entry claims the living pid with another start time: a recycled pid, not ours.
  agent::StateEntry ghost = saved->workloads[0];
  ghost.spec.name = "ghost";
  ghost.kind = agent::WorkloadKind::Adopted;
  ghost.startTicks += 1;
  saved->workloads.push_back(ghost);
  ASSERT_TRUE(manager_->create("ghost").ok());

  ::kill(dead->pid, SIGKILL);  // dies while no supervisor watches
  ::waitpid(dead->pid, nullptr, 0);

  agent::RestoreReport report = supervisor_->restore(*saved);
  EXPECT_EQ(report.resumed, std::vector<std::string>{"alive"});
  EXPECT_EQ(report.endedAway, std::vector<std::string>{"dying"});
  EXPECT_EQ(report.dropped, std::vector<std::string>{"ghost"});
  EXPECT_FALSE(manager_->open("ghost").ok()) << "the empty cgroup of a dropped adopted entry is removed";
  EXPECT_EQ(::kill(alive->pid, 0), 0) << "a refused entry's pid is never signalled";

  auto back = supervisor_->status("alive");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->pid, alive->pid);
  EXPECT_EQ(back->state, WorkloadState::Running);
  EXPECT_FALSE(back->childOfAgent);
  EXPECT_EQ(back->restarts, 0u);
  EXPECT_EQ(back->limits.pids.max, 40u);
  auto restarted = supervisor_->waitFor(
      "dying", [](const WorkloadStatus& s) { return s.state == WorkloadState::Running && s.restarts == 1; }, 10s);
  ASSERT_TRUE(restarted.ok()) << restarted.error().message();
  EXPECT_NE(restarted->pid, dead->pid);
  EXPECT_TRUE(restarted->childOfAgent);
  for (int i = 0; i < 100 && eventsOf("dying").size() < 3; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(kinds(eventsOf("dying")), "exited restarting started");

  // The re-adopted launched workload keeps its restart policy: unknown status = failure.
  ::kill(alive->pid, SIGKILL);
  ::waitpid(alive->pid, nullptr, 0);
  auto again = supervisor_->waitFor(
      "alive", [](const WorkloadStatus& s) { return s.state == WorkloadState::Running && s.restarts == 1; }, 10s);
  ASSERT_TRUE(again.ok()) << again.error().message();
  bool unknownExit = false;
  for (const auto& seen : eventsOf("alive")) {
    if (seen.event.kind == WorkloadEvent::Kind::Exited && !seen.event.exit &&
        seen.event.message.find("exit status unknown") != std::string::npos)
      unknownExit = true;
  }
  EXPECT_TRUE(unknownExit) << kinds(eventsOf("alive"));
}

}  // namespace
}  // namespace cgwarden::testing
