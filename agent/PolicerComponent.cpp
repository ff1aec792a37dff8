#include "agent/PolicerComponent.h"

#include "agent/Agent.h"
#include "collectors/Sampler.h"

namespace cgwarden::agent {

namespace {

// The sampler's detail sections a condition reads (CPU usage and memory are read every tick).
uint32_t sectionsOf(config::PolicyMetric metric) {
  using config::PolicyMetric;
  switch (metric) {
    case PolicyMetric::CpuThrottled: return collectors::kSectionThrottling;
    case PolicyMetric::Pressure: return collectors::kSectionPressure;
    case PolicyMetric::Pids: return collectors::kSectionTasks;
    case PolicyMetric::OomKills: return collectors::kSectionOom;
    case PolicyMetric::IoRead:
    case PolicyMetric::IoWrite:
    case PolicyMetric::Io: return collectors::kSectionIo;
    case PolicyMetric::MemoryUsage:
    case PolicyMetric::MemoryWorkingSet:
    case PolicyMetric::CpuUsage:
    case PolicyMetric::Restarts: return 0;
  }
  return 0;
}

uint32_t sectionsOf(const config::PolicyConditionTree& tree) {
  if (tree.kind == config::PolicyConditionTree::Kind::Leaf) return sectionsOf(tree.leaf.metric);
  uint32_t sections = 0;
  for (const auto& child : tree.children) sections |= sectionsOf(child);
  return sections;
}

}  // namespace

uint32_t sectionsEveryTick(const std::vector<config::PolicyRule>& rules) {
  uint32_t sections = 0;
  for (const auto& rule : rules) sections |= sectionsOf(rule.condition);
  return sections;
}

PolicerComponent::PolicerComponent(PolicerHooks hooks) : hooks_(std::move(hooks)), events_(hooks_.eventCapacity) {}

PolicerComponent::~PolicerComponent() { stop(); }

Status PolicerComponent::start(Agent& agent) {
  if (!hooks_.snapshots) return Error::invalid("start", "policer", "no snapshot source wired");
  if (hooks_.registry) {
    if (prometheus::Registry* r = hooks_.registry()) metrics_ = std::make_unique<PolicyMetrics>(*r);
  }
  target_ = std::make_unique<SupervisorActionTarget>(agent.supervisor(), agent.layout());
  PolicerOptions options = hooks_.options;
  options.snapshotSource = hooks_.snapshots;
  if (hooks_.everyTick) hooks_.everyTick(sectionsEveryTick(agent.config().policies));
  policer_ = std::make_unique<Policer>(agent.config().policies, *target_, events_, metrics_.get(), options);
  if (auto st = policer_->start(); !st) return st;
  if (hooks_.server) {
    server_ = hooks_.server();
    if (server_) server_->addHandler("/events", events_.handler());
  }
  return {};
}

void PolicerComponent::stop() {
  if (server_) {
    server_->removeHandler("/events");
    server_ = nullptr;
  }
  if (policer_) policer_->stop();
}

EventsFn PolicerComponent::eventsFn() {
  return [this](const EventsQuery& q) {
    EventsPage page;
    for (const auto& e : events_.recent(PolicyEventLog::Query{q.limit, q.after, q.rule, q.workload}))
      page.events.push_back(e.toJson());
    page.lastSeq = events_.lastSeq();
    return page;
  };
}

void PolicerComponent::setRules(std::vector<config::PolicyRule> rules) {
  if (!policer_) return;
  if (hooks_.everyTick) hooks_.everyTick(sectionsEveryTick(rules));
  policer_->setRules(std::move(rules));
}

}  // namespace cgwarden::agent
