#include "agent/ApiJson.h"

#include <sys/resource.h>

#include <cmath>
#include <cstdio>
#include <ctime>

namespace cgwarden::agent {

namespace {

using nlohmann::json;

json amount(uint64_t v) { return v == kUnlimited ? json("max") : json(v); }

std::string ms(std::chrono::milliseconds d) { return std::to_string(d.count()) + "ms"; }

json outputToJson(const config::OutputSpec& o) {
  switch (o.mode) {
    case config::OutputSpec::Mode::Inherit: return "inherit";
    case config::OutputSpec::Mode::Null: return nullptr;
    case config::OutputSpec::Mode::File: break;
  }
  json out = json::object();
  if (!o.path.empty()) out["file"] = o.path;
  out["rotate_size"] = o.rotateBytes;
  out["keep"] = o.keep;
  return out;
}

}  // namespace

json limitsToJson(const Limits& l) {
  json out = json::object();
  json cpu = json::object();
  if (l.cpu.quotaUs) cpu["quota"] = amount(*l.cpu.quotaUs);
  if (l.cpu.periodUs) cpu["period"] = *l.cpu.periodUs;
  if (l.cpu.weight) cpu["weight"] = *l.cpu.weight;
  if (l.cpu.cpus) cpu["cpus"] = *l.cpu.cpus;
  if (l.cpu.mems) cpu["mems"] = *l.cpu.mems;
  if (!cpu.empty()) out["cpu"] = std::move(cpu);
  json mem = json::object();
  if (l.memory.max) mem["max"] = amount(*l.memory.max);
  if (l.memory.high) mem["high"] = amount(*l.memory.high);
  if (l.memory.low) mem["low"] = amount(*l.memory.low);
  if (l.memory.swapMax) mem["swap"] = amount(*l.memory.swapMax);
  if (!mem.empty()) out["memory"] = std::move(mem);
  if (l.pids.max) out["pids"] = json{{"max", amount(*l.pids.max)}};
  json io = json::object();
  if (l.io.weight) io["weight"] = *l.io.weight;
  if (!l.io.devices.empty()) {
    json devices = json::array();
    for (const auto& d : l.io.devices) {
      json e = {{"device", std::to_string(d.major) + ":" + std::to_string(d.minor)}};
      if (d.readBps) e["rbps"] = amount(*d.readBps);
      if (d.writeBps) e["wbps"] = amount(*d.writeBps);
      if (d.readIops) e["riops"] = amount(*d.readIops);
      if (d.writeIops) e["wiops"] = amount(*d.writeIops);
      devices.push_back(std::move(e));
    }
    io["devices"] = std::move(devices);
  }
  if (!io.empty()) out["io"] = std::move(io);
  return out;
}

const char* rlimitName(int resource) {
  switch (resource) {
    case RLIMIT_NOFILE: return "nofile";
    case RLIMIT_NPROC: return "nproc";
    case RLIMIT_LOCKS: return "locks";
    case RLIMIT_SIGPENDING: return "sigpending";
    case RLIMIT_NICE: return "nice";
    case RLIMIT_RTPRIO: return "rtprio";
    case RLIMIT_CPU: return "cpu";
    case RLIMIT_RTTIME: return "rttime";
    case RLIMIT_AS: return "as";
    case RLIMIT_CORE: return "core";
    case RLIMIT_DATA: return "data";
    case RLIMIT_FSIZE: return "fsize";
    case RLIMIT_MEMLOCK: return "memlock";
    case RLIMIT_MSGQUEUE: return "msgqueue";
    case RLIMIT_RSS: return "rss";
    case RLIMIT_STACK: return "stack";
    default: return nullptr;
  }
}

json workloadSpecToJson(const config::WorkloadSpec& s) {
  json out = json::object();
  out["name"] = s.name;
  out["command"] = s.command;
  if (!s.env.empty()) out["env"] = s.env;
  out["working_dir"] = s.workingDir;
  if (!s.user.empty()) {
    out["user"] = s.user;
  } else if (s.uid) {
    out["user"] = std::to_string(*s.uid);
  }
  if (!s.group.empty()) {
    out["group"] = s.group;
  } else if (s.gid && s.user.empty() && !s.uid) {
    out["group"] = std::to_string(*s.gid);
  }
  if (!s.labels.empty()) out["labels"] = s.labels;
  if (!s.image.empty()) out["image"] = s.image;
  const auto& ns = s.namespaces;
  out["namespaces"] = {{"pid", ns.pid}, {"mount", ns.mount}, {"uts", ns.uts},
                       {"ipc", ns.ipc}, {"net", ns.net},     {"cgroup", ns.cgroup}};
  if (!s.hostname.empty() && ns.uts) out["hostname"] = s.hostname;
  if (!s.rlimits.empty()) {
    json r = json::object();
    auto value = [](uint64_t v) { return v == static_cast<uint64_t>(RLIM_INFINITY) ? json("unlimited") : json(v); };
    for (const auto& rl : s.rlimits) {
      if (const char* name = rlimitName(rl.resource)) r[name] = {{"soft", value(rl.soft)}, {"hard", value(rl.hard)}};
    }
    out["rlimits"] = std::move(r);
  }
  out["limits"] = limitsToJson(s.limits);
  const char* policy = s.restart.policy == config::RestartPolicy::Never       ? "never"
                       : s.restart.policy == config::RestartPolicy::OnFailure ? "on-failure"
                                                                              : "always";
  out["restart"] = {{"policy", policy},
                    {"max_restarts", s.restart.maxRestarts},
                    {"backoff", {{"initial", ms(s.restart.initialBackoff)}, {"max", ms(s.restart.maxBackoff)}}},
                    {"reset_after", ms(s.restart.resetAfter)}};
  out["stop_signal"] = s.stopSignal;
  out["stop_grace"] = ms(s.stopGrace);
  out["stdout"] = outputToJson(s.stdoutSpec);
  out["stderr"] = outputToJson(s.stderrSpec);
  return out;
}

std::string isoTime(double unixSeconds) {
  if (unixSeconds <= 0) return "";
  long long totalMs = std::llround(unixSeconds * 1000.0);
  auto secs = static_cast<time_t>(totalMs / 1000);
  int millis = static_cast<int>(totalMs % 1000);
  struct tm tm {};
  ::gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  return buf;
}

std::string isoTime(std::chrono::system_clock::time_point t) {
  return isoTime(std::chrono::duration<double>(t.time_since_epoch()).count());
}

size_t jsonNestingDepth(std::string_view text) {
  size_t depth = 0, deepest = 0;
  bool inString = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (inString) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        inString = false;
      }
      continue;
    }
    if (c == '"') {
      inString = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

std::pair<int, int> lineColumnOf(std::string_view text, size_t offset) {
  int line = 1, column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return {line, column};
}

std::string formatBytes(double bytes) {
  static const char* const kUnits[] = {"B", "Ki", "Mi", "Gi", "Ti", "Pi"};
  size_t unit = 0;
  while (std::fabs(bytes) >= 1024 && unit + 1 < std::size(kUnits)) {
    bytes /= 1024;
    ++unit;
  }
  char buf[32];
  if (unit == 0 || std::fabs(bytes) >= 100 || std::fabs(bytes - std::round(bytes)) < 0.05) {
    std::snprintf(buf, sizeof buf, "%.0f%s", bytes, kUnits[unit]);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f%s", bytes, kUnits[unit]);
  }
  return buf;
}

std::string formatDuration(double seconds) {
  if (seconds < 0) seconds = 0;
  auto s = static_cast<uint64_t>(seconds);
  char buf[32];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%llus", static_cast<unsigned long long>(s));
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%llum%llus", static_cast<unsigned long long>(s / 60),
                  static_cast<unsigned long long>(s % 60));
  } else if (s < 86400) {
    std::snprintf(buf, sizeof buf, "%lluh%llum", static_cast<unsigned long long>(s / 3600),
                  static_cast<unsigned long long>((s % 3600) / 60));
  } else {
    std::snprintf(buf, sizeof buf, "%llud%lluh", static_cast<unsigned long long>(s / 86400),
                  static_cast<unsigned long long>((s % 86400) / 3600));
  }
  return buf;
}

}  // namespace cgwarden::agent
