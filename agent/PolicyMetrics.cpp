#include "agent/PolicyMetrics.h"

namespace cgwarden::agent {

PolicyMetrics::PolicyMetrics(prometheus::Registry& registry)
    : actions_(prometheus::BuildCounter()
                   .Name("cgwarden_policy_actions_total")
                   .Help("Policy actions decided, by rule, action, workload and dry-run")
                   .Register(registry)),
      evaluations_(prometheus::BuildCounter()
                       .Name("cgwarden_policy_evaluations_total")
                       .Help("Policy rule evaluations on a target")
                       .Register(registry)),
      wakeups_(prometheus::BuildCounter()
                   .Name("cgwarden_policy_wakeups_total")
                   .Help("Policer evaluation passes, by what woke it")
                   .Register(registry)) {}

void PolicyMetrics::countAction(const PolicyEvent& e) {
  actions_.Add({{"rule", e.rule}, {"action", e.action}, {"workload", e.workload}, {"dry_run", e.dryRun ? "true" : "false"}})
      .Increment();
}

void PolicyMetrics::countEvaluation(const std::string& rule) { evaluations_.Add({{"rule", rule}}).Increment(); }

void PolicyMetrics::countWakeup(PolicyTrigger trigger) { wakeups_.Add({{"trigger", policyTriggerName(trigger)}}).Increment(); }

}  // namespace cgwarden::agent
