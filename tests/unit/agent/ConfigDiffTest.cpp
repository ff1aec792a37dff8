// Reload planning (pure) and execution against a recording target.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent/ConfigDiff.h"
#include "agent/RestartPolicy.h"
#include "agent/ConfigReloader.h"
#include "config/Loader.h"

namespace cgwarden::agent {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
constexpr uint64_t kMiB = 1024 * 1024;

const char* kBase = R"(agent: {listen: "127.0.0.1:9839"}
workloads:
  - name: web
    command: [/bin/sleep, "1000"]
    limits: {memory: {max: 64Mi}, pids: {max: 32}, cpu: {cores: 0.5}}
    labels: {team: web}
  - name: db
    command: [/bin/sleep, "2000"]
  - name: old
    command: [/bin/true]
policies:
  - {name: guard, target: web, condition: "memory.usage > 80%", actions: [freeze]}
)";

config::Config load(const std::string& yaml) {
  auto l = config::parseConfigText(yaml, "cgwarden.yaml");
  EXPECT_TRUE(l.ok()) << l.renderErrors();
  return l.value ? *l.value : config::Config{};
}

ReloadPlan plan(const std::string& next) { return planReload(load(kBase), config::parseConfigText(next, "cgwarden.yaml")); }

TEST(ConfigDiffTest, SameConfigIsAnEmptyPlan) {
  auto p = plan(kBase);
  EXPECT_FALSE(p.rejected);
  EXPECT_TRUE(p.empty());
  EXPECT_THAT(p.describe(), IsEmpty());
}

TEST(ConfigDiffTest, InvalidConfigIsRejectedWithItsErrors) {
  auto p = plan("workloads:\n  - name: web\n    command: [/bin/true]\n    limits: {memory: {max: 64Q}}\n");
  EXPECT_TRUE(p.rejected);
  ASSERT_EQ(p.errors.size(), 1u);
  EXPECT_EQ(p.errors[0].render(), "cgwarden.yaml:4:28: workloads[0].limits.memory.max: \"64Q\" is not a size (e.g. 64Mi, 1.5G)");
  EXPECT_TRUE(p.limits.empty());
  EXPECT_TRUE(p.start.empty());
  EXPECT_TRUE(p.stop.empty());
}

TEST(ConfigDiffTest, ChangedLimitsAreLiveAddedStartRemovedStop) {
  auto p = plan(R"(agent: {listen: "127.0.0.1:9839"}
workloads:
  - name: web
    command: [/bin/sleep, "1000"]
    limits: {memory: {max: 128Mi, high: 100Mi}, cpu: {cores: 0.5}}
    labels: {team: web}
  - name: db
    command: [/bin/sleep, "2000"]
  - name: new
    command: [/bin/true]
policies:
  - {name: guard, target: web, condition: "memory.usage > 80%", actions: [freeze]}
)");
  ASSERT_FALSE(p.rejected);
  ASSERT_EQ(p.limits.size(), 1u);
  EXPECT_EQ(p.limits[0].workload, "web");
  EXPECT_EQ(p.limits[0].apply.memory.max, 128 * kMiB);
  EXPECT_EQ(p.limits[0].apply.memory.high, 100 * kMiB);
  EXPECT_EQ(p.limits[0].apply.pids.max, kUnlimited) << "removed: back to max";
  EXPECT_FALSE(p.limits[0].apply.cpu.quotaUs.has_value()) << "unchanged fields are left alone";
  EXPECT_EQ(p.limits[0].description, "memory.max 64Mi -> 128Mi, memory.high unset -> 100Mi, pids.max 32 -> max");
  ASSERT_EQ(p.start.size(), 1u);
  EXPECT_EQ(p.start[0].name, "new");
  EXPECT_THAT(p.stop, ElementsAre("old"));
  EXPECT_TRUE(p.relaunch.empty());
  EXPECT_FALSE(p.policiesChanged);
  EXPECT_THAT(p.describe(), ElementsAre("new: start (added)", "old: stop (removed)",
                                        "web: limits memory.max 64Mi -> 128Mi, memory.high unset -> 100Mi, pids.max 32 -> max"));
}

TEST(ConfigDiffTest, LaunchChangesRelaunchSettingsUpdateLiveAndAgentChangesAreNoted) {
  auto p = plan(R"(agent: {listen: "127.0.0.1:9900"}
workloads:
  - name: web
    command: [/bin/sleep, "1000"]
    limits: {memory: {max: 64Mi}, pids: {max: 32}, cpu: {cores: 0.5}}
    labels: {team: api}
    stop_grace: 1s
  - name: db
    command: [/bin/sleep, "3000"]
    env: {X: "1"}
  - name: old
    command: [/bin/true]
policies:
  - {name: guard, target: web, condition: "memory.usage > 90%", actions: [freeze]}
)");
  ASSERT_EQ(p.relaunch.size(), 1u);
  EXPECT_EQ(p.relaunch[0].spec.name, "db");
  EXPECT_THAT(p.relaunch[0].changed, ElementsAre("command", "env"));
  EXPECT_TRUE(p.limits.empty());
  ASSERT_EQ(p.settings.size(), 1u);
  EXPECT_EQ(p.settings[0].spec.name, "web");
  EXPECT_THAT(p.settings[0].changed, ElementsAre("labels", "stop_grace"));
  EXPECT_EQ(p.settings[0].spec.labels.at("team"), "api");
  EXPECT_EQ(p.settings[0].spec.stopGrace, std::chrono::seconds(1));
  EXPECT_THAT(p.notes, ElementsAre("agent.listen changed: takes effect after an agent restart"));
  EXPECT_THAT(p.describe(), ::testing::Contains("web: labels, stop_grace updated"));
  EXPECT_TRUE(p.policiesChanged);
}

TEST(ConfigDiffTest, LimitsDeltaOfEveryField) {
  Limits a, b;
  a.cpu.quotaUs = 50000;
  a.cpu.weight = 200;
  a.memory.low = 10 * kMiB;
  a.memory.swapMax = 0;
  a.io.weight = 300;
  a.io.devices.push_back(IoDeviceLimit{8, 0, 1000000, {}, {}, 500});
  b.cpu.periodUs = 50000;
  b.cpu.cpus = "0";
  b.io.devices.push_back(IoDeviceLimit{8, 16, {}, 2000000, {}, {}});
  std::string text;
  Limits d = limitsDelta(a, b, &text);
  EXPECT_EQ(d.cpu.quotaUs, kUnlimited);
  EXPECT_EQ(d.cpu.periodUs, 50000u);
  EXPECT_EQ(d.cpu.weight, 100u);
  EXPECT_EQ(d.cpu.cpus, "0");
  EXPECT_EQ(d.memory.low, 0u);
  EXPECT_EQ(d.memory.swapMax, kUnlimited);
  EXPECT_EQ(d.io.weight, 100u);
  ASSERT_EQ(d.io.devices.size(), 2u);
  EXPECT_EQ(d.io.devices[0].readBps, kUnlimited);
  EXPECT_EQ(d.io.devices[0].writeIops, kUnlimited);
  EXPECT_FALSE(d.io.devices[0].writeBps.has_value());
  EXPECT_EQ(d.io.devices[1].writeBps, 2000000u);
  EXPECT_EQ(text,
            "cpu.quota 50000us -> max, cpu.period unset -> 50000us, cpu.weight 200 -> 100, cpuset.cpus unset -> 0, "
            "memory.low 10Mi -> 0, memory.swap 0 -> max, io.weight 300 -> 100, io 8:0 rbps 1000000 -> max, "
            "io 8:0 wiops 500 -> max, io 8:16 wbps unset -> 2000000");
  EXPECT_EQ(limitsDelta(a, a), Limits{});
}

class RecordingReloadTarget final : public ReloadTarget {
 public:
  Status applyLimits(const std::string& w, const Limits& l) override {
    calls.push_back("limits " + w + " " + describeLimits(l));
    if (failLimits) return Error::fromErrno("write", "/sys/fs/cgroup/memory/cgwarden/" + w + "/memory.limit_in_bytes", EBUSY);
    return {};
  }
  Status updateSettings(const config::WorkloadSpec& s) override {
    calls.push_back("settings " + s.name + " restart " + restartPolicyName(s.restart.policy));
    return {};
  }
  Status launch(const config::WorkloadSpec& s) override {
    calls.push_back("launch " + s.name);
    return {};
  }
  Status remove(const std::string& w) override {
    calls.push_back("remove " + w);
    return {};
  }
  std::vector<std::string> calls;
  bool failLimits = false;
};

TEST(ConfigReloaderTest, ExecutesThePlanInOrderAndKeepsTheNewConfig) {
  auto target = std::make_unique<RecordingReloadTarget>();
  auto* t = target.get();
  std::vector<std::vector<config::PolicyRule>> rules;
  ConfigReloader reloader(load(kBase), std::move(target), [&](auto r) { rules.push_back(std::move(r)); });
  auto report = reloader.apply(config::parseConfigText(R"(workloads:
  - name: web
    command: [/bin/sleep, "1000"]
    limits: {memory: {max: 128Mi}, pids: {max: 32}, cpu: {cores: 0.5}}
    labels: {team: web}
    restart: {policy: always}
  - name: db
    command: [/bin/sleep, "2001"]
  - name: new
    command: [/bin/true]
)", "cgwarden.yaml"));
  EXPECT_TRUE(report.ok());
  EXPECT_THAT(t->calls, ElementsAre("remove old", "remove db", "launch db", "limits web memory max 128Mi",
                                    "settings web restart always", "launch new"));
  ASSERT_EQ(rules.size(), 1u);
  EXPECT_TRUE(rules[0].empty());
  EXPECT_EQ(reloader.running().workloads.size(), 3u);
  EXPECT_THAT(report.changes, ::testing::Contains("web: limits memory.max 64Mi -> 128Mi"));
  EXPECT_THAT(report.changes, ::testing::Contains("web: restart updated"));
}

TEST(ConfigReloaderTest, ABrokenConfigChangesNothing) {
  auto target = std::make_unique<RecordingReloadTarget>();
  auto* t = target.get();
  bool rulesSet = false;
  ConfigReloader reloader(load(kBase), std::move(target), [&](auto) { rulesSet = true; });
  auto report = reloader.apply(config::parseConfigText("workloads: [{name: web, command: [/bin/true], limts: {}}]\n",
                                                       "cgwarden.yaml"));
  EXPECT_FALSE(report.ok());
  ASSERT_EQ(report.errors.size(), 1u);
  EXPECT_EQ(report.errors[0].render(), "cgwarden.yaml:1:47: workloads[0].limts: unknown key (did you mean \"limits\"?)");
  EXPECT_TRUE(t->calls.empty());
  EXPECT_FALSE(rulesSet);
  EXPECT_EQ(reloader.running().workloads.size(), 3u);
  EXPECT_EQ(reloader.running().workloads[0].limits.memory.max, 64 * kMiB);
}

TEST(ConfigReloaderTest, AFailedStepIsReportedAndTheRestRuns) {
  auto target = std::make_unique<RecordingReloadTarget>();
  target->failLimits = true;
  auto* t = target.get();
  ConfigReloader reloader(load(kBase), std::move(target));
  std::string next = kBase;
  next.replace(next.find("max: 64Mi"), 9, "max: 32Mi");
  next += "  - {name: guard2, target: db, condition: \"pids > 10\", actions: [log]}\n";
  auto report = reloader.apply(config::parseConfigText(next, "cgwarden.yaml"));
  ASSERT_EQ(report.failures.size(), 1u);
  EXPECT_EQ(report.failures[0],
            "web: limits memory.max 64Mi -> 32Mi: write /sys/fs/cgroup/memory/cgwarden/web/memory.limit_in_bytes: Device "
            "or resource busy (EBUSY)");
  EXPECT_THAT(t->calls, ElementsAre("limits web memory max 32Mi"));
}

}  // namespace
}  // namespace cgwarden::agent

namespace cgwarden::agent {
namespace {

TEST(ConfigDiffTest, ChangedAdoptRulesAreNotedForTheNextStart) {
  std::string withRule = std::string(kBase) + "adopt:\n  - {name: sleepers, comm: sleep}\n";
  auto same = planReload(load(withRule), config::parseConfigText(withRule, "cgwarden.yaml"));
  EXPECT_TRUE(same.notes.empty());
  std::string changed = std::string(kBase) + "adopt:\n  - {name: sleepers, comm: \"sleep*\"}\n";
  auto p = planReload(load(withRule), config::parseConfigText(changed, "cgwarden.yaml"));
  EXPECT_THAT(p.notes, ::testing::ElementsAre("adopt: rules changed: take effect after an agent restart"));
  auto removed = planReload(load(withRule), config::parseConfigText(kBase, "cgwarden.yaml"));
  EXPECT_EQ(removed.notes.size(), 1u);
}

}  // namespace
}  // namespace cgwarden::agent
