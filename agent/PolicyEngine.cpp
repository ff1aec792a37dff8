#include "agent/PolicyEngine.h"

#include <fnmatch.h>
#include <signal.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "collectors/Conversions.h"
#include "collectors/Limits.h"
#include "config/Units.h"

namespace cgwarden::agent {

namespace {

using config::PolicyAction;
using config::PolicyConditionTree;
using config::PolicyMetric;
using Kind = config::PolicyAction::Kind;

double unixNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Longest window of any leaf, in seconds.
double longestWindow(const PolicyConditionTree& tree) {
  if (tree.kind == PolicyConditionTree::Kind::Leaf) return static_cast<double>(tree.leaf.window.count()) / 1000.0;
  double longest = 0;
  for (const auto& c : tree.children) longest = std::max(longest, longestWindow(c));
  return longest;
}

// Whether a mini-sample refreshes everything the condition reads (see the header).
bool probeRefreshes(const PolicyConditionTree& tree) {
  if (tree.kind != PolicyConditionTree::Kind::Leaf) {
    return std::all_of(tree.children.begin(), tree.children.end(), probeRefreshes);
  }
  switch (tree.leaf.metric) {
    case PolicyMetric::MemoryUsage:
    case PolicyMetric::MemoryWorkingSet:
    case PolicyMetric::Pids:
    case PolicyMetric::Pressure:
    case PolicyMetric::OomKills: return true;
    default: return false;
  }
}

ActionSubject subjectOf(const collectors::SampleTarget& t) {
  ActionSubject s;
  s.name = t.name;
  s.id = t.id;
  s.managed = t.managed;
  s.dirs = t.dirs;
  return s;
}

std::string statusError(const Status& st) { return st ? "" : st.error().message(); }

}  // namespace

ThrottlePlan planThrottle(const PolicyAction& action, const collectors::TargetSample& s, collectors::CgroupMode mode) {
  ThrottlePlan plan;
  const Limits configured = s.target ? *s.target->configuredLimits : Limits{};
  if (action.cpuCores) {
    uint64_t period = 100000;
    if (s.hasSpec && s.spec.hasCpu && s.spec.cpuPeriodUs > 0) period = s.spec.cpuPeriodUs;
    else if (configured.cpu.periodUs) period = *configured.cpu.periodUs;
    plan.apply.cpu.quotaUs = quotaForCores(*action.cpuCores, period);
    plan.restore.cpu.quotaUs =
        s.hasSpec && s.spec.hasCpu ? s.spec.cpuQuotaUs : configured.cpu.quotaUs.value_or(kUnlimited);
  }
  if (action.memoryHigh || action.memoryHighFraction) {
    uint64_t bytes = action.memoryHigh.value_or(0);
    if (action.memoryHighFraction) {
      if (!s.hasSpec || !s.spec.hasMemory || s.spec.memoryLimit == kUnlimited) {
        plan.error = "memory_high as a percentage needs a memory limit, and this cgroup has none";
        return plan;
      }
      bytes = static_cast<uint64_t>(*action.memoryHighFraction * static_cast<double>(s.spec.memoryLimit));
    }
    if (mode == collectors::CgroupMode::V2) {
      plan.apply.memory.high = bytes;
      plan.restore.memory.high = configured.memory.high.value_or(kUnlimited);
    } else {
      // v1 has no memory.high: the soft limit (memory.soft_limit_in_bytes) is the nearest thing,
      // reclaimed towards under global pressure.
      plan.apply.memory.low = bytes;
      plan.restore.memory.low =
          s.hasSpec && s.spec.hasMemory ? s.spec.memoryReservation : configured.memory.low.value_or(kUnlimited);
    }
  }
  return plan;
}

PolicyEngine::PolicyEngine(std::vector<config::PolicyRule> rules, ActionTarget& target, HookRunner& hooks,
                           PolicyEventLog& events, PolicyMetrics* metrics, PolicyEngineOptions options)
    : target_(target), hooks_(hooks), events_(events), metrics_(metrics), options_(std::move(options)) {
  if (!options_.clock) options_.clock = [] { return SteadyClock::now(); };
  if (!options_.wallClock) options_.wallClock = unixNow;
  setRules(std::move(rules));
}

PolicyEngine::~PolicyEngine() {
  std::list<std::future<void>> runs;
  {
    std::lock_guard lock(hooksMu_);
    runs.swap(hookRuns_);
  }
  for (auto& r : runs) r.wait();
}

void PolicyEngine::setRules(std::vector<config::PolicyRule> rules) {
  rules_ = std::move(rules);
  std::map<std::string, RuleState> kept;
  for (auto& [key, state] : states_) {
    std::string rule = key.substr(0, key.find('\n'));
    if (std::any_of(rules_.begin(), rules_.end(), [&](const auto& r) { return r.name == rule; })) kept.emplace(key, state);
  }
  states_ = std::move(kept);
  updateHistoryAge();
}

void PolicyEngine::updateHistoryAge() {
  double longest = 0;
  for (const auto& r : rules_) longest = std::max(longest, longestWindow(r.condition));
  history_.setMaxAge(longest + options_.historySlackSeconds);
}

bool PolicyEngine::matches(const config::PolicyRule& rule, const collectors::SampleTarget& target) {
  for (const auto& t : rule.targets) {
    switch (t.kind) {
      case config::PolicyTarget::Kind::Name:
        if (target.name == t.pattern) return true;
        break;
      case config::PolicyTarget::Kind::Glob:
        if (::fnmatch(t.pattern.c_str(), target.name.c_str(), 0) == 0) return true;
        break;
      case config::PolicyTarget::Kind::Labels: {
        bool all = std::all_of(t.labels.begin(), t.labels.end(), [&](const auto& kv) {
          auto it = target.labels.find(kv.first);
          return it != target.labels.end() && it->second == kv.second;
        });
        if (all) return true;
        break;
      }
    }
  }
  return false;
}

void PolicyEngine::evaluateSnapshot(std::shared_ptr<const collectors::Snapshot> snapshot, PolicyTrigger trigger,
                                    std::optional<SteadyClock::time_point> wokeAt) {
  if (!snapshot) return;
  const auto woke = wokeAt.value_or(now());
  snapshot_ = std::move(snapshot);
  history_.record(*snapshot_);
  if (metrics_) metrics_->countWakeup(trigger);
  // Forget the for:/cooldown state of targets that left.
  for (auto it = states_.begin(); it != states_.end();) {
    std::string id = it->first.substr(it->first.find('\n') + 1);
    if (snapshot_->find(id) == nullptr) it = states_.erase(it);
    else ++it;
  }
  for (const auto& t : snapshot_->targets) evaluateRules(t, trigger, woke);
  pruneHooks();
}

void PolicyEngine::evaluateTarget(const collectors::TargetSample& sample, PolicyTrigger trigger,
                                  std::optional<SteadyClock::time_point> wokeAt) {
  if (!sample.target) return;
  if (metrics_) metrics_->countWakeup(trigger);
  evaluateRules(sample, trigger, wokeAt.value_or(now()));
  pruneHooks();
}

void PolicyEngine::evaluateRules(const collectors::TargetSample& sample, PolicyTrigger trigger,
                                 SteadyClock::time_point wokeAt) {
  const collectors::SampleTarget& target = *sample.target;
  const std::deque<HistoryPoint>* points = history_.of(target.id);
  for (const auto& rule : rules_) {
    if (!matches(rule, target)) continue;
    if (metrics_) metrics_->countEvaluation(rule.name);
    ConditionResult result = evaluateCondition(rule.condition, sample, points);
    RuleState& state = states_[stateKey(rule.name, target.id)];
    const auto t = now();
    if (!result.holds) {
      state.pendingSince.reset();
      continue;
    }
    if (!state.pendingSince) state.pendingSince = t;
    if (t - *state.pendingSince < rule.forDuration) {
      if (options_.refresh && !state.recheckScheduled && probeRefreshes(rule.condition)) {
        state.recheckScheduled = true;
        Timer timer;
        timer.kind = Timer::Kind::Recheck;
        timer.due = *state.pendingSince + rule.forDuration;
        timer.rule = rule.name;
        timer.subject = subjectOf(target);
        addTimer(std::move(timer));
      }
      continue;
    }
    if (state.lastFired && t - *state.lastFired < rule.cooldown) continue;
    state.lastFired = t;
    state.pendingSince = t;
    fire(rule, sample, std::move(result), trigger, wokeAt);
  }
}

void PolicyEngine::fire(const config::PolicyRule& rule, const collectors::TargetSample& sample, ConditionResult result,
                        PolicyTrigger trigger, SteadyClock::time_point wokeAt) {
  Firing f;
  f.rule = rule.name;
  f.actions = rule.actions;
  f.dryRun = rule.dryRun;
  f.allowObserved = rule.allowActionsOnObserved;
  f.subject = subjectOf(*sample.target);
  f.sample = sample;
  f.mode = snapshot_ ? snapshot_->mode : collectors::CgroupMode::V2;
  f.conditions = std::move(result.leaves);
  f.trigger = trigger;
  f.wokeAt = wokeAt;
  const bool hasExec = std::any_of(f.actions.begin(), f.actions.end(), [](const auto& a) { return a.kind == Kind::Exec; });
  if (options_.asyncExec && hasExec && !f.dryRun) {
    std::lock_guard lock(hooksMu_);
    hookRuns_.push_back(std::async(std::launch::async, [this, firing = std::move(f)] { perform(firing); }));
    return;
  }
  perform(f);
}

PolicyEvent PolicyEngine::baseEvent(const std::string& rule, const ActionSubject& subject, PolicyTrigger trigger) const {
  PolicyEvent e;
  e.time = options_.wallClock();
  e.rule = rule;
  e.workload = subject.name;
  e.cgroup = subject.id;
  e.managed = subject.managed;
  e.trigger = trigger;
  return e;
}

void PolicyEngine::record(PolicyEvent& event, SteadyClock::time_point wokeAt) {
  event.reactionMs = std::chrono::duration<double, std::milli>(now() - wokeAt).count();
  if (metrics_) metrics_->countAction(event);
  events_.append(event);
}

void PolicyEngine::perform(const Firing& f) {
  for (const auto& action : f.actions) {
    PolicyEvent e = baseEvent(f.rule, f.subject, f.trigger);
    e.action = config::policyActionName(action.kind);
    e.detail = config::describePolicyAction(action);
    e.dryRun = f.dryRun;
    e.conditions = f.conditions;
    if (action.kind != Kind::Log && !f.subject.managed && !f.allowObserved) {
      e.outcome = "skipped";
      e.error = "observed cgroup: actions other than log need allow_actions_on_observed: true";
    } else if (f.dryRun) {
      e.outcome = "dry_run";
    } else {
      Status st = performOne(action, f, e);
      if (!st) {
        e.outcome = "failed";
        e.error = st.error().message();
      }
    }
    record(e, f.wokeAt);
  }
}

Status PolicyEngine::performOne(const PolicyAction& action, const Firing& f, PolicyEvent& event) {
  const ActionSubject& subject = f.subject;
  switch (action.kind) {
    case Kind::Log:
      return {};
    case Kind::Signal:
      if (action.to == PolicyAction::SignalTo::Cgroup) return target_.signalCgroup(subject, action.signal);
      if (!subject.managed)
        return Error::invalid("signal", subject.id, "an observed cgroup has no main process; use to: cgroup");
      return target_.signalMain(subject, action.signal);
    case Kind::Stop: {
      if (subject.managed) return target_.stop(subject);
      Status st = target_.signalCgroup(subject, SIGTERM);
      if (!st) return st;
      Timer timer;
      timer.kind = Timer::Kind::StopKill;
      timer.due = now() + options_.observedStopGrace;
      timer.rule = f.rule;
      timer.subject = subject;
      timer.detail = "SIGKILL after the " + config::formatDuration(options_.observedStopGrace) + " grace period";
      addTimer(std::move(timer));
      event.detail = "SIGTERM, then SIGKILL after " + config::formatDuration(options_.observedStopGrace);
      return {};
    }
    case Kind::Freeze: {
      Status st = target_.freeze(subject);
      if (!st) return st;
      if (action.duration.count() > 0) {
        Timer timer;
        timer.kind = Timer::Kind::Thaw;
        timer.due = now() + action.duration;
        timer.rule = f.rule;
        timer.subject = subject;
        timer.detail = "frozen for " + config::formatDuration(action.duration);
        addTimer(std::move(timer));
      }
      return {};
    }
    case Kind::Throttle: {
      ThrottlePlan plan = planThrottle(action, f.sample, f.mode);
      if (!plan.error.empty()) return Error::invalid("throttle", subject.id, plan.error);
      const std::string key = stateKey(f.rule, subject.id);
      {
        // A throttle while an earlier one's restore is pending keeps the original values.
        std::lock_guard lock(timersMu_);
        auto it = restoring_.find(key);
        if (it != restoring_.end()) plan.restore = it->second;
      }
      Status st = target_.applyLimits(subject, plan.apply);
      if (!st) return st;
      if (action.duration.count() > 0) {
        {
          std::lock_guard lock(timersMu_);
          restoring_[key] = plan.restore;
          timers_.erase(std::remove_if(timers_.begin(), timers_.end(),
                                       [&](const Timer& t) {
                                         return t.kind == Timer::Kind::Restore && t.rule == f.rule &&
                                                t.subject.id == subject.id;
                                       }),
                        timers_.end());
        }
        Timer timer;
        timer.kind = Timer::Kind::Restore;
        timer.due = now() + action.duration;
        timer.rule = f.rule;
        timer.subject = subject;
        timer.restore = plan.restore;
        timer.detail = describeLimits(plan.restore);
        addTimer(std::move(timer));
      }
      event.detail = describeLimits(plan.apply) + (action.duration.count() > 0
                                                       ? ", restore after " + config::formatDuration(action.duration)
                                                       : "");
      return {};
    }
    case Kind::Kill:
      return target_.killAll(subject);
    case Kind::Restart:
      if (!subject.managed) return Error::invalid("restart", subject.id, "only managed workloads can be restarted");
      return target_.restart(subject);
    case Kind::Exec: {
      HookRequest request;
      request.command = action.command;
      request.timeout = action.timeout;
      request.input = event.toJsonLine() + "\n";
      request.env = {{"CGWARDEN_RULE", f.rule}, {"CGWARDEN_WORKLOAD", subject.name}, {"CGWARDEN_CGROUP", subject.id}};
      auto exit = hooks_.run(request);
      if (!exit) return exit.error();
      if (exit->signaled || exit->code != 0) {
        return Error::invalid("exec", action.command[0], exit->describe());
      }
      return {};
    }
  }
  return {};
}

void PolicyEngine::addTimer(Timer timer) {
  {
    std::lock_guard lock(timersMu_);
    timers_.push_back(std::move(timer));
  }
  if (options_.timersChanged) options_.timersChanged();
}

std::optional<SteadyClock::time_point> PolicyEngine::nextTimer() const {
  std::lock_guard lock(timersMu_);
  std::optional<SteadyClock::time_point> next;
  for (const auto& t : timers_) {
    if (!next || t.due < *next) next = t.due;
  }
  return next;
}

size_t PolicyEngine::pendingTimers() const {
  std::lock_guard lock(timersMu_);
  return timers_.size();
}

void PolicyEngine::runDueTimers() {
  std::vector<Timer> due;
  const auto t = now();
  {
    std::lock_guard lock(timersMu_);
    auto split = std::stable_partition(timers_.begin(), timers_.end(), [&](const Timer& x) { return x.due > t; });
    due.assign(std::make_move_iterator(split), std::make_move_iterator(timers_.end()));
    timers_.erase(split, timers_.end());
    for (const auto& x : due) {
      if (x.kind == Timer::Kind::Restore) restoring_.erase(stateKey(x.rule, x.subject.id));
    }
  }
  if (!due.empty() && metrics_) metrics_->countWakeup(PolicyTrigger::Timer);
  for (auto& timer : due) {
    if (timer.kind == Timer::Kind::Recheck) {
      auto it = states_.find(stateKey(timer.rule, timer.subject.id));
      if (it != states_.end()) it->second.recheckScheduled = false;
      const collectors::TargetSample* last = snapshot_ ? snapshot_->find(timer.subject.id) : nullptr;
      if (!last || !options_.refresh) continue;
      auto fresh = options_.refresh(*last);
      if (fresh) evaluateTarget(*fresh, PolicyTrigger::Recheck, timer.due);
      continue;
    }
    PolicyEvent e = baseEvent(timer.rule, timer.subject, PolicyTrigger::Timer);
    e.detail = timer.detail;
    Status st;
    switch (timer.kind) {
      case Timer::Kind::Thaw:
        e.action = "thaw";
        st = target_.thaw(timer.subject);
        break;
      case Timer::Kind::Restore:
        e.action = "restore";
        st = target_.applyLimits(timer.subject, timer.restore);
        break;
      case Timer::Kind::StopKill:
        e.action = "kill";
        st = target_.killAll(timer.subject);
        break;
      case Timer::Kind::Recheck:
        break;
    }
    if (!st) {
      e.outcome = st.error().cgroupGone() ? "skipped" : "failed";
      e.error = statusError(st);
    }
    record(e, timer.due);
  }
}

void PolicyEngine::pruneHooks() {
  std::lock_guard lock(hooksMu_);
  hookRuns_.remove_if([](std::future<void>& f) {
    return f.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  });
}

}  // namespace cgwarden::agent
