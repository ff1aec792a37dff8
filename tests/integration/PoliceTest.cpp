// The policer against real cgroups and real workloads (launched by the Supervisor, sampled
// by the Sampler, acted on through SupervisorActionTarget): a memory grower frozen or killed
// before the kernel OOM-kills it, a CPU hog throttled, a fork bomb stopped, a crash loop
// stopped.
#include <signal.h>

#include <thread>

#include "agent/Policer.h"
#include "agent/Supervisor.h"
#include "agent/SupervisorActionTarget.h"
#include "collectors/ObservedCgroups.h"
#include "collectors/Sampler.h"
#include "config/Loader.h"
#include "integration/CgroupFixture.h"
#include "integration/LaunchHelpers.h"

namespace cgwarden::testing {
namespace {

using agent::PolicyEvent;
using agent::WorkloadState;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kMiB = 1024 * 1024;

class PoliceTest : public CgroupTest {
 protected:
  void SetUp() override {
    CgroupTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto manager = agent::CgroupManager::create(layout_, testCgroupRoot());
    ASSERT_TRUE(manager.ok());
    agent::SupervisorOptions options;
    options.stateDir = launchTempDir();
    supervisor_ = std::make_unique<agent::Supervisor>(std::move(*manager), options);
    target_ = std::make_unique<agent::SupervisorActionTarget>(*supervisor_, layout_);
  }

  void TearDown() override {
    if (policer_) policer_->stop();
    if (sampler_) sampler_->stop();
    policer_.reset();
    sampler_.reset();
    target_.reset();
    supervisor_.reset();
    CgroupTest::TearDown();
  }

  // Starts the sampler (tick `interval`) and the policer with `policiesYaml` (a `policies:` list).
  void police(const std::string& policiesYaml, std::chrono::milliseconds interval,
              std::vector<std::string> observe = {}) {
    // The rules name launched workloads: the loader checks that against `workloads:`.
    std::string yaml = "workloads:\n";
    for (const auto& w : supervisor_->list()) yaml += "  - {name: " + w.name + ", command: [/bin/true]}\n";
    yaml += "policies:\n" + policiesYaml;
    auto loaded = config::parseConfigText(yaml, "police.yaml");
    ASSERT_TRUE(loaded.ok()) << loaded.renderErrors();
    collectors::SamplerOptions so;
    so.interval = interval;
    observed_ = std::make_unique<collectors::ObservedCgroups>(layout_, observe, 100ms);
    sampler_ = std::make_unique<collectors::Sampler>(
        layout_,
        [this] {
          auto targets = supervisor_->sampleTargets();
          for (const auto& t : observed_->targets()) targets.push_back(*t);
          return targets;
        },
        so);
    agent::PolicerOptions po;
    po.snapshotSource = [this] { return sampler_->latest(); };
    policer_ = std::make_unique<agent::Policer>(loaded.value->policies, *target_, events_, nullptr, po);
    sampler_->start();
    ASSERT_TRUE(policer_->start().ok());
  }

  // The first event matching `pred`, waiting up to `timeout`.
  std::optional<PolicyEvent> waitEvent(const std::function<bool(const PolicyEvent&)>& pred,
                                       std::chrono::milliseconds timeout = 20s) {
    auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      for (const auto& e : events_.all()) {
        if (pred(e)) return e;
      }
      std::this_thread::sleep_for(5ms);
    }
    return std::nullopt;
  }
  static std::function<bool(const PolicyEvent&)> action(const std::string& name) {
    return [name](const PolicyEvent& e) { return e.action == name; };
  }

  config::WorkloadSpec stress(const std::string& name, std::vector<std::string> args) {
    std::vector<std::string> cmd = {cgwardenBinary(), "stress"};
    cmd.insert(cmd.end(), args.begin(), args.end());
    auto spec = outputSpec(name, cmd);
    spec.stopGrace = 200ms;
    return spec;
  }

  std::unique_ptr<agent::Cgroup> cgroupOf(const std::string& name) {
    auto cg = manager_->open(name);
    EXPECT_TRUE(cg.ok()) << cg.error().message();
    return cg.ok() ? std::move(*cg) : nullptr;
  }

  uint64_t oomKills(const agent::Cgroup& cg) {
    std::string dir = *cg.directoryFor("memory");
    std::string file = pathExists(joinPath(dir, "memory.oom_control")) ? "memory.oom_control" : "memory.events";
    for (auto& [key, value] : parseFlatKeyed(readText(joinPath(dir, file)))) {
      if (key == "oom_kill") return value;
    }
    ADD_FAILURE() << "no oom_kill in " << dir << "/" << file;
    return 0;
  }

  std::string dump() const {
    std::string out;
    for (const auto& e : events_.all()) out += e.toJsonLine() + "\n";
    return out;
  }

  std::unique_ptr<agent::Supervisor> supervisor_;
  std::unique_ptr<agent::SupervisorActionTarget> target_;
  std::unique_ptr<collectors::ObservedCgroups> observed_;
  std::unique_ptr<collectors::Sampler> sampler_;
  agent::PolicyEventLog events_{1000};
  std::unique_ptr<agent::Policer> policer_;
};

TEST_F(PoliceTest, MemoryGrowerIsFrozenBeforeTheKernelOomKillsIt) {
  auto spec = stress("grower", {"--memory-grow", "40M/s"});
  spec.limits.memory.max = 64 * kMiB;
  ASSERT_TRUE(supervisor_->launch(spec).ok());
  auto cg = cgroupOf("grower");
  ASSERT_TRUE(cg);
  const uint64_t oomBefore = oomKills(*cg);
  // A 1 s tick: the grower goes from 80% to 100% of its limit in about 0.35 s, so only the
  // kernel's threshold notification can catch it in time.
  police(R"(  - {name: grower-guard, target: grower, condition: "memory.working_set > 80%", actions: [freeze]}
)", 1000ms);
  auto frozen = waitEvent(action("freeze"));
  ASSERT_TRUE(frozen.has_value()) << dump();
  EXPECT_EQ(frozen->outcome, "ok") << frozen->error;
  EXPECT_EQ(frozen->workload, "grower");
  ASSERT_EQ(frozen->conditions.size(), 1u);
  EXPECT_GT(*frozen->conditions[0].value, 0.8);
  EXPECT_LT(*frozen->conditions[0].value, 1.0);
  EXPECT_NE(frozen->trigger, agent::PolicyTrigger::Tick) << "caught by a kernel event, not the tick: " << dump();
  auto isFrozen = cg->frozen();
  ASSERT_TRUE(isFrozen.ok());
  EXPECT_TRUE(*isFrozen);
  std::this_thread::sleep_for(500ms);  // it would have hit the limit by now
  EXPECT_EQ(oomKills(*cg), oomBefore) << "the kernel OOM-killed it anyway";
  auto st = supervisor_->status("grower");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->state, WorkloadState::Running);
  ASSERT_TRUE(cg->thaw().ok());
}

TEST_F(PoliceTest, MemoryGrowerIsKilledBeforeTheKernelOomKillsIt) {
  auto spec = stress("grower", {"--memory-grow", "40M/s"});
  spec.limits.memory.max = 64 * kMiB;
  ASSERT_TRUE(supervisor_->launch(spec).ok());
  auto cg = cgroupOf("grower");
  ASSERT_TRUE(cg);
  const uint64_t oomBefore = oomKills(*cg);
  police(R"(  - {name: grower-kill, target: grower, condition: "memory.usage > 80%", actions: [kill]}
)", 1000ms);
  auto killed = waitEvent(action("kill"));
  ASSERT_TRUE(killed.has_value()) << dump();
  EXPECT_EQ(killed->outcome, "ok") << killed->error;
  auto st = supervisor_->waitFor("grower", [](const auto& s) { return s.state == WorkloadState::Exited; }, 10s);
  ASSERT_TRUE(st.ok()) << st.error().message();
  ASSERT_TRUE(st->lastExit.has_value());
  EXPECT_EQ(st->lastExit->shellCode(), 128 + SIGKILL) << st->lastExit->describe();
  EXPECT_FALSE(st->lastExitWasOom);
  EXPECT_EQ(oomKills(*cg), oomBefore);
}

TEST_F(PoliceTest, CpuHogUnderAQuotaTriggersTheThrottlingRule) {
  auto spec = stress("hog", {"--cpu", "1"});
  spec.limits.cpu.quotaUs = 50000;
  spec.limits.cpu.periodUs = 100000;
  ASSERT_TRUE(supervisor_->launch(spec).ok());
  auto cg = cgroupOf("hog");
  ASSERT_TRUE(cg);
  police(R"(  - name: hog-throttle
    target: hog
    condition: "cpu.throttled > 50% over 1s"
    actions: [{throttle: {cpu: 0.2, restore_after: 2s}}]
    cooldown: 1h
)", 250ms);
  auto throttled = waitEvent(action("throttle"));
  ASSERT_TRUE(throttled.has_value()) << dump();
  EXPECT_EQ(throttled->outcome, "ok") << throttled->error;
  EXPECT_GT(*throttled->conditions[0].value, 0.5);
  EXPECT_EQ(cg->readLimits()->cpu.quotaUs, 20000u) << "0.2 cores of the 100 ms period";
  auto restored = waitEvent(action("restore"), 5s);
  ASSERT_TRUE(restored.has_value()) << dump();
  EXPECT_EQ(restored->outcome, "ok") << restored->error;
  EXPECT_EQ(cg->readLimits()->cpu.quotaUs, 50000u);
}

TEST_F(PoliceTest, ForkBombNearPidsMaxIsStopped) {
  auto spec = stress("bomb", {"--fork", "1000"});
  spec.limits.pids.max = 64;
  ASSERT_TRUE(supervisor_->launch(spec).ok());
  police(R"(  - {name: bomb-stop, target: bomb, condition: "pids >= 90%", actions: [stop]}
)", 200ms);
  auto stopped = waitEvent(action("stop"));
  ASSERT_TRUE(stopped.has_value()) << dump();
  EXPECT_EQ(stopped->outcome, "ok") << stopped->error;
  EXPECT_GE(*stopped->conditions[0].value, 0.9);
  auto st = supervisor_->waitFor("bomb", [](const auto& s) { return s.state == WorkloadState::Stopped; }, 10s);
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_TRUE(st->cgroupPath.empty()) << "a stopped workload's cgroup is removed";
}

TEST_F(PoliceTest, CrashLoopIsStoppedAfterNRestarts) {
  auto spec = stress("crasher", {"--duration", "50ms", "--exit-code", "1"});
  spec.restart.policy = config::RestartPolicy::Always;
  spec.restart.maxRestarts = 0;  // the supervisor alone would loop forever
  spec.restart.initialBackoff = 50ms;
  spec.restart.maxBackoff = 100ms;
  ASSERT_TRUE(supervisor_->launch(spec).ok());
  police(R"(  - {name: crash-loop, target: crasher, condition: "restarts >= 3 over 1m", actions: [stop]}
)", 100ms);
  auto stopped = waitEvent(action("stop"));
  ASSERT_TRUE(stopped.has_value()) << dump();
  EXPECT_EQ(stopped->outcome, "ok") << stopped->error;
  EXPECT_GE(*stopped->conditions[0].value, 3.0);
  auto st = supervisor_->waitFor("crasher", [](const auto& s) { return s.state == WorkloadState::Stopped; }, 10s);
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_GE(st->restarts, 3u);
  EXPECT_LE(st->restarts, 6u) << "stopped within a couple of ticks of the third restart";
  const uint32_t final = st->restarts;
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(supervisor_->status("crasher")->restarts, final) << "no restart after the stop";
}

TEST_F(PoliceTest, OomKillIsSeenAndObservedCgroupsAreOnlyReported) {
  auto spec = stress("oomer", {"--memory-grow", "100M/s"});
  spec.limits.memory.max = 32 * kMiB;
  ASSERT_TRUE(supervisor_->launch(spec).ok());
  auto observed = manager_->create("observed");
  ASSERT_TRUE(observed.ok());
  police(R"(  - {name: oom-seen, target: oomer, condition: "memory.oom_kills >= 1 over 1m", actions: [log]}
  - {name: observed-only, target: ")" + testCgroupRoot() + R"(/observed", condition: "memory.usage >= 0", actions: [log, kill]}
)", 1000ms, {testCgroupRoot() + "/observed"});
  auto seen = waitEvent([](const PolicyEvent& e) { return e.rule == "oom-seen"; });
  ASSERT_TRUE(seen.has_value()) << dump();
  EXPECT_GE(*seen->conditions[0].value, 1.0);
  EXPECT_NE(seen->trigger, agent::PolicyTrigger::Tick) << "v1 oom_control eventfd / v2 memory.events: " << dump();
  auto skipped = waitEvent([](const PolicyEvent& e) { return e.rule == "observed-only" && e.action == "kill"; });
  ASSERT_TRUE(skipped.has_value()) << dump();
  EXPECT_FALSE(skipped->managed);
  EXPECT_EQ(skipped->outcome, "skipped");
}

}  // namespace
}  // namespace cgwarden::testing
