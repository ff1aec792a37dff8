#include "collectors/MemoryFiles.h"

#include "collectors/StatScan.h"

namespace cgwarden::collectors {

using scan::FlatKey;

namespace {

// The keys read from v1 memory.stat, each with its local and hierarchical ("total_") name.
struct V1Raw {
  uint64_t local[12] = {};
  uint64_t total[12] = {};
};

constexpr std::string_view kV1Names[12] = {"cache",       "rss",        "mapped_file",
                                           "swap",        "dirty",      "writeback",
                                           "inactive_file", "active_file", "pgfault",
                                           "pgmajfault",  "workingset_refault_anon", "workingset_refault_file"};
constexpr uint64_t MemoryStatV1::*kV1Members[12] = {
    &MemoryStatV1::cache,         &MemoryStatV1::rss,        &MemoryStatV1::mappedFile,
    &MemoryStatV1::swap,          &MemoryStatV1::dirty,      &MemoryStatV1::writeback,
    &MemoryStatV1::inactiveFile,  &MemoryStatV1::activeFile, &MemoryStatV1::pgfault,
    &MemoryStatV1::pgmajfault,    &MemoryStatV1::workingsetRefaultAnon, &MemoryStatV1::workingsetRefaultFile};

// kV1Names' index of `name`, -1 for the ~25 other keys: one comparison per line, chosen
// by length (memory.stat is read every tick, some 70 lines).
int v1Index(std::string_view name) {
  auto is = [name](int i) { return name == kV1Names[i] ? i : -1; };
  switch (name.size()) {
    case 3: return is(1);
    case 4: return is(3);
    case 5: return name[0] == 'c' ? is(0) : is(4);
    case 7: return is(8);
    case 9: return is(5);
    case 10: return is(9);
    case 11: return name[0] == 'm' ? is(2) : is(7);
    case 13: return is(6);
    case 23: return name.back() == 'n' ? is(10) : is(11);
    default: return -1;
  }
}

}  // namespace

Result<MemoryStatV1> parseMemoryStatV1(std::string_view text) {
  V1Raw raw;
  uint32_t seenLocal = 0;
  uint32_t seenTotal = 0;
  std::string_view bad;
  int badLine = scan::forEachKeyValue(text, bad, [&](std::string_view key, uint64_t value) {
    bool total = key.size() > 6 && key.substr(0, 6) == "total_";
    int i = v1Index(total ? key.substr(6) : key);
    if (i < 0) return true;
    if (total) {
      raw.total[i] = value;
      seenTotal |= 1u << i;
    } else {
      raw.local[i] = value;
      seenLocal |= 1u << i;
    }
    return true;
  });
  if (badLine != 0) return scan::lineError(badLine, "\"<key> <number>\"", bad);

  // cache, rss and inactive_file are required; total_* win when the kernel has them.
  constexpr uint32_t kRequired = 0b1000011;
  bool hierarchical = (seenTotal & kRequired) == kRequired;
  uint32_t seen = hierarchical ? seenTotal : seenLocal;
  for (size_t i = 0; i < 12; ++i) {
    if ((kRequired & (1u << i)) != 0 && (seen & (1u << i)) == 0) return scan::missingKey(kV1Names[i]);
  }
  MemoryStatV1 out;
  const uint64_t* values = hierarchical ? raw.total : raw.local;
  for (size_t i = 0; i < 12; ++i) out.*kV1Members[i] = values[i];
  out.hierarchical = hierarchical;
  out.hasSwap = (seen & (1u << 3)) != 0;
  return out;
}

Result<OomControl> parseOomControl(std::string_view text) {
  struct Raw {
    uint64_t disable = 0;
    uint64_t under = 0;
    uint64_t kills = 0;
  } raw;
  static constexpr FlatKey<Raw> kKeys[] = {
      {"oom_kill_disable", &Raw::disable}, {"under_oom", &Raw::under}, {"oom_kill", &Raw::kills}};
  auto seen = scan::scanFlatKeyed(text, kKeys, raw);
  if (!seen) return seen.error();
  if (auto st = scan::requireKeys(*seen, 0b011, kKeys); !st) return st.error();
  return OomControl{raw.disable != 0, raw.under != 0, raw.kills, (*seen & 0b100) != 0};
}

Result<MemoryStatV2> parseMemoryStatV2(std::string_view text) {
  MemoryStatV2 out;
  static constexpr FlatKey<MemoryStatV2> kKeys[] = {
      {"anon", &MemoryStatV2::anon},
      {"file", &MemoryStatV2::file},
      {"inactive_file", &MemoryStatV2::inactiveFile},
      {"file_mapped", &MemoryStatV2::fileMapped},
      {"file_dirty", &MemoryStatV2::fileDirty},
      {"file_writeback", &MemoryStatV2::fileWriteback},
      {"active_file", &MemoryStatV2::activeFile},
      {"kernel", &MemoryStatV2::kernel},
      {"workingset_refault_anon", &MemoryStatV2::workingsetRefaultAnon},
      {"workingset_refault_file", &MemoryStatV2::workingsetRefaultFile},
      {"pgscan", &MemoryStatV2::pgscan},
      {"pgsteal", &MemoryStatV2::pgsteal},
      {"pgfault", &MemoryStatV2::pgfault},
      {"pgmajfault", &MemoryStatV2::pgmajfault}};
  auto seen = scan::scanFlatKeyed(text, kKeys, out);
  if (!seen) return seen.error();
  if (auto st = scan::requireKeys(*seen, 0b111, kKeys); !st) return st.error();
  return out;
}

Result<MemoryEvents> parseMemoryEvents(std::string_view text) {
  MemoryEvents out;
  static constexpr FlatKey<MemoryEvents> kKeys[] = {{"low", &MemoryEvents::low},
                                                    {"high", &MemoryEvents::high},
                                                    {"max", &MemoryEvents::max},
                                                    {"oom", &MemoryEvents::oom},
                                                    {"oom_kill", &MemoryEvents::oomKill},
                                                    {"oom_group_kill", &MemoryEvents::oomGroupKill}};
  auto seen = scan::scanFlatKeyed(text, kKeys, out);
  if (!seen) return seen.error();
  if (auto st = scan::requireKeys(*seen, 0b11111, kKeys); !st) return st.error();
  return out;
}

}  // namespace cgwarden::collectors
