#include "collectors/TargetProbe.h"

#include <algorithm>

#include "collectors/Conversions.h"
#include "collectors/CpuFiles.h"
#include "collectors/FileIo.h"
#include "collectors/LimitFiles.h"
#include "collectors/MemoryFiles.h"
#include "collectors/PressureFiles.h"

namespace cgwarden::collectors {

namespace {

Result<std::string> readIn(std::string_view dir, std::string_view file) {
  return readFile(joinPath(dir, file));
}

template <class T>
Error withPath(Result<T>& r, std::string_view dir, std::string_view file) {
  Error e = r.error();
  if (e.path.empty()) e.path = joinPath(dir, file);
  return e;
}

// Keeps counters monotonic against the sampler's view (see the header).
void keepMonotonic(uint64_t& fresh, uint64_t last) { fresh = std::max(fresh, last); }

Status probeMemoryV1(std::string_view dir, TargetSample& s) {
  auto usage = readIn(dir, "memory.usage_in_bytes");
  if (!usage) return usage.error();
  auto u = parseSingleValue(*usage);
  if (!u) return withPath(u, dir, "memory.usage_in_bytes");
  s.memory.usageBytes = *u;
  if (auto stat = readIn(dir, "memory.stat")) {
    if (auto st = parseMemoryStatV1(*stat)) {
      s.memory.inactiveFileBytes = st->inactiveFile;
      s.memory.activeFileBytes = st->activeFile;
      s.memory.cacheBytes = st->cache;
      s.memory.rssBytes = st->rss;
    }
  } else if (stat.error().cgroupGone()) {
    return stat.error();
  }
  if (auto oom = readIn(dir, "memory.oom_control")) {
    if (auto oc = parseOomControl(*oom)) {
      s.memory.underOom = oc->underOom;
      if (oc->hasOomKill) {
        uint64_t kills = oc->oomKill;
        keepMonotonic(kills, s.memory.oomKills);
        s.memory.oomKills = kills;
        s.memory.hasOomKills = true;
      }
    }
  }
  if (auto limit = readIn(dir, "memory.limit_in_bytes")) {
    if (auto l = parseSingleValue(*limit)) {
      s.spec.memoryLimit = normalizeV1Unlimited(*l);
      s.spec.hasMemory = true;
      s.hasSpec = true;
    }
  }
  s.hasMemory = true;
  return {};
}

Status probeMemoryV2(std::string_view dir, TargetSample& s) {
  auto current = readIn(dir, "memory.current");
  if (!current) return current.error();
  auto c = parseSingleValue(*current);
  if (!c) return withPath(c, dir, "memory.current");
  s.memory.usageBytes = *c;
  if (auto stat = readIn(dir, "memory.stat")) {
    if (auto st = parseMemoryStatV2(*stat)) {
      s.memory.inactiveFileBytes = st->inactiveFile;
      s.memory.activeFileBytes = st->activeFile;
      s.memory.cacheBytes = st->file;
      s.memory.rssBytes = st->anon;
    }
  } else if (stat.error().cgroupGone()) {
    return stat.error();
  }
  if (auto events = readIn(dir, "memory.events")) {
    if (auto ev = parseMemoryEvents(*events)) {
      uint64_t kills = ev->oomKill;
      keepMonotonic(kills, s.memory.oomKills);
      s.memory.oomKills = kills;
      s.memory.hasOomKills = true;
      s.memory.eventsLow = std::max(ev->low, s.memory.eventsLow);
      s.memory.eventsHigh = std::max(ev->high, s.memory.eventsHigh);
      s.memory.eventsMax = std::max(ev->max, s.memory.eventsMax);
      s.memory.eventsOom = std::max(ev->oom, s.memory.eventsOom);
      s.memory.hasEvents = true;
    }
  }
  if (auto max = readIn(dir, "memory.max")) {
    if (auto m = parseMaxOrNumber(*max)) {
      s.spec.memoryLimit = *m;
      s.spec.hasMemory = true;
      s.hasSpec = true;
    }
  }
  s.hasMemory = true;
  return {};
}

void probePids(std::string_view dir, TargetSample& s) {
  auto current = readIn(dir, "pids.current");
  if (!current) return;
  auto c = parseSingleValue(*current);
  if (!c) return;
  s.pidsCurrent = *c;
  s.hasPids = true;
  if (auto max = readIn(dir, "pids.max")) {
    if (auto m = parseMaxOrNumber(*max)) {
      s.spec.pidsMax = *m;
      s.spec.hasPids = true;
    }
  }
}

void probePressure(std::string_view dir, std::string_view file, Pressure& out, bool& has) {
  auto text = readIn(dir, file);
  if (!text) return;
  auto p = parsePressure(*text);
  if (!p) return;
  keepMonotonic(p->some.totalUs, has ? out.some.totalUs : 0);
  keepMonotonic(p->full.totalUs, has ? out.full.totalUs : 0);
  out = *p;
  has = true;
}

}  // namespace

Result<TargetSample> probeTarget(const TargetSample& last, CgroupMode mode, double nowUnix) {
  if (!last.target) return Error::invalid("probe", "", "a sample without its target");
  const SampleTarget& t = *last.target;
  TargetSample s = last;
  s.sampleTime = nowUnix;
  const std::string_view unified = t.dirs.find("");
  if (mode == CgroupMode::V2) {
    const std::string_view mem = !unified.empty() ? unified : t.dirs.find("memory");
    if (!mem.empty()) {
      if (auto st = probeMemoryV2(mem, s); !st) return st.error();
      probePids(mem, s);
    }
  } else {
    if (std::string_view mem = t.dirs.find("memory"); !mem.empty()) {
      if (auto st = probeMemoryV1(mem, s); !st) return st.error();
    }
    if (std::string_view pids = t.dirs.find("pids"); !pids.empty()) probePids(pids, s);
  }
  if (!unified.empty()) {
    probePressure(unified, "cpu.pressure", s.cpuPressure, s.hasCpuPressure);
    probePressure(unified, "memory.pressure", s.memoryPressure, s.hasMemoryPressure);
    probePressure(unified, "io.pressure", s.ioPressure, s.hasIoPressure);
  }
  return s;
}

}  // namespace cgwarden::collectors
