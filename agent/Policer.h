#pragma once
// The policer: rules evaluated on every snapshot and, between ticks, on kernel events.
//
//   PolicyEventLog events;                                   // ring + /events handler
//   PolicyMetrics metrics(metricsService.registry());
//   SupervisorActionTarget target(supervisor, layout);
//   PolicerOptions opts;
//   opts.snapshotSource = [&] { return metricsService.latest(); };
//   Policer policer(config.policies, target, events, &metrics, opts);
//   policer.start();
//   ...                                                      // or policer.publish(snapshot)
//   policer.setRules(newConfig.policies);                    // reload
//   policer.stop();
//
// One thread, one poll(2) over: an eventfd (new snapshot, new rules, timers, stop) and the
// kernel watches of PolicyWatches.h. A snapshot (publish(), or snapshotSource seen to change)
// is evaluated whole (trigger "tick") and the watches reconciled to it; a kernel watch that
// fires re-reads just that target's memory, pids and pressure files (collectors/TargetProbe.h)
// and evaluates its rules at once (after a memory notification, again 2, 10, 50 and 200 ms
// later: see followUps_). Follow-up timers (thaw, restore) and `for:` rechecks run
// on the same thread.

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "agent/ActionTarget.h"
#include "agent/HookRunner.h"
#include "agent/PolicyEngine.h"
#include "agent/PolicyEventLog.h"
#include "agent/PolicyMetrics.h"
#include "agent/PolicyWatches.h"
#include "collectors/FileIo.h"
#include "collectors/Snapshot.h"
#include "config/PolicyRule.h"

namespace cgwarden::agent {

struct PolicerOptions {
  // Polled every sourcePollInterval for a new snapshot (pointer change). Optional when the
  // owner calls publish() on every tick instead.
  std::function<std::shared_ptr<const collectors::Snapshot>()> snapshotSource;
  std::chrono::milliseconds sourcePollInterval{20};
  // v2 memory rules: memory re-read this often (v2 has no usage threshold notification).
  std::chrono::milliseconds fastPollInterval{100};
  // false: tick-only (no kernel watches, no fast poll): the benchmark's baseline.
  bool kernelEvents = true;
  // Engine options; the policer sets `refresh` (a probe) and `timersChanged` itself.
  PolicyEngineOptions engine;
};

class Policer {
 public:
  // `hooks` null: a ProcessHookRunner. `target`, `events` and `metrics` must outlive the policer.
  Policer(std::vector<config::PolicyRule> rules, ActionTarget& target, PolicyEventLog& events, PolicyMetrics* metrics,
          PolicerOptions options = {}, std::unique_ptr<HookRunner> hooks = nullptr);
  ~Policer();  // stop()
  Policer(const Policer&) = delete;
  Policer& operator=(const Policer&) = delete;

  // Starts the thread. Idempotent.
  Status start();
  // Stops and joins it (running exec hooks are waited for, bounded by their timeouts). Idempotent.
  void stop();

  // Thread-safe: evaluate this snapshot (the newest one wins if several queue up).
  void publish(std::shared_ptr<const collectors::Snapshot> snapshot);
  // Thread-safe: replace the rules (applied on the policer's thread before its next pass).
  void setRules(std::vector<config::PolicyRule> rules);

  // Diagnostics and tests (thread-safe).
  size_t watchCount() const { return watchCount_.load(); }
  uint64_t passes() const { return passes_.load(); }  // evaluation passes done (any trigger)

 private:
  void loop();
  void wake();
  void evaluateFresh(const std::string& targetId, PolicyTrigger trigger, SteadyClock::time_point wokeAt);

  ActionTarget& target_;
  PolicyEventLog& events_;
  PolicyMetrics* metrics_;
  PolicerOptions options_;
  std::unique_ptr<HookRunner> hooks_;
  std::unique_ptr<PolicyEngine> engine_;
  WatchSet watches_;
  UniqueFd wakeFd_;

  std::mutex mu_;
  std::shared_ptr<const collectors::Snapshot> pendingSnapshot_;
  std::optional<std::vector<config::PolicyRule>> pendingRules_;
  std::shared_ptr<const collectors::Snapshot> lastSourced_;

  // More looks 2, 10, 50 and 200 ms after a memory notification: an OOM is signalled before
  // the victim is killed (oom_kill not counted yet at the first look), and a v1 usage
  // threshold is crossed counting the per-CPU charge stock, which can be drained back below
  // the threshold right after; the kernel checks thresholds only every 128 page events, so
  // a second crossing may never be signalled.
  struct FollowUp {
    SteadyClock::time_point due;
    std::string targetId;
    PolicyTrigger trigger;
  };
  std::vector<FollowUp> followUps_;

  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> watchCount_{0};
  std::atomic<uint64_t> passes_{0};
};

}  // namespace cgwarden::agent
