#pragma once
// The exporter: one prometheus::Collectable that turns the latest Snapshot into metric
// families with cAdvisor's names, types, units and labels (reference/cadvisor-metrics.tsv),
// plus cgwarden_* families for what only cgwarden knows.
//
// Two outputs from the same family table: Collect() builds prometheus::MetricFamily structs
// (for TextSerializer, a Registry, or any consumer of the Collectable interface), and
// writeText() streams exactly the bytes prometheus::TextSerializer writes for those
// families (unit-tested byte for byte), family by family in 64 KiB pieces, without
// building them: TextSerializer escapes label values one ostream insertion per character
// and takes ~3 µs per series here (~170 ms for 1,000 cgroups), writeText ~0.1 µs, and a
// scrape of 10,000 cgroups never holds the ~80 MB text in memory. /metrics uses writeText.
//
// Rules (cAdvisor's, and where we differ, why):
//   - kernel counters are counters: container_cpu_usage_seconds_total{cpu="total"}, ...
//   - container_cpu_cfs_* only when a CPU quota is set (effective cpu.max / cfs_quota_us)
//   - container_spec_memory_*: unlimited (>= 2^62 or "max") is reported as 0;
//     container_spec_cpu_quota is omitted when unlimited; container_threads_max 0 = unlimited
//   - container_spec_cpu_shares on v2 = cadvisorSharesFromWeight(cpu.weight)
//   - container_memory_working_set_bytes = usage - inactive_file, floored at 0
//   - container_oom_events_total from the kernel's oom_kill counter (v1 memory.oom_control,
//     v2 memory.events), not /dev/kmsg; kept monotonic across recreations of the cgroup
//   - container_pressure_*_seconds_total: PSI totals (µs) in seconds; waiting = "some",
//     stalled = "full"
//   - fs/blkio series carry device="/dev/<name>" (from /sys/dev/block/MAJ:MIN/uevent)
//   - container_memory_failcnt is typed gauge (cAdvisor: counter): v1 lets anyone reset it
//     by writing 0, and `promtool check metrics` rejects a counter without _total
//   - series a host cannot provide are left out instead of reported as 0 (cAdvisor's v1
//     memory.events, v2 failcnt)
//   - no explicit timestamps unless ExporterOptions::timestamps
// Labels on every container_* series: id (cgroup path), name, image, container_label_<key>
// for allowed workload labels (key sanitised to [a-zA-Z0-9_]), and with kubeletLabels
// namespace/pod/container from the workload labels io.kubernetes.pod.namespace /
// io.kubernetes.pod.name / io.kubernetes.container.name (or plain namespace/pod/container;
// container defaults to the workload name).

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include "collectors/Snapshot.h"

namespace cgwarden::collectors {

struct ExporterOptions {
  // Workload label keys exported as container_label_<key>: nullopt = all, empty = none.
  std::optional<std::vector<std::string>> labelAllowlist;
  bool kubeletLabels = false;
  bool timestamps = false;       // explicit sample timestamps on container_* series
  std::string version;           // cgwarden_build_info{version}
};

class SnapshotExporter : public prometheus::Collectable {
 public:
  using Source = std::function<std::shared_ptr<const Snapshot>()>;
  // Receives the text in pieces; returns false to stop (the scraper went away).
  using TextSink = std::function<bool(std::string_view)>;

  SnapshotExporter(Source source, ExporterOptions options);

  // Families for the latest snapshot; counts a scrape.
  std::vector<prometheus::MetricFamily> Collect() const override;
  // The text of Collect()'s families, streamed; counts a scrape. False if the sink stopped.
  bool writeText(const TextSink& sink) const;

  // The mapping itself, pure: `now` is the wall clock (Unix seconds) for the snapshot's age,
  // `scrapes` the value of cgwarden_scrapes_total. Empty families are left out.
  static std::vector<prometheus::MetricFamily> families(const Snapshot& snapshot, const ExporterOptions& options,
                                                        double now, uint64_t scrapes);
  static bool writeText(const Snapshot& snapshot, const ExporterOptions& options, double now, uint64_t scrapes,
                        const TextSink& sink);

  uint64_t scrapes() const { return scrapes_.load(); }

 private:
  std::shared_ptr<const Snapshot> current() const;

  Source source_;
  ExporterOptions options_;
  mutable std::atomic<uint64_t> scrapes_{0};
};

// "app.kubernetes.io/name" -> "app_kubernetes_io_name" (Prometheus label-name charset).
std::string sanitizeLabelName(std::string_view key);

}  // namespace cgwarden::collectors
