#pragma once
// One decision of the policer: a rule fired on a target and ran (or, dry-run, did not run)
// one action; or a timed follow-up (thaw, restore) of an earlier action.
//
// As JSON (the log line, /events, and an exec hook's stdin):
//   {"seq":7,"time":"2026-11-28T04:17:17.123Z","rule":"grower-guard","workload":"grower",
//    "cgroup":"/cgwarden/grower","managed":true,"trigger":"threshold","action":"freeze",
//    "detail":"thaw after 30s","dry_run":false,"outcome":"ok","error":"",
//    "conditions":[{"condition":"memory.working_set > 80%","value":0.83,"threshold":0.8,
//                   "unit":"fraction of limit","holds":true}],
//    "reaction_ms":1.42}
// outcome: "ok", "failed" (error says why), "dry_run" (nothing performed), "skipped"
// (observed cgroup without allow_actions_on_observed, or nothing to do; error says why).
// reaction_ms: from the wake-up that led to the decision (tick, kernel event) to the
// action's completion.

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace cgwarden::agent {

// Why the policer evaluated: its tick (a new snapshot) or a kernel event.
enum class PolicyTrigger {
  Tick,          // a new snapshot from the sampler
  Threshold,     // v1 memory.usage_in_bytes threshold eventfd
  Oom,           // v1 memory.oom_control eventfd
  MemoryEvents,  // v2 memory.events changed (inotify)
  Psi,           // a PSI trigger (POLLPRI)
  Poll,          // v2 fast poll of memory.current (no threshold notification on v2)
  Recheck,       // a `for:` deadline came due
  Timer,         // a timed follow-up (thaw, restore, stop's SIGKILL)
};
const char* policyTriggerName(PolicyTrigger trigger);  // "tick", "threshold", ...

struct ConditionValue {
  std::string condition;        // the leaf as written
  std::optional<double> value;  // nullopt: not measurable now (no limit, no data yet)
  double threshold = 0;
  std::string unit;             // "bytes", "cores", "ratio", "fraction of limit", "count", "bytes/s"
  bool holds = false;
};

struct PolicyEvent {
  uint64_t seq = 0;           // set by the event log, increasing from 1
  double time = 0;            // Unix seconds
  std::string rule;
  std::string workload;
  std::string cgroup;
  bool managed = true;
  PolicyTrigger trigger = PolicyTrigger::Tick;
  std::string action;         // "log", "signal", ..., and follow-ups "thaw", "restore", "kill" (stop ladder)
  std::string detail;
  bool dryRun = false;
  std::string outcome = "ok";
  std::string error;
  std::vector<ConditionValue> conditions;
  double reactionMs = 0;

  nlohmann::json toJson() const;
  std::string toJsonLine() const;  // one line, no trailing newline
};

// "2026-11-28T04:17:17.123Z"
std::string formatUtc(double unixSeconds);

}  // namespace cgwarden::agent
