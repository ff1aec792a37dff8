#pragma once
// The sampling loop: once per interval, asks the TargetProvider which cgroups to read,
// reads each one's accounting files and effective limits, and publishes an immutable
// Snapshot (shared_ptr<const Snapshot>, swapped atomically: readers never block the loop).
//
// Reading: an fd per accounting file is held across ticks and re-read with
// pread(fd, buf, 0) into one reused buffer, as long as the descriptor budget allows
// (maxOpenFiles, default half of RLIMIT_NOFILE); beyond it files are opened per read. A
// directory fd per hierarchy (for openat) is held too when the budget fits every target's
// files and directories; otherwise files come first and directories are opened by path. The
// effective limits (container_spec_*) are re-read every specRefreshTicks ticks, and at
// once when a target's configuredLimits change.
//
// Tiers: CPU usage and memory (usage and memory.stat, hence the
// working set) are read on every tick: what `ps`, rates and the commonest rules need. Every
// other file belongs to a detail section (SampleSection): throttling, OOM counters, block IO,
// tasks, PSI, memory peak and failcnt, v2 swap, the process count, v1 user/system time. Those are read every
// detailInterval, staggered so each tick reads a slice of the targets, and at once on a
// target's first sample, after it was reopened and when its state or run start time changes;
// in between a snapshot carries their last values (TargetSample::detailTime, ioTime). A
// consumer that needs a section at tick resolution (the policer, for a rule on it) says so
// with setEveryTick. This is what makes a tick cheap: the reads are the cost (one kernel
// seq_file render each), and a Prometheus scraping every 15 s or more sees no difference.
// Descriptors go to every-tick files first. On hybrid hosts a managed target's CPU time
// comes from its cgroup2 twin's cpu.stat (usage, user and system in µs, one read) instead of
// cpuacct.usage + cpuacct.stat: cgwarden put every member in both, so they count the same
// tasks. cpu.stat (v1) is read only while a CPU quota is set: without one the kernel runs no
// CFS periods and exports no throttling.
//
// Vanished cgroups: ENOENT/ENODEV on a target's files means the cgroup is gone: it drops
// out of the snapshot and is retried each tick while the provider still lists it. Other
// failures count in SamplerStats::errorsTotal and are logged once until they clear.
// cgwarden never writes to a sampled cgroup: every descriptor is opened O_RDONLY.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/CgroupLayout.h"
#include "collectors/SampleTarget.h"
#include "collectors/Snapshot.h"

namespace cgwarden::collectors {

// The detail sections, as a bit mask (Sampler::setEveryTick).
enum SampleSection : uint32_t {
  kSectionPressure = 1u << 0,    // cpu/memory/io.pressure (PSI): TargetSample::*Pressure
  kSectionMemoryPeak = 1u << 1,  // v1 memory.max_usage_in_bytes + memory.failcnt; v2 memory.peak
  kSectionSwap = 1u << 2,        // v2 memory.swap.current (v1 swap comes with memory.stat, every tick)
  kSectionProcesses = 1u << 3,   // cgroup.procs: TargetSample::processes
  kSectionThrottling = 1u << 4,  // v1 cpu.stat (CFS periods, throttling, bursts); v2 has them in
                                 // the every-tick cpu.stat
  kSectionOom = 1u << 5,         // v1 memory.oom_control; v2 memory.events (oom_kill, high, max...)
  kSectionIo = 1u << 6,          // v1 blkio.*io_service{d,_bytes}_recursive; v2 io.stat
  kSectionTasks = 1u << 7,       // pids.current
  kSectionCpuUserSystem = 1u << 8,  // v1 cpuacct.stat; v2 and hybrid managed targets have user and
                                    // system time in the every-tick cpu.stat
  kAllDetailSections = (1u << 9) - 1,
};
// "pressure", "memory_peak", "swap", "processes", "throttling", "oom", "io", "tasks",
// "cpu_user_system"
const char* sampleSectionName(SampleSection section);
// A section by that name; 0 when there is none.
uint32_t sampleSectionByName(std::string_view name);

struct SamplerOptions {
  std::chrono::milliseconds interval{1000};
  // Detail sections are re-read this often (rounded to whole ticks; <= interval: every tick).
  std::chrono::milliseconds detailInterval{10000};
  // Detail sections (SampleSection mask) read on every tick from the start (config
  // `agent.sample_every_tick`); setEveryTick replaces it.
  uint32_t everyTick = 0;
  uint32_t specRefreshTicks = 30;  // effective limits re-read every N ticks (and on change)
  static constexpr size_t kAutoOpenFiles = SIZE_MAX;
  size_t maxOpenFiles = kAutoOpenFiles;  // descriptors held across ticks (0 = none); auto = RLIMIT_NOFILE / 2
  std::string sysRoot = "/sys";    // for /sys/dev/block/MAJ:MIN/uevent
  uint64_t userHz = 0;             // cpuacct.stat tick rate; 0 = sysconf(_SC_CLK_TCK)
  // Managed targets: when the cgroup is recreated under the same id (reopened after it
  // vanished) or a counter goes backwards, the previous values become an offset, so
  // exported counters stay monotonic across restarts of the workload.
  bool counterContinuity = true;
};

// Raises this process's soft RLIMIT_NOFILE to its hard limit (capped at 1 << 20) so the
// sampler can hold a descriptor per accounting file (the budget is half the soft limit;
// a systemd service starts with soft 1024). Returns the previous soft limit, which a
// launcher should restore for the workloads it starts, as Go's os/exec does. 0 on error.
uint64_t raiseFileDescriptorLimit();

// Like TargetProvider, but hands out immutable shared targets: a target returned again
// as the same pointer costs nothing to check (no copy, no comparison), which matters at
// thousands of targets (ObservedCgroups caches its targets this way).
using SharedTargetProvider = std::function<std::vector<std::shared_ptr<const SampleTarget>>()>;
// Adapts a TargetProvider (each target copied into a shared_ptr every tick).
SharedTargetProvider shareTargets(TargetProvider provider);

class Sampler {
 public:
  Sampler(CgroupLayout layout, SharedTargetProvider provider, SamplerOptions options = {});
  Sampler(CgroupLayout layout, TargetProvider provider, SamplerOptions options = {});
  ~Sampler();  // stops the loop
  Sampler(const Sampler&) = delete;
  Sampler& operator=(const Sampler&) = delete;

  // Starts the loop thread (the first tick runs at once). Idempotent.
  void start();
  // Stops and joins the loop; returns within one file read. Idempotent.
  void stop();
  bool running() const;

  // Runs one tick on the caller's thread and publishes its snapshot (tests, benchmarks,
  // or an agent that drives ticks itself). Serialised with the loop's ticks.
  std::shared_ptr<const Snapshot> tick();

  // The last published snapshot; never null (an empty one before the first tick). Each
  // target carries its previous tick's counters (TargetSample::previous) for rates, so only
  // this snapshot (and the one being filled) is held.
  std::shared_ptr<const Snapshot> latest() const;

  // Detail sections to read on every tick from now on (a mask of SampleSection), on top of
  // their detailInterval. Replaces the previous mask; thread-safe.
  void setEveryTick(uint32_t sections);

  const SamplerOptions& options() const;
  const CgroupLayout& layout() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cgwarden::collectors
