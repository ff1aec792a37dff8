#pragma once
// Pure parsers for the task counts: pids.current (parseSingleValue, CpuFiles.h),
// pids.max (parseMaxOrNumber, LimitFiles.h: "max" -> kUnlimited) and cgroup.procs.

#include <cstdint>
#include <string_view>

#include "collectors/Result.h"

namespace cgwarden::collectors {

// Counts the pids listed in cgroup.procs (one decimal pid per line):
//   4242
//   4250
// A line that is not a pid is an error naming it. The file can be larger than one read
// buffer: feed() successive chunks (a line may span two), then finish().
struct ProcsCounter {
  uint64_t count = 0;
  bool inLine = false;   // the previous chunk ended inside a line
  bool lineOk = true;    // digits only so far in the current line
  int lineNumber = 0;

  Status feed(std::string_view chunk);
  Status finish();
};

// Convenience for a whole file's text.
Result<uint64_t> countProcs(std::string_view text);

}  // namespace cgwarden::collectors
