#include "config/PolicyRule.h"

#include <cstdio>

#include "config/Units.h"

namespace cgwarden::config {

const char* policyActionName(PolicyAction::Kind kind) {
  switch (kind) {
    case PolicyAction::Kind::Log: return "log";
    case PolicyAction::Kind::Signal: return "signal";
    case PolicyAction::Kind::Stop: return "stop";
    case PolicyAction::Kind::Freeze: return "freeze";
    case PolicyAction::Kind::Throttle: return "throttle";
    case PolicyAction::Kind::Kill: return "kill";
    case PolicyAction::Kind::Restart: return "restart";
    case PolicyAction::Kind::Exec: return "exec";
  }
  return "log";
}

std::string describePolicyAction(const PolicyAction& a) {
  auto cores = [](double c) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", c);
    return std::string(buf);
  };
  switch (a.kind) {
    case PolicyAction::Kind::Signal:
      return signalName(a.signal) + (a.to == PolicyAction::SignalTo::Cgroup ? " to the cgroup" : " to main");
    case PolicyAction::Kind::Freeze:
      return a.duration.count() > 0 ? "thaw after " + formatDuration(a.duration) : "until thawed";
    case PolicyAction::Kind::Throttle: {
      std::string out;
      if (a.cpuCores) out += "cpu " + cores(*a.cpuCores) + " cores";
      if (a.memoryHigh) out += std::string(out.empty() ? "" : ", ") + "memory.high " + formatSize(*a.memoryHigh);
      if (a.memoryHighFraction)
        out += std::string(out.empty() ? "" : ", ") + "memory.high " + cores(*a.memoryHighFraction * 100) + "% of the limit";
      if (a.duration.count() > 0) out += ", restore after " + formatDuration(a.duration);
      return out;
    }
    case PolicyAction::Kind::Exec: {
      std::string out;
      for (const auto& arg : a.command) out += (out.empty() ? "" : " ") + arg;
      return out + " (timeout " + formatDuration(a.timeout) + ")";
    }
    default:
      return "";
  }
}

std::string policyMetricName(const PolicyCondition& c) {
  switch (c.metric) {
    case PolicyMetric::MemoryUsage: return "memory.usage";
    case PolicyMetric::MemoryWorkingSet: return "memory.working_set";
    case PolicyMetric::CpuUsage: return "cpu.usage";
    case PolicyMetric::CpuThrottled: return "cpu.throttled";
    case PolicyMetric::Pids: return "pids";
    case PolicyMetric::OomKills: return "memory.oom_kills";
    case PolicyMetric::Restarts: return "restarts";
    case PolicyMetric::IoRead: return "io.read";
    case PolicyMetric::IoWrite: return "io.write";
    case PolicyMetric::Io: return "io.total";
    case PolicyMetric::Pressure: break;
  }
  std::string out = c.pressureResource == PressureResource::Cpu      ? "cpu"
                    : c.pressureResource == PressureResource::Memory ? "memory"
                                                                     : "io";
  out += c.pressureKind == PressureKind::Some ? ".pressure.some" : ".pressure.full";
  if (c.pressureStat == PressureStat::Avg10) out += ".avg10";
  if (c.pressureStat == PressureStat::Avg60) out += ".avg60";
  return out;
}

}  // namespace cgwarden::config
