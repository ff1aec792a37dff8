#pragma once
// The `policies:` IR: rules that watch the snapshot (and kernel events) for resource abuse
// and act on it. Parsed by config/PolicySection.cpp, evaluated by agent/Policer.
//
//   policies:
//     - name: grower-guard
//       target: [grower, "batch-*", "team=ml"]
//       condition: {any: ["memory.working_set > 80%", "memory.pressure.some > 20% over 5s"]}
//       for: 2s
//       actions: [log, {freeze: 30s}]
//       cooldown: 1m
//       dry_run: false
//
// A leaf condition is one string "<metric> <op> <value> [over <window>]"; docs/config.md
// lists the metrics, their units and default windows.

#include <chrono>
#include <csignal>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace cgwarden::config {

enum class PolicyMetric {
  MemoryUsage,       // bytes: v1 memory.usage_in_bytes, v2 memory.current
  MemoryWorkingSet,  // bytes: usage - inactive_file (cAdvisor's working set)
  CpuUsage,          // cores averaged over the window (cpuacct.usage / cpu.stat usage_usec)
  CpuThrottled,      // throttled periods / periods over the window, 0..1 (cpu.stat)
  Pressure,          // PSI of pressureResource/pressureKind: stall rate or avg10/avg60, 0..1
  Pids,              // pids.current (tasks)
  OomKills,          // oom_kill increments over the window (v1 oom_control, v2 memory.events)
  Restarts,          // automatic restarts over the window (managed workloads)
  IoRead,            // bytes/s read over the window (all devices)
  IoWrite,           // bytes/s written over the window
  Io,                // bytes/s read + written over the window
};

enum class PressureResource { Cpu, Memory, Io };
enum class PressureKind { Some, Full };
// Rate: d(total µs)/d(wall µs) over the window, i.e. seconds of stall per second (exact).
// Avg10/Avg60: the kernel's running averages (percentages in the file, fractions here).
enum class PressureStat { Rate, Avg10, Avg60 };

enum class CompareOp { Greater, GreaterEqual, Less, LessEqual };

// One leaf: "memory.working_set > 80%", "cpu.usage >= 1.5 over 30s".
struct PolicyCondition {
  PolicyMetric metric = PolicyMetric::MemoryUsage;
  PressureResource pressureResource = PressureResource::Memory;
  PressureKind pressureKind = PressureKind::Some;
  PressureStat pressureStat = PressureStat::Rate;
  CompareOp op = CompareOp::Greater;
  // In the metric's unit (bytes, cores, 0..1 ratio, count, bytes/s), or, when ofLimit,
  // a fraction (0..1] of the limit: memory.* of the memory limit, pids of pids.max,
  // cpu.usage of the CPU quota in cores. With no such limit the leaf is false.
  double threshold = 0;
  bool ofLimit = false;
  // Window of rates and counts (cpu.*, pressure rate, io.*, oom_kills, restarts); 0 otherwise.
  std::chrono::milliseconds window{0};
  std::string text;  // as written, for events and messages
  int line = 0;      // where it is written (1-based; 0 when unknown)
  int column = 0;
};

// `condition:` is a leaf string, {all: [...]} or {any: [...]}, nested freely.
struct PolicyConditionTree {
  enum class Kind { Leaf, All, Any };
  Kind kind = Kind::Leaf;
  PolicyCondition leaf;                       // Kind::Leaf
  std::vector<PolicyConditionTree> children;  // All / Any (never empty after loading)
};

// One entry of `target:`. A target matches a workload when any entry matches.
struct PolicyTarget {
  enum class Kind {
    Name,    // "web": the workload (or observed cgroup) named exactly so
    Glob,    // "batch-*", "system.slice/*.service": fnmatch(3) over the name, '*' crosses '/'
    Labels,  // "team=ml,tier=front": every key=value among the workload's labels
  };
  Kind kind = Kind::Name;
  std::string pattern;                        // Name / Glob
  std::map<std::string, std::string> labels;  // Labels
  std::string text;                           // as written
  std::string keyPath;                        // "policies[0].target[1]", for messages
  int line = 0;
  int column = 0;
};

struct PolicyAction {
  enum class Kind {
    Log,       // an event only
    Signal,    // `signal` to the main process (to: main) or every process in the cgroup (to: cgroup)
    Stop,      // the workload's stop_signal, stop_grace, then SIGKILL to the cgroup; it stays stopped
    Freeze,    // freeze the cgroup; thaw after `duration` (0: stays frozen until thawed by hand)
    Throttle,  // set cpuCores and/or memory.high; restore the previous values after `duration` (0: keep)
    Kill,      // SIGKILL every process in the cgroup (the restart policy then applies)
    Restart,   // stop with grace and start again (managed workloads)
    Exec,      // run `command` with the event as JSON on stdin; SIGKILLed after `timeout`
  };
  Kind kind = Kind::Log;
  int signal = SIGTERM;
  enum class SignalTo { Main, Cgroup };
  SignalTo to = SignalTo::Main;
  std::chrono::milliseconds duration{0};
  std::optional<double> cpuCores;                // Throttle: new CPU quota in cores (period kept)
  std::optional<uint64_t> memoryHigh;            // Throttle: bytes; v2 memory.high, v1 memory.soft_limit_in_bytes
  std::optional<double> memoryHighFraction;      // Throttle: ... as a fraction of the memory limit
  std::vector<std::string> command;              // Exec: argv; command[0] absolute or found in PATH
  std::chrono::milliseconds timeout{10000};      // Exec
  int line = 0;
  int column = 0;
};

// "log", "signal", "stop", "freeze", "throttle", "kill", "restart", "exec".
const char* policyActionName(PolicyAction::Kind kind);
// "SIGUSR1 to main", "30s", "cpu 0.1 cores, memory.high 48Mi, restore after 1m", "/bin/dump (timeout 10s)".
std::string describePolicyAction(const PolicyAction& action);
// "memory.working_set", "cpu.pressure.some.avg10", ...
std::string policyMetricName(const PolicyCondition& condition);

struct PolicyRule {
  std::string name;  // [a-z0-9][a-z0-9_.-]*, unique among policies
  std::vector<PolicyTarget> targets;
  PolicyConditionTree condition;
  std::chrono::milliseconds forDuration{0};  // the condition must hold this long before acting
  std::vector<PolicyAction> actions;         // in order; never empty after loading
  std::chrono::milliseconds cooldown{60000}; // per target: no new firing this long after one
  bool dryRun = false;                       // record events, perform nothing
  // Observed (read-only) cgroups get detection and events only, unless this is true.
  bool allowActionsOnObserved = false;
  int line = 0;
  int column = 0;
};

}  // namespace cgwarden::config
