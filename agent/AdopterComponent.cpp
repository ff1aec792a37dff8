#include "agent/AdopterComponent.h"

#include <spdlog/spdlog.h>

#include <prometheus/collectable.h>

#include "agent/Agent.h"

namespace cgwarden::agent {

namespace {

prometheus::MetricFamily family(const char* name, const char* help, prometheus::MetricType type) {
  prometheus::MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  return f;
}

prometheus::ClientMetric counterOf(double value) {
  prometheus::ClientMetric m;
  m.counter.value = value;
  return m;
}

class AdopterMetrics final : public prometheus::Collectable {
 public:
  explicit AdopterMetrics(std::weak_ptr<Adopter> adopter) : adopter_(std::move(adopter)) {}
  std::vector<prometheus::MetricFamily> Collect() const override {
    auto adopter = adopter_.lock();
    if (!adopter) return {};
    return adopterMetricFamilies(adopter->stats());
  }

 private:
  std::weak_ptr<Adopter> adopter_;
};

}  // namespace

std::vector<prometheus::MetricFamily> adopterMetricFamilies(const AdopterStats& stats) {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> out;

  auto byRule = family("cgwarden_adoptions_total", "Processes adopted by an adopt: rule (a tree counts once).",
                       MetricType::Counter);
  for (const auto& [rule, count] : stats.adoptionsByRule) {
    auto m = counterOf(static_cast<double>(count));
    m.label.push_back({"rule", rule});
    byRule.metric.push_back(std::move(m));
  }
  out.push_back(std::move(byRule));

  auto simple = [&](const char* name, const char* help, uint64_t value) {
    auto f = family(name, help, MetricType::Counter);
    f.metric.push_back(counterOf(static_cast<double>(value)));
    out.push_back(std::move(f));
  };
  simple("cgwarden_adoptions_by_request_total", "Process trees adopted by pid (POST /api/v1/adopt).",
         stats.adoptionsByPid);

  auto latency = family("cgwarden_adoption_latency_seconds",
                        "Seconds from the kernel's exec/uid/gid event to the process being in its cgroup.",
                        MetricType::Histogram);
  prometheus::ClientMetric h;
  h.histogram.sample_count = stats.latency.count;
  h.histogram.sample_sum = stats.latency.sumSeconds;
  uint64_t cumulative = 0;
  for (size_t i = 0; i < LatencyHistogram::kBounds.size(); ++i) {
    cumulative += stats.latency.counts[i];
    h.histogram.bucket.push_back({cumulative, LatencyHistogram::kBounds[i]});
  }
  h.histogram.bucket.push_back({stats.latency.count, std::numeric_limits<double>::infinity()});
  latency.metric.push_back(std::move(h));
  out.push_back(std::move(latency));

  simple("cgwarden_adoption_netlink_events_total", "Proc connector events received.", stats.netlinkEvents);
  simple("cgwarden_adoption_netlink_overruns_total",
         "Proc connector overruns (events dropped by the kernel); each triggered a full /proc rescan.",
         stats.netlinkOverruns);
  simple("cgwarden_adoption_scans_total", "Full /proc scans for adopt rules.", stats.scans);
  simple("cgwarden_adoption_refusals_total",
         "Adoptions refused (pid 1, the agent or its ancestors, kernel threads, another workload's processes).",
         stats.refusals);
  simple("cgwarden_adoption_failures_total", "Adoptions that failed on a cgroup create, limit or move error.",
         stats.failures);
  auto active = family("cgwarden_adoption_netlink_active",
                       "1 when adoption is event-driven (proc connector), 0 when it relies on scans only.",
                       MetricType::Gauge);
  prometheus::ClientMetric g;
  g.gauge.value = stats.netlinkActive ? 1 : 0;
  active.metric.push_back(std::move(g));
  out.push_back(std::move(active));
  return out;
}

AdopterComponent::AdopterComponent(std::function<MetricsService*()> metrics, AdopterOptions options)
    : metrics_(std::move(metrics)), options_(std::move(options)) {}

AdopterComponent::~AdopterComponent() = default;

Status AdopterComponent::start(Agent& agent) {
  agent_ = &agent;
  Supervisor& supervisor = agent.supervisor();
  AdopterOptions options = options_;
  options.rules = agent.config().adoptRules;
  options.reservedName = [&supervisor](const std::string& name) {
    auto s = supervisor.status(name);
    return s && s->kind == WorkloadKind::Launched;
  };
  auto created = Adopter::create(supervisor.cgroups(), std::move(options));
  if (!created) return created.error();
  std::shared_ptr<Adopter> adopter(std::move(*created));

  // Rule limits by rule name: the adoption event names the rule, not its limits.
  std::map<std::string, Limits> ruleLimits;
  for (const auto& r : agent.config().adoptRules) ruleLimits[r.name] = r.limits;
  adopter->onAdopted([&supervisor, ruleLimits](const AdoptionEvent& ev) {
    if (ev.trigger == AdoptionEvent::Trigger::Request) return;  // adoptFn registers it with its limits
    AdoptedWorkloadSpec spec;
    spec.name = ev.workload;
    auto it = ruleLimits.find(ev.rule);
    if (it != ruleLimits.end()) spec.limits = it->second;
    spec.mainPid = ev.pid;
    if (auto st = supervisor.adopt(spec); !st && st.error().errnum != EEXIST) {
      spdlog::warn("adopt rule {}: {}", ev.rule, st.error().message());
    }
  });
  adopter->onRemoved([&supervisor](const std::string& workload) { supervisor.forgetAdopted(workload); });
  std::weak_ptr<Adopter> weak = adopter;
  supervisor.onEvent([weak](const WorkloadEvent& ev) {
    if (ev.kind != WorkloadEvent::Kind::Stopped && ev.kind != WorkloadEvent::Kind::Removed) return;
    if (auto a = weak.lock()) a->forget(ev.name);
  });
  adopter_ = adopter;
  if (MetricsService* metrics = metrics_ ? metrics_() : nullptr) {
    collectable_ = std::make_shared<AdopterMetrics>(weak);
    metrics->addCollectable(collectable_);
  }
  if (auto st = adopter->start(); !st) {
    adopter_.reset();
    return st;
  }
  spdlog::info("adopter: {} rule(s), {}", agent.config().adoptRules.size(),
               adopter->stats().netlinkActive ? "event-driven (proc connector)" : "scans only");
  return {};
}

void AdopterComponent::stop() {
  if (adopter_) adopter_->stop();
  collectable_.reset();
  adopter_.reset();
}

AdoptFn AdopterComponent::adoptFn() {
  return [this](const AdoptRequest& r) -> Result<AdoptOutcome> {
    std::shared_ptr<Adopter> adopter = adopter_;
    if (!adopter || agent_ == nullptr) {
      return Error::fromErrno("adopt", "", ENOTCONN, "the adopter is not running");
    }
    auto ev = adopter->adoptPid(r.pid, r.name, r.limits);
    if (!ev) return ev.error();
    AdoptedWorkloadSpec spec;
    spec.name = r.name;
    spec.limits = r.limits;
    spec.mainPid = ev->pid;
    if (auto st = agent_->supervisor().adopt(spec); !st && st.error().errnum != EEXIST) {
      Error e = st.error();
      e.context("supervise adopted " + r.name);
      return e;
    }
    return adoptOutcomeOf(*ev);
  };
}

}  // namespace cgwarden::agent
