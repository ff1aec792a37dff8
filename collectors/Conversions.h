#pragma once
// Named, pure conversions between cgroup v1 and v2 units (facts: shared/reference/cgroup-facts.md).

#include <cstdint>
#include <optional>

namespace cgwarden {

// cpu.shares (2..262144) -> cpu.weight (1..10000) with the 2025 log formula used by
// runc >= 1.3.2 and crun >= 1.23: l = log2(shares); weight = ceil(10^((l^2 + 125 l)/612 - 7/34)).
// 2 -> 1, 1024 -> 100, 262144 -> 10000.
uint64_t sharesToWeight(uint64_t shares);
// The inverse of sharesToWeight, rounded: 1 -> 2, 100 -> 1024, 10000 -> 262144.
uint64_t weightToShares(uint64_t weight);
// cAdvisor's mapping for container_spec_cpu_shares on v2: 2 + ((weight - 1) * 262142) / 9999.
uint64_t cadvisorSharesFromWeight(uint64_t weight);

// blkio.weight (10..1000) -> io.weight (1..10000): 1 + (w - 10) * 9999 / 990, and back.
uint64_t blkioWeightToIoWeight(uint64_t blkioWeight);
uint64_t ioWeightToBlkioWeight(uint64_t ioWeight);

// v1 memory.memsw.limit_in_bytes counts memory + swap; v2 memory.swap.max counts swap only.
// memsw = max + swap (kUnlimited stays kUnlimited); swap = memsw - max (nullopt if memsw < max).
uint64_t memswFromSwap(uint64_t memoryMax, uint64_t swapMax);
std::optional<uint64_t> swapFromMemsw(uint64_t memoryMax, uint64_t memsw);

// cores (e.g. 1.5) at `periodUs` -> quota µs, at least 1000 (the kernel's minimum).
uint64_t quotaForCores(double cores, uint64_t periodUs);
double coresForQuota(uint64_t quotaUs, uint64_t periodUs);

// v1 reports "unlimited" as a page-rounded LONG_MAX (9223372036854771712); anything
// at or above 2^62 is treated as unlimited, as cAdvisor does.
uint64_t normalizeV1Unlimited(uint64_t value);

}  // namespace cgwarden
