#pragma once
// The sampling loop: once per interval, asks the TargetProvider which cgroups to read,
// reads each one's accounting files and effective limits, and publishes an immutable
// Snapshot (shared_ptr<const Snapshot>, swapped atomically: readers never block the loop).
//
// Reading: a directory fd per hierarchy of each target and an fd per accounting file are
// held across ticks and re-read with pread(fd, buf, 0) into one reused buffer, as long as
// the descriptor budget allows (maxOpenFiles); beyond it files are opened per read. The
// effective limits (container_spec_*) are re-read every specRefreshTicks ticks, and at
// once when a target's configuredLimits change.
//
// Vanished cgroups: ENOENT/ENODEV on a target's files means the cgroup is gone: it drops
// out of the snapshot and is retried each tick while the provider still lists it. Other
// failures count in SamplerStats::errorsTotal and are logged once until they clear.
// cgwarden never writes to a sampled cgroup: every descriptor is opened O_RDONLY.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "collectors/CgroupLayout.h"
#include "collectors/SampleTarget.h"
#include "collectors/Snapshot.h"

namespace cgwarden::collectors {

struct SamplerOptions {
  std::chrono::milliseconds interval{1000};
  uint32_t specRefreshTicks = 10;  // effective limits re-read every N ticks (and on change)
  static constexpr size_t kAutoOpenFiles = SIZE_MAX;
  size_t maxOpenFiles = kAutoOpenFiles;  // descriptors held across ticks (0 = none); auto = RLIMIT_NOFILE / 4
  std::string sysRoot = "/sys";    // for /sys/dev/block/MAJ:MIN/uevent
  uint64_t userHz = 0;             // cpuacct.stat tick rate; 0 = sysconf(_SC_CLK_TCK)
  // Managed targets: when the cgroup is recreated under the same id (reopened after it
  // vanished) or a counter goes backwards, the previous values become an offset, so
  // exported counters stay monotonic across restarts of the workload.
  bool counterContinuity = true;
};

class Sampler {
 public:
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

  // The last published snapshot; never null (an empty one before the first tick).
  std::shared_ptr<const Snapshot> latest() const;

  const SamplerOptions& options() const;
  const CgroupLayout& layout() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cgwarden::collectors
