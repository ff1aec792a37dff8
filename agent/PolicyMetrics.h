#pragma once
// The policer's own counters, as ordinary prometheus-cpp families in a registry the
// integrator passes (MetricsService::registry(), served on /metrics):
//
//   cgwarden_policy_actions_total{rule,action,workload,dry_run}  actions decided (performed,
//       failed, skipped or dry-run: one per PolicyEvent, follow-ups such as thaw included)
//   cgwarden_policy_evaluations_total{rule}                      rule evaluations on a target
//   cgwarden_policy_wakeups_total{trigger}                       evaluation passes by cause
//       (tick, threshold, oom, memory_events, psi, poll, recheck, timer)
// Thread-safe (prometheus-cpp counters are).

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>

#include <string>

#include "agent/PolicyEvent.h"

namespace cgwarden::agent {

class PolicyMetrics {
 public:
  explicit PolicyMetrics(prometheus::Registry& registry);

  void countAction(const PolicyEvent& event);
  void countEvaluation(const std::string& rule);
  void countWakeup(PolicyTrigger trigger);

 private:
  prometheus::Family<prometheus::Counter>& actions_;
  prometheus::Family<prometheus::Counter>& evaluations_;
  prometheus::Family<prometheus::Counter>& wakeups_;
};

}  // namespace cgwarden::agent
