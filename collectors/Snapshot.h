#pragma once
// One immutable sample of every tracked cgroup, published by the Sampler once per tick
// as shared_ptr<const Snapshot>. The exporter and the policer read it; nobody mutates it.
//
// Units: ns for CPU time, bytes for memory and IO amounts, µs for PSI totals, seconds
// since the Unix epoch for times. Counters of managed targets stay monotonic when the
// workload's cgroup is recreated under the same id (the sampler carries an offset).
// A section a target's host does not provide (e.g. memory.events on v1) has its
// has* flag false; a cgroup that vanished is simply not in `targets`.
//
// Detail sections (SampleSection: throttling, OOM counters, block IO, tasks, PSI, memory
// peak and failcnt, v2 swap, process count, v1 user/system time) are re-read every few ticks
// (SamplerOptions::detailInterval), not every tick, unless a consumer asked for them every
// tick (Sampler::setEveryTick); between reads a TargetSample carries their last values,
// `detailTime` says when they were all last read and `ioTime` when the IO counters were.
// CPU usage and memory (usage, memory.stat) are read on every tick.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "collectors/CgroupLayout.h"
#include "collectors/IoFiles.h"
#include "collectors/Limits.h"
#include "collectors/PressureFiles.h"
#include "collectors/SampleTarget.h"

namespace cgwarden::collectors {

// A target's counters as of its previous sample, carried in the next one so a rate spans
// one tick for CPU and one IO read for IO (the API's cpu_percent and IO bytes/s) without a
// second snapshot held in memory. time == 0: no previous sample (the target's first).
struct RateBase {
  double time = 0;            // that sample's sampleTime
  double ioTime = 0;          // the IO read before this sample's (its ioTime); 0: none
  uint64_t cpuUsageNs = 0;
  uint64_t ioReadBytes = 0;   // all devices, as of ioTime
  uint64_t ioWriteBytes = 0;
  bool hasCpu = false;
  bool hasIo = false;
};

struct CpuUsage {
  uint64_t usageNs = 0;   // v1 cpuacct.usage; v2 cpu.stat usage_usec * 1000
  uint64_t userNs = 0;    // v1 cpuacct.stat user (USER_HZ ticks); v2 user_usec
  uint64_t systemNs = 0;  // v1 cpuacct.stat system; v2 system_usec
  // CFS bandwidth (v1 cpu.stat, v2 cpu.stat with the cpu controller).
  uint64_t periods = 0;
  uint64_t throttledPeriods = 0;
  uint64_t throttledNs = 0;
  uint64_t bursts = 0;
  uint64_t burstNs = 0;
  // (The flags are kept together: a snapshot holds one of these per target.)
  bool hasUserSystem = false;
  bool hasBandwidth = false;
  bool hasBurst = false;
};

struct MemoryUsage {
  uint64_t usageBytes = 0;     // v1 memory.usage_in_bytes; v2 memory.current
  uint64_t maxUsageBytes = 0;  // v1 memory.max_usage_in_bytes; v2 memory.peak (>= 5.19)
  uint64_t failcnt = 0;        // v1 memory.failcnt (resettable by writing 0)
  uint64_t cacheBytes = 0;     // v1 total_cache; v2 file
  uint64_t rssBytes = 0;       // v1 total_rss; v2 anon
  uint64_t mappedFileBytes = 0;
  uint64_t swapBytes = 0;      // v1 total_swap (swap accounting on); v2 memory.swap.current
  uint64_t activeFileBytes = 0;
  uint64_t inactiveFileBytes = 0;
  uint64_t dirtyBytes = 0;
  uint64_t writebackBytes = 0;
  // Counters.
  uint64_t pgfault = 0;
  uint64_t pgmajfault = 0;
  uint64_t workingsetRefaultAnon = 0;
  uint64_t workingsetRefaultFile = 0;
  uint64_t pgscan = 0;   // v2 only
  uint64_t pgsteal = 0;  // v2 only
  uint64_t oomKills = 0;  // v1 memory.oom_control oom_kill; v2 memory.events oom_kill
  // v2 memory.events.
  uint64_t eventsLow = 0;
  uint64_t eventsHigh = 0;
  uint64_t eventsMax = 0;
  uint64_t eventsOom = 0;
  bool hasMaxUsage = false;
  bool hasFailcnt = false;
  bool hasSwap = false;
  bool hasScanSteal = false;
  bool hasOomKills = false;
  bool hasEvents = false;
  bool underOom = false;  // v1 memory.oom_control under_oom

  // cAdvisor's working set: usage - inactive_file, floored at 0.
  uint64_t workingSetBytes() const { return usageBytes > inactiveFileBytes ? usageBytes - inactiveFileBytes : 0; }
};

// Effective limits as the kernel reports them, in the units of cAdvisor's container_spec_*.
struct SpecLimits {
  uint64_t cpuQuotaUs = kUnlimited;  // v1 cpu.cfs_quota_us (-1 -> kUnlimited); v2 cpu.max
  uint64_t cpuPeriodUs = 0;
  uint64_t cpuShares = 0;            // v1 cpu.shares; v2 cadvisorSharesFromWeight(cpu.weight)
  uint64_t memoryLimit = kUnlimited;        // v1 limit_in_bytes (>= 2^62 -> kUnlimited); v2 memory.max
  uint64_t memorySwapLimit = kUnlimited;    // v1 memsw.limit_in_bytes (memory + swap); v2 memory.swap.max
  uint64_t memoryReservation = kUnlimited;  // v1 soft_limit_in_bytes; v2 memory.min
  uint64_t pidsMax = kUnlimited;
  bool hasCpu = false;
  bool hasMemory = false;
  bool hasSwapLimit = false;
  bool hasPids = false;
};

struct TargetSample {
  std::shared_ptr<const SampleTarget> target;  // identity, state, configured limits
  double sampleTime = 0;  // when this target's files were read (Unix seconds)
  double detailTime = 0;  // when its detail sections (see above) were all last read; <= sampleTime
  double ioTime = 0;      // when its IO counters were read (the IO section); <= sampleTime
  double startTime = 0;   // target.startTimeSeconds, else the cgroup directory's ctime
  bool hasCpu = false;
  bool hasMemory = false;
  bool hasIo = false;
  bool hasPids = false;
  bool hasProcesses = false;
  bool hasCpuPressure = false;
  bool hasMemoryPressure = false;
  bool hasIoPressure = false;
  bool hasSpec = false;
  CpuUsage cpu;
  MemoryUsage memory;
  uint64_t pidsCurrent = 0;  // pids.current: tasks (threads)
  uint64_t processes = 0;    // lines of cgroup.procs
  Pressure cpuPressure;
  Pressure memoryPressure;
  Pressure ioPressure;
  SpecLimits spec;
  uint32_t ioBegin = 0;  // this target's devices: Snapshot::io[ioBegin, ioBegin + ioCount)
  uint32_t ioCount = 0;
  RateBase previous;     // this target one tick (IO: one IO read) earlier
};

struct SamplerStats {
  uint64_t ticks = 0;            // ticks completed, this one included
  uint64_t errorsTotal = 0;      // read/parse failures other than vanished cgroups, since start
  uint64_t tickErrors = 0;       // ... in this tick
  double durationSeconds = 0;    // wall time of this tick
  double cpuSeconds = 0;         // CPU time (user + system) of this tick
  uint64_t targetsRequested = 0; // targets the providers listed
  uint64_t heldFiles = 0;        // file and directory descriptors held open across ticks
  uint64_t filesRead = 0;        // cgroup files read in this tick (limits included)
  // Accounting files read in this tick through a descriptor opened for that one read,
  // because the descriptor budget was spent (limits files, never held, not counted): each
  // costs ~10x a pread on a held one, so a steady non-zero value says raise RLIMIT_NOFILE.
  uint64_t filesOpened = 0;
  uint64_t descriptorBudget = 0;  // descriptors the sampler may hold (SamplerOptions::maxOpenFiles, resolved)
};

using DeviceNameMap = std::map<std::pair<uint32_t, uint32_t>, std::string>;

struct Snapshot {
  CgroupMode mode = CgroupMode::V2;
  double time = 0;                                   // tick start, Unix seconds
  std::chrono::steady_clock::time_point steadyTime;  // tick start, for freshness checks
  std::vector<TargetSample> targets;                 // sorted by target id
  std::vector<IoDeviceUsage> io;                     // see TargetSample::ioBegin
  std::shared_ptr<const DeviceNameMap> deviceNames;  // "/dev/vda" by MAJ:MIN
  SamplerStats stats;

  std::span<const IoDeviceUsage> ioOf(const TargetSample& t) const {
    return std::span<const IoDeviceUsage>(io).subspan(t.ioBegin, t.ioCount);
  }
  // Read and written bytes of `t` over all its devices.
  std::pair<uint64_t, uint64_t> ioTotals(const TargetSample& t) const {
    std::pair<uint64_t, uint64_t> sum{0, 0};
    for (const IoDeviceUsage& d : ioOf(t)) {
      sum.first += d.readBytes;
      sum.second += d.writeBytes;
    }
    return sum;
  }
  // "/dev/vda", or "MAJ:MIN" for a device without a known name.
  std::string deviceName(uint32_t major, uint32_t minor) const;
  const TargetSample* find(std::string_view id) const;
};

}  // namespace cgwarden::collectors
