#pragma once
// What the sampling loop is asked to read: one cgroup, and what cgwarden knows about it.
// The supervisor (managed workloads) and the observe-pattern matcher (read-only cgroups)
// produce these; the Sampler turns them into one immutable Snapshot per tick.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "collectors/CgroupDirs.h"
#include "collectors/Limits.h"

namespace cgwarden::collectors {

struct SampleTarget {
  std::string id;     // cgroup path relative to the mounts, leading '/': "/cgwarden/web" (label `id`)
  std::string name;   // workload name (label `name`); observed cgroups: their path below the mount
  std::string image;  // label `image`; empty unless configured
  std::map<std::string, std::string> labels;  // exported as container_label_<key>
  bool managed = true;  // false: observed read-only, never written to

  // Directory per controller: "cpu", "cpuacct", "cpuset", "memory", "pids", "blkio" (v1) or
  // "io" (v2), and "" for the cgroup2 directory (v2 everything; hybrid: PSI twin). Absolute paths.
  CgroupDirs dirs;

  // Managed workloads only (the supervisor fills these).
  std::string state;                  // starting|running|restarting|exited|oom_killed|stopped|failed|adopted
  uint32_t restarts = 0;
  std::optional<int> lastExitCode;    // exit status of the last run (128+signal when killed)
  double startTimeSeconds = 0;        // unix time the current run started (container_start_time_seconds)
  Limits configuredLimits;            // as configured (cgwarden_limit_* metrics)

  bool operator==(const SampleTarget&) const = default;
};

// Called once per tick by the sampler to learn the current set of targets.
using TargetProvider = std::function<std::vector<SampleTarget>()>;

}  // namespace cgwarden::collectors
