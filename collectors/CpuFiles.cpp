#include "collectors/CpuFiles.h"

#include "collectors/StatScan.h"

namespace cgwarden::collectors {

using scan::FlatKey;

Result<uint64_t> parseSingleValue(std::string_view text) {
  std::string_view t = scan::trimBlank(text);
  uint64_t v = 0;
  if (!scan::toU64(t, v)) {
    return Error::invalid("parse", "", "expected one unsigned number, got \"" + std::string(t.substr(0, 80)) + "\"");
  }
  return v;
}

Result<CpuacctStat> parseCpuacctStat(std::string_view text, uint64_t userHz) {
  if (userHz == 0) return Error::invalid("parse", "", "USER_HZ is 0");
  struct Ticks {
    uint64_t user = 0;
    uint64_t system = 0;
  } ticks;
  static constexpr FlatKey<Ticks> kKeys[] = {{"user", &Ticks::user}, {"system", &Ticks::system}};
  auto seen = scan::scanFlatKeyed(text, kKeys, ticks);
  if (!seen) return seen.error();
  if (auto st = scan::requireKeys(*seen, 0b11, kKeys); !st) return st.error();
  // Exact for any USER_HZ (100, 250, 300, 1000), no intermediate overflow.
  auto toNs = [userHz](uint64_t t) { return t / userHz * 1000000000ULL + t % userHz * 1000000000ULL / userHz; };
  return CpuacctStat{toNs(ticks.user), toNs(ticks.system)};
}

Result<std::vector<uint64_t>> parseCpuacctUsagePercpu(std::string_view text) {
  std::vector<uint64_t> out;
  std::string_view rest = scan::trimBlank(text);
  while (!rest.empty()) {
    std::string_view field = scan::nextField(rest);
    if (field.empty()) break;
    uint64_t v = 0;
    if (!scan::toU64(field, v)) {
      return Error::invalid("parse", "", "cpu " + std::to_string(out.size()) + ": expected a number of ns, got \"" +
                                             std::string(field.substr(0, 40)) + "\"");
    }
    out.push_back(v);
  }
  if (out.empty()) return Error::invalid("parse", "", "no per-CPU values");
  return out;
}

Result<CpuStatV1> parseCpuStatV1(std::string_view text) {
  CpuStatV1 out;
  static constexpr FlatKey<CpuStatV1> kKeys[] = {{"nr_periods", &CpuStatV1::periods},
                                                 {"nr_throttled", &CpuStatV1::throttledPeriods},
                                                 {"throttled_time", &CpuStatV1::throttledNs},
                                                 {"nr_bursts", &CpuStatV1::bursts},
                                                 {"burst_time", &CpuStatV1::burstNs}};
  auto seen = scan::scanFlatKeyed(text, kKeys, out);
  if (!seen) return seen.error();
  if (auto st = scan::requireKeys(*seen, 0b111, kKeys); !st) return st.error();
  out.hasBurst = (*seen & 0b11000) == 0b11000;
  return out;
}

Result<CpuStatV2> parseCpuStatV2(std::string_view text) {
  CpuStatV2 out;
  static constexpr FlatKey<CpuStatV2> kKeys[] = {{"usage_usec", &CpuStatV2::usageUs},
                                                 {"user_usec", &CpuStatV2::userUs},
                                                 {"system_usec", &CpuStatV2::systemUs},
                                                 {"nr_periods", &CpuStatV2::periods},
                                                 {"nr_throttled", &CpuStatV2::throttledPeriods},
                                                 {"throttled_usec", &CpuStatV2::throttledUs},
                                                 {"nr_bursts", &CpuStatV2::bursts},
                                                 {"burst_usec", &CpuStatV2::burstUs}};
  auto seen = scan::scanFlatKeyed(text, kKeys, out);
  if (!seen) return seen.error();
  if (auto st = scan::requireKeys(*seen, 0b111, kKeys); !st) return st.error();
  out.hasBandwidth = (*seen & 0b111000) == 0b111000;
  out.hasBurst = (*seen & 0b11000000) == 0b11000000;
  return out;
}

}  // namespace cgwarden::collectors
