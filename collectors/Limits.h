#pragma once
// Resource limits in one version-neutral form. Backends translate to v1 or v2 files.
//
// Every field is optional: unset means "leave the kernel's value alone" when applying,
// and "not readable on this host" when reading back. kUnlimited stands for "max".
// Canonical units follow cgroup v2; the v1 backend converts (see Conversions.h).

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace cgwarden {

inline constexpr uint64_t kUnlimited = std::numeric_limits<uint64_t>::max();

struct CpuLimits {
  std::optional<uint64_t> quotaUs;   // CPU time per period in µs; kUnlimited = no quota
  std::optional<uint64_t> periodUs;  // period in µs (1000..1000000); default 100000
  std::optional<uint64_t> weight;    // 1..10000, default 100 (v1: cpu.shares via sharesToWeight)
  std::optional<std::string> cpus;   // cpuset list, e.g. "0-3,6"
  std::optional<std::string> mems;   // memory nodes, e.g. "0"
  bool operator==(const CpuLimits&) const = default;
};

struct MemoryLimits {
  std::optional<uint64_t> max;      // bytes; hard limit (v1 memory.limit_in_bytes, v2 memory.max)
  std::optional<uint64_t> high;     // bytes; throttle point (v2 memory.high; v1 has none, see backend)
  std::optional<uint64_t> low;      // bytes; best-effort protection (v2 memory.low, v1 soft_limit_in_bytes)
  std::optional<uint64_t> swapMax;  // bytes of swap only (v2 memory.swap.max; v1 memsw = max + swap)
  bool operator==(const MemoryLimits&) const = default;
};

struct PidsLimits {
  std::optional<uint64_t> max;  // tasks (threads); kUnlimited = "max"
  bool operator==(const PidsLimits&) const = default;
};

struct IoDeviceLimit {
  uint32_t major = 0;
  uint32_t minor = 0;
  // bytes/s and ops/s; kUnlimited removes the limit, unset leaves it alone.
  std::optional<uint64_t> readBps, writeBps, readIops, writeIops;
  bool operator==(const IoDeviceLimit&) const = default;
};

struct IoLimits {
  std::optional<uint64_t> weight;  // 1..10000, default 100 (v1: blkio weight 10..1000, converted)
  std::vector<IoDeviceLimit> devices;
  bool operator==(const IoLimits&) const = default;
};

struct Limits {
  CpuLimits cpu;
  MemoryLimits memory;
  PidsLimits pids;
  IoLimits io;
  bool operator==(const Limits&) const = default;
};

// Human-readable rendering for logs and errors: "cpu 0.50 cores, memory max 64Mi, pids 32".
std::string describeLimits(const Limits& limits);

}  // namespace cgwarden
