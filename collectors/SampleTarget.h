#pragma once
// What the sampling loop is asked to read: one cgroup, and what cgwarden knows about it.
// The supervisor (managed workloads) and the observe-pattern matcher (read-only cgroups)
// produce these; the Sampler turns them into one immutable Snapshot per tick.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "collectors/CgroupDirs.h"
#include "collectors/Limits.h"

namespace cgwarden::collectors {

// Limits as configured, held only when some are set: an observed target (nothing configured)
// pays one pointer rather than a whole Limits. Reads as a const Limits (`*`, `->`; an empty
// Limits when none are held), is assigned from a Limits, compares by value.
class ConfiguredLimits {
 public:
  ConfiguredLimits() = default;
  ConfiguredLimits(const Limits& limits)  // implicit: `target.configuredLimits = spec.limits`
      : limits_(limits == Limits{} ? nullptr : std::make_shared<const Limits>(limits)) {}

  const Limits& operator*() const { return limits_ ? *limits_ : kNone; }
  const Limits* operator->() const { return &**this; }
  bool operator==(const ConfiguredLimits& other) const { return **this == *other; }

 private:
  inline static const Limits kNone{};
  std::shared_ptr<const Limits> limits_;
};

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
  ConfiguredLimits configuredLimits;  // as configured (cgwarden_limit_* metrics)

  bool operator==(const SampleTarget&) const = default;
};

// Called once per tick by the sampler to learn the current set of targets.
using TargetProvider = std::function<std::vector<SampleTarget>()>;

}  // namespace cgwarden::collectors
