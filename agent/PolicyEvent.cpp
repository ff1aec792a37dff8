#include "agent/PolicyEvent.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <ctime>

namespace cgwarden::agent {

const char* policyTriggerName(PolicyTrigger trigger) {
  switch (trigger) {
    case PolicyTrigger::Tick: return "tick";
    case PolicyTrigger::Threshold: return "threshold";
    case PolicyTrigger::Oom: return "oom";
    case PolicyTrigger::MemoryEvents: return "memory_events";
    case PolicyTrigger::Psi: return "psi";
    case PolicyTrigger::Poll: return "poll";
    case PolicyTrigger::Recheck: return "recheck";
    case PolicyTrigger::Timer: return "timer";
  }
  return "tick";
}

std::string formatUtc(double unixSeconds) {
  double whole = std::floor(unixSeconds);
  time_t secs = static_cast<time_t>(whole);
  int millis = static_cast<int>(std::lround((unixSeconds - whole) * 1000));
  if (millis >= 1000) {
    ++secs;
    millis -= 1000;
  }
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  return buf;
}

nlohmann::json PolicyEvent::toJson() const {
  nlohmann::json conds = nlohmann::json::array();
  for (const auto& c : conditions) {
    nlohmann::json j = {{"condition", c.condition}, {"threshold", c.threshold}, {"unit", c.unit}, {"holds", c.holds}};
    j["value"] = c.value ? nlohmann::json(*c.value) : nlohmann::json(nullptr);
    conds.push_back(std::move(j));
  }
  return nlohmann::json{{"seq", seq},
                        {"time", formatUtc(time)},
                        {"rule", rule},
                        {"workload", workload},
                        {"cgroup", cgroup},
                        {"managed", managed},
                        {"trigger", policyTriggerName(trigger)},
                        {"action", action},
                        {"detail", detail},
                        {"dry_run", dryRun},
                        {"outcome", outcome},
                        {"error", error},
                        {"conditions", std::move(conds)},
                        {"reaction_ms", std::round(reactionMs * 1000) / 1000}};
}

std::string PolicyEvent::toJsonLine() const {
  // Replace invalid UTF-8 rather than throw: names and errors come from the outside.
  return toJson().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace cgwarden::agent
