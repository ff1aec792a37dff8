#pragma once
// Pure parsers of the memory accounting files (v1 memory.stat/oom_control, v2
// memory.stat/memory.events). Single-number files (memory.usage_in_bytes,
// memory.max_usage_in_bytes, memory.failcnt, memory.current, memory.peak,
// memory.swap.current) use parseSingleValue (CpuFiles.h). Amounts are bytes,
// fault/scan counts are events or pages as the kernel reports them.

#include <cstdint>
#include <string_view>

#include "collectors/Result.h"

namespace cgwarden::collectors {

// v1 memory.stat: local keys and hierarchical "total_*" twins (this cgroup and its
// descendants). The hierarchical values are the ones reported, as cAdvisor does:
//   cache 147456
//   rss 0
//   mapped_file 0
//   ...
//   total_cache 147456
//   total_rss 0
//   total_inactive_file 131072
struct MemoryStatV1 {
  uint64_t cache = 0;
  uint64_t rss = 0;
  uint64_t mappedFile = 0;
  uint64_t swap = 0;          // only with swap accounting
  uint64_t dirty = 0;
  uint64_t writeback = 0;
  uint64_t inactiveFile = 0;
  uint64_t activeFile = 0;
  uint64_t pgfault = 0;
  uint64_t pgmajfault = 0;
  uint64_t workingsetRefaultAnon = 0;
  uint64_t workingsetRefaultFile = 0;
  bool hierarchical = false;  // values come from total_* keys
  bool hasSwap = false;
};
// Requires cache, rss, inactive_file (or their total_* forms).
Result<MemoryStatV1> parseMemoryStatV1(std::string_view text);

// v1 memory.oom_control:
//   oom_kill_disable 0
//   under_oom 0
//   oom_kill 0          (kernel >= 4.13)
struct OomControl {
  bool oomKillDisable = false;
  bool underOom = false;
  uint64_t oomKill = 0;
  bool hasOomKill = false;
};
Result<OomControl> parseOomControl(std::string_view text);

// v2 memory.stat (all keys hierarchical):
//   anon 1048576
//   file 3170304
//   file_mapped 0
//   file_dirty 4096
//   file_writeback 0
//   inactive_file 2174976
//   active_file 995328
//   workingset_refault_anon 0
//   workingset_refault_file 12
//   pgscan 0
//   pgsteal 0
//   pgfault 2730
//   pgmajfault 1
struct MemoryStatV2 {
  uint64_t anon = 0;
  uint64_t file = 0;
  uint64_t fileMapped = 0;
  uint64_t fileDirty = 0;
  uint64_t fileWriteback = 0;
  uint64_t inactiveFile = 0;
  uint64_t activeFile = 0;
  uint64_t kernel = 0;  // kernel >= 5.18
  uint64_t workingsetRefaultAnon = 0;
  uint64_t workingsetRefaultFile = 0;
  uint64_t pgscan = 0;
  uint64_t pgsteal = 0;
  uint64_t pgfault = 0;
  uint64_t pgmajfault = 0;
};
// Requires anon, file, inactive_file.
Result<MemoryStatV2> parseMemoryStatV2(std::string_view text);

// v2 memory.events (hierarchical counters; oom_group_kill since 5.19):
//   low 0
//   high 12
//   max 40
//   oom 1
//   oom_kill 1
//   oom_group_kill 0
struct MemoryEvents {
  uint64_t low = 0;
  uint64_t high = 0;
  uint64_t max = 0;
  uint64_t oom = 0;
  uint64_t oomKill = 0;
  uint64_t oomGroupKill = 0;
};
// Requires low, high, max, oom, oom_kill.
Result<MemoryEvents> parseMemoryEvents(std::string_view text);

}  // namespace cgwarden::collectors
