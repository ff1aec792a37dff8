// The `policies:` section: every key, every leaf form, and the exact error messages.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>

#include "config/Loader.h"
#include "config/PolicySection.h"

namespace cgwarden::config {
namespace {

using std::chrono::milliseconds;
using ::testing::ElementsAre;

const char* kWorkloads = R"(workloads:
  - {name: web, command: [/bin/true], labels: {team: ml, tier: front}}
  - {name: grower, command: [/bin/true]}
)";

std::vector<std::string> errorsOf(const std::string& policies) {
  auto loaded = parseConfigText(std::string(kWorkloads) + policies, "t.yaml");
  EXPECT_EQ(loaded.value.has_value(), loaded.errors.empty());
  std::vector<std::string> out;
  for (const auto& e : loaded.errors) out.push_back(e.render());
  return out;
}

Config load(const std::string& policies) {
  auto loaded = parseConfigText(std::string(kWorkloads) + policies, "t.yaml");
  EXPECT_TRUE(loaded.ok()) << loaded.renderErrors();
  return loaded.value ? *loaded.value : Config{};
}

PolicyCondition leaf(std::string_view text) {
  std::string error;
  auto c = parsePolicyCondition(text, error);
  EXPECT_TRUE(c.has_value()) << error;
  return c.value_or(PolicyCondition{});
}

std::string leafError(std::string_view text) {
  std::string error;
  auto c = parsePolicyCondition(text, error);
  EXPECT_FALSE(c.has_value()) << text;
  return error;
}

TEST(PolicySectionTest, FullRule) {
  Config c = load(R"(policies:
  - name: grower-guard
    target: [grower, "batch-*", "team=ml,tier=front"]
    condition:
      any:
        - memory.working_set > 80%
        - all: ["memory.pressure.some > 20% over 5s", "cpu.usage >= 1.5"]
    for: 2s
    actions:
      - log
      - signal: {signal: USR1, to: cgroup}
      - freeze: 30s
      - throttle: {cpu: 0.1, memory_high: 48Mi, restore_after: 1m}
      - exec: {command: [/bin/cat], timeout: 5s}
      - stop
      - kill
      - restart
    cooldown: 5m
    dry_run: true
    allow_actions_on_observed: true
)");
  ASSERT_EQ(c.policies.size(), 1u);
  const PolicyRule& r = c.policies[0];
  EXPECT_EQ(r.name, "grower-guard");
  EXPECT_EQ(r.line, 5);
  ASSERT_EQ(r.targets.size(), 3u);
  EXPECT_EQ(r.targets[0].kind, PolicyTarget::Kind::Name);
  EXPECT_EQ(r.targets[0].pattern, "grower");
  EXPECT_EQ(r.targets[1].kind, PolicyTarget::Kind::Glob);
  EXPECT_EQ(r.targets[2].kind, PolicyTarget::Kind::Labels);
  EXPECT_EQ(r.targets[2].labels, (std::map<std::string, std::string>{{"team", "ml"}, {"tier", "front"}}));
  EXPECT_EQ(r.condition.kind, PolicyConditionTree::Kind::Any);
  ASSERT_EQ(r.condition.children.size(), 2u);
  const auto& ws = r.condition.children[0].leaf;
  EXPECT_EQ(ws.metric, PolicyMetric::MemoryWorkingSet);
  EXPECT_TRUE(ws.ofLimit);
  EXPECT_DOUBLE_EQ(ws.threshold, 0.8);
  EXPECT_EQ(ws.line, 9);
  EXPECT_EQ(r.condition.children[1].kind, PolicyConditionTree::Kind::All);
  EXPECT_EQ(r.condition.children[1].children[0].leaf.window, milliseconds(5000));
  EXPECT_EQ(r.forDuration, milliseconds(2000));
  EXPECT_EQ(r.cooldown, milliseconds(300000));
  EXPECT_TRUE(r.dryRun);
  EXPECT_TRUE(r.allowActionsOnObserved);
  ASSERT_EQ(r.actions.size(), 8u);
  EXPECT_EQ(r.actions[0].kind, PolicyAction::Kind::Log);
  EXPECT_EQ(r.actions[1].kind, PolicyAction::Kind::Signal);
  EXPECT_EQ(r.actions[1].signal, SIGUSR1);
  EXPECT_EQ(r.actions[1].to, PolicyAction::SignalTo::Cgroup);
  EXPECT_EQ(r.actions[2].kind, PolicyAction::Kind::Freeze);
  EXPECT_EQ(r.actions[2].duration, milliseconds(30000));
  EXPECT_EQ(r.actions[3].kind, PolicyAction::Kind::Throttle);
  EXPECT_DOUBLE_EQ(*r.actions[3].cpuCores, 0.1);
  EXPECT_EQ(*r.actions[3].memoryHigh, 48u * 1024 * 1024);
  EXPECT_EQ(r.actions[3].duration, milliseconds(60000));
  EXPECT_EQ(describePolicyAction(r.actions[3]), "cpu 0.1 cores, memory.high 48Mi, restore after 1m");
  EXPECT_EQ(r.actions[4].kind, PolicyAction::Kind::Exec);
  EXPECT_THAT(r.actions[4].command, ElementsAre("/bin/cat"));
  EXPECT_EQ(r.actions[4].timeout, milliseconds(5000));
  EXPECT_EQ(r.actions[5].kind, PolicyAction::Kind::Stop);
  EXPECT_EQ(r.actions[6].kind, PolicyAction::Kind::Kill);
  EXPECT_EQ(r.actions[7].kind, PolicyAction::Kind::Restart);
}

TEST(PolicySectionTest, Defaults) {
  Config c = load(R"(policies:
  - {name: p, target: web, condition: "pids > 90%", actions: [log]}
)");
  ASSERT_EQ(c.policies.size(), 1u);
  EXPECT_EQ(c.policies[0].forDuration, milliseconds(0));
  EXPECT_EQ(c.policies[0].cooldown, milliseconds(60000));
  EXPECT_FALSE(c.policies[0].dryRun);
  EXPECT_FALSE(c.policies[0].allowActionsOnObserved);
  EXPECT_TRUE(load("").policies.empty());
}

TEST(PolicySectionTest, ShorthandActions) {
  Config c = load(R"(policies:
  - name: p
    target: "*"
    condition: "restarts >= 3 over 5m"
    actions: [{signal: SIGHUP}, freeze, {freeze: {duration: 10s}}, {throttle: {memory_high: 90%}}, {exec: [/bin/true, x]}]
)");
  const auto& a = c.policies[0].actions;
  ASSERT_EQ(a.size(), 5u);
  EXPECT_EQ(a[0].signal, SIGHUP);
  EXPECT_EQ(a[0].to, PolicyAction::SignalTo::Main);
  EXPECT_EQ(a[1].duration, milliseconds(0));
  EXPECT_EQ(a[2].duration, milliseconds(10000));
  EXPECT_DOUBLE_EQ(*a[3].memoryHighFraction, 0.9);
  EXPECT_THAT(a[4].command, ElementsAre("/bin/true", "x"));
  EXPECT_EQ(a[4].timeout, milliseconds(10000));
}

TEST(PolicySectionTest, EveryMetric) {
  EXPECT_EQ(leaf("memory.usage > 512Mi").threshold, 512.0 * 1024 * 1024);
  EXPECT_FALSE(leaf("memory.usage > 512Mi").ofLimit);
  EXPECT_EQ(leaf("memory.usage>512Mi").op, CompareOp::Greater);
  EXPECT_EQ(leaf("memory.usage <= 1G").op, CompareOp::LessEqual);
  EXPECT_EQ(leaf("memory.usage < 1G").op, CompareOp::Less);
  auto cpu = leaf("cpu.usage >= 1.5 over 30s");
  EXPECT_EQ(cpu.metric, PolicyMetric::CpuUsage);
  EXPECT_EQ(cpu.op, CompareOp::GreaterEqual);
  EXPECT_DOUBLE_EQ(cpu.threshold, 1.5);
  EXPECT_EQ(cpu.window, milliseconds(30000));
  EXPECT_TRUE(leaf("cpu.usage > 90%").ofLimit);
  EXPECT_EQ(leaf("cpu.usage > 0.5").window, milliseconds(10000));
  auto thr = leaf("cpu.throttled > 0.25 over 20s");
  EXPECT_EQ(thr.metric, PolicyMetric::CpuThrottled);
  EXPECT_DOUBLE_EQ(thr.threshold, 0.25);
  EXPECT_FALSE(thr.ofLimit);
  auto psi = leaf("io.pressure.full.avg60 > 5%");
  EXPECT_EQ(psi.metric, PolicyMetric::Pressure);
  EXPECT_EQ(psi.pressureResource, PressureResource::Io);
  EXPECT_EQ(psi.pressureKind, PressureKind::Full);
  EXPECT_EQ(psi.pressureStat, PressureStat::Avg60);
  EXPECT_DOUBLE_EQ(psi.threshold, 0.05);
  EXPECT_EQ(psi.window, milliseconds(0));
  EXPECT_EQ(policyMetricName(psi), "io.pressure.full.avg60");
  auto rate = leaf("cpu.pressure.some > 0.1");
  EXPECT_EQ(rate.pressureStat, PressureStat::Rate);
  EXPECT_EQ(rate.pressureResource, PressureResource::Cpu);
  EXPECT_EQ(rate.window, milliseconds(10000));
  EXPECT_EQ(leaf("memory.pressure.full.avg10 > 20%").pressureStat, PressureStat::Avg10);
  EXPECT_DOUBLE_EQ(leaf("pids > 900").threshold, 900);
  EXPECT_TRUE(leaf("pids >= 90%").ofLimit);
  auto oom = leaf("memory.oom_kills >= 1");
  EXPECT_EQ(oom.metric, PolicyMetric::OomKills);
  EXPECT_EQ(oom.window, milliseconds(300000));
  EXPECT_EQ(leaf("restarts >= 3 over 1m").window, milliseconds(60000));
  EXPECT_DOUBLE_EQ(leaf("io.read > 10M/s").threshold, 10e6);
  EXPECT_EQ(leaf("io.write > 10M/s").metric, PolicyMetric::IoWrite);
  EXPECT_EQ(leaf("io.total > 1Mi over 1m").metric, PolicyMetric::Io);
  EXPECT_EQ(leaf("  memory.working_set > 80%  ").text, "memory.working_set > 80%");
}

TEST(PolicySectionTest, LeafErrors) {
  EXPECT_EQ(leafError("memroy.usage > 80%"),
            "\"memroy.usage > 80%\": unknown metric \"memroy.usage\" (did you mean \"memory.usage\"?)");
  EXPECT_EQ(leafError("> 80%"), "\"> 80%\": expected \"<metric> <op> <value>\" (e.g. \"memory.working_set > 80%\")");
  EXPECT_EQ(leafError("memory.usage = 80%"),
            "\"memory.usage = 80%\": expected a comparison (>, >=, <, <=) after \"memory.usage\"");
  EXPECT_EQ(leafError("memory.usage >"), "\"memory.usage >\": expected a value after the comparison");
  EXPECT_EQ(leafError("memory.usage > lots"),
            "\"memory.usage > lots\": \"lots\" is not a size (e.g. 512Mi) or a percentage of the memory limit (e.g. 80%)");
  EXPECT_EQ(leafError("memory.usage > 150%"),
            "\"memory.usage > 150%\": \"150%\" is out of range (a fraction of the memory limit: above 0%, at most 100%)");
  EXPECT_EQ(leafError("memory.usage > 80% over 5s"),
            "\"memory.usage > 80% over 5s\": memory.usage takes no window (\"over ...\"); it is read as it is now");
  EXPECT_EQ(leafError("cpu.usage > 1 during 5s"),
            "\"cpu.usage > 1 during 5s\": unexpected \"during\" after the value (expected \"over <duration>\" or nothing)");
  EXPECT_EQ(leafError("cpu.usage > 1 over 5x"), "\"cpu.usage > 1 over 5x\": \"5x\" is not a duration (e.g. 250ms, 30s, 1m30s)");
  EXPECT_EQ(leafError("cpu.usage > 1 over 2h"), "\"cpu.usage > 1 over 2h\": the window 2h is out of range (100ms to 1h)");
  EXPECT_EQ(leafError("cpu.throttled > 20"), "\"cpu.throttled > 20\": \"20\" is above 1 (write a percentage as e.g. 20%)");
  EXPECT_EQ(leafError("pids > many"), "\"pids > many\": \"many\" is not a whole number or a percentage of pids.max (e.g. 90%)");
  EXPECT_EQ(leafError("restarts > 1.5"), "\"restarts > 1.5\": \"1.5\" is not a whole number");
  EXPECT_EQ(leafError("io.read > fast"), "\"io.read > fast\": \"fast\" is not a rate (e.g. 10M/s)");
  EXPECT_EQ(leafError("cpu.usage > x"),
            "\"cpu.usage > x\": \"x\" is not a number of cores (e.g. 0.5, 2) or a percentage of the CPU quota (e.g. 90%)");
}

TEST(PolicySectionTest, RuleErrorsWithLocationAndKeyPath) {
  EXPECT_THAT(errorsOf(R"(policies:
  - name: Bad_Name
    target: web
    condition:
      all:
        - memory.usage > 80%
        - memroy.usage > 1G
    actions: [frezee]
    cooldwn: 1m
)"),
              ElementsAre("t.yaml:5:11: policies[0].name: \"Bad_Name\" is not a valid name (lowercase letters, digits, "
                          "'_', '.', '-', starting with a letter or digit, at most 64 characters)",
                          "t.yaml:10:11: policies[0].condition.all[1]: \"memroy.usage > 1G\": unknown metric "
                          "\"memroy.usage\" (did you mean \"memory.usage\"?)",
                          "t.yaml:11:15: policies[0].actions[0]: \"frezee\" is not a policy action (expected log, "
                          "signal, stop, freeze, throttle, kill, restart or exec; did you mean \"freeze\"?)",
                          "t.yaml:12:5: policies[0].cooldwn: unknown key (did you mean \"cooldown\"?)"));
}

TEST(PolicySectionTest, MissingKeys) {
  EXPECT_THAT(errorsOf("policies:\n  - {name: p}\n"),
              ElementsAre("t.yaml:5:5: policies[0]: missing key \"target\" (workload names, globs such as \"*\", or "
                          "labels such as team=ml)",
                          "t.yaml:5:5: policies[0]: missing key \"condition\"",
                          "t.yaml:5:5: policies[0]: missing key \"actions\" (e.g. [log] to only record events)"));
}

TEST(PolicySectionTest, ActionErrors) {
  EXPECT_THAT(
      errorsOf(R"(policies:
  - name: p
    target: web
    condition: "pids > 10"
    actions:
      - throttle: {restore_after: 1m}
      - {kill: now}
      - {freeze: 30s, kill: }
      - signal: SIGNOPE
      - throttle: {cpu: 0.001}
      - exec: {timeout: 5s}
      - exec: []
      - signal
      - freeze: 0s
)"),
      ElementsAre("t.yaml:9:19: policies[0].actions[0].throttle: nothing to throttle (set cpu and/or memory_high)",
                  "t.yaml:10:16: policies[0].actions[1].kill: kill takes no options, got a string",
                  "t.yaml:11:23: policies[0].actions[2].kill: one action per list entry (\"freeze\" is already here); "
                  "give \"kill\" its own entry",
                  "t.yaml:12:17: policies[0].actions[3].signal: \"SIGNOPE\" is not a signal (e.g. SIGTERM, INT, 15)",
                  "t.yaml:13:25: policies[0].actions[4].throttle.cpu: \"0.001\" is below the minimum of 0.01 cores",
                  "t.yaml:14:15: policies[0].actions[5].exec: missing key \"command\"",
                  "t.yaml:15:15: policies[0].actions[6].exec: an empty command runs nothing",
                  "t.yaml:16:9: policies[0].actions[7]: signal needs a signal name (e.g. {signal: SIGUSR1} or signal: USR1)",
                  "t.yaml:17:17: policies[0].actions[8].freeze: must be above 0s"));
}

TEST(PolicySectionTest, TargetAndTreeErrors) {
  EXPECT_THAT(errorsOf(R"(policies:
  - name: p
    target: [wbe, "", "=x"]
    condition: {all: [], any: []}
    actions: []
  - name: p
    target: web
    condition: [pids > 1]
    actions: [log]
)"),
              ElementsAre("t.yaml:6:14: policies[0].target[0]: no workload named \"wbe\" (did you mean \"web\"?)",
                          "t.yaml:6:19: policies[0].target[1]: an empty target matches nothing",
                          "t.yaml:6:23: policies[0].target[2]: \"=x\" is not a label selector (key=value, "
                          "comma-separated: team=ml,tier=web)",
                          "t.yaml:7:16: policies[0].condition: use either all: or any:, not both (nest them to combine)",
                          "t.yaml:8:14: policies[0].actions: an empty action list does nothing (use [log] to only "
                          "record events)",
                          "t.yaml:9:11: policies[1].name: duplicate policy name \"p\" (first at line 5)",
                          "t.yaml:11:16: policies[1].condition: expected a condition (e.g. \"memory.working_set > 80%\") "
                          "or a mapping with all: or any:, got a list"));
}

TEST(PolicySectionTest, NamesMayReferToObservedCgroups) {
  EXPECT_TRUE(errorsOf(R"(agent: {observe: ["docker", "system.slice/*"]}
policies:
  - {name: p, target: [docker, system.slice/cron.service, "grower"], condition: "pids > 1", actions: [log]}
)")
                  .empty());
  EXPECT_THAT(errorsOf("policies: {name: p}\n"),
              ElementsAre("t.yaml:4:11: policies: expected a list of policies, got a mapping"));
}

}  // namespace
}  // namespace cgwarden::config
