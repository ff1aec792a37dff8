#pragma once
// Pure parsers and formatters for the cgroup files that hold limits.
// Each parser takes the file's text (trailing newline allowed) and names what was
// wrong on failure; the caller adds the path (Error::path).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/Limits.h"
#include "collectors/Result.h"

namespace cgwarden {

// "max" -> kUnlimited, "12345" -> 12345 (v2 memory.max/high/low/swap.max, pids.max).
Result<uint64_t> parseMaxOrNumber(std::string_view text);
std::string formatMaxOrNumber(uint64_t value);  // kUnlimited -> "max"

// v1 numbers that use -1 for "unlimited" (cpu.cfs_quota_us) -> kUnlimited.
Result<uint64_t> parseV1SignedLimit(std::string_view text);

// v2 cpu.max: "max 100000" or "50000 100000".
struct CpuMax {
  uint64_t quotaUs = kUnlimited;
  uint64_t periodUs = 100000;
};
Result<CpuMax> parseCpuMax(std::string_view text);
std::string formatCpuMax(const CpuMax& value);

// v2 io.weight: "default 100\n8:16 200\n" -> the default weight.
Result<uint64_t> parseIoWeightDefault(std::string_view text);

// v2 io.max: one line per device: "8:16 rbps=2097152 wbps=max riops=max wiops=120".
// Values "max" become kUnlimited; devices without a line have no limit.
Result<std::vector<IoDeviceLimit>> parseIoMax(std::string_view text);
// One write for one device; unset fields are left out (unchanged), kUnlimited -> "max".
std::string formatIoMaxLine(const IoDeviceLimit& limit);

// v1 blkio.throttle.{read,write}_{bps,iops}_device: "8:16 1048576" per line.
struct DeviceValue {
  uint32_t major = 0;
  uint32_t minor = 0;
  uint64_t value = 0;
};
Result<std::vector<DeviceValue>> parseBlkioThrottle(std::string_view text);
// kUnlimited is written as 0, which is how v1 removes a throttle.
std::string formatBlkioThrottleLine(uint32_t major, uint32_t minor, uint64_t value);

// "8:16" -> {8, 16}.
Result<std::pair<uint32_t, uint32_t>> parseMajorMinor(std::string_view text);

// A cpuset list "0-3,6,8-9": validates syntax and returns the CPUs in order.
Result<std::vector<uint32_t>> parseCpuList(std::string_view text);

}  // namespace cgwarden
