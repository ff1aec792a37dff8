#include "collectors/Conversions.h"

#include <algorithm>
#include <cmath>

#include "collectors/Limits.h"

namespace cgwarden {

uint64_t sharesToWeight(uint64_t shares) {
  if (shares == 0) return 100;  // unset in OCI terms: the default weight
  shares = std::clamp<uint64_t>(shares, 2, 262144);
  double l = std::log2(static_cast<double>(shares));
  double exponent = (l * l + 125.0 * l) / 612.0 - 7.0 / 34.0;
  // The exact points (1024 -> 100) come out a hair above the integer in floating point.
  double weight = std::ceil(std::pow(10.0, exponent) - 1e-9);
  return std::clamp<uint64_t>(static_cast<uint64_t>(weight), 1, 10000);
}

uint64_t weightToShares(uint64_t weight) {
  weight = std::clamp<uint64_t>(weight, 1, 10000);
  // Solve l^2 + 125 l - 612 (log10(w) + 7/34) = 0 for l >= 0.
  double c = 612.0 * (std::log10(static_cast<double>(weight)) + 7.0 / 34.0);
  double l = (-125.0 + std::sqrt(125.0 * 125.0 + 4.0 * c)) / 2.0;
  auto shares = static_cast<uint64_t>(std::llround(std::exp2(l)));
  return std::clamp<uint64_t>(shares, 2, 262144);
}

uint64_t cadvisorSharesFromWeight(uint64_t weight) {
  if (weight == 0) return 0;
  return 2 + ((weight - 1) * 262142) / 9999;
}

uint64_t blkioWeightToIoWeight(uint64_t blkioWeight) {
  blkioWeight = std::clamp<uint64_t>(blkioWeight, 10, 1000);
  return 1 + (blkioWeight - 10) * 9999 / 990;
}

uint64_t ioWeightToBlkioWeight(uint64_t ioWeight) {
  ioWeight = std::clamp<uint64_t>(ioWeight, 1, 10000);
  // Round to nearest so that blkio -> io -> blkio is the identity.
  return std::clamp<uint64_t>(10 + ((ioWeight - 1) * 990 + 9999 / 2) / 9999, 10, 1000);
}

uint64_t memswFromSwap(uint64_t memoryMax, uint64_t swapMax) {
  if (memoryMax == kUnlimited || swapMax == kUnlimited) return kUnlimited;
  return memoryMax + swapMax;
}

std::optional<uint64_t> swapFromMemsw(uint64_t memoryMax, uint64_t memsw) {
  if (memsw == kUnlimited) return kUnlimited;
  if (memoryMax == kUnlimited || memsw < memoryMax) return std::nullopt;
  return memsw - memoryMax;
}

uint64_t quotaForCores(double cores, uint64_t periodUs) {
  double quota = std::round(cores * static_cast<double>(periodUs));
  return std::max<uint64_t>(1000, static_cast<uint64_t>(quota));
}

double coresForQuota(uint64_t quotaUs, uint64_t periodUs) {
  if (periodUs == 0 || quotaUs == kUnlimited) return 0.0;
  return static_cast<double>(quotaUs) / static_cast<double>(periodUs);
}

uint64_t normalizeV1Unlimited(uint64_t value) { return value >= (uint64_t{1} << 62) ? kUnlimited : value; }

}  // namespace cgwarden
