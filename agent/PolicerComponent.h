#pragma once
// The policer as an AgentComponent. Add it AFTER the component that starts the sampler and
// the HttpServer (ServingComponent): components start in order and stop in reverse.
//
//   auto police = std::make_unique<PolicerComponent>(PolicerHooks{
//       .server = [&] { return &servingPtr->server(); },             // /events registered here
//       .registry = [&] { return &servingPtr->metrics().registry(); },  // cgwarden_policy_* families
//       .snapshots = [&] { return servingPtr->metrics().latest(); },  // polled every 20 ms
//       .options = {},                                           // PolicerOptions (snapshotSource is set)
//       .eventCapacity = 1000,                                   // the /events ring
//       .everyTick = [&](uint32_t s) { servingPtr->metrics().sampler().setEveryTick(s); },
//   });
//   PolicerComponent* policePtr = police.get();
//   agent.addComponent(std::move(police));
//   ... ControlApiHooks{.events = policePtr->eventsFn(), ...}
//   ... on reload: policePtr->setRules(newConfig.policies)
//
// At start: a SupervisorActionTarget over agent.supervisor(), the Policer over
// agent.config().policies, GET /events on the server, and the sampler is asked for the
// detail sections the rules read at tick resolution (sectionsEveryTick; again on setRules).
// At stop: the policer stops (running exec hooks are waited for) and /events is removed.

#include <functional>
#include <memory>
#include <vector>

#include <prometheus/registry.h>

#include "agent/AgentComponent.h"
#include "agent/ControlApi.h"
#include "agent/HttpServer.h"
#include "agent/Policer.h"
#include "agent/PolicyEventLog.h"
#include "agent/PolicyMetrics.h"
#include "agent/SupervisorActionTarget.h"

namespace cgwarden::agent {

struct PolicerHooks {
  std::function<HttpServer*()> server;                // optional: GET /events
  std::function<prometheus::Registry*()> registry;    // optional: cgwarden_policy_* counters
  SnapshotFn snapshots;                               // required: the sampler's latest snapshot
  PolicerOptions options;                             // snapshotSource is set from `snapshots`
  size_t eventCapacity = 1000;
  // Optional: Sampler::setEveryTick, so the detail sections a rule reads are fresh on every
  // tick rather than every detail interval.
  std::function<void(uint32_t sections)> everyTick;
};

// The sampler's detail sections (collectors::SampleSection) that `rules` read, so they are
// fresh on every tick: throttling (cpu.throttled), tasks (pids), oom (memory.oom_kills), io
// (io.*), pressure (*.pressure.*). CPU usage and memory are read every tick anyway.
uint32_t sectionsEveryTick(const std::vector<config::PolicyRule>& rules);

class PolicerComponent final : public AgentComponent {
 public:
  explicit PolicerComponent(PolicerHooks hooks);
  ~PolicerComponent() override;
  std::string name() const override { return "policer"; }
  Status start(Agent& agent) override;
  void stop() override;

  PolicyEventLog& events() { return events_; }
  // For ControlApiHooks::events (GET /api/v1/events).
  EventsFn eventsFn();
  // Reload: the new rules (thread-safe; ignored before start()).
  void setRules(std::vector<config::PolicyRule> rules);
  Policer* policer() { return policer_.get(); }

 private:
  PolicerHooks hooks_;
  PolicyEventLog events_;
  std::unique_ptr<PolicyMetrics> metrics_;
  std::unique_ptr<SupervisorActionTarget> target_;
  std::unique_ptr<Policer> policer_;
  HttpServer* server_ = nullptr;
};

}  // namespace cgwarden::agent
