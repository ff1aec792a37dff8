// The policer's engine with an injected clock, a recording ActionTarget and HookRunner:
// for: timing, cooldown, dry-run, each action, follow-up timers, observed cgroups, metrics.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <nlohmann/json.hpp>

#include "agent/PolicerComponent.h"
#include "agent/PolicyEngine.h"
#include "collectors/Sampler.h"
#include "unit/agent/PolicyTestKit.h"

namespace cgwarden::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using agent::PolicyEngine;
using agent::PolicyEvent;

class PolicyEngineTest : public ::testing::Test {
 protected:
  std::unique_ptr<PolicyEngine> engine(const std::string& yaml, bool withRefresh = false) {
    agent::PolicyEngineOptions o;
    o.clock = clock_.fn();
    o.wallClock = [this] { return kT0 + std::chrono::duration<double>(clock_.now().time_since_epoch()).count(); };
    o.asyncExec = false;
    o.observedStopGrace = 10s;
    if (withRefresh) {
      o.refresh = [this](const collectors::TargetSample& last) -> std::optional<collectors::TargetSample> {
        ++refreshes_;
        collectors::TargetSample s = last;
        s.memory.usageBytes = freshUsage_;
        return s;
      };
    }
    return std::make_unique<PolicyEngine>(rulesOf(yaml), target_, hooks_, events_, &metrics_, o);
  }

  // One snapshot of `web` (and `more`) with memory usage `usage` of a 64 MiB limit, at clock time.
  void tick(PolicyEngine& e, uint64_t usage, collectors::CgroupMode mode = collectors::CgroupMode::Hybrid) {
    double t = std::chrono::duration<double>(clock_.now().time_since_epoch()).count() - 3600000;
    e.evaluateSnapshot(snapshotOf({sampleOf(web_, t, usage)}, mode));
  }

  std::vector<std::string> outcomes() const {
    std::vector<std::string> out;
    for (const auto& e : events_.all()) out.push_back(e.action + ":" + e.outcome);
    return out;
  }

  std::string metricsText() {
    return prometheus::TextSerializer().Serialize(registry_.Collect());
  }

  ManualClock clock_;
  RecordingTarget target_;
  RecordingHooks hooks_;
  agent::PolicyEventLog events_{100};
  prometheus::Registry registry_;
  agent::PolicyMetrics metrics_{registry_};
  std::shared_ptr<collectors::SampleTarget> web_ = makeTarget("web");
  uint64_t freshUsage_ = 0;
  int refreshes_ = 0;
};

TEST_F(PolicyEngineTest, FiresWhenTheConditionHolds) {
  auto e = engine("  - {name: guard, target: web, condition: \"memory.usage > 80%\", actions: [freeze]}\n");
  tick(*e, 50 * kMiB);
  EXPECT_TRUE(target_.calls().empty());
  clock_.advance(1s);
  tick(*e, 56 * kMiB);
  EXPECT_THAT(target_.calls(), ElementsAre("freeze web"));
  auto all = events_.all();
  ASSERT_EQ(all.size(), 1u);
  const PolicyEvent& ev = all[0];
  EXPECT_EQ(ev.rule, "guard");
  EXPECT_EQ(ev.workload, "web");
  EXPECT_EQ(ev.cgroup, "/cgwarden/web");
  EXPECT_EQ(ev.action, "freeze");
  EXPECT_EQ(ev.outcome, "ok");
  EXPECT_FALSE(ev.dryRun);
  EXPECT_EQ(ev.trigger, agent::PolicyTrigger::Tick);
  ASSERT_EQ(ev.conditions.size(), 1u);
  EXPECT_DOUBLE_EQ(*ev.conditions[0].value, 56.0 / 64.0);
  EXPECT_DOUBLE_EQ(ev.conditions[0].threshold, 0.8);
  EXPECT_THAT(metricsText(), HasSubstr("cgwarden_policy_actions_total{action=\"freeze\",dry_run=\"false\",rule=\"guard\",workload=\"web\"} 1"));
  EXPECT_THAT(metricsText(), HasSubstr("cgwarden_policy_evaluations_total{rule=\"guard\"} 2"));
}

TEST_F(PolicyEngineTest, ForDurationWithAnInjectedClock) {
  auto e = engine("  - {name: guard, target: web, condition: \"memory.usage > 80%\", for: 5s, cooldown: 1h, actions: [kill]}\n");
  tick(*e, 60 * kMiB);  // holds from t=0
  clock_.advance(3s);
  tick(*e, 60 * kMiB);
  EXPECT_TRUE(target_.calls().empty()) << "3 s < for: 5s";
  clock_.advance(1s);
  tick(*e, 10 * kMiB);  // falls back: the clock resets
  clock_.advance(1s);
  tick(*e, 60 * kMiB);  // holds again from t=5
  clock_.advance(4s);
  tick(*e, 60 * kMiB);
  EXPECT_TRUE(target_.calls().empty()) << "only 4 s since it held again";
  clock_.advance(1s);
  tick(*e, 60 * kMiB);
  EXPECT_THAT(target_.calls(), ElementsAre("kill web"));
}

TEST_F(PolicyEngineTest, CooldownPerTarget) {
  auto e = engine("  - {name: guard, target: web, condition: \"memory.usage > 80%\", cooldown: 30s, actions: [log, kill]}\n");
  tick(*e, 60 * kMiB);
  clock_.advance(10s);
  tick(*e, 60 * kMiB);
  clock_.advance(19s);
  tick(*e, 60 * kMiB);
  EXPECT_THAT(target_.calls(), ElementsAre("kill web"));
  clock_.advance(1s);  // 30 s after the firing
  tick(*e, 60 * kMiB);
  EXPECT_THAT(target_.calls(), ElementsAre("kill web", "kill web"));
  EXPECT_THAT(outcomes(), ElementsAre("log:ok", "kill:ok", "log:ok", "kill:ok"));
}

TEST_F(PolicyEngineTest, DryRunPerformsNothingButRecordsEveryAction) {
  auto e = engine(R"(  - name: guard
    target: web
    condition: "memory.usage > 80%"
    dry_run: true
    actions: [log, {signal: USR1}, stop, {freeze: 10s}, {throttle: {cpu: 0.1, restore_after: 1m}}, kill, restart, {exec: [/bin/dump]}]
)");
  tick(*e, 60 * kMiB);
  EXPECT_TRUE(target_.calls().empty());
  EXPECT_TRUE(hooks_.requests.empty());
  EXPECT_EQ(e->pendingTimers(), 0u) << "no thaw or restore scheduled either";
  EXPECT_THAT(outcomes(), ElementsAre("log:dry_run", "signal:dry_run", "stop:dry_run", "freeze:dry_run",
                                      "throttle:dry_run", "kill:dry_run", "restart:dry_run", "exec:dry_run"));
  for (const auto& ev : events_.all()) EXPECT_TRUE(ev.dryRun);
  EXPECT_THAT(metricsText(), HasSubstr("cgwarden_policy_actions_total{action=\"kill\",dry_run=\"true\",rule=\"guard\",workload=\"web\"} 1"));
}

TEST_F(PolicyEngineTest, EachActionAgainstTheRecorder) {
  auto e = engine(R"(  - name: guard
    target: web
    condition: "memory.usage > 80%"
    actions: [log, {signal: USR1}, {signal: {signal: HUP, to: cgroup}}, stop, kill, restart]
)");
  tick(*e, 60 * kMiB);
  EXPECT_THAT(target_.calls(), ElementsAre("signal-main web SIGUSR1", "signal-cgroup web SIGHUP", "stop web", "kill web",
                                           "restart web"));
  EXPECT_THAT(outcomes(), ElementsAre("log:ok", "signal:ok", "signal:ok", "stop:ok", "kill:ok", "restart:ok"));
}

TEST_F(PolicyEngineTest, FreezeThenThawAfterTheDuration) {
  auto e = engine("  - {name: guard, target: web, condition: \"memory.usage > 80%\", actions: [{freeze: 30s}]}\n");
  tick(*e, 60 * kMiB);
  EXPECT_THAT(target_.calls(), ElementsAre("freeze web"));
  ASSERT_TRUE(e->nextTimer().has_value());
  EXPECT_EQ(*e->nextTimer(), clock_.now() + 30s);
  clock_.advance(29s);
  e->runDueTimers();
  EXPECT_THAT(target_.calls(), ElementsAre("freeze web"));
  clock_.advance(1s);
  e->runDueTimers();
  EXPECT_THAT(target_.calls(), ElementsAre("freeze web", "thaw web"));
  EXPECT_THAT(outcomes(), ElementsAre("freeze:ok", "thaw:ok"));
  EXPECT_EQ(events_.all().back().trigger, agent::PolicyTrigger::Timer);
  EXPECT_FALSE(e->nextTimer().has_value());
}

TEST_F(PolicyEngineTest, ThrottleAndRestoreOnV1UsesTheSoftLimit) {
  auto e = engine(R"(  - name: guard
    target: web
    condition: "memory.usage > 80%"
    cooldown: 5s
    actions: [{throttle: {cpu: 0.25, memory_high: 50%, restore_after: 1m}}]
)");
  Limits configured;
  configured.cpu.quotaUs = 100000;
  web_->configuredLimits = configured;
  collectors::TargetSample s = sampleOf(web_, 0, 60 * kMiB);
  s.spec.hasCpu = true;
  s.spec.cpuQuotaUs = 100000;
  s.spec.cpuPeriodUs = 50000;
  s.spec.memoryReservation = kUnlimited;
  e->evaluateSnapshot(snapshotOf({s}, collectors::CgroupMode::Hybrid));
  ASSERT_EQ(target_.limits().size(), 1u);
  Limits applied = target_.limits()[0];
  EXPECT_EQ(applied.cpu.quotaUs, 12500u) << "0.25 cores of the 50 ms period in force";
  EXPECT_EQ(applied.memory.low, 32 * kMiB) << "v1: memory.soft_limit_in_bytes";
  EXPECT_FALSE(applied.memory.high.has_value());
  // It fires again after the cooldown: the restore keeps the original values.
  clock_.advance(10s);
  s.spec.cpuQuotaUs = 12500;
  s.spec.memoryReservation = 32 * kMiB;
  e->evaluateSnapshot(snapshotOf({s}, collectors::CgroupMode::Hybrid));
  ASSERT_EQ(target_.limits().size(), 2u);
  EXPECT_EQ(e->pendingTimers(), 1u);
  clock_.advance(60s);
  e->runDueTimers();
  ASSERT_EQ(target_.limits().size(), 3u);
  Limits restored = target_.limits()[2];
  EXPECT_EQ(restored.cpu.quotaUs, 100000u);
  EXPECT_EQ(restored.memory.low, kUnlimited);
  EXPECT_THAT(outcomes(), ElementsAre("throttle:ok", "throttle:ok", "restore:ok"));
}

TEST_F(PolicyEngineTest, ThrottleOnV2SetsMemoryHigh) {
  config::PolicyAction a;
  a.kind = config::PolicyAction::Kind::Throttle;
  a.memoryHigh = 48 * kMiB;
  collectors::TargetSample s = sampleOf(web_, 0, 0);
  auto plan = agent::planThrottle(a, s, collectors::CgroupMode::V2);
  EXPECT_EQ(plan.apply.memory.high, 48 * kMiB);
  EXPECT_EQ(plan.restore.memory.high, kUnlimited);
  EXPECT_FALSE(plan.apply.memory.low.has_value());
  a.memoryHigh.reset();
  a.memoryHighFraction = 0.9;
  s.spec.memoryLimit = kUnlimited;
  EXPECT_EQ(agent::planThrottle(a, s, collectors::CgroupMode::V2).error,
            "memory_high as a percentage needs a memory limit, and this cgroup has none");
}

TEST_F(PolicyEngineTest, ExecGetsTheEventOnStdinAndItsExitCodeIsTheOutcome) {
  auto e = engine(R"(  - name: guard
    target: web
    condition: "memory.usage > 80%"
    actions: [{exec: {command: [/usr/local/bin/dump-heap, --fast], timeout: 3s}}, kill]
)");
  hooks_.result.code = 3;
  tick(*e, 60 * kMiB);
  ASSERT_EQ(hooks_.requests.size(), 1u);
  const auto& r = hooks_.requests[0];
  EXPECT_THAT(r.command, ElementsAre("/usr/local/bin/dump-heap", "--fast"));
  EXPECT_EQ(r.timeout, 3s);
  EXPECT_EQ(r.env.at("CGWARDEN_RULE"), "guard");
  EXPECT_EQ(r.env.at("CGWARDEN_WORKLOAD"), "web");
  EXPECT_EQ(r.env.at("CGWARDEN_CGROUP"), "/cgwarden/web");
  auto json = nlohmann::json::parse(r.input);
  EXPECT_EQ(json["rule"], "guard");
  EXPECT_EQ(json["action"], "exec");
  EXPECT_EQ(json["conditions"][0]["condition"], "memory.usage > 80%");
  EXPECT_THAT(target_.calls(), ElementsAre("kill web")) << "the kill runs after the hook, even though it failed";
  auto all = events_.all();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].outcome, "failed");
  EXPECT_EQ(all[0].error, "exec /usr/local/bin/dump-heap: exit code 3");
}

TEST_F(PolicyEngineTest, AFailedActionIsRecordedAndTheNextOnesRun) {
  auto e = engine("  - {name: guard, target: web, condition: \"memory.usage > 80%\", actions: [freeze, kill]}\n");
  target_.fail("freeze");
  tick(*e, 60 * kMiB);
  EXPECT_THAT(target_.calls(), ElementsAre("freeze web", "kill web"));
  auto all = events_.all();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].outcome, "failed");
  EXPECT_EQ(all[0].error, "write /cgwarden/web/freezer.state: Device or resource busy (EBUSY)");
  EXPECT_EQ(all[1].outcome, "ok");
}

TEST_F(PolicyEngineTest, ObservedCgroupsGetDetectionAndEventsOnly) {
  auto e = engine(R"(  - {name: watch, target: "system.slice/*", condition: "memory.usage > 80%", actions: [log, kill]}
  - {name: act, target: "system.slice/*", condition: "memory.usage > 80%", allow_actions_on_observed: true, actions: [stop, {signal: TERM}]}
)");
  auto observed = makeTarget("system.slice/cron.service", false);
  e->evaluateSnapshot(snapshotOf({sampleOf(observed, 0, 60 * kMiB)}));
  EXPECT_THAT(outcomes(), ElementsAre("log:ok", "kill:skipped", "stop:ok", "signal:failed"));
  EXPECT_EQ(events_.all()[1].error, "observed cgroup: actions other than log need allow_actions_on_observed: true");
  EXPECT_THAT(events_.all()[3].error, HasSubstr("an observed cgroup has no main process; use to: cgroup"));
  // An observed stop is SIGTERM to the cgroup, then SIGKILL after the grace period.
  EXPECT_THAT(target_.calls(), ElementsAre("signal-cgroup system.slice/cron.service SIGTERM"));
  clock_.advance(10s);
  e->runDueTimers();
  EXPECT_THAT(target_.calls(), ElementsAre("signal-cgroup system.slice/cron.service SIGTERM", "kill system.slice/cron.service"));
}

TEST_F(PolicyEngineTest, TargetsByNameGlobAndLabels) {
  auto rules = rulesOf(R"(  - {name: byname, target: web, condition: "pids > 1", actions: [log]}
  - {name: byglob, target: "batch-*", condition: "pids > 1", actions: [log]}
  - {name: bylabel, target: "team=ml", condition: "pids > 1", actions: [log]}
)");
  collectors::SampleTarget web = *makeTarget("web");
  web.labels = {{"team", "ml"}};
  collectors::SampleTarget batch = *makeTarget("batch-1");
  EXPECT_TRUE(PolicyEngine::matches(rules[0], web));
  EXPECT_FALSE(PolicyEngine::matches(rules[0], batch));
  EXPECT_TRUE(PolicyEngine::matches(rules[1], batch));
  EXPECT_FALSE(PolicyEngine::matches(rules[1], web));
  EXPECT_TRUE(PolicyEngine::matches(rules[2], web));
  EXPECT_FALSE(PolicyEngine::matches(rules[2], batch));
}

TEST_F(PolicyEngineTest, ForRecheckOnAFreshSampleAtTheDeadline) {
  auto e = engine("  - {name: guard, target: web, condition: \"memory.usage > 80%\", for: 2s, actions: [kill]}\n", true);
  tick(*e, 60 * kMiB);
  ASSERT_TRUE(e->nextTimer().has_value());
  EXPECT_EQ(*e->nextTimer(), clock_.now() + 2s);
  clock_.advance(2s);
  freshUsage_ = 62 * kMiB;
  e->runDueTimers();
  EXPECT_EQ(refreshes_, 1);
  EXPECT_THAT(target_.calls(), ElementsAre("kill web"));
  EXPECT_EQ(events_.all().back().trigger, agent::PolicyTrigger::Recheck);
}

TEST_F(PolicyEngineTest, RecheckOnAFreshSampleThatNoLongerHolds) {
  auto e = engine("  - {name: guard, target: web, condition: \"memory.usage > 80%\", for: 2s, actions: [kill]}\n", true);
  tick(*e, 60 * kMiB);
  clock_.advance(2s);
  freshUsage_ = 10 * kMiB;
  e->runDueTimers();
  EXPECT_TRUE(target_.calls().empty());
}

TEST_F(PolicyEngineTest, ReloadKeepsTheStateOfRulesThatStay) {
  auto e = engine("  - {name: guard, target: web, condition: \"memory.usage > 80%\", cooldown: 1h, actions: [kill]}\n");
  tick(*e, 60 * kMiB);
  e->setRules(rulesOf("  - {name: guard, target: web, condition: \"memory.usage > 70%\", cooldown: 1h, actions: [kill]}\n"));
  clock_.advance(1s);
  tick(*e, 60 * kMiB);
  EXPECT_EQ(target_.calls().size(), 1u) << "still cooling down";
  e->setRules(rulesOf("  - {name: other, target: web, condition: \"memory.usage > 70%\", cooldown: 1h, actions: [kill]}\n"));
  tick(*e, 60 * kMiB);
  EXPECT_EQ(target_.calls().size(), 2u);
}

TEST_F(PolicyEngineTest, MiniSampleEvaluationCarriesItsTrigger) {
  auto e = engine("  - {name: guard, target: web, condition: \"memory.usage > 80%\", actions: [freeze]}\n");
  tick(*e, 10 * kMiB);
  collectors::TargetSample fresh = sampleOf(web_, 0.3, 60 * kMiB);
  e->evaluateTarget(fresh, agent::PolicyTrigger::Threshold);
  EXPECT_THAT(target_.calls(), ElementsAre("freeze web"));
  EXPECT_EQ(events_.all()[0].trigger, agent::PolicyTrigger::Threshold);
  EXPECT_THAT(metricsText(), HasSubstr("cgwarden_policy_wakeups_total{trigger=\"threshold\"} 1"));
}

TEST(PolicerSectionsTest, ConditionsAskForTheDetailSectionsTheyRead) {
  EXPECT_EQ(agent::sectionsEveryTick(rulesOf(
                "  - {name: a, target: web, condition: \"memory.usage > 80%\", actions: [log]}\n"
                "  - {name: b, target: web, condition: \"cpu.usage > 1.5 over 10s\", actions: [log]}\n")),
            0u)
      << "CPU usage and memory are read every tick anyway";
  EXPECT_EQ(agent::sectionsEveryTick(rulesOf(
                "  - {name: b, target: web, condition: \"cpu.throttled > 50% over 10s\", actions: [log]}\n")),
            uint32_t{collectors::kSectionThrottling});
  EXPECT_EQ(agent::sectionsEveryTick(rulesOf(
                "  - name: c\n    target: web\n    condition:\n      any: [\"pids > 90%\", \"io.pressure.full.avg10 > 5%\"]\n"
                "    actions: [log]\n")),
            uint32_t{collectors::kSectionPressure | collectors::kSectionTasks})
      << "found inside an any: tree";
  EXPECT_EQ(agent::sectionsEveryTick(rulesOf(
                "  - name: d\n    target: web\n    condition:\n      all: [\"memory.oom_kills >= 1 over 1m\", \"io.write > 10Mi over 10s\"]\n"
                "    actions: [log]\n")),
            uint32_t{collectors::kSectionOom | collectors::kSectionIo});
}

}  // namespace
}  // namespace cgwarden::testing
