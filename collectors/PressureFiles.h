#pragma once
// Pure parser of the PSI files: /proc/pressure/{cpu,memory,io} and, per cgroup,
// {cpu,memory,io}.pressure (v2, and the cgroup2 twin on hybrid hosts):
//   some avg10=0.00 avg60=0.00 avg300=0.00 total=470559
//   full avg10=0.00 avg60=0.00 avg300=0.00 total=470201
// avg* are percentages of wall time over 10/60/300 s; total is cumulative stall time in µs.
// Kernels before 5.13 have no "full" line in cpu.pressure.

#include <cstdint>
#include <string_view>

#include "collectors/Result.h"

namespace cgwarden::collectors {

struct PressureLine {
  uint64_t totalUs = 0;
  // Percentages as the kernel prints them (two decimals): float holds them to ~1e-7, and a
  // snapshot holds six per target.
  float avg10 = 0;
  float avg60 = 0;
  float avg300 = 0;
};

struct Pressure {
  PressureLine some;
  PressureLine full;
  bool hasFull = false;
};

// Requires a "some" line with all four keys; "full" is optional. Unknown keys are skipped.
Result<Pressure> parsePressure(std::string_view text);

}  // namespace cgwarden::collectors
