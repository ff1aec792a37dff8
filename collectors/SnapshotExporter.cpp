#include "collectors/SnapshotExporter.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>

#include <prometheus/metric_type.h>

#include "collectors/CgroupLayout.h"

namespace cgwarden::collectors {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

namespace {

// ---- output: MetricFamily structs or text, from the same emitters -----------------------

struct Label {
  std::string_view name;
  std::string_view value;
};

// The labels every series of one target starts with: sorted, and pre-rendered as text.
struct BaseLabels {
  const std::vector<ClientMetric::Label>* list = nullptr;  // only for MetricFamily output
  std::string_view text;  // id="/a",image="",name="a"  (escaped, no braces)
};

void appendEscaped(std::string& out, std::string_view v) {
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

// prometheus::TextSerializer writes doubles with ostream precision 16 in the default float
// format (printf "%.16g"), NaN as "Nan", infinities as "+Inf"/"-Inf". Same bytes here.
void appendValue(std::string& out, double v) {
  char buf[64];
  if (std::isnan(v)) {
    out += "Nan";
  } else if (std::isinf(v)) {
    out += v < 0 ? "-Inf" : "+Inf";
  } else if (v == std::trunc(v) && std::fabs(v) < 1e15 && !(v == 0 && std::signbit(v))) {
    auto r = std::to_chars(buf, buf + sizeof buf, static_cast<int64_t>(v));
    out.append(buf, r.ptr);
  } else {
    auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general, 16);
    out.append(buf, r.ptr);
  }
}

void appendInt(std::string& out, int64_t v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

struct FamDef;

class Out {
 public:
  virtual ~Out() = default;
  virtual void begin(const FamDef& family) = 0;
  // Labels every following series starts with (nullptr: none); `sample` for timestamps.
  void base(const BaseLabels* labels, const TargetSample* sample) {
    base_ = labels;
    sample_ = sample;
  }
  virtual void add(double value, std::initializer_list<Label> extra = {}) = 0;
  // False when the consumer wants no more (the scraper went away).
  virtual bool end() = 0;

 protected:
  const BaseLabels* base_ = nullptr;
  const TargetSample* sample_ = nullptr;
};

enum class Scope { Container, Workload, Agent };

struct Env {
  const Snapshot& snap;
  const ExporterOptions& options;
  double now;
  uint64_t scrapes;
  const TargetSample* s = nullptr;  // Container and Workload scopes
  std::map<std::pair<uint32_t, uint32_t>, std::string> devices;  // label cache for this scrape

  const std::string& device(uint32_t major, uint32_t minor) {
    auto key = std::make_pair(major, minor);
    auto it = devices.find(key);
    if (it == devices.end()) it = devices.emplace(key, snap.deviceName(major, minor)).first;
    return it->second;
  }
};

struct FamDef {
  const char* name;
  const char* help;
  MetricType type;
  Scope scope;
  void (*emit)(Out&, Env&);
};

class FamilyOut : public Out {
 public:
  explicit FamilyOut(bool timestamps) : timestamps_(timestamps) {}
  void begin(const FamDef& f) override {
    MetricFamily& fam = fams_.emplace_back();
    fam.name = f.name;
    fam.help = f.help;
    fam.type = f.type;
  }
  void add(double value, std::initializer_list<Label> extra) override {
    MetricFamily& fam = fams_.back();
    ClientMetric& m = fam.metric.emplace_back();
    const bool hasList = base_ != nullptr && base_->list != nullptr;
    m.label.reserve((hasList ? base_->list->size() : 0) + extra.size());
    if (hasList) m.label = *base_->list;
    for (const Label& l : extra) m.label.push_back({std::string(l.name), std::string(l.value)});
    if (fam.type == MetricType::Counter) {
      m.counter.value = value;
    } else {
      m.gauge.value = value;
    }
    if (timestamps_ && sample_ != nullptr) m.timestamp_ms = static_cast<int64_t>(std::llround(sample_->sampleTime * 1000.0));
  }
  bool end() override {
    if (fams_.back().metric.empty()) fams_.pop_back();
    return true;
  }
  std::vector<MetricFamily> take() { return std::move(fams_); }

 private:
  bool timestamps_;
  std::vector<MetricFamily> fams_;
};

// Writes what prometheus::TextSerializer would write for the families FamilyOut builds.
class TextOut : public Out {
 public:
  TextOut(bool timestamps, const SnapshotExporter::TextSink& sink) : timestamps_(timestamps), sink_(sink) {
    buf_.reserve(kFlushBytes + 4096);
  }
  void begin(const FamDef& f) override {
    family_ = &f;
    header_ = false;
  }
  void add(double value, std::initializer_list<Label> extra) override {
    if (!header_) {
      header_ = true;
      buf_ += "# HELP ";
      buf_ += family_->name;
      buf_ += ' ';
      buf_ += family_->help;
      buf_ += "\n# TYPE ";
      buf_ += family_->name;
      buf_ += family_->type == MetricType::Counter ? " counter\n" : " gauge\n";
    }
    buf_ += family_->name;
    bool hasBase = base_ != nullptr && !base_->text.empty();
    if (hasBase || extra.size() != 0) {
      buf_ += '{';
      if (hasBase) buf_ += base_->text;
      bool first = !hasBase;
      for (const Label& l : extra) {
        if (!first) buf_ += ',';
        first = false;
        buf_ += l.name;
        buf_ += "=\"";
        appendEscaped(buf_, l.value);
        buf_ += '"';
      }
      buf_ += '}';
    }
    buf_ += ' ';
    appendValue(buf_, value);
    if (timestamps_ && sample_ != nullptr) {
      int64_t ts = static_cast<int64_t>(std::llround(sample_->sampleTime * 1000.0));
      if (ts != 0) {
        buf_ += ' ';
        appendInt(buf_, ts);
      }
    }
    buf_ += '\n';
    // Pieces go out in order, so a family's lines stay together across flushes.
    if (buf_.size() >= kFlushBytes) flush();
  }
  bool end() override { return ok_; }
  bool flush() {
    if (ok_ && !buf_.empty()) ok_ = sink_(buf_);
    buf_.clear();
    return ok_;
  }

 private:
  static constexpr size_t kFlushBytes = 64 * 1024;
  bool timestamps_;
  const SnapshotExporter::TextSink& sink_;
  std::string buf_;
  const FamDef* family_ = nullptr;
  bool header_ = false;
  bool ok_ = true;
};

// ---- the families ------------------------------------------------------------------------

double sec(uint64_t ns) { return static_cast<double>(ns) / 1e9; }
double usec(uint64_t us) { return static_cast<double>(us) / 1e6; }
double num(uint64_t v) { return static_cast<double>(v); }
// cAdvisor reports an unlimited memory spec as 0.
double memSpec(uint64_t v) { return v >= (uint64_t{1} << 62) ? 0.0 : static_cast<double>(v); }
bool limited(const std::optional<uint64_t>& v) { return v && *v != kUnlimited; }

bool quotaSet(const TargetSample& s) {
  return s.hasSpec && s.spec.hasCpu && s.spec.cpuQuotaUs != kUnlimited && s.spec.cpuQuotaUs != 0;
}
bool throttling(const TargetSample& s) { return s.hasCpu && quotaSet(s) && s.cpu.hasBandwidth; }

const char* const kStates[] = {"starting", "running", "restarting", "exited", "oom_killed", "stopped", "failed", "adopted"};

constexpr MetricType C = MetricType::Counter;
constexpr MetricType G = MetricType::Gauge;
constexpr Scope kC = Scope::Container;
constexpr Scope kW = Scope::Workload;
constexpr Scope kA = Scope::Agent;

// A per-target family reading one value when `has` holds.
#define CGW_SIMPLE(cond, expr) [](Out& o, Env& e) { const TargetSample& s = *e.s; (void)s; if (cond) o.add(expr); }

void ioFamily(Out& o, Env& e, uint64_t IoDeviceUsage::*field, double scale, bool costOnly) {
  const TargetSample& s = *e.s;
  if (!s.hasIo) return;
  for (const IoDeviceUsage& d : e.snap.ioOf(s)) {
    if (costOnly && !d.hasCost) continue;
    o.add(static_cast<double>(d.*field) * scale, {{"device", e.device(d.major, d.minor)}});
  }
}

void psiFamily(Out& o, const Env& e, bool TargetSample::*has, Pressure TargetSample::*p, bool full) {
  const TargetSample& s = *e.s;
  if (!(s.*has)) return;
  const Pressure& pr = s.*p;
  if (full && !pr.hasFull) return;
  o.add(usec(full ? pr.full.totalUs : pr.some.totalUs));
}

void ioLimitFamily(Out& o, Env& e, bool bytes) {
  for (const IoDeviceLimit& d : e.s->target->configuredLimits->io.devices) {
    const std::string& device = e.device(d.major, d.minor);
    const std::optional<uint64_t>& r = bytes ? d.readBps : d.readIops;
    const std::optional<uint64_t>& w = bytes ? d.writeBps : d.writeIops;
    if (limited(r)) o.add(num(*r), {{"device", device}, {"direction", "read"}});
    if (limited(w)) o.add(num(*w), {{"device", device}, {"direction", "write"}});
  }
}

// clang-format off
const FamDef kFams[] = {
    {"container_cpu_usage_seconds_total", "Cumulative cpu time consumed in seconds.", C, kC,
     [](Out& o, Env& e) { if (e.s->hasCpu) o.add(sec(e.s->cpu.usageNs), {{"cpu", "total"}}); }},
    {"container_cpu_user_seconds_total", "Cumulative user cpu time consumed in seconds.", C, kC,
     CGW_SIMPLE(s.hasCpu && s.cpu.hasUserSystem, sec(s.cpu.userNs))},
    {"container_cpu_system_seconds_total", "Cumulative system cpu time consumed in seconds.", C, kC,
     CGW_SIMPLE(s.hasCpu && s.cpu.hasUserSystem, sec(s.cpu.systemNs))},
    {"container_cpu_cfs_periods_total", "Number of elapsed enforcement period intervals.", C, kC,
     CGW_SIMPLE(throttling(s), num(s.cpu.periods))},
    {"container_cpu_cfs_throttled_periods_total", "Number of throttled period intervals.", C, kC,
     CGW_SIMPLE(throttling(s), num(s.cpu.throttledPeriods))},
    {"container_cpu_cfs_throttled_seconds_total", "Total time duration the container has been throttled.", C, kC,
     CGW_SIMPLE(throttling(s), sec(s.cpu.throttledNs))},
    {"container_cpu_cfs_burst_periods_total", "Number of periods when burst occurs.", C, kC,
     CGW_SIMPLE(throttling(s) && s.cpu.hasBurst, num(s.cpu.bursts))},
    {"container_cpu_cfs_burst_seconds_total", "Total time duration the container has been bursted.", C, kC,
     CGW_SIMPLE(throttling(s) && s.cpu.hasBurst, sec(s.cpu.burstNs))},
    {"container_memory_usage_bytes", "Current memory usage in bytes, including all memory regardless of when it was accessed.", G, kC,
     CGW_SIMPLE(s.hasMemory, num(s.memory.usageBytes))},
    {"container_memory_working_set_bytes", "Current working set in bytes.", G, kC,
     CGW_SIMPLE(s.hasMemory, num(s.memory.workingSetBytes()))},
    {"container_memory_rss", "Size of RSS in bytes.", G, kC, CGW_SIMPLE(s.hasMemory, num(s.memory.rssBytes))},
    {"container_memory_cache", "Number of bytes of page cache memory.", G, kC, CGW_SIMPLE(s.hasMemory, num(s.memory.cacheBytes))},
    {"container_memory_mapped_file", "Size of memory mapped files in bytes.", G, kC,
     CGW_SIMPLE(s.hasMemory, num(s.memory.mappedFileBytes))},
    {"container_memory_swap", "Container swap usage in bytes.", G, kC,
     CGW_SIMPLE(s.hasMemory && s.memory.hasSwap, num(s.memory.swapBytes))},
    {"container_memory_max_usage_bytes", "Maximum memory usage recorded in bytes.", G, kC,
     CGW_SIMPLE(s.hasMemory && s.memory.hasMaxUsage, num(s.memory.maxUsageBytes))},
    {"container_memory_failcnt", "Number of memory usage hits limits (v1 memory.failcnt; resettable, hence a gauge).", G, kC,
     CGW_SIMPLE(s.hasMemory && s.memory.hasFailcnt, num(s.memory.failcnt))},
    {"container_memory_total_active_file_bytes", "Current total active file in bytes.", G, kC,
     CGW_SIMPLE(s.hasMemory, num(s.memory.activeFileBytes))},
    {"container_memory_total_inactive_file_bytes", "Current total inactive file in bytes.", G, kC,
     CGW_SIMPLE(s.hasMemory, num(s.memory.inactiveFileBytes))},
    {"container_memory_file_dirty_bytes", "Size of dirty page cache in bytes.", G, kC,
     CGW_SIMPLE(s.hasMemory, num(s.memory.dirtyBytes))},
    {"container_memory_file_writeback_bytes", "Size of page cache under writeback in bytes.", G, kC,
     CGW_SIMPLE(s.hasMemory, num(s.memory.writebackBytes))},
    {"container_memory_failures_total", "Cumulative count of memory allocation failures.", C, kC,
     [](Out& o, Env& e) {
       const TargetSample& s = *e.s;
       if (!s.hasMemory) return;
       for (const char* scope : {"container", "hierarchy"}) {
         o.add(num(s.memory.pgfault), {{"failure_type", "pgfault"}, {"scope", scope}});
         o.add(num(s.memory.pgmajfault), {{"failure_type", "pgmajfault"}, {"scope", scope}});
       }
     }},
    {"container_memory_workingset_refault_file_total", "Number of refaults of previously evicted file pages.", C, kC,
     CGW_SIMPLE(s.hasMemory, num(s.memory.workingsetRefaultFile))},
    {"container_memory_workingset_refault_anon_total", "Number of refaults of previously evicted anonymous pages.", C, kC,
     CGW_SIMPLE(s.hasMemory, num(s.memory.workingsetRefaultAnon))},
    {"container_memory_pgscan_total", "Number of pages scanned by reclaim.", C, kC,
     CGW_SIMPLE(s.hasMemory && s.memory.hasScanSteal, num(s.memory.pgscan))},
    {"container_memory_pgsteal_total", "Number of pages reclaimed.", C, kC,
     CGW_SIMPLE(s.hasMemory && s.memory.hasScanSteal, num(s.memory.pgsteal))},
    {"container_memory_events_high_total", "Number of times the high memory boundary was exceeded (memory.events high).", C, kC,
     CGW_SIMPLE(s.hasMemory && s.memory.hasEvents, num(s.memory.eventsHigh))},
    {"container_memory_events_max_total", "Number of times usage was about to go over the max boundary (memory.events max).", C, kC,
     CGW_SIMPLE(s.hasMemory && s.memory.hasEvents, num(s.memory.eventsMax))},
    {"container_oom_events_total", "Count of out of memory kills in the container (kernel oom_kill counter).", C, kC,
     CGW_SIMPLE(s.memory.hasOomKills, num(s.memory.oomKills))},
    {"container_fs_reads_bytes_total", "Cumulative count of bytes read.", C, kC,
     [](Out& o, Env& e) { ioFamily(o, e, &IoDeviceUsage::readBytes, 1, false); }},
    {"container_fs_writes_bytes_total", "Cumulative count of bytes written.", C, kC,
     [](Out& o, Env& e) { ioFamily(o, e, &IoDeviceUsage::writeBytes, 1, false); }},
    {"container_fs_reads_total", "Cumulative count of reads completed.", C, kC,
     [](Out& o, Env& e) { ioFamily(o, e, &IoDeviceUsage::readOps, 1, false); }},
    {"container_fs_writes_total", "Cumulative count of writes completed.", C, kC,
     [](Out& o, Env& e) { ioFamily(o, e, &IoDeviceUsage::writeOps, 1, false); }},
    {"container_fs_io_cost_usage_seconds_total", "Cumulative IOCost usage in seconds.", C, kC,
     [](Out& o, Env& e) { ioFamily(o, e, &IoDeviceUsage::costUsageUs, 1e-6, true); }},
    {"container_fs_io_cost_wait_seconds_total", "Cumulative IOCost wait in seconds.", C, kC,
     [](Out& o, Env& e) { ioFamily(o, e, &IoDeviceUsage::costWaitUs, 1e-6, true); }},
    {"container_fs_io_cost_indebt_seconds_total", "Cumulative IOCost debt in seconds.", C, kC,
     [](Out& o, Env& e) { ioFamily(o, e, &IoDeviceUsage::costIndebtUs, 1e-6, true); }},
    {"container_fs_io_cost_indelay_seconds_total", "Cumulative IOCost delay in seconds.", C, kC,
     [](Out& o, Env& e) { ioFamily(o, e, &IoDeviceUsage::costIndelayUs, 1e-6, true); }},
    {"container_blkio_device_usage_total", "Blkio device bytes usage.", C, kC,
     [](Out& o, Env& e) {
       const TargetSample& s = *e.s;
       if (!s.hasIo) return;
       for (const IoDeviceUsage& d : e.snap.ioOf(s)) {
         char major[12], minor[12];
         auto ma = std::to_chars(major, major + sizeof major, d.major);
         auto mi = std::to_chars(minor, minor + sizeof minor, d.minor);
         std::string_view maj(major, static_cast<size_t>(ma.ptr - major)), min(minor, static_cast<size_t>(mi.ptr - minor));
         const std::string& device = e.device(d.major, d.minor);
         o.add(num(d.readBytes), {{"device", device}, {"major", maj}, {"minor", min}, {"operation", "Read"}});
         o.add(num(d.writeBytes), {{"device", device}, {"major", maj}, {"minor", min}, {"operation", "Write"}});
       }
     }},
    {"container_threads", "Number of threads running inside the container.", G, kC, CGW_SIMPLE(s.hasPids, num(s.pidsCurrent))},
    {"container_threads_max", "Maximum number of threads allowed inside the container, infinity if value is zero.", G, kC,
     CGW_SIMPLE(s.hasSpec && s.spec.hasPids, s.spec.pidsMax == kUnlimited ? 0.0 : num(s.spec.pidsMax))},
    {"container_processes", "Number of processes running inside the container.", G, kC,
     CGW_SIMPLE(s.hasProcesses, num(s.processes))},
    {"container_pressure_cpu_waiting_seconds_total", "Total time duration tasks in the container have waited due to CPU congestion.", C, kC,
     [](Out& o, Env& e) { psiFamily(o, e, &TargetSample::hasCpuPressure, &TargetSample::cpuPressure, false); }},
    {"container_pressure_cpu_stalled_seconds_total", "Total time duration no tasks in the container could make progress due to CPU congestion.", C, kC,
     [](Out& o, Env& e) { psiFamily(o, e, &TargetSample::hasCpuPressure, &TargetSample::cpuPressure, true); }},
    {"container_pressure_memory_waiting_seconds_total", "Total time duration tasks in the container have waited due to memory congestion.", C, kC,
     [](Out& o, Env& e) { psiFamily(o, e, &TargetSample::hasMemoryPressure, &TargetSample::memoryPressure, false); }},
    {"container_pressure_memory_stalled_seconds_total", "Total time duration no tasks in the container could make progress due to memory congestion.", C, kC,
     [](Out& o, Env& e) { psiFamily(o, e, &TargetSample::hasMemoryPressure, &TargetSample::memoryPressure, true); }},
    {"container_pressure_io_waiting_seconds_total", "Total time duration tasks in the container have waited due to IO congestion.", C, kC,
     [](Out& o, Env& e) { psiFamily(o, e, &TargetSample::hasIoPressure, &TargetSample::ioPressure, false); }},
    {"container_pressure_io_stalled_seconds_total", "Total time duration no tasks in the container could make progress due to IO congestion.", C, kC,
     [](Out& o, Env& e) { psiFamily(o, e, &TargetSample::hasIoPressure, &TargetSample::ioPressure, true); }},
    {"container_spec_cpu_period", "CPU period of the container.", G, kC,
     CGW_SIMPLE(s.hasSpec && s.spec.hasCpu && s.spec.cpuPeriodUs != 0, num(s.spec.cpuPeriodUs))},
    {"container_spec_cpu_quota", "CPU quota of the container.", G, kC, CGW_SIMPLE(quotaSet(s), num(s.spec.cpuQuotaUs))},
    {"container_spec_cpu_shares", "CPU share of the container.", G, kC,
     CGW_SIMPLE(s.hasSpec && s.spec.hasCpu && s.spec.cpuShares != 0, num(s.spec.cpuShares))},
    {"container_spec_memory_limit_bytes", "Memory limit for the container.", G, kC,
     CGW_SIMPLE(s.hasSpec && s.spec.hasMemory, memSpec(s.spec.memoryLimit))},
    {"container_spec_memory_swap_limit_bytes", "Memory swap limit for the container.", G, kC,
     CGW_SIMPLE(s.hasSpec && s.spec.hasMemory && s.spec.hasSwapLimit, memSpec(s.spec.memorySwapLimit))},
    {"container_spec_memory_reservation_limit_bytes", "Memory reservation limit for the container.", G, kC,
     CGW_SIMPLE(s.hasSpec && s.spec.hasMemory, memSpec(s.spec.memoryReservation))},
    {"container_start_time_seconds", "Start time of the container since unix epoch in seconds.", G, kC,
     CGW_SIMPLE(s.startTime > 0, s.startTime)},
    {"container_last_seen", "Last time a container was seen by the exporter", G, kC, CGW_SIMPLE(true, std::floor(s.sampleTime))},
    {"container_scrape_error", "1 if there was an error while getting container metrics, 0 otherwise", G, kA,
     [](Out& o, Env& e) { o.add(e.snap.stats.tickErrors > 0 ? 1.0 : 0.0); }},
    // cgwarden: managed workloads (labels id, name).
    {"cgwarden_workload_state", "Workload state: 1 for the current state, 0 for the others.", G, kW,
     [](Out& o, Env& e) {
       const std::string& state = e.s->target->state;
       bool known = false;
       for (const char* st : kStates) {
         bool current = state == st;
         known = known || current;
         o.add(current ? 1.0 : 0.0, {{"state", st}});
       }
       if (!known && !state.empty()) o.add(1.0, {{"state", state}});
     }},
    {"cgwarden_workload_restarts_total", "Restarts of the workload by the supervisor.", C, kW,
     [](Out& o, Env& e) { o.add(num(e.s->target->restarts)); }},
    {"cgwarden_workload_last_exit_code", "Exit status of the workload's last run (128+signal when killed).", G, kW,
     [](Out& o, Env& e) {
       if (e.s->target->lastExitCode) o.add(static_cast<double>(*e.s->target->lastExitCode));
     }},
    {"cgwarden_limit_cpu_cores", "Configured CPU limit in cores (quota / period).", G, kW,
     [](Out& o, Env& e) {
       const CpuLimits& c = e.s->target->configuredLimits->cpu;
       uint64_t period = c.periodUs.value_or(100000);
       if (limited(c.quotaUs) && period != 0) o.add(static_cast<double>(*c.quotaUs) / static_cast<double>(period));
     }},
    {"cgwarden_limit_cpu_weight", "Configured CPU weight (1..10000).", G, kW,
     [](Out& o, Env& e) {
       if (auto w = e.s->target->configuredLimits->cpu.weight) o.add(num(*w));
     }},
    {"cgwarden_limit_memory_max_bytes", "Configured hard memory limit in bytes.", G, kW,
     [](Out& o, Env& e) {
       if (auto& v = e.s->target->configuredLimits->memory.max; limited(v)) o.add(num(*v));
     }},
    {"cgwarden_limit_memory_high_bytes", "Configured memory throttle point in bytes.", G, kW,
     [](Out& o, Env& e) {
       if (auto& v = e.s->target->configuredLimits->memory.high; limited(v)) o.add(num(*v));
     }},
    {"cgwarden_limit_memory_low_bytes", "Configured memory protection in bytes.", G, kW,
     [](Out& o, Env& e) {
       if (auto& v = e.s->target->configuredLimits->memory.low; limited(v)) o.add(num(*v));
     }},
    {"cgwarden_limit_memory_swap_max_bytes", "Configured swap limit in bytes (swap only).", G, kW,
     [](Out& o, Env& e) {
       if (auto& v = e.s->target->configuredLimits->memory.swapMax; limited(v)) o.add(num(*v));
     }},
    {"cgwarden_limit_pids_max", "Configured maximum number of tasks.", G, kW,
     [](Out& o, Env& e) {
       if (auto& v = e.s->target->configuredLimits->pids.max; limited(v)) o.add(num(*v));
     }},
    {"cgwarden_limit_io_weight", "Configured IO weight (1..10000).", G, kW,
     [](Out& o, Env& e) {
       if (auto w = e.s->target->configuredLimits->io.weight) o.add(num(*w));
     }},
    {"cgwarden_limit_io_bytes_per_second", "Configured per-device IO bandwidth limit.", G, kW,
     [](Out& o, Env& e) { ioLimitFamily(o, e, true); }},
    {"cgwarden_limit_io_operations_per_second", "Configured per-device IO operations limit.", G, kW,
     [](Out& o, Env& e) { ioLimitFamily(o, e, false); }},
    // cgwarden: the agent.
    {"cgwarden_build_info", "cgwarden build and host information.", G, kA,
     [](Out& o, Env& e) {
       o.add(1.0, {{"cgroup_mode", cgroupModeName(e.snap.mode)},
                   {"version", e.options.version.empty() ? std::string_view("unknown") : std::string_view(e.options.version)}});
     }},
    {"cgwarden_sample_duration_seconds", "Wall time of the last sampling tick.", G, kA,
     [](Out& o, Env& e) { if (e.snap.stats.ticks > 0) o.add(e.snap.stats.durationSeconds); }},
    {"cgwarden_sample_cpu_seconds", "CPU time (user + system) of the last sampling tick.", G, kA,
     [](Out& o, Env& e) { if (e.snap.stats.ticks > 0) o.add(e.snap.stats.cpuSeconds); }},
    {"cgwarden_sample_ticks_total", "Sampling ticks completed.", C, kA, [](Out& o, Env& e) { o.add(num(e.snap.stats.ticks)); }},
    {"cgwarden_sample_errors_total", "Read or parse failures while sampling (vanished cgroups excluded).", C, kA,
     [](Out& o, Env& e) { o.add(num(e.snap.stats.errorsTotal)); }},
    {"cgwarden_sample_targets", "Cgroups in the last snapshot.", G, kA, [](Out& o, Env& e) { o.add(num(e.snap.targets.size())); }},
    {"cgwarden_sample_files_read", "Cgroup files read in the last sampling tick (detail sections: a slice of the targets per tick).", G, kA,
     [](Out& o, Env& e) { if (e.snap.stats.ticks > 0) o.add(num(e.snap.stats.filesRead)); }},
    {"cgwarden_sample_files_opened", "Accounting files read in the last tick through a descriptor opened for that read, because the descriptor budget was spent (raise LimitNOFILE).", G, kA,
     [](Out& o, Env& e) { if (e.snap.stats.ticks > 0) o.add(num(e.snap.stats.filesOpened)); }},
    {"cgwarden_sample_descriptors_held", "Descriptors the sampler holds open across ticks.", G, kA,
     [](Out& o, Env& e) { if (e.snap.stats.ticks > 0) o.add(num(e.snap.stats.heldFiles)); }},
    {"cgwarden_sample_descriptor_budget", "Descriptors the sampler may hold (half of RLIMIT_NOFILE by default).", G, kA,
     [](Out& o, Env& e) { if (e.snap.stats.ticks > 0) o.add(num(e.snap.stats.descriptorBudget)); }},
    {"cgwarden_snapshot_age_seconds", "Age of the snapshot served by this scrape.", G, kA,
     [](Out& o, Env& e) { if (e.snap.stats.ticks > 0) o.add(std::max(0.0, e.now - e.snap.time)); }},
    {"cgwarden_scrapes_total", "Scrapes served.", C, kA, [](Out& o, Env& e) { o.add(num(e.scrapes)); }},
};
// clang-format on
#undef CGW_SIMPLE

const std::string* findLabel(const SampleTarget& t, std::string_view a, std::string_view b) {
  for (std::string_view key : {a, b}) {
    auto it = t.labels.find(std::string(key));
    if (it != t.labels.end()) return &it->second;
  }
  return nullptr;
}

// Every target's base labels for one scrape. The text of all of them is kept in one buffer
// rather than a few strings per target: a scrape of 10,000 cgroups would otherwise make
// ~50,000 small allocations on the serving thread, which glibc keeps (fragmented, past
// malloc_trim) in that thread's arena, per CivetWeb worker. The label lists are kept only
// for MetricFamily output.
class BaseLabelTable {
 public:
  explicit BaseLabelTable(bool keepLists) : keepLists_(keepLists) {}

  void reserve(size_t targets) {
    ends_.reserve(targets);
    if (keepLists_) lists_.reserve(targets);
  }
  // Adds the next target's labels: the first `count` of `labels`, sorted.
  void add(const std::vector<ClientMetric::Label>& labels, size_t count) {
    size_t begin = text_.size();
    for (size_t i = 0; i < count; ++i) {
      if (text_.size() != begin) text_ += ',';
      text_ += labels[i].name;
      text_ += "=\"";
      appendEscaped(text_, labels[i].value);
      text_ += '"';
    }
    ends_.push_back(text_.size());
    if (keepLists_) lists_.emplace_back(labels.begin(), labels.begin() + static_cast<std::ptrdiff_t>(count));
  }
  BaseLabels at(size_t i) const {
    size_t begin = i == 0 ? 0 : ends_[i - 1];
    return {keepLists_ ? &lists_[i] : nullptr, std::string_view(text_).substr(begin, ends_[i] - begin)};
  }

 private:
  bool keepLists_;
  std::string text_;
  std::vector<size_t> ends_;
  std::vector<std::vector<ClientMetric::Label>> lists_;
};

// Builds label lists in a scratch vector whose strings keep their capacity from one target
// to the next.
class LabelScratch {
 public:
  void clear() { n_ = 0; }
  std::string& push(std::string_view name, std::string_view value) {
    if (n_ == labels_.size()) labels_.emplace_back();
    ClientMetric::Label& l = labels_[n_++];
    l.name.assign(name);
    l.value.assign(value);
    return l.name;
  }
  void pop() { --n_; }
  bool hasName(std::string_view name, size_t before) const {
    for (size_t i = 0; i < before; ++i) {
      if (labels_[i].name == name) return true;
    }
    return false;
  }
  size_t size() const { return n_; }
  void sort() { std::sort(labels_.begin(), labels_.begin() + static_cast<std::ptrdiff_t>(n_)); }
  void addTo(BaseLabelTable& table) const { table.add(labels_, n_); }

 private:
  std::vector<ClientMetric::Label> labels_;
  size_t n_ = 0;
};

void containerLabels(const SampleTarget& t, const ExporterOptions& options, LabelScratch& labels) {
  labels.clear();
  labels.push("id", t.id);
  labels.push("image", t.image);
  labels.push("name", t.name);
  for (const auto& [key, value] : t.labels) {
    if (options.labelAllowlist &&
        std::find(options.labelAllowlist->begin(), options.labelAllowlist->end(), key) == options.labelAllowlist->end()) {
      continue;
    }
    std::string& name = labels.push("container_label_", value);
    size_t prefix = name.size();
    name += key;
    for (size_t i = prefix; i < name.size(); ++i) {
      char c = name[i];
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
      if (!ok) name[i] = '_';
    }
    if (labels.hasName(name, labels.size() - 1)) labels.pop();
  }
  if (options.kubeletLabels) {
    const std::string* ns = findLabel(t, "io.kubernetes.pod.namespace", "namespace");
    const std::string* pod = findLabel(t, "io.kubernetes.pod.name", "pod");
    const std::string* container = findLabel(t, "io.kubernetes.container.name", "container");
    labels.push("container", container != nullptr ? *container : t.name);
    labels.push("namespace", ns != nullptr ? std::string_view(*ns) : std::string_view());
    labels.push("pod", pod != nullptr ? std::string_view(*pod) : std::string_view());
  }
  labels.sort();
}

// Family by family (the text format wants each family's series together); stops early
// when the output says so. `lists`: the output needs base labels as label lists too.
void produce(Out& out, bool lists, const Snapshot& snap, const ExporterOptions& options, double now,
             uint64_t scrapes) {
  Env env{snap, options, now, scrapes, nullptr, {}};
  BaseLabelTable container(lists), workload(lists);
  container.reserve(snap.targets.size());
  workload.reserve(snap.targets.size());
  LabelScratch scratch;
  for (const TargetSample& s : snap.targets) {
    containerLabels(*s.target, options, scratch);
    scratch.addTo(container);
    scratch.clear();
    if (s.target->managed) {
      scratch.push("id", s.target->id);
      scratch.push("name", s.target->name);
    }
    scratch.addTo(workload);
  }
  for (const FamDef& f : kFams) {
    out.begin(f);
    if (f.scope == Scope::Agent) {
      out.base(nullptr, nullptr);
      env.s = nullptr;
      f.emit(out, env);
    } else {
      for (size_t i = 0; i < snap.targets.size(); ++i) {
        const TargetSample& s = snap.targets[i];
        if (f.scope == Scope::Workload && !s.target->managed) continue;
        BaseLabels base = f.scope == Scope::Container ? container.at(i) : workload.at(i);
        out.base(&base, f.scope == Scope::Container ? &s : nullptr);
        env.s = &s;
        f.emit(out, env);
      }
    }
    if (!out.end()) return;
  }
}

double unixNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
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

std::shared_ptr<const Snapshot> SnapshotExporter::current() const {
  std::shared_ptr<const Snapshot> snap = source_ ? source_() : nullptr;
  if (!snap) snap = std::make_shared<const Snapshot>();
  return snap;
}

std::vector<MetricFamily> SnapshotExporter::Collect() const {
  uint64_t scrapes = scrapes_.fetch_add(1) + 1;
  return families(*current(), options_, unixNow(), scrapes);
}

bool SnapshotExporter::writeText(const TextSink& sink) const {
  uint64_t scrapes = scrapes_.fetch_add(1) + 1;
  return writeText(*current(), options_, unixNow(), scrapes, sink);
}

std::vector<MetricFamily> SnapshotExporter::families(const Snapshot& snapshot, const ExporterOptions& options,
                                                     double now, uint64_t scrapes) {
  FamilyOut out(options.timestamps);
  produce(out, true, snapshot, options, now, scrapes);
  return out.take();
}

bool SnapshotExporter::writeText(const Snapshot& snapshot, const ExporterOptions& options, double now,
                                 uint64_t scrapes, const TextSink& sink) {
  TextOut out(options.timestamps, sink);
  produce(out, false, snapshot, options, now, scrapes);
  return out.flush();
}

}  // namespace cgwarden::collectors
