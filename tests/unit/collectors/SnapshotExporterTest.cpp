// Snapshot -> metric families: every exported metric's name, type, value, unit and labels,
// and cAdvisor's rules (quota, unlimited, working set), on hand-built snapshots.
#include <gtest/gtest.h>

#include <prometheus/text_serializer.h>

#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "collectors/Sampler.h"
#include "collectors/SnapshotExporter.h"
#include "unit/collectors/FixtureTrees.h"

namespace cgwarden::collectors {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using LabelMap = std::map<std::string, std::string>;

const MetricFamily* family(const std::vector<MetricFamily>& fams, std::string_view name) {
  for (const auto& f : fams) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

bool hasLabels(const ClientMetric& m, const LabelMap& want) {
  for (const auto& [k, v] : want) {
    bool found = false;
    for (const auto& l : m.label) found = found || (l.name == k && l.value == v);
    if (!found) return false;
  }
  return true;
}

// The one series of `name` whose labels include `want`; fails the test otherwise.
const ClientMetric* series(const std::vector<MetricFamily>& fams, std::string_view name, const LabelMap& want = {}) {
  const MetricFamily* f = family(fams, name);
  if (f == nullptr) {
    ADD_FAILURE() << "no family " << name;
    return nullptr;
  }
  const ClientMetric* found = nullptr;
  for (const auto& m : f->metric) {
    if (!hasLabels(m, want)) continue;
    if (found != nullptr) {
      ADD_FAILURE() << "more than one " << name << " series matches";
      return nullptr;
    }
    found = &m;
  }
  if (found == nullptr) ADD_FAILURE() << "no " << name << " series with the given labels";
  return found;
}

double value(const std::vector<MetricFamily>& fams, std::string_view name, const LabelMap& want = {}) {
  const ClientMetric* m = series(fams, name, want);
  if (m == nullptr) return -1;
  return family(fams, name)->type == MetricType::Counter ? m->counter.value : m->gauge.value;
}

MetricType typeOf(const std::vector<MetricFamily>& fams, std::string_view name) {
  const MetricFamily* f = family(fams, name);
  return f != nullptr ? f->type : MetricType::Untyped;
}

std::string labelOf(const ClientMetric& m, const std::string& name) {
  for (const auto& l : m.label) {
    if (l.name == name) return l.value;
  }
  return "<none>";
}

// A fully populated v2-style sample of a managed workload with a 0.5-core quota.
TargetSample fullSample(Snapshot& snap) {
  auto t = std::make_shared<SampleTarget>();
  t->id = "/cgwarden/web";
  t->name = "web";
  t->image = "registry.local/web:1.2";
  t->labels = {{"team", "payments"}, {"app.kubernetes.io/name", "web"}};
  t->managed = true;
  t->state = "running";
  t->restarts = 3;
  t->lastExitCode = 137;
  t->startTimeSeconds = 1700000000;
  Limits configured;
  configured.cpu.quotaUs = 50000;
  configured.cpu.periodUs = 100000;
  configured.cpu.weight = 200;
  configured.memory.max = 64 << 20;
  configured.memory.high = 48 << 20;
  configured.memory.swapMax = kUnlimited;  // configured as unlimited: no series
  configured.pids.max = 64;
  configured.io.weight = 100;
  IoDeviceLimit dev;
  dev.major = 8;
  dev.minor = 0;
  dev.readBps = 10 << 20;
  dev.writeIops = 500;
  configured.io.devices.push_back(dev);
  t->configuredLimits = configured;

  TargetSample s;
  s.target = t;
  s.sampleTime = 1700000100.75;
  s.startTime = 1700000000;
  s.hasCpu = s.hasMemory = s.hasIo = s.hasPids = s.hasProcesses = true;
  s.hasCpuPressure = s.hasMemoryPressure = s.hasIoPressure = s.hasSpec = true;
  s.cpu = {2'500'000'000, 2'000'000'000, 500'000'000, 57, 31, 1'261'045'000, 2, 15'000'000, true, true, true};
  MemoryUsage& m = s.memory;
  m.usageBytes = 4'694'016;
  m.maxUsageBytes = 9'437'184;
  m.hasMaxUsage = true;
  m.cacheBytes = 3'170'304;
  m.rssBytes = 1'048'576;
  m.mappedFileBytes = 1'052'672;
  m.swapBytes = 4096;
  m.hasSwap = true;
  m.activeFileBytes = 995'328;
  m.inactiveFileBytes = 2'174'976;
  m.dirtyBytes = 4096;
  m.pgfault = 2730;
  m.pgmajfault = 1;
  m.workingsetRefaultFile = 12;
  m.pgscan = 145;
  m.pgsteal = 121;
  m.hasScanSteal = true;
  m.oomKills = 2;
  m.hasOomKills = true;
  m.eventsHigh = 12;
  m.eventsMax = 40;
  m.hasEvents = true;
  s.pidsCurrent = 5;
  s.processes = 2;
  s.cpuPressure.some.totalUs = 1'261'045;
  s.cpuPressure.full.totalUs = 845'770;
  s.cpuPressure.hasFull = true;
  s.memoryPressure.some.totalUs = 23'041;
  s.memoryPressure.hasFull = false;
  s.ioPressure.some.totalUs = 4'113;
  s.ioPressure.full.totalUs = 4'001;
  s.ioPressure.hasFull = true;
  s.spec.hasCpu = true;
  s.spec.cpuQuotaUs = 50000;
  s.spec.cpuPeriodUs = 100000;
  s.spec.cpuShares = 2597;
  s.spec.hasMemory = true;
  s.spec.memoryLimit = 64 << 20;
  s.spec.memorySwapLimit = kUnlimited;
  s.spec.hasSwapLimit = true;
  s.spec.memoryReservation = 0;
  s.spec.hasPids = true;
  s.spec.pidsMax = 64;
  IoDeviceUsage io;
  io.major = 8;
  io.minor = 0;
  io.readBytes = 90430464;
  io.writeBytes = 299008000;
  io.readOps = 8950;
  io.writeOps = 1252;
  io.hasCost = true;
  io.costUsageUs = 1'204;
  s.ioBegin = static_cast<uint32_t>(snap.io.size());
  s.ioCount = 1;
  snap.io.push_back(io);
  auto names = std::make_shared<DeviceNameMap>();
  (*names)[{8, 0}] = "/dev/sda";
  snap.deviceNames = names;
  return s;
}

Snapshot oneTargetSnapshot() {
  Snapshot snap;
  snap.mode = CgroupMode::V2;
  snap.time = 1700000100.5;
  snap.stats.ticks = 42;
  snap.stats.errorsTotal = 3;
  snap.stats.filesRead = 13;
  snap.stats.filesOpened = 5;
  snap.stats.heldFiles = 40;
  snap.stats.descriptorBudget = 10000;
  snap.stats.durationSeconds = 0.004;
  snap.stats.cpuSeconds = 0.002;
  snap.targets.push_back(fullSample(snap));
  return snap;
}

std::vector<MetricFamily> collect(const Snapshot& snap, const ExporterOptions& o = {}) {
  return SnapshotExporter::families(snap, o, snap.time + 1, 7);
}

TEST(SnapshotExporterTest, CpuSeriesInSecondsWithCpuTotal) {
  auto fams = collect(oneTargetSnapshot());
  EXPECT_EQ(typeOf(fams, "container_cpu_usage_seconds_total"), MetricType::Counter);
  EXPECT_DOUBLE_EQ(value(fams, "container_cpu_usage_seconds_total", {{"cpu", "total"}, {"id", "/cgwarden/web"}}), 2.5);
  EXPECT_DOUBLE_EQ(value(fams, "container_cpu_user_seconds_total"), 2.0);
  EXPECT_DOUBLE_EQ(value(fams, "container_cpu_system_seconds_total"), 0.5);
  EXPECT_DOUBLE_EQ(value(fams, "container_cpu_cfs_periods_total"), 57);
  EXPECT_DOUBLE_EQ(value(fams, "container_cpu_cfs_throttled_periods_total"), 31);
  EXPECT_DOUBLE_EQ(value(fams, "container_cpu_cfs_throttled_seconds_total"), 1.261045);
  EXPECT_DOUBLE_EQ(value(fams, "container_cpu_cfs_burst_periods_total"), 2);
  EXPECT_DOUBLE_EQ(value(fams, "container_cpu_cfs_burst_seconds_total"), 0.015);
  for (const char* c : {"container_cpu_cfs_periods_total", "container_cpu_cfs_throttled_periods_total",
                        "container_cpu_cfs_throttled_seconds_total", "container_cpu_user_seconds_total"}) {
    EXPECT_EQ(typeOf(fams, c), MetricType::Counter) << c;
  }
}

TEST(SnapshotExporterTest, ThrottlingSeriesOnlyWithAQuota) {
  Snapshot snap = oneTargetSnapshot();
  snap.targets[0].spec.cpuQuotaUs = kUnlimited;
  auto fams = collect(snap);
  for (const char* name : {"container_cpu_cfs_periods_total", "container_cpu_cfs_throttled_periods_total",
                           "container_cpu_cfs_throttled_seconds_total", "container_cpu_cfs_burst_periods_total",
                           "container_spec_cpu_quota"}) {
    EXPECT_EQ(family(fams, name), nullptr) << name << " without a quota";
  }
  EXPECT_NE(family(fams, "container_cpu_usage_seconds_total"), nullptr);
  EXPECT_DOUBLE_EQ(value(fams, "container_spec_cpu_period"), 100000);
  // Quota set but the limits not read yet: no throttling series either.
  snap = oneTargetSnapshot();
  snap.targets[0].hasSpec = false;
  fams = collect(snap);
  EXPECT_EQ(family(fams, "container_cpu_cfs_periods_total"), nullptr);
}

TEST(SnapshotExporterTest, MemorySeries) {
  auto fams = collect(oneTargetSnapshot());
  EXPECT_DOUBLE_EQ(value(fams, "container_memory_usage_bytes"), 4694016);
  EXPECT_DOUBLE_EQ(value(fams, "container_memory_working_set_bytes"), 4694016 - 2174976);
  EXPECT_DOUBLE_EQ(value(fams, "container_memory_rss"), 1048576);
  EXPECT_DOUBLE_EQ(value(fams, "container_memory_cache"), 3170304);
  EXPECT_DOUBLE_EQ(value(fams, "container_memory_mapped_file"), 1052672);
  EXPECT_DOUBLE_EQ(value(fams, "container_memory_swap"), 4096);
  EXPECT_DOUBLE_EQ(value(fams, "container_memory_max_usage_bytes"), 9437184);
  EXPECT_DOUBLE_EQ(value(fams, "container_memory_total_active_file_bytes"), 995328);
  EXPECT_DOUBLE_EQ(value(fams, "container_memory_total_inactive_file_bytes"), 2174976);
  EXPECT_DOUBLE_EQ(value(fams, "container_memory_file_dirty_bytes"), 4096);
  EXPECT_DOUBLE_EQ(value(fams, "container_memory_pgscan_total"), 145);
  EXPECT_DOUBLE_EQ(value(fams, "container_memory_pgsteal_total"), 121);
  EXPECT_DOUBLE_EQ(value(fams, "container_memory_workingset_refault_file_total"), 12);
  EXPECT_DOUBLE_EQ(value(fams, "container_memory_events_high_total"), 12);
  EXPECT_DOUBLE_EQ(value(fams, "container_memory_events_max_total"), 40);
  for (const char* scope : {"container", "hierarchy"}) {
    EXPECT_DOUBLE_EQ(value(fams, "container_memory_failures_total", {{"failure_type", "pgfault"}, {"scope", scope}}), 2730);
    EXPECT_DOUBLE_EQ(value(fams, "container_memory_failures_total", {{"failure_type", "pgmajfault"}, {"scope", scope}}), 1);
  }
  EXPECT_EQ(typeOf(fams, "container_memory_usage_bytes"), MetricType::Gauge);
  EXPECT_EQ(typeOf(fams, "container_memory_failures_total"), MetricType::Counter);
  EXPECT_EQ(family(fams, "container_memory_failcnt"), nullptr) << "v2 has no failcnt: left out, not 0";
}

TEST(SnapshotExporterTest, WorkingSetIsFlooredAtZero) {
  Snapshot snap = oneTargetSnapshot();
  snap.targets[0].memory.usageBytes = 1000;
  snap.targets[0].memory.inactiveFileBytes = 5000;
  EXPECT_DOUBLE_EQ(value(collect(snap), "container_memory_working_set_bytes"), 0);
}

TEST(SnapshotExporterTest, V1OnlySeries) {
  Snapshot snap = oneTargetSnapshot();
  MemoryUsage& m = snap.targets[0].memory;
  m.hasEvents = false;
  m.hasScanSteal = false;
  m.failcnt = 9;
  m.hasFailcnt = true;
  auto fams = collect(snap);
  EXPECT_DOUBLE_EQ(value(fams, "container_memory_failcnt"), 9);
  EXPECT_EQ(typeOf(fams, "container_memory_failcnt"), MetricType::Gauge) << "resettable, and promtool wants _total on counters";
  EXPECT_EQ(family(fams, "container_memory_events_high_total"), nullptr);
  EXPECT_EQ(family(fams, "container_memory_pgscan_total"), nullptr);
}

TEST(SnapshotExporterTest, OomEventsFromTheKernelCounter) {
  auto fams = collect(oneTargetSnapshot());
  EXPECT_EQ(typeOf(fams, "container_oom_events_total"), MetricType::Counter);
  EXPECT_DOUBLE_EQ(value(fams, "container_oom_events_total", {{"name", "web"}}), 2);
}

TEST(SnapshotExporterTest, SpecSeriesAndTheUnlimitedRule) {
  auto fams = collect(oneTargetSnapshot());
  EXPECT_DOUBLE_EQ(value(fams, "container_spec_cpu_quota"), 50000);
  EXPECT_DOUBLE_EQ(value(fams, "container_spec_cpu_period"), 100000);
  EXPECT_DOUBLE_EQ(value(fams, "container_spec_cpu_shares"), 2597);
  EXPECT_DOUBLE_EQ(value(fams, "container_spec_memory_limit_bytes"), 64 << 20);
  EXPECT_DOUBLE_EQ(value(fams, "container_spec_memory_swap_limit_bytes"), 0) << "unlimited -> 0";
  EXPECT_DOUBLE_EQ(value(fams, "container_spec_memory_reservation_limit_bytes"), 0);
  EXPECT_DOUBLE_EQ(value(fams, "container_threads_max"), 64);

  Snapshot snap = oneTargetSnapshot();
  snap.targets[0].spec.memoryLimit = kUnlimited;
  snap.targets[0].spec.memoryReservation = 9223372036854771712ULL;  // v1's page-rounded LONG_MAX
  snap.targets[0].spec.pidsMax = kUnlimited;
  fams = collect(snap);
  EXPECT_DOUBLE_EQ(value(fams, "container_spec_memory_limit_bytes"), 0);
  EXPECT_DOUBLE_EQ(value(fams, "container_spec_memory_reservation_limit_bytes"), 0);
  EXPECT_DOUBLE_EQ(value(fams, "container_threads_max"), 0) << "cAdvisor: 0 = unlimited";
  for (const char* g : {"container_spec_cpu_period", "container_spec_memory_limit_bytes", "container_threads_max"}) {
    EXPECT_EQ(typeOf(fams, g), MetricType::Gauge) << g;
  }
}

TEST(SnapshotExporterTest, BlockIoPerDeviceWithName) {
  auto fams = collect(oneTargetSnapshot());
  EXPECT_DOUBLE_EQ(value(fams, "container_fs_reads_bytes_total", {{"device", "/dev/sda"}}), 90430464);
  EXPECT_DOUBLE_EQ(value(fams, "container_fs_writes_bytes_total", {{"device", "/dev/sda"}}), 299008000);
  EXPECT_DOUBLE_EQ(value(fams, "container_fs_reads_total", {{"device", "/dev/sda"}}), 8950);
  EXPECT_DOUBLE_EQ(value(fams, "container_fs_writes_total", {{"device", "/dev/sda"}}), 1252);
  EXPECT_DOUBLE_EQ(value(fams, "container_fs_io_cost_usage_seconds_total", {{"device", "/dev/sda"}}), 0.001204);
  EXPECT_DOUBLE_EQ(value(fams, "container_blkio_device_usage_total",
                         {{"device", "/dev/sda"}, {"major", "8"}, {"minor", "0"}, {"operation", "Read"}}),
                   90430464);
  EXPECT_DOUBLE_EQ(value(fams, "container_blkio_device_usage_total", {{"operation", "Write"}}), 299008000);
  EXPECT_EQ(typeOf(fams, "container_fs_reads_bytes_total"), MetricType::Counter);
}

TEST(SnapshotExporterTest, TasksAndPressureInSeconds) {
  auto fams = collect(oneTargetSnapshot());
  EXPECT_DOUBLE_EQ(value(fams, "container_threads"), 5);
  EXPECT_DOUBLE_EQ(value(fams, "container_processes"), 2);
  EXPECT_DOUBLE_EQ(value(fams, "container_pressure_cpu_waiting_seconds_total"), 1.261045);
  EXPECT_DOUBLE_EQ(value(fams, "container_pressure_cpu_stalled_seconds_total"), 0.84577);
  EXPECT_DOUBLE_EQ(value(fams, "container_pressure_memory_waiting_seconds_total"), 0.023041);
  EXPECT_EQ(family(fams, "container_pressure_memory_stalled_seconds_total"), nullptr) << "no full line";
  EXPECT_DOUBLE_EQ(value(fams, "container_pressure_io_stalled_seconds_total"), 0.004001);
  EXPECT_EQ(typeOf(fams, "container_pressure_io_waiting_seconds_total"), MetricType::Counter);
}

TEST(SnapshotExporterTest, StartTimeAndLastSeen) {
  auto fams = collect(oneTargetSnapshot());
  EXPECT_DOUBLE_EQ(value(fams, "container_start_time_seconds"), 1700000000);
  EXPECT_DOUBLE_EQ(value(fams, "container_last_seen"), 1700000100);
}

TEST(SnapshotExporterTest, LabelsIdNameImageAndSanitisedWorkloadLabels) {
  auto fams = collect(oneTargetSnapshot());
  const ClientMetric* m = series(fams, "container_memory_usage_bytes");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(labelOf(*m, "id"), "/cgwarden/web");
  EXPECT_EQ(labelOf(*m, "name"), "web");
  EXPECT_EQ(labelOf(*m, "image"), "registry.local/web:1.2");
  EXPECT_EQ(labelOf(*m, "container_label_team"), "payments");
  EXPECT_EQ(labelOf(*m, "container_label_app_kubernetes_io_name"), "web");
  EXPECT_EQ(labelOf(*m, "namespace"), "<none>") << "kubelet labels are opt-in";
  EXPECT_EQ(m->timestamp_ms, 0) << "no explicit timestamps by default";
}

TEST(SnapshotExporterTest, LabelAllowlist) {
  ExporterOptions o;
  o.labelAllowlist = std::vector<std::string>{"team"};
  auto fams = collect(oneTargetSnapshot(), o);
  const ClientMetric* m = series(fams, "container_memory_usage_bytes");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(labelOf(*m, "container_label_team"), "payments");
  EXPECT_EQ(labelOf(*m, "container_label_app_kubernetes_io_name"), "<none>");
  o.labelAllowlist = std::vector<std::string>{};
  fams = collect(oneTargetSnapshot(), o);
  m = series(fams, "container_memory_usage_bytes");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->label.size(), 3u) << "id, image, name only";
}

TEST(SnapshotExporterTest, KubeletStyleLabels) {
  ExporterOptions o;
  o.kubeletLabels = true;
  Snapshot snap = oneTargetSnapshot();
  auto target = std::make_shared<SampleTarget>(*snap.targets[0].target);
  target->labels["io.kubernetes.pod.namespace"] = "shop";
  target->labels["pod"] = "web-7d9f";
  snap.targets[0].target = target;
  auto fams = collect(snap, o);
  const ClientMetric* m = series(fams, "container_cpu_usage_seconds_total");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(labelOf(*m, "namespace"), "shop");
  EXPECT_EQ(labelOf(*m, "pod"), "web-7d9f");
  EXPECT_EQ(labelOf(*m, "container"), "web") << "defaults to the workload name";
}

TEST(SnapshotExporterTest, ExplicitTimestampsWhenAsked) {
  ExporterOptions o;
  o.timestamps = true;
  auto fams = collect(oneTargetSnapshot(), o);
  const ClientMetric* m = series(fams, "container_memory_rss");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->timestamp_ms, 1700000100750);
}

TEST(SnapshotExporterTest, WorkloadStateOneSeriesPerState) {
  auto fams = collect(oneTargetSnapshot());
  const MetricFamily* f = family(fams, "cgwarden_workload_state");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->metric.size(), 8u);
  double ones = 0;
  for (const auto& m : f->metric) ones += m.gauge.value;
  EXPECT_DOUBLE_EQ(ones, 1);
  EXPECT_DOUBLE_EQ(value(fams, "cgwarden_workload_state", {{"state", "running"}, {"name", "web"}}), 1);
  EXPECT_DOUBLE_EQ(value(fams, "cgwarden_workload_state", {{"state", "failed"}}), 0);
  EXPECT_DOUBLE_EQ(value(fams, "cgwarden_workload_restarts_total"), 3);
  EXPECT_EQ(typeOf(fams, "cgwarden_workload_restarts_total"), MetricType::Counter);
  EXPECT_DOUBLE_EQ(value(fams, "cgwarden_workload_last_exit_code"), 137);
}

TEST(SnapshotExporterTest, ConfiguredLimits) {
  auto fams = collect(oneTargetSnapshot());
  EXPECT_DOUBLE_EQ(value(fams, "cgwarden_limit_cpu_cores", {{"name", "web"}}), 0.5);
  EXPECT_DOUBLE_EQ(value(fams, "cgwarden_limit_cpu_weight"), 200);
  EXPECT_DOUBLE_EQ(value(fams, "cgwarden_limit_memory_max_bytes"), 64 << 20);
  EXPECT_DOUBLE_EQ(value(fams, "cgwarden_limit_memory_high_bytes"), 48 << 20);
  EXPECT_EQ(family(fams, "cgwarden_limit_memory_swap_max_bytes"), nullptr) << "unlimited: no series";
  EXPECT_EQ(family(fams, "cgwarden_limit_memory_low_bytes"), nullptr) << "not configured";
  EXPECT_DOUBLE_EQ(value(fams, "cgwarden_limit_pids_max"), 64);
  EXPECT_DOUBLE_EQ(value(fams, "cgwarden_limit_io_weight"), 100);
  EXPECT_DOUBLE_EQ(value(fams, "cgwarden_limit_io_bytes_per_second", {{"device", "/dev/sda"}, {"direction", "read"}}),
                   10 << 20);
  EXPECT_DOUBLE_EQ(value(fams, "cgwarden_limit_io_operations_per_second", {{"direction", "write"}}), 500);
  EXPECT_EQ(series(fams, "cgwarden_limit_io_operations_per_second")->label.size(), 4u) << "id, name, device, direction";
}

TEST(SnapshotExporterTest, ObservedCgroupsHaveNoWorkloadSeries) {
  Snapshot snap = oneTargetSnapshot();
  auto target = std::make_shared<SampleTarget>(*snap.targets[0].target);
  target->managed = false;
  snap.targets[0].target = target;
  auto fams = collect(snap);
  for (const char* name : {"cgwarden_workload_state", "cgwarden_workload_restarts_total", "cgwarden_limit_cpu_cores"}) {
    EXPECT_EQ(family(fams, name), nullptr) << name;
  }
  EXPECT_NE(family(fams, "container_cpu_usage_seconds_total"), nullptr);
}

TEST(SnapshotExporterTest, AgentSeries) {
  auto fams = collect(oneTargetSnapshot());
  EXPECT_DOUBLE_EQ(value(fams, "cgwarden_build_info", {{"cgroup_mode", "v2"}}), 1);
  EXPECT_DOUBLE_EQ(value(fams, "cgwarden_sample_duration_seconds"), 0.004);
  EXPECT_DOUBLE_EQ(value(fams, "cgwarden_sample_cpu_seconds"), 0.002);
  EXPECT_DOUBLE_EQ(value(fams, "cgwarden_sample_ticks_total"), 42);
  EXPECT_DOUBLE_EQ(value(fams, "cgwarden_sample_errors_total"), 3);
  EXPECT_DOUBLE_EQ(value(fams, "cgwarden_sample_targets"), 1);
  EXPECT_DOUBLE_EQ(value(fams, "cgwarden_sample_files_read"), 13);
  EXPECT_DOUBLE_EQ(value(fams, "cgwarden_sample_files_opened"), 5);
  EXPECT_DOUBLE_EQ(value(fams, "cgwarden_sample_descriptors_held"), 40);
  EXPECT_DOUBLE_EQ(value(fams, "cgwarden_sample_descriptor_budget"), 10000);
  EXPECT_DOUBLE_EQ(value(fams, "cgwarden_snapshot_age_seconds"), 1);
  EXPECT_DOUBLE_EQ(value(fams, "cgwarden_scrapes_total"), 7);
  EXPECT_DOUBLE_EQ(value(fams, "container_scrape_error"), 0);
  EXPECT_EQ(series(fams, "cgwarden_sample_errors_total")->label.size(), 0u);
}

TEST(SnapshotExporterTest, CollectCountsScrapesAndServesTheLatestSnapshot) {
  auto snap = std::make_shared<Snapshot>(oneTargetSnapshot());
  SnapshotExporter exporter([snap] { return snap; }, ExporterOptions{});
  exporter.Collect();
  auto fams = exporter.Collect();
  EXPECT_EQ(exporter.scrapes(), 2u);
  EXPECT_DOUBLE_EQ(value(fams, "cgwarden_scrapes_total"), 2);
  EXPECT_NE(family(fams, "container_memory_rss"), nullptr);
}

// What promtool check metrics lints, checked on every family we can emit.
TEST(SnapshotExporterTest, EveryFamilyHasHelpAndCountersEndInTotal) {
  Snapshot snap = oneTargetSnapshot();
  snap.targets[0].memory.hasFailcnt = true;
  auto fams = collect(snap);
  EXPECT_GE(fams.size(), 70u);
  std::set<std::string> names;
  for (const auto& f : fams) {
    EXPECT_FALSE(f.help.empty()) << f.name;
    EXPECT_TRUE(names.insert(f.name).second) << "duplicate family " << f.name;
    EXPECT_FALSE(f.metric.empty()) << "empty family " << f.name;
    if (f.type == MetricType::Counter) {
      EXPECT_TRUE(f.name.size() > 6 && f.name.compare(f.name.size() - 6, 6, "_total") == 0) << f.name;
    }
  }
  std::ostringstream text;
  prometheus::TextSerializer().Serialize(text, fams);
  EXPECT_NE(text.str().find("# TYPE container_cpu_usage_seconds_total counter"), std::string::npos);
}

std::string viaTextSerializer(const std::vector<MetricFamily>& fams) {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, fams);
  return out.str();
}

std::string viaWriteText(const Snapshot& snap, const ExporterOptions& o, size_t* pieces = nullptr) {
  std::string text;
  size_t n = 0;
  EXPECT_TRUE(SnapshotExporter::writeText(snap, o, snap.time + 1, 7, [&](std::string_view piece) {
    text.append(piece);
    ++n;
    return true;
  }));
  if (pieces != nullptr) *pieces = n;
  return text;
}

// /metrics streams writeText(); it must be byte for byte what TextSerializer writes for Collect().
TEST(SnapshotExporterTest, WriteTextIsByteIdenticalToTextSerializer) {
  Snapshot snap = oneTargetSnapshot();
  // A second, observed target with awkward label values and awkward numbers.
  TargetSample odd = fullSample(snap);
  auto t = std::make_shared<SampleTarget>(*odd.target);
  t->id = "/system.slice/odd\\\"quoted\".service";
  t->name = "line\nbreak";
  t->image = "";
  t->managed = false;
  t->labels = {{"a-b.c", "x\"y"}, {"empty", ""}};
  odd.target = t;
  odd.cpu.usageNs = 1;                     // 1e-09 s
  odd.cpu.systemNs = 123456789012345678;   // 1.234567890123457e+08 s
  odd.memory.usageBytes = 1ULL << 62;      // 4.611686018427388e+18
  odd.memory.cacheBytes = 999999999999999; // the largest integer printed as such
  odd.spec.memoryLimit = 9223372036854771712ULL;
  odd.sampleTime = 1700000100.333;
  odd.startTime = 0.5;
  snap.targets.push_back(odd);
  snap.stats.durationSeconds = 0.1 + 0.2;  // 0.30000000000000004 at 17 digits
  snap.stats.cpuSeconds = 1.0 / 3.0;

  for (int variant = 0; variant < 4; ++variant) {
    ExporterOptions o;
    o.timestamps = variant & 1;
    o.kubeletLabels = variant & 2;
    if (variant == 3) o.labelAllowlist = std::vector<std::string>{"a-b.c"};
    std::string expected = viaTextSerializer(SnapshotExporter::families(snap, o, snap.time + 1, 7));
    size_t pieces = 0;
    std::string actual = viaWriteText(snap, o, &pieces);
    EXPECT_EQ(actual, expected) << "variant " << variant;
    EXPECT_GE(pieces, 1u);
  }
  EXPECT_NE(viaWriteText(snap, {}).find("1e-09"), std::string::npos);
  EXPECT_NE(viaWriteText(snap, {}).find(R"(id="/system.slice/odd\\\"quoted\".service")"), std::string::npos);
}

TEST(SnapshotExporterTest, WriteTextStreamsInPiecesAndStopsWhenTheSinkDoes) {
  Snapshot snap;
  snap.stats.ticks = 1;
  for (int i = 0; i < 300; ++i) {
    TargetSample s = fullSample(snap);
    auto t = std::make_shared<SampleTarget>(*s.target);
    t->id = "/cgwarden/w" + std::to_string(1000 + i);
    s.target = t;
    snap.targets.push_back(s);
  }
  size_t pieces = 0;
  std::string all = viaWriteText(snap, {}, &pieces);
  EXPECT_GT(all.size(), 1000000u);
  EXPECT_GT(pieces, 10u) << "a 1 MB scrape is not held in one piece";
  EXPECT_EQ(all, viaTextSerializer(SnapshotExporter::families(snap, {}, snap.time + 1, 7)));
  size_t calls = 0;
  EXPECT_FALSE(SnapshotExporter::writeText(snap, {}, 0, 1, [&](std::string_view) { return ++calls < 2; }));
  EXPECT_EQ(calls, 2u) << "no more pieces after the sink said stop";
}

// A cgroup that vanished between two ticks is not in the next scrape (temp tree).
TEST(SnapshotExporterTest, VanishedTargetDisappearsFromTheNextScrape) {
  testing::HybridTree h;
  std::vector<SampleTarget> targets = {h.addCgroup("stays"), h.addCgroup("goes")};
  SamplerOptions o = testing::optionsFor(h.tree);
  o.maxOpenFiles = 0;
  Sampler sampler(h.layout, [&] { return targets; }, o);
  SnapshotExporter exporter([&] { return sampler.latest(); }, ExporterOptions{});
  sampler.tick();
  auto before = exporter.Collect();
  EXPECT_EQ(family(before, "container_memory_usage_bytes")->metric.size(), 2u);
  for (const char* c : {"cpu", "cpuacct", "memory", "blkio", "pids", "unified"}) {
    std::filesystem::remove_all(h.tree.path(std::string(c) + "/goes"));
  }
  sampler.tick();
  auto after = exporter.Collect();
  for (const auto& f : after) {
    for (const auto& m : f.metric) EXPECT_NE(labelOf(m, "id"), "/goes") << f.name;
  }
  EXPECT_EQ(family(after, "container_memory_usage_bytes")->metric.size(), 1u);
  EXPECT_DOUBLE_EQ(value(after, "cgwarden_sample_errors_total"), 0);
}

}  // namespace
}  // namespace cgwarden::collectors
