#include "agent/MetricsService.h"

#include <nlohmann/json.hpp>
#include <prometheus/text_serializer.h>

#include <malloc.h>

#include <set>
#include <sstream>

#include "Version.h"

namespace cgwarden::agent {

using collectors::SampleTarget;

MetricsOptions MetricsOptions::fromAgentSpec(const config::AgentSpec& agent) {
  MetricsOptions o;
  o.sampler.interval = agent.sampleInterval;
  o.sampler.detailInterval = agent.detailInterval;
  o.sampler.everyTick = agent.sampleEveryTick;
  o.observe = agent.observe;
  return o;
}

Result<std::unique_ptr<MetricsService>> MetricsService::create(collectors::CgroupLayout layout,
                                                               collectors::TargetProvider managed,
                                                               MetricsOptions options) {
  return create(std::move(layout), collectors::shareTargets(std::move(managed)), std::move(options));
}

Result<std::unique_ptr<MetricsService>> MetricsService::create(collectors::CgroupLayout layout,
                                                               collectors::SharedTargetProvider managed,
                                                               MetricsOptions options) {
  for (const auto& pattern : options.observe) {
    if (auto st = collectors::ObservedCgroups::validatePattern(pattern); !st) return st.error();
  }
  if (options.exporter.version.empty()) options.exporter.version = kVersion;
  std::unique_ptr<MetricsService> svc(new MetricsService());
  svc->options_ = options;
  if (!options.observe.empty()) {
    svc->observed_ = std::make_shared<collectors::ObservedCgroups>(layout, options.observe, options.observeRescan);
  }
  auto observed = svc->observed_;
  collectors::SharedTargetProvider provider = [managed = std::move(managed), observed]() {
    std::vector<std::shared_ptr<const SampleTarget>> targets;
    if (managed) targets = managed();
    if (observed) {
      std::set<std::string_view> ids;
      for (const auto& t : targets) ids.insert(t->id);
      for (auto& t : observed->targets()) {
        if (!ids.count(t->id)) targets.push_back(std::move(t));  // managed wins over observed
      }
    }
    return targets;
  };
  svc->sampler_ = std::make_unique<collectors::Sampler>(std::move(layout), std::move(provider), options.sampler);
  collectors::Sampler* sampler = svc->sampler_.get();
  svc->exporter_ = std::make_shared<collectors::SnapshotExporter>([sampler] { return sampler->latest(); },
                                                                  options.exporter);
  svc->registry_ = std::make_shared<prometheus::Registry>();
  return svc;
}

MetricsService::~MetricsService() { stop(); }

void MetricsService::start() { sampler_->start(); }

void MetricsService::stop() {
  if (sampler_) sampler_->stop();
}

void MetricsService::addCollectable(std::weak_ptr<prometheus::Collectable> collectable) {
  std::lock_guard<std::mutex> lock(collectablesMutex_);
  collectables_.push_back(std::move(collectable));
}

std::vector<prometheus::MetricFamily> MetricsService::otherFamilies() const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  std::lock_guard<std::mutex> lock(collectablesMutex_);
  for (const auto& weak : collectables_) {
    if (auto c = weak.lock()) {
      auto more = c->Collect();
      families.insert(families.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
    }
  }
  return families;
}

bool MetricsService::writeMetrics(const BodyWriter& write) const {
  bool ok = exporter_->writeText(write);
  if (ok) {
    auto families = otherFamilies();
    if (!families.empty()) {
      std::ostringstream out;
      prometheus::TextSerializer().Serialize(out, families);
      ok = write(out.view());
    }
  }
  // A scrape of thousands of cgroups churns megabytes of small allocations on whichever
  // CivetWeb worker serves it, and glibc keeps them per thread arena: hand them back.
  if (latest()->targets.size() >= kTrimAfterTargets) ::malloc_trim(0);
  return ok;
}

std::string MetricsService::renderMetrics() const {
  std::string text;
  writeMetrics([&text](std::string_view piece) {
    text.append(piece);
    return true;
  });
  return text;
}

HttpResponse MetricsService::metricsResponse(const HttpRequest& request) const {
  if (request.method != "GET" && request.method != "HEAD") {
    HttpResponse r = HttpResponse::json(405, R"({"error":"use GET"})");
    r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
  }
  HttpResponse r;
  r.contentType = "text/plain; version=0.0.4; charset=utf-8";
  r.stream = [this](const BodyWriter& write) { writeMetrics(write); };
  return r;
}

HttpResponse MetricsService::healthResponse() const {
  auto snap = sampler_->latest();
  auto interval = sampler_->options().interval;
  auto limit = options_.staleAfter.count() > 0 ? options_.staleAfter : 3 * interval + std::chrono::seconds(2);
  nlohmann::json body;
  body["ticks"] = snap->stats.ticks;
  body["targets"] = snap->targets.size();
  body["sample_errors_total"] = snap->stats.errorsTotal;
  std::string reason;
  if (snap->stats.ticks == 0) {
    reason = sampler_->running() ? "no sample taken yet" : "sampling loop not started";
  } else {
    double age = std::chrono::duration<double>(std::chrono::steady_clock::now() - snap->steadyTime).count();
    body["last_sample_age_seconds"] = age;
    if (age > std::chrono::duration<double>(limit).count()) {
      reason = "last sample " + std::to_string(static_cast<long>(age)) + " s ago (limit " +
               std::to_string(std::chrono::duration_cast<std::chrono::seconds>(limit).count()) + " s)" +
               (sampler_->running() ? "" : "; sampling loop stopped");
    }
  }
  HttpResponse r;
  r.compressible = false;
  r.contentType = "application/json";
  r.headers.emplace_back("Cache-Control", "no-store");
  if (reason.empty()) {
    body["status"] = "ok";
    r.status = 200;
  } else {
    body["status"] = "unhealthy";
    body["reason"] = reason;
    r.status = 503;
  }
  r.body = body.dump();
  return r;
}

void MetricsService::registerHandlers(HttpServer& server) {
  server.addHandler("/metrics", [this](const HttpRequest& req) { return metricsResponse(req); });
  server.addHandler("/healthz", [this](const HttpRequest& req) {
    if (req.method != "GET" && req.method != "HEAD") return HttpResponse::json(405, R"({"error":"use GET"})");
    return healthResponse();
  });
}

}  // namespace cgwarden::agent
