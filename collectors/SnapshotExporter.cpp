#include "collectors/SnapshotExporter.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include <prometheus/metric_type.h>

#include "collectors/CgroupLayout.h"

namespace cgwarden::collectors {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

namespace {

enum Fam : uint16_t {
  // cAdvisor
  kCpuUsage,
  kCpuUser,
  kCpuSystem,
  kCfsPeriods,
  kCfsThrottledPeriods,
  kCfsThrottledSeconds,
  kCfsBurstPeriods,
  kCfsBurstSeconds,
  kMemUsage,
  kMemWorkingSet,
  kMemRss,
  kMemCache,
  kMemMappedFile,
  kMemSwap,
  kMemMaxUsage,
  kMemFailcnt,
  kMemActiveFile,
  kMemInactiveFile,
  kMemFileDirty,
  kMemFileWriteback,
  kMemFailures,
  kMemRefaultFile,
  kMemRefaultAnon,
  kMemPgscan,
  kMemPgsteal,
  kMemEventsHigh,
  kMemEventsMax,
  kOomEvents,
  kFsReadsBytes,
  kFsWritesBytes,
  kFsReads,
  kFsWrites,
  kFsCostUsage,
  kFsCostWait,
  kFsCostIndebt,
  kFsCostIndelay,
  kBlkioDeviceUsage,
  kThreads,
  kThreadsMax,
  kProcesses,
  kPsiCpuWaiting,
  kPsiCpuStalled,
  kPsiMemWaiting,
  kPsiMemStalled,
  kPsiIoWaiting,
  kPsiIoStalled,
  kSpecCpuPeriod,
  kSpecCpuQuota,
  kSpecCpuShares,
  kSpecMemLimit,
  kSpecMemSwapLimit,
  kSpecMemReservation,
  kStartTime,
  kLastSeen,
  kScrapeError,
  // cgwarden
  kWorkloadState,
  kWorkloadRestarts,
  kWorkloadLastExitCode,
  kLimitCpuCores,
  kLimitCpuWeight,
  kLimitMemMax,
  kLimitMemHigh,
  kLimitMemLow,
  kLimitMemSwapMax,
  kLimitPidsMax,
  kLimitIoWeight,
  kLimitIoBytes,
  kLimitIoOps,
  kBuildInfo,
  kSampleDuration,
  kSampleCpu,
  kSampleTicks,
  kSampleErrors,
  kSampleTargets,
  kSnapshotAge,
  kScrapes,
  kFamCount
};

struct FamSpec {
  const char* name;
  const char* help;
  MetricType type;
};

constexpr MetricType C = MetricType::Counter;
constexpr MetricType G = MetricType::Gauge;

// clang-format off
constexpr FamSpec kFams[kFamCount] = {
    {"container_cpu_usage_seconds_total", "Cumulative cpu time consumed in seconds.", C},
    {"container_cpu_user_seconds_total", "Cumulative user cpu time consumed in seconds.", C},
    {"container_cpu_system_seconds_total", "Cumulative system cpu time consumed in seconds.", C},
    {"container_cpu_cfs_periods_total", "Number of elapsed enforcement period intervals.", C},
    {"container_cpu_cfs_throttled_periods_total", "Number of throttled period intervals.", C},
    {"container_cpu_cfs_throttled_seconds_total", "Total time duration the container has been throttled.", C},
    {"container_cpu_cfs_burst_periods_total", "Number of periods when burst occurs.", C},
    {"container_cpu_cfs_burst_seconds_total", "Total time duration the container has been bursted.", C},
    {"container_memory_usage_bytes", "Current memory usage in bytes, including all memory regardless of when it was accessed.", G},
    {"container_memory_working_set_bytes", "Current working set in bytes.", G},
    {"container_memory_rss", "Size of RSS in bytes.", G},
    {"container_memory_cache", "Number of bytes of page cache memory.", G},
    {"container_memory_mapped_file", "Size of memory mapped files in bytes.", G},
    {"container_memory_swap", "Container swap usage in bytes.", G},
    {"container_memory_max_usage_bytes", "Maximum memory usage recorded in bytes.", G},
    {"container_memory_failcnt", "Number of memory usage hits limits (v1 memory.failcnt; resettable, hence a gauge).", G},
    {"container_memory_total_active_file_bytes", "Current total active file in bytes.", G},
    {"container_memory_total_inactive_file_bytes", "Current total inactive file in bytes.", G},
    {"container_memory_file_dirty_bytes", "Size of dirty page cache in bytes.", G},
    {"container_memory_file_writeback_bytes", "Size of page cache under writeback in bytes.", G},
    {"container_memory_failures_total", "Cumulative count of memory allocation failures.", C},
    {"container_memory_workingset_refault_file_total", "Number of refaults of previously evicted file pages.", C},
    {"container_memory_workingset_refault_anon_total", "Number of refaults of previously evicted anonymous pages.", C},
    {"container_memory_pgscan_total", "Number of pages scanned by reclaim.", C},
    {"container_memory_pgsteal_total", "Number of pages reclaimed.", C},
    {"container_memory_events_high_total", "Number of times the high memory boundary was exceeded (memory.events high).", C},
    {"container_memory_events_max_total", "Number of times usage was about to go over the max boundary (memory.events max).", C},
    {"container_oom_events_total", "Count of out of memory kills in the container (kernel oom_kill counter).", C},
    {"container_fs_reads_bytes_total", "Cumulative count of bytes read.", C},
    {"container_fs_writes_bytes_total", "Cumulative count of bytes written.", C},
    {"container_fs_reads_total", "Cumulative count of reads completed.", C},
    {"container_fs_writes_total", "Cumulative count of writes completed.", C},
    {"container_fs_io_cost_usage_seconds_total", "Cumulative IOCost usage in seconds.", C},
    {"container_fs_io_cost_wait_seconds_total", "Cumulative IOCost wait in seconds.", C},
    {"container_fs_io_cost_indebt_seconds_total", "Cumulative IOCost debt in seconds.", C},
    {"container_fs_io_cost_indelay_seconds_total", "Cumulative IOCost delay in seconds.", C},
    {"container_blkio_device_usage_total", "Blkio device bytes usage.", C},
    {"container_threads", "Number of threads running inside the container.", G},
    {"container_threads_max", "Maximum number of threads allowed inside the container, infinity if value is zero.", G},
    {"container_processes", "Number of processes running inside the container.", G},
    {"container_pressure_cpu_waiting_seconds_total", "Total time duration tasks in the container have waited due to CPU congestion.", C},
    {"container_pressure_cpu_stalled_seconds_total", "Total time duration no tasks in the container could make progress due to CPU congestion.", C},
    {"container_pressure_memory_waiting_seconds_total", "Total time duration tasks in the container have waited due to memory congestion.", C},
    {"container_pressure_memory_stalled_seconds_total", "Total time duration no tasks in the container could make progress due to memory congestion.", C},
    {"container_pressure_io_waiting_seconds_total", "Total time duration tasks in the container have waited due to IO congestion.", C},
    {"container_pressure_io_stalled_seconds_total", "Total time duration no tasks in the container could make progress due to IO congestion.", C},
    {"container_spec_cpu_period", "CPU period of the container.", G},
    {"container_spec_cpu_quota", "CPU quota of the container.", G},
    {"container_spec_cpu_shares", "CPU share of the container.", G},
    {"container_spec_memory_limit_bytes", "Memory limit for the container.", G},
    {"container_spec_memory_swap_limit_bytes", "Memory swap limit for the container.", G},
    {"container_spec_memory_reservation_limit_bytes", "Memory reservation limit for the container.", G},
    {"container_start_time_seconds", "Start time of the container since unix epoch in seconds.", G},
    {"container_last_seen", "Last time a container was seen by the exporter", G},
    {"container_scrape_error", "1 if there was an error while getting container metrics, 0 otherwise", G},
    {"cgwarden_workload_state", "Workload state: 1 for the current state, 0 for the others.", G},
    {"cgwarden_workload_restarts_total", "Restarts of the workload by the supervisor.", C},
    {"cgwarden_workload_last_exit_code", "Exit status of the workload's last run (128+signal when killed).", G},
    {"cgwarden_limit_cpu_cores", "Configured CPU limit in cores (quota / period).", G},
    {"cgwarden_limit_cpu_weight", "Configured CPU weight (1..10000).", G},
    {"cgwarden_limit_memory_max_bytes", "Configured hard memory limit in bytes.", G},
    {"cgwarden_limit_memory_high_bytes", "Configured memory throttle point in bytes.", G},
    {"cgwarden_limit_memory_low_bytes", "Configured memory protection in bytes.", G},
    {"cgwarden_limit_memory_swap_max_bytes", "Configured swap limit in bytes (swap only).", G},
    {"cgwarden_limit_pids_max", "Configured maximum number of tasks.", G},
    {"cgwarden_limit_io_weight", "Configured IO weight (1..10000).", G},
    {"cgwarden_limit_io_bytes_per_second", "Configured per-device IO bandwidth limit.", G},
    {"cgwarden_limit_io_operations_per_second", "Configured per-device IO operations limit.", G},
    {"cgwarden_build_info", "cgwarden build and host information.", G},
    {"cgwarden_sample_duration_seconds", "Wall time of the last sampling tick.", G},
    {"cgwarden_sample_cpu_seconds", "CPU time (user + system) of the last sampling tick.", G},
    {"cgwarden_sample_ticks_total", "Sampling ticks completed.", C},
    {"cgwarden_sample_errors_total", "Read or parse failures while sampling (vanished cgroups excluded).", C},
    {"cgwarden_sample_targets", "Cgroups in the last snapshot.", G},
    {"cgwarden_snapshot_age_seconds", "Age of the snapshot served by this scrape.", G},
    {"cgwarden_scrapes_total", "Scrapes served.", C},
};
// clang-format on

const char* const kStates[] = {"starting", "running", "restarting", "exited", "oom_killed", "stopped", "failed", "adopted"};

using Labels = std::vector<ClientMetric::Label>;

const std::string* findLabel(const SampleTarget& t, std::string_view a, std::string_view b) {
  for (std::string_view key : {a, b}) {
    auto it = t.labels.find(std::string(key));
    if (it != t.labels.end()) return &it->second;
  }
  return nullptr;
}

class Builder {
 public:
  Builder(const ExporterOptions& options, size_t targets) : options_(options) {
    for (size_t i = 0; i < kFamCount; ++i) {
      fams_[i].name = kFams[i].name;
      fams_[i].help = kFams[i].help;
      fams_[i].type = kFams[i].type;
    }
    for (Fam f : {kCpuUsage, kMemUsage, kMemWorkingSet, kMemRss, kMemCache, kLastSeen, kSpecMemLimit}) {
      fams_[f].metric.reserve(targets);
    }
  }

  void setTarget(const TargetSample* sample, const Labels* base) {
    sample_ = sample;
    base_ = base;
  }

  ClientMetric& add(Fam f, double value, std::initializer_list<ClientMetric::Label> extra = {}) {
    ClientMetric& m = fams_[f].metric.emplace_back();
    if (base_ != nullptr) {
      m.label.reserve(base_->size() + extra.size());
      m.label = *base_;
    }
    for (const auto& l : extra) m.label.push_back(l);
    if (kFams[f].type == MetricType::Counter) {
      m.counter.value = value;
    } else {
      m.gauge.value = value;
    }
    if (options_.timestamps && sample_ != nullptr) {
      m.timestamp_ms = static_cast<int64_t>(std::llround(sample_->sampleTime * 1000.0));
    }
    return m;
  }

  std::vector<MetricFamily> finish() {
    std::vector<MetricFamily> out;
    out.reserve(kFamCount);
    for (auto& f : fams_) {
      if (!f.metric.empty()) out.push_back(std::move(f));
    }
    return out;
  }

 private:
  const ExporterOptions& options_;
  std::array<MetricFamily, kFamCount> fams_;
  const TargetSample* sample_ = nullptr;
  const Labels* base_ = nullptr;
};

double sec(uint64_t ns) { return static_cast<double>(ns) / 1e9; }
double usec(uint64_t us) { return static_cast<double>(us) / 1e6; }
double num(uint64_t v) { return static_cast<double>(v); }
// cAdvisor reports an unlimited memory spec as 0.
double memSpec(uint64_t v) { return v >= (uint64_t{1} << 62) ? 0.0 : static_cast<double>(v); }

Labels baseLabels(const SampleTarget& t, const ExporterOptions& options) {
  Labels labels;
  labels.reserve(4 + t.labels.size());
  labels.push_back({"id", t.id});
  labels.push_back({"image", t.image});
  labels.push_back({"name", t.name});
  for (const auto& [key, value] : t.labels) {
    if (options.labelAllowlist &&
        std::find(options.labelAllowlist->begin(), options.labelAllowlist->end(), key) == options.labelAllowlist->end()) {
      continue;
    }
    std::string name = "container_label_" + sanitizeLabelName(key);
    bool duplicate = std::any_of(labels.begin(), labels.end(), [&](const auto& l) { return l.name == name; });
    if (!duplicate) labels.push_back({std::move(name), value});
  }
  if (options.kubeletLabels) {
    const std::string* ns = findLabel(t, "io.kubernetes.pod.namespace", "namespace");
    const std::string* pod = findLabel(t, "io.kubernetes.pod.name", "pod");
    const std::string* container = findLabel(t, "io.kubernetes.container.name", "container");
    labels.push_back({"container", container != nullptr ? *container : t.name});
    labels.push_back({"namespace", ns != nullptr ? *ns : std::string()});
    labels.push_back({"pod", pod != nullptr ? *pod : std::string()});
  }
  std::sort(labels.begin(), labels.end());
  return labels;
}

void addContainer(Builder& b, const Snapshot& snap, const TargetSample& s) {
  const CpuUsage& cpu = s.cpu;
  bool quota = s.hasSpec && s.spec.hasCpu && s.spec.cpuQuotaUs != kUnlimited && s.spec.cpuQuotaUs != 0;
  if (s.hasCpu) {
    b.add(kCpuUsage, sec(cpu.usageNs), {{"cpu", "total"}});
    if (cpu.hasUserSystem) {
      b.add(kCpuUser, sec(cpu.userNs));
      b.add(kCpuSystem, sec(cpu.systemNs));
    }
    if (quota && cpu.hasBandwidth) {
      b.add(kCfsPeriods, num(cpu.periods));
      b.add(kCfsThrottledPeriods, num(cpu.throttledPeriods));
      b.add(kCfsThrottledSeconds, sec(cpu.throttledNs));
      if (cpu.hasBurst) {
        b.add(kCfsBurstPeriods, num(cpu.bursts));
        b.add(kCfsBurstSeconds, sec(cpu.burstNs));
      }
    }
  }

  const MemoryUsage& m = s.memory;
  if (s.hasMemory) {
    b.add(kMemUsage, num(m.usageBytes));
    b.add(kMemWorkingSet, num(m.workingSetBytes()));
    b.add(kMemRss, num(m.rssBytes));
    b.add(kMemCache, num(m.cacheBytes));
    b.add(kMemMappedFile, num(m.mappedFileBytes));
    if (m.hasSwap) b.add(kMemSwap, num(m.swapBytes));
    if (m.hasMaxUsage) b.add(kMemMaxUsage, num(m.maxUsageBytes));
    if (m.hasFailcnt) b.add(kMemFailcnt, num(m.failcnt));
    b.add(kMemActiveFile, num(m.activeFileBytes));
    b.add(kMemInactiveFile, num(m.inactiveFileBytes));
    b.add(kMemFileDirty, num(m.dirtyBytes));
    b.add(kMemFileWriteback, num(m.writebackBytes));
    for (const char* scope : {"container", "hierarchy"}) {
      b.add(kMemFailures, num(m.pgfault), {{"failure_type", "pgfault"}, {"scope", scope}});
      b.add(kMemFailures, num(m.pgmajfault), {{"failure_type", "pgmajfault"}, {"scope", scope}});
    }
    b.add(kMemRefaultFile, num(m.workingsetRefaultFile));
    b.add(kMemRefaultAnon, num(m.workingsetRefaultAnon));
    if (m.hasScanSteal) {
      b.add(kMemPgscan, num(m.pgscan));
      b.add(kMemPgsteal, num(m.pgsteal));
    }
    if (m.hasEvents) {
      b.add(kMemEventsHigh, num(m.eventsHigh));
      b.add(kMemEventsMax, num(m.eventsMax));
    }
  }
  if (m.hasOomKills) b.add(kOomEvents, num(m.oomKills));

  if (s.hasIo) {
    for (const IoDeviceUsage& d : snap.ioOf(s)) {
      std::string device = snap.deviceName(d.major, d.minor);
      b.add(kFsReadsBytes, num(d.readBytes), {{"device", device}});
      b.add(kFsWritesBytes, num(d.writeBytes), {{"device", device}});
      b.add(kFsReads, num(d.readOps), {{"device", device}});
      b.add(kFsWrites, num(d.writeOps), {{"device", device}});
      if (d.hasCost) {
        b.add(kFsCostUsage, usec(d.costUsageUs), {{"device", device}});
        b.add(kFsCostWait, usec(d.costWaitUs), {{"device", device}});
        b.add(kFsCostIndebt, usec(d.costIndebtUs), {{"device", device}});
        b.add(kFsCostIndelay, usec(d.costIndelayUs), {{"device", device}});
      }
      std::string major = std::to_string(d.major);
      std::string minor = std::to_string(d.minor);
      b.add(kBlkioDeviceUsage, num(d.readBytes),
            {{"device", device}, {"major", major}, {"minor", minor}, {"operation", "Read"}});
      b.add(kBlkioDeviceUsage, num(d.writeBytes),
            {{"device", device}, {"major", major}, {"minor", minor}, {"operation", "Write"}});
    }
  }

  if (s.hasPids) b.add(kThreads, num(s.pidsCurrent));
  if (s.hasSpec && s.spec.hasPids) b.add(kThreadsMax, s.spec.pidsMax == kUnlimited ? 0.0 : num(s.spec.pidsMax));
  if (s.hasProcesses) b.add(kProcesses, num(s.processes));

  struct Psi {
    bool has;
    const Pressure* p;
    Fam waiting;
    Fam stalled;
  };
  for (const Psi& psi : {Psi{s.hasCpuPressure, &s.cpuPressure, kPsiCpuWaiting, kPsiCpuStalled},
                         Psi{s.hasMemoryPressure, &s.memoryPressure, kPsiMemWaiting, kPsiMemStalled},
                         Psi{s.hasIoPressure, &s.ioPressure, kPsiIoWaiting, kPsiIoStalled}}) {
    if (!psi.has) continue;
    b.add(psi.waiting, usec(psi.p->some.totalUs));
    if (psi.p->hasFull) b.add(psi.stalled, usec(psi.p->full.totalUs));
  }

  if (s.hasSpec) {
    const SpecLimits& spec = s.spec;
    if (spec.hasCpu) {
      if (spec.cpuPeriodUs != 0) b.add(kSpecCpuPeriod, num(spec.cpuPeriodUs));
      if (quota) b.add(kSpecCpuQuota, num(spec.cpuQuotaUs));
      if (spec.cpuShares != 0) b.add(kSpecCpuShares, num(spec.cpuShares));
    }
    if (spec.hasMemory) {
      b.add(kSpecMemLimit, memSpec(spec.memoryLimit));
      b.add(kSpecMemReservation, memSpec(spec.memoryReservation));
      if (spec.hasSwapLimit) b.add(kSpecMemSwapLimit, memSpec(spec.memorySwapLimit));
    }
  }
  if (s.startTime > 0) b.add(kStartTime, s.startTime);
  b.add(kLastSeen, std::floor(s.sampleTime));
}

void addWorkload(Builder& b, const Snapshot& snap, const SampleTarget& t) {
  bool known = false;
  for (const char* state : kStates) {
    bool current = t.state == state;
    known = known || current;
    b.add(kWorkloadState, current ? 1.0 : 0.0, {{"state", state}});
  }
  if (!known && !t.state.empty()) b.add(kWorkloadState, 1.0, {{"state", t.state}});
  b.add(kWorkloadRestarts, num(t.restarts));
  if (t.lastExitCode) b.add(kWorkloadLastExitCode, static_cast<double>(*t.lastExitCode));

  const Limits& l = t.configuredLimits;
  auto limited = [](const std::optional<uint64_t>& v) { return v && *v != kUnlimited; };
  if (limited(l.cpu.quotaUs)) {
    uint64_t period = l.cpu.periodUs.value_or(100000);
    if (period != 0) b.add(kLimitCpuCores, static_cast<double>(*l.cpu.quotaUs) / static_cast<double>(period));
  }
  if (l.cpu.weight) b.add(kLimitCpuWeight, num(*l.cpu.weight));
  if (limited(l.memory.max)) b.add(kLimitMemMax, num(*l.memory.max));
  if (limited(l.memory.high)) b.add(kLimitMemHigh, num(*l.memory.high));
  if (limited(l.memory.low)) b.add(kLimitMemLow, num(*l.memory.low));
  if (limited(l.memory.swapMax)) b.add(kLimitMemSwapMax, num(*l.memory.swapMax));
  if (limited(l.pids.max)) b.add(kLimitPidsMax, num(*l.pids.max));
  if (l.io.weight) b.add(kLimitIoWeight, num(*l.io.weight));
  for (const IoDeviceLimit& d : l.io.devices) {
    std::string device = snap.deviceName(d.major, d.minor);
    if (limited(d.readBps)) b.add(kLimitIoBytes, num(*d.readBps), {{"device", device}, {"direction", "read"}});
    if (limited(d.writeBps)) b.add(kLimitIoBytes, num(*d.writeBps), {{"device", device}, {"direction", "write"}});
    if (limited(d.readIops)) b.add(kLimitIoOps, num(*d.readIops), {{"device", device}, {"direction", "read"}});
    if (limited(d.writeIops)) b.add(kLimitIoOps, num(*d.writeIops), {{"device", device}, {"direction", "write"}});
  }
}

}  // namespace

std::string sanitizeLabelName(std::string_view key) {
  std::string out(key);
  for (char& c : out) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) c = '_';
  }
  return out;
}

SnapshotExporter::SnapshotExporter(Source source, ExporterOptions options)
    : source_(std::move(source)), options_(std::move(options)) {}

std::vector<MetricFamily> SnapshotExporter::Collect() const {
  uint64_t scrapes = scrapes_.fetch_add(1) + 1;
  std::shared_ptr<const Snapshot> snap = source_ ? source_() : nullptr;
  double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  if (!snap) {
    Snapshot empty;
    return families(empty, options_, now, scrapes);
  }
  return families(*snap, options_, now, scrapes);
}

std::vector<MetricFamily> SnapshotExporter::families(const Snapshot& snap, const ExporterOptions& options, double now,
                                                     uint64_t scrapes) {
  Builder b(options, snap.targets.size());
  for (const TargetSample& s : snap.targets) {
    Labels base = baseLabels(*s.target, options);
    b.setTarget(&s, &base);
    addContainer(b, snap, s);
    if (s.target->managed) {
      Labels idName = {{"id", s.target->id}, {"name", s.target->name}};
      b.setTarget(nullptr, &idName);
      addWorkload(b, snap, *s.target);
    }
  }
  b.setTarget(nullptr, nullptr);
  b.add(kScrapeError, snap.stats.tickErrors > 0 ? 1.0 : 0.0);
  b.add(kBuildInfo, 1.0,
        {{"cgroup_mode", cgroupModeName(snap.mode)}, {"version", options.version.empty() ? "unknown" : options.version}});
  if (snap.stats.ticks > 0) {
    b.add(kSampleDuration, snap.stats.durationSeconds);
    b.add(kSampleCpu, snap.stats.cpuSeconds);
    b.add(kSnapshotAge, std::max(0.0, now - snap.time));
  }
  b.add(kSampleTicks, num(snap.stats.ticks));
  b.add(kSampleErrors, num(snap.stats.errorsTotal));
  b.add(kSampleTargets, num(snap.targets.size()));
  b.add(kScrapes, num(scrapes));
  return b.finish();
}

}  // namespace cgwarden::collectors
