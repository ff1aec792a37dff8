#pragma once
// A fresh mini-sample of one target between two sampler ticks, for the policer's kernel
// wake-ups (a memory threshold crossed, an OOM, a PSI trigger): re-reads only the memory,
// pids and pressure files and returns a copy of the last TargetSample with those sections
// replaced, so a rule on memory or pressure is evaluated on what the kernel says now.
//
// Files read (absolute paths from SampleTarget::dirs, opened O_RDONLY):
//   v1 ("memory")  memory.usage_in_bytes, memory.stat, memory.oom_control, memory.limit_in_bytes
//   v2 ("")        memory.current, memory.stat, memory.events, memory.max
//   both           pids.current, pids.max ("pids" on v1, "" on v2)
//   PSI ("")       cpu.pressure, memory.pressure, io.pressure (v2, and the hybrid twin)
// Counters (oom_kill, PSI totals) are the sampler's monotonic view: a raw value below the
// last sample's (a cgroup recreated under the same id) keeps the last sample's value.
// CPU and IO sections are left as they were in `last` (rates come from whole ticks).
//
// Cost: ~10 small files, about 30-60 µs here.

#include "collectors/CgroupLayout.h"
#include "collectors/Result.h"
#include "collectors/Snapshot.h"

namespace cgwarden::collectors {

// `last` must carry the target (last.target non-null). ENOENT/ENODEV (Error::cgroupGone())
// when the cgroup vanished. `nowUnix` becomes sampleTime.
Result<TargetSample> probeTarget(const TargetSample& last, CgroupMode mode, double nowUnix);

}  // namespace cgwarden::collectors
