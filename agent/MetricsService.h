#pragma once
// Accounting, wired: the Sampler over managed + observed cgroups, the cAdvisor-compatible
// SnapshotExporter, a prometheus::Registry for anyone's ordinary families, and the
// /metrics and /healthz handlers for the HttpServer.
//
//   MetricsOptions opts;                          // from config.agent (see fromAgentSpec)
//   auto metrics = MetricsService::create(layout, [&] { return supervisor.sampleTargets(); }, opts);
//   (*metrics)->start();
//   (*metrics)->registerHandlers(*server);
//   ... (*metrics)->latest() for the policer ...
//
// /metrics: GET/HEAD, Prometheus text format 0.0.4, streamed (chunked; gzip on the fly by
// the server when asked): the exporter's families byte-identical to prometheus-cpp's
// TextSerializer, then the registry's through TextSerializer itself. /healthz: 200 {"status":"ok",...} while the loop ticks;
// 503 {"status":"unhealthy","reason":...} before the first tick or when the last one is
// older than staleAfter.

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/registry.h>

#include "agent/HttpServer.h"
#include "collectors/CgroupLayout.h"
#include "collectors/ObservedCgroups.h"
#include "collectors/Sampler.h"
#include "collectors/SnapshotExporter.h"
#include "config/Config.h"

namespace cgwarden::agent {

struct MetricsOptions {
  collectors::SamplerOptions sampler;
  std::vector<std::string> observe;                     // ObservedCgroups patterns
  std::chrono::milliseconds observeRescan{10000};
  collectors::ExporterOptions exporter;                 // version defaults to cgwarden's
  std::chrono::milliseconds staleAfter{0};              // 0 = 3 intervals + 2 s

  // The fields config already has (sampleInterval, observe).
  static MetricsOptions fromAgentSpec(const config::AgentSpec& agent);
};

class MetricsService {
 public:
  // Checks the observe patterns; does not start anything.
  static Result<std::unique_ptr<MetricsService>> create(collectors::CgroupLayout layout,
                                                        collectors::TargetProvider managed, MetricsOptions options);
  // The same with shared immutable targets (no per-tick copies; see SharedTargetProvider).
  static Result<std::unique_ptr<MetricsService>> create(collectors::CgroupLayout layout,
                                                        collectors::SharedTargetProvider managed,
                                                        MetricsOptions options);
  ~MetricsService();
  MetricsService(const MetricsService&) = delete;
  MetricsService& operator=(const MetricsService&) = delete;

  void start();  // the sampling loop
  void stop();

  // Adds GET /metrics and GET /healthz to `server`.
  void registerHandlers(HttpServer& server);

  // More collectables served on /metrics (held weakly; expired ones are skipped).
  void addCollectable(std::weak_ptr<prometheus::Collectable> collectable);
  prometheus::Registry& registry() { return *registry_; }

  // The text exposition as /metrics serves it: the exporter's families (streamed, see
  // SnapshotExporter::writeText), then the registry's and added collectables' families
  // through prometheus::TextSerializer. False if `write` stopped it.
  bool writeMetrics(const BodyWriter& write) const;
  std::string renderMetrics() const;  // writeMetrics into one string (tests, benchmarks)
  HttpResponse metricsResponse(const HttpRequest& request) const;
  HttpResponse healthResponse() const;

  std::shared_ptr<const collectors::Snapshot> latest() const { return sampler_->latest(); }
  collectors::Sampler& sampler() { return *sampler_; }
  const collectors::SnapshotExporter& exporter() const { return *exporter_; }

 private:
  static constexpr size_t kTrimAfterTargets = 1000;
  MetricsService() = default;
  std::vector<prometheus::MetricFamily> otherFamilies() const;

  MetricsOptions options_;
  std::shared_ptr<collectors::ObservedCgroups> observed_;
  std::unique_ptr<collectors::Sampler> sampler_;
  std::shared_ptr<collectors::SnapshotExporter> exporter_;
  std::shared_ptr<prometheus::Registry> registry_;
  mutable std::mutex collectablesMutex_;
  std::vector<std::weak_ptr<prometheus::Collectable>> collectables_;
};

}  // namespace cgwarden::agent
