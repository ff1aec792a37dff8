#pragma once
// Existing cgroups matched by the config's `observe:` patterns, exported read-only
// (SampleTarget::managed = false: no state, no cgwarden_workload_* series, and nothing in
// cgwarden ever writes to them; the sampler opens every file O_RDONLY).
//
// A pattern is a '/'-separated path below the hierarchy roots, each segment an fnmatch(3)
// glob that does not cross '/', plus "**" for any number of segments (zero included):
//   system.slice/*.service     docker/*     kubepods.slice/**/cri-containerd-*.scope
// It is matched in every hierarchy the sampler reads (v1: cpu, cpuacct, memory, blkio,
// pids; the cgroup2 mount on v2 and hybrid); a match gets the directories where it exists.
// Targets: id "/system.slice/cron.service", name "system.slice/cron.service".
// Scanning lists directories, so it runs every rescanInterval, not every tick.

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/CgroupLayout.h"
#include "collectors/Result.h"
#include "collectors/SampleTarget.h"

namespace cgwarden::collectors {

class ObservedCgroups {
 public:
  ObservedCgroups(CgroupLayout layout, std::vector<std::string> patterns,
                  std::chrono::milliseconds rescanInterval = std::chrono::seconds(10));

  // Rejects empty patterns, empty segments, "." / "..", and a leading '/' is allowed.
  static Status validatePattern(std::string_view pattern);
  // Pure: whether a relative cgroup path ("system.slice/cron.service") matches.
  static bool matches(std::string_view pattern, std::string_view path);

  // The targets of the last scan, rescanning first when the interval has passed. The
  // same shared targets come back until a rescan finds a change. Thread-safe.
  std::vector<std::shared_ptr<const SampleTarget>> targets();
  // Scans now, bypassing the cache. Sorted by id.
  std::vector<SampleTarget> scan() const;

 private:
  CgroupLayout layout_;
  std::vector<std::string> patterns_;
  std::chrono::milliseconds rescanInterval_;
  std::mutex mutex_;
  std::vector<std::shared_ptr<const SampleTarget>> cached_;
  std::chrono::steady_clock::time_point lastScan_{};
  bool scanned_ = false;
};

}  // namespace cgwarden::collectors
