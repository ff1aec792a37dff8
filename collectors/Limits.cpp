#include "collectors/Limits.h"

#include <cstdio>

#include "collectors/Conversions.h"

namespace cgwarden {

namespace {
std::string bytes(uint64_t v) {
  if (v == kUnlimited) return "max";
  static const char* kUnits[] = {"", "Ki", "Mi", "Gi", "Ti"};
  int unit = 0;
  while (unit < 4 && v >= 1024 && v % 1024 == 0) {
    v /= 1024;
    ++unit;
  }
  return std::to_string(v) + kUnits[unit];
}
std::string num(uint64_t v) { return v == kUnlimited ? "max" : std::to_string(v); }
}  // namespace

std::string describeLimits(const Limits& l) {
  std::string out;
  auto add = [&](const std::string& s) { out += (out.empty() ? "" : ", ") + s; };
  if (l.cpu.quotaUs) {
    if (*l.cpu.quotaUs == kUnlimited) {
      add("cpu unlimited");
    } else {
      char buf[64];
      std::snprintf(buf, sizeof buf, "cpu %.2f cores", coresForQuota(*l.cpu.quotaUs, l.cpu.periodUs.value_or(100000)));
      add(buf);
    }
  }
  if (l.cpu.weight) add("cpu weight " + std::to_string(*l.cpu.weight));
  if (l.cpu.cpus) add("cpus " + *l.cpu.cpus);
  if (l.cpu.mems) add("mems " + *l.cpu.mems);
  if (l.memory.max) add("memory max " + bytes(*l.memory.max));
  if (l.memory.high) add("memory high " + bytes(*l.memory.high));
  if (l.memory.low) add("memory low " + bytes(*l.memory.low));
  if (l.memory.swapMax) add("swap max " + bytes(*l.memory.swapMax));
  if (l.pids.max) add("pids " + num(*l.pids.max));
  if (l.io.weight) add("io weight " + std::to_string(*l.io.weight));
  for (const auto& d : l.io.devices) {
    std::string s = "io " + std::to_string(d.major) + ":" + std::to_string(d.minor);
    if (d.readBps) s += " rbps=" + num(*d.readBps);
    if (d.writeBps) s += " wbps=" + num(*d.writeBps);
    if (d.readIops) s += " riops=" + num(*d.readIops);
    if (d.writeIops) s += " wiops=" + num(*d.writeIops);
    add(s);
  }
  return out.empty() ? "no limits" : out;
}

}  // namespace cgwarden
