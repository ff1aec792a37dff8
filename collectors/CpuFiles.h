#pragma once
// Pure parsers of the CPU accounting files (v1 cpuacct.* and cpu.stat, v2 cpu.stat).
// Each takes the file's text (trailing newline allowed); an Error's detail names the
// line or key that was wrong, and the caller sets Error::path.

#include <cstdint>
#include <string_view>
#include <vector>

#include "collectors/Result.h"

namespace cgwarden::collectors {

// A single unsigned number ("612668499\n"): v1 cpuacct.usage (ns), memory.usage_in_bytes,
// memory.max_usage_in_bytes, memory.failcnt; v2 memory.current, memory.peak,
// memory.swap.current; pids.current.
Result<uint64_t> parseSingleValue(std::string_view text);

// v1 cpuacct.stat, in USER_HZ ticks (sysconf(_SC_CLK_TCK), 100 on Linux):
//   user 48
//   system 12
struct CpuacctStat {
  uint64_t userNs = 0;
  uint64_t systemNs = 0;
};
Result<CpuacctStat> parseCpuacctStat(std::string_view text, uint64_t userHz);

// v1 cpuacct.usage_percpu: one ns value per possible CPU, space separated:
//   536285680 76382819
Result<std::vector<uint64_t>> parseCpuacctUsagePercpu(std::string_view text);

// v1 cpu.stat (CFS bandwidth); nr_bursts/burst_time exist since 5.14:
//   nr_periods 13
//   nr_throttled 11
//   throttled_time 250297182      (ns)
//   nr_bursts 0
//   burst_time 0                  (ns)
struct CpuStatV1 {
  uint64_t periods = 0;
  uint64_t throttledPeriods = 0;
  uint64_t throttledNs = 0;
  uint64_t bursts = 0;
  uint64_t burstNs = 0;
  bool hasBurst = false;
};
Result<CpuStatV1> parseCpuStatV1(std::string_view text);

// v2 cpu.stat. usage/user/system are always there (also in a controller-less cgroup2,
// e.g. the hybrid twin); the bandwidth keys only when the cpu controller is enabled:
//   usage_usec 612476
//   user_usec 488337
//   system_usec 124139
//   nr_periods 13
//   nr_throttled 11
//   throttled_usec 250297
//   nr_bursts 0
//   burst_usec 0
struct CpuStatV2 {
  uint64_t usageUs = 0;
  uint64_t userUs = 0;
  uint64_t systemUs = 0;
  uint64_t periods = 0;
  uint64_t throttledPeriods = 0;
  uint64_t throttledUs = 0;
  uint64_t bursts = 0;
  uint64_t burstUs = 0;
  bool hasBandwidth = false;  // nr_periods/nr_throttled/throttled_usec present
  bool hasBurst = false;      // nr_bursts/burst_usec present
};
Result<CpuStatV2> parseCpuStatV2(std::string_view text);

}  // namespace cgwarden::collectors
