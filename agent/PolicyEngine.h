#pragma once
// The policer's decision core, synchronous and clock-injected (agent/Policer.h runs it on
// its thread and feeds it snapshots and kernel wake-ups).
//
// For every rule and every target it matches (PolicyEngine::matches):
//   1. the condition is evaluated (ConditionEvaluator.h); cgwarden_policy_evaluations_total++;
//   2. false: the rule's `for:` clock for that target resets;
//      true: the clock starts (if not running); once it has run `for:`, and no firing for
//      that target happened within `cooldown`, the rule fires;
//   3. firing runs the actions in order, each producing one PolicyEvent (log line, /events,
//      cgwarden_policy_actions_total). A failed action does not stop the ones after it.
//      dry_run: nothing is performed, every event says outcome "dry_run".
//      Observed cgroups without allow_actions_on_observed: actions other than log are
//      "skipped" with the reason.
// Timers (follow-ups): freeze with a duration -> thaw; throttle with restore_after -> the
// previous values; stop of an observed cgroup -> SIGKILL after observedStopGrace; a rule whose
// condition holds but waits for `for:` -> a recheck at the deadline on a fresh mini-sample
// (only for conditions a mini-sample refreshes: memory, pids, pressure, OOM kills; others
// wait for the next tick).
//
// Threading: evaluate*, runDueTimers, setRules from one thread (the policer's). With
// asyncExec, a firing that contains an exec action runs on its own thread (a slow hook must
// not delay other rules); ActionTarget, HookRunner, PolicyEventLog and PolicyMetrics are
// thread-safe, and the timer list has its own lock.

#include <chrono>
#include <functional>
#include <future>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "agent/ActionTarget.h"
#include "agent/ConditionEvaluator.h"
#include "agent/HookRunner.h"
#include "agent/PolicyEvent.h"
#include "agent/PolicyEventLog.h"
#include "agent/PolicyHistory.h"
#include "agent/PolicyMetrics.h"
#include "collectors/Snapshot.h"
#include "config/PolicyRule.h"

namespace cgwarden::agent {

using SteadyClock = std::chrono::steady_clock;

struct PolicyEngineOptions {
  std::function<SteadyClock::time_point()> clock;  // default steady_clock::now
  std::function<double()> wallClock;               // Unix seconds for events; default system_clock
  // A fresh mini-sample of a target for `for:` rechecks (collectors::probeTarget in the
  // policer); null: no rechecks, the next tick decides.
  std::function<std::optional<collectors::TargetSample>(const collectors::TargetSample& last)> refresh;
  // Called (from any thread) when a timer was added, so a sleeping loop recomputes its timeout.
  std::function<void()> timersChanged;
  bool asyncExec = true;
  std::chrono::milliseconds observedStopGrace{10000};
  double historySlackSeconds = 5;  // kept beyond the longest window
};

// What a throttle action writes, and what restores it (pure; see PolicyRule.h).
struct ThrottlePlan {
  Limits apply;
  Limits restore;
  std::string error;  // non-empty: cannot throttle (e.g. memory_high: 90% without a memory limit)
};
ThrottlePlan planThrottle(const config::PolicyAction& action, const collectors::TargetSample& sample,
                          collectors::CgroupMode mode);

class PolicyEngine {
 public:
  PolicyEngine(std::vector<config::PolicyRule> rules, ActionTarget& target, HookRunner& hooks, PolicyEventLog& events,
               PolicyMetrics* metrics, PolicyEngineOptions options = {});
  ~PolicyEngine();  // waits for running hooks (bounded by their timeouts)
  PolicyEngine(const PolicyEngine&) = delete;
  PolicyEngine& operator=(const PolicyEngine&) = delete;

  // Replaces the rules (reload). A rule keeping its name keeps its for:/cooldown state.
  void setRules(std::vector<config::PolicyRule> rules);
  const std::vector<config::PolicyRule>& rules() const { return rules_; }

  // Records the snapshot and evaluates every rule on every target it matches.
  // `wokeAt`: when the caller learned of it (reaction_ms); default now.
  void evaluateSnapshot(std::shared_ptr<const collectors::Snapshot> snapshot,
                        PolicyTrigger trigger = PolicyTrigger::Tick,
                        std::optional<SteadyClock::time_point> wokeAt = std::nullopt);
  // Evaluates the rules matching `sample`'s target on it (a kernel wake-up's mini-sample).
  void evaluateTarget(const collectors::TargetSample& sample, PolicyTrigger trigger,
                      std::optional<SteadyClock::time_point> wokeAt = std::nullopt);

  // Runs the timers that are due now.
  void runDueTimers();
  std::optional<SteadyClock::time_point> nextTimer() const;
  size_t pendingTimers() const;

  std::shared_ptr<const collectors::Snapshot> latestSnapshot() const { return snapshot_; }
  const PolicyHistory& history() const { return history_; }

  static bool matches(const config::PolicyRule& rule, const collectors::SampleTarget& target);

 private:
  struct RuleState {
    std::optional<SteadyClock::time_point> pendingSince;
    std::optional<SteadyClock::time_point> lastFired;
    bool recheckScheduled = false;
  };
  struct Firing {
    std::string rule;
    std::vector<config::PolicyAction> actions;
    bool dryRun = false;
    bool allowObserved = false;
    ActionSubject subject;
    collectors::TargetSample sample;
    collectors::CgroupMode mode = collectors::CgroupMode::V2;
    std::vector<ConditionValue> conditions;
    PolicyTrigger trigger = PolicyTrigger::Tick;
    SteadyClock::time_point wokeAt;
  };
  struct Timer {
    enum class Kind { Thaw, Restore, StopKill, Recheck };
    Kind kind = Kind::Thaw;
    SteadyClock::time_point due;
    std::string rule;
    ActionSubject subject;
    Limits restore;
    std::string detail;
  };

  SteadyClock::time_point now() const { return options_.clock(); }
  void evaluateRules(const collectors::TargetSample& sample, PolicyTrigger trigger, SteadyClock::time_point wokeAt);
  void fire(const config::PolicyRule& rule, const collectors::TargetSample& sample, ConditionResult result,
            PolicyTrigger trigger, SteadyClock::time_point wokeAt);
  void perform(const Firing& firing);
  Status performOne(const config::PolicyAction& action, const Firing& firing, PolicyEvent& event);
  void record(PolicyEvent& event, SteadyClock::time_point wokeAt);
  void addTimer(Timer timer);
  PolicyEvent baseEvent(const std::string& rule, const ActionSubject& subject, PolicyTrigger trigger) const;
  void pruneHooks();
  void updateHistoryAge();
  std::string stateKey(const std::string& rule, const std::string& id) const { return rule + '\n' + id; }

  std::vector<config::PolicyRule> rules_;
  ActionTarget& target_;
  HookRunner& hooks_;
  PolicyEventLog& events_;
  PolicyMetrics* metrics_;
  PolicyEngineOptions options_;
  PolicyHistory history_;
  std::shared_ptr<const collectors::Snapshot> snapshot_;
  std::map<std::string, RuleState> states_;

  mutable std::mutex timersMu_;
  std::vector<Timer> timers_;
  std::map<std::string, Limits> restoring_;  // throttle originals while a restore is pending

  std::mutex hooksMu_;
  std::list<std::future<void>> hookRuns_;
};

}  // namespace cgwarden::agent
