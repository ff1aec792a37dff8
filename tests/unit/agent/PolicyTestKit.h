#pragma once
// Hand-built snapshots, rules from YAML, a recording ActionTarget and HookRunner, and a
// manual clock for the policer's unit tests.

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/ActionTarget.h"
#include "agent/HookRunner.h"
#include "collectors/Snapshot.h"
#include "config/Loader.h"
#include "config/PolicyRule.h"
#include "config/Units.h"

namespace cgwarden::testing {

constexpr uint64_t kMiB = 1024 * 1024;
constexpr double kT0 = 1'800'000'000.0;  // Unix seconds of the first sample

// The rules of a `policies:` YAML list, with workloads web, grower and batch-1 configured.
inline std::vector<config::PolicyRule> rulesOf(const std::string& policiesYaml) {
  std::string yaml = R"(workloads:
  - {name: web, command: [/bin/true], labels: {team: ml}}
  - {name: grower, command: [/bin/true]}
  - {name: batch-1, command: [/bin/true]}
policies:
)" + policiesYaml;
  auto loaded = config::parseConfigText(yaml, "rules.yaml");
  EXPECT_TRUE(loaded.ok()) << loaded.renderErrors();
  return loaded.value ? loaded.value->policies : std::vector<config::PolicyRule>{};
}

inline std::shared_ptr<collectors::SampleTarget> makeTarget(const std::string& name, bool managed = true) {
  auto t = std::make_shared<collectors::SampleTarget>();
  t->name = name;
  t->id = managed ? "/cgwarden/" + name : "/" + name;
  t->managed = managed;
  t->dirs.set("memory", "/sys/fs/cgroup/memory" + t->id);
  t->dirs.set("", "/sys/fs/cgroup/unified" + t->id);
  t->state = managed ? "running" : "";
  return t;
}

// A sample with memory usage and a memory limit (kUnlimited: none), at time `t` seconds after kT0.
inline collectors::TargetSample sampleOf(std::shared_ptr<const collectors::SampleTarget> target, double t,
                                         uint64_t usage = 0, uint64_t limit = 64 * kMiB) {
  collectors::TargetSample s;
  s.target = std::move(target);
  s.sampleTime = kT0 + t;
  s.hasMemory = true;
  s.memory.usageBytes = usage;
  s.memory.hasOomKills = true;
  s.hasSpec = true;
  s.spec.hasMemory = true;
  s.spec.memoryLimit = limit;
  return s;
}

inline std::shared_ptr<const collectors::Snapshot> snapshotOf(std::vector<collectors::TargetSample> samples,
                                                              collectors::CgroupMode mode = collectors::CgroupMode::Hybrid) {
  auto snap = std::make_shared<collectors::Snapshot>();
  snap->mode = mode;
  snap->time = samples.empty() ? kT0 : samples.front().sampleTime;
  std::sort(samples.begin(), samples.end(),
            [](const auto& a, const auto& b) { return a.target->id < b.target->id; });
  snap->targets = std::move(samples);
  return snap;
}

class ManualClock {
 public:
  std::chrono::steady_clock::time_point now() const { return now_; }
  void advance(std::chrono::milliseconds d) { now_ += d; }
  std::function<std::chrono::steady_clock::time_point()> fn() {
    return [this] { return now_; };
  }

 private:
  std::chrono::steady_clock::time_point now_{std::chrono::hours(1000)};
};

// Records every call as "verb name[ detail]"; returns `failWith` for verbs listed in `failing`.
class RecordingTarget final : public agent::ActionTarget {
 public:
  std::vector<std::string> calls() const {
    std::lock_guard lock(mu_);
    return calls_;
  }
  std::vector<Limits> limits() const {
    std::lock_guard lock(mu_);
    return limits_;
  }
  void fail(const std::string& verb) { failing_.push_back(verb); }

  Status signalMain(const agent::ActionSubject& s, int sig) override { return rec("signal-main", s, config::signalName(sig)); }
  Status signalCgroup(const agent::ActionSubject& s, int sig) override {
    return rec("signal-cgroup", s, config::signalName(sig));
  }
  Status stop(const agent::ActionSubject& s) override { return rec("stop", s); }
  Status freeze(const agent::ActionSubject& s) override { return rec("freeze", s); }
  Status thaw(const agent::ActionSubject& s) override { return rec("thaw", s); }
  Status applyLimits(const agent::ActionSubject& s, const Limits& l) override {
    {
      std::lock_guard lock(mu_);
      limits_.push_back(l);
    }
    return rec("limits", s, describeLimits(l));
  }
  Status killAll(const agent::ActionSubject& s) override { return rec("kill", s); }
  Status restart(const agent::ActionSubject& s) override { return rec("restart", s); }

 private:
  Status rec(const std::string& verb, const agent::ActionSubject& s, const std::string& detail = "") {
    std::lock_guard lock(mu_);
    calls_.push_back(verb + " " + s.name + (detail.empty() ? "" : " " + detail));
    if (std::find(failing_.begin(), failing_.end(), verb) != failing_.end())
      return Error::fromErrno("write", s.id + "/freezer.state", EBUSY);
    return {};
  }
  mutable std::mutex mu_;
  std::vector<std::string> calls_;
  std::vector<Limits> limits_;
  std::vector<std::string> failing_;
};

class RecordingHooks final : public agent::HookRunner {
 public:
  Result<agent::ExitStatus> run(const agent::HookRequest& r) override {
    std::lock_guard lock(mu_);
    requests.push_back(r);
    return result;
  }
  std::mutex mu_;
  std::vector<agent::HookRequest> requests;
  agent::ExitStatus result;
};

}  // namespace cgwarden::testing
