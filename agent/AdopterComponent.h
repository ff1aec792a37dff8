#pragma once
// Adoption as an AgentComponent: an Adopter over the supervisor's cgroup manager with the
// config's `adopt:` rules, whose adoptions become supervised workloads of kind `adopted`
// (Supervisor::adopt), plus its counters on /metrics and the control API's adopt-by-pid.
//
//   adopted by a rule or by pid    -> Supervisor::adopt({name, limits (the rule's or the request's), pid})
//   rule workload emptied          -> Adopter removes the cgroup -> Supervisor::forgetAdopted
//   workload stopped/removed       -> Adopter::forget (the next adoption creates it again)
//
// Metrics (AdopterMetrics, a prometheus::Collectable reading Adopter::stats() at scrape time):
//   cgwarden_adoptions_total{rule}                 counter    processes adopted per rule
//   cgwarden_adoptions_by_request_total            counter    POST /api/v1/adopt successes
//   cgwarden_adoption_latency_seconds              histogram  exec/uid/gid event -> moved
//   cgwarden_adoption_netlink_events_total         counter    proc connector events received
//   cgwarden_adoption_netlink_overruns_total       counter    events lost (ENOBUFS); each forced a rescan
//   cgwarden_adoption_scans_total                  counter    full /proc scans
//   cgwarden_adoption_refusals_total               counter    matches refused (agent, pid 1, other workload)
//   cgwarden_adoption_failures_total               counter    cgroup create/limit/move errors
//   cgwarden_adoption_netlink_active               gauge      1 event-driven, 0 scans only
//
// Add it AFTER the ServingComponent (it registers its metrics there) and before the control API
// is used. Threading: the adopter's thread and the HTTP workers call into the supervisor, which
// is thread-safe; the supervisor's event listener holds the adopter weakly.

#include <functional>
#include <memory>

#include "agent/Adopter.h"
#include "agent/AgentComponent.h"
#include "agent/ControlApi.h"
#include "agent/MetricsService.h"

namespace cgwarden::agent {

class AdopterComponent final : public AgentComponent {
 public:
  // `metrics` may return null (no /metrics: counters are not exported).
  explicit AdopterComponent(std::function<MetricsService*()> metrics, AdopterOptions options = {});
  ~AdopterComponent() override;
  std::string name() const override { return "adopter"; }
  // Rules come from agent.config().adoptRules (options.rules is replaced); starts the netlink
  // thread and runs the first /proc scan.
  Status start(Agent& agent) override;
  void stop() override;

  // For ControlApiHooks::adopt: adopts the tree into `name` with the limits and registers it
  // with the supervisor. Before start() and after stop() it fails (ENOTCONN, the API's 500).
  AdoptFn adoptFn();
  // Valid after a successful start(); null otherwise.
  Adopter* adopter() { return adopter_.get(); }

 private:
  std::function<MetricsService*()> metrics_;
  AdopterOptions options_;
  Agent* agent_ = nullptr;
  std::shared_ptr<Adopter> adopter_;
  std::shared_ptr<prometheus::Collectable> collectable_;
};

// The families listed above, from one stats copy (pure: tests feed hand-made stats).
std::vector<prometheus::MetricFamily> adopterMetricFamilies(const AdopterStats& stats);

}  // namespace cgwarden::agent
