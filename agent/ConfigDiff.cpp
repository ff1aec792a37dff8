#include "agent/ConfigDiff.h"

#include <tuple>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "config/Units.h"

namespace cgwarden::agent {

namespace {

using config::WorkloadSpec;

std::string bytesText(uint64_t v) { return config::formatSize(v); }
std::string countText(uint64_t v) { return v == kUnlimited ? "max" : std::to_string(v); }
std::string usText(uint64_t v) { return v == kUnlimited ? "max" : std::to_string(v) + "us"; }

template <class T>
std::string optText(const std::optional<T>& v, std::string (*fmt)(T)) {
  return v ? fmt(*v) : "unset";
}
std::string strText(std::string v) { return v; }

// Adds `field` to the delta when it changed: the new value, or `fallback` when it was removed.
template <class T>
void field(const std::optional<T>& before, const std::optional<T>& after, std::optional<T>& out, const T& fallback,
           const char* name, std::string (*fmt)(T), std::vector<std::string>& lines) {
  if (before == after) return;
  out = after ? *after : fallback;
  lines.push_back(std::string(name) + " " + optText(before, fmt) + " -> " + fmt(*out));
}

bool sameNamespaces(const config::NamespaceSpec& a, const config::NamespaceSpec& b) {
  return a.pid == b.pid && a.mount == b.mount && a.uts == b.uts && a.ipc == b.ipc && a.net == b.net &&
         a.cgroup == b.cgroup;
}
bool sameOutput(const config::OutputSpec& a, const config::OutputSpec& b) {
  return a.mode == b.mode && a.path == b.path && a.rotateBytes == b.rotateBytes && a.keep == b.keep;
}
bool sameRlimits(const std::vector<config::RlimitSpec>& a, const std::vector<config::RlimitSpec>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const auto& x, const auto& y) {
    return x.resource == y.resource && x.soft == y.soft && x.hard == y.hard;
  });
}
bool sameRestart(const config::RestartSpec& a, const config::RestartSpec& b) {
  return a.policy == b.policy && a.maxRestarts == b.maxRestarts && a.initialBackoff == b.initialBackoff &&
         a.maxBackoff == b.maxBackoff && a.resetAfter == b.resetAfter;
}

std::vector<std::string> launchChanges(const WorkloadSpec& a, const WorkloadSpec& b) {
  std::vector<std::string> out;
  if (a.command != b.command) out.push_back("command");
  if (a.env != b.env) out.push_back("env");
  if (a.workingDir != b.workingDir) out.push_back("working_dir");
  if (a.uid != b.uid || a.user != b.user) out.push_back("user");
  if (a.gid != b.gid || a.group != b.group) out.push_back("group");
  if (!sameNamespaces(a.namespaces, b.namespaces)) out.push_back("namespaces");
  if (a.hostname != b.hostname) out.push_back("hostname");
  if (!sameRlimits(a.rlimits, b.rlimits)) out.push_back("rlimits");
  if (!sameOutput(a.stdoutSpec, b.stdoutSpec)) out.push_back("stdout");
  if (!sameOutput(a.stderrSpec, b.stderrSpec)) out.push_back("stderr");
  return out;
}

std::vector<std::string> metadataChanges(const WorkloadSpec& a, const WorkloadSpec& b) {
  std::vector<std::string> out;
  if (a.labels != b.labels) out.push_back("labels");
  if (a.image != b.image) out.push_back("image");
  if (!sameRestart(a.restart, b.restart)) out.push_back("restart");
  if (a.stopSignal != b.stopSignal) out.push_back("stop_signal");
  if (a.stopGrace != b.stopGrace) out.push_back("stop_grace");
  return out;
}

std::string join(const std::vector<std::string>& parts, const char* sep = ", ") {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : sep) + p;
  return out;
}

// --- policies: structural equality, locations ignored ----------------------------------
bool sameLeaf(const config::PolicyCondition& a, const config::PolicyCondition& b) {
  return a.metric == b.metric && a.pressureResource == b.pressureResource && a.pressureKind == b.pressureKind &&
         a.pressureStat == b.pressureStat && a.op == b.op && a.threshold == b.threshold && a.ofLimit == b.ofLimit &&
         a.window == b.window && a.text == b.text;
}
bool sameTree(const config::PolicyConditionTree& a, const config::PolicyConditionTree& b) {
  if (a.kind != b.kind) return false;
  if (a.kind == config::PolicyConditionTree::Kind::Leaf) return sameLeaf(a.leaf, b.leaf);
  return std::equal(a.children.begin(), a.children.end(), b.children.begin(), b.children.end(), sameTree);
}
bool sameAction(const config::PolicyAction& a, const config::PolicyAction& b) {
  return a.kind == b.kind && a.signal == b.signal && a.to == b.to && a.duration == b.duration &&
         a.cpuCores == b.cpuCores && a.memoryHigh == b.memoryHigh && a.memoryHighFraction == b.memoryHighFraction &&
         a.command == b.command && a.timeout == b.timeout;
}
bool sameTarget(const config::PolicyTarget& a, const config::PolicyTarget& b) {
  return a.kind == b.kind && a.pattern == b.pattern && a.labels == b.labels;
}
bool sameRule(const config::PolicyRule& a, const config::PolicyRule& b) {
  return a.name == b.name && a.forDuration == b.forDuration && a.cooldown == b.cooldown && a.dryRun == b.dryRun &&
         a.allowActionsOnObserved == b.allowActionsOnObserved && sameTree(a.condition, b.condition) &&
         std::equal(a.targets.begin(), a.targets.end(), b.targets.begin(), b.targets.end(), sameTarget) &&
         std::equal(a.actions.begin(), a.actions.end(), b.actions.begin(), b.actions.end(), sameAction);
}

bool sameAdoptRule(const config::AdoptRule& a, const config::AdoptRule& b) {
  auto parentKey = [](const config::AdoptRule& r) {
    return r.parent ? std::make_tuple(true, r.parent->pid, r.parent->comm, r.parent->workload)
                    : std::make_tuple(false, std::optional<pid_t>(), std::optional<std::string>(),
                                      std::optional<std::string>());
  };
  return a.name == b.name && a.exe == b.exe && a.comm == b.comm && a.cmdline == b.cmdline && a.uid == b.uid &&
         a.gid == b.gid && parentKey(a) == parentKey(b) && a.workload == b.workload &&
         describeLimits(a.limits) == describeLimits(b.limits);
}

void agentNotes(const config::AgentSpec& a, const config::AgentSpec& b, std::vector<std::string>& notes) {
  std::vector<std::string> keys;
  if (a.cgroupRoot != b.cgroupRoot) keys.push_back("cgroup_root");
  if (a.sampleInterval != b.sampleInterval) keys.push_back("sample_interval");
  if (a.detailInterval != b.detailInterval) keys.push_back("detail_interval");
  if (a.sampleEveryTick != b.sampleEveryTick) keys.push_back("sample_every_tick");
  if (a.listen != b.listen) keys.push_back("listen");
  if (a.logLevel != b.logLevel) keys.push_back("log_level");
  if (a.logFormat != b.logFormat) keys.push_back("log_format");
  if (a.stateDir != b.stateDir) keys.push_back("state_dir");
  if (a.leaveRunning != b.leaveRunning) keys.push_back("leave_running");
  if (a.observe != b.observe) keys.push_back("observe");
  for (const auto& k : keys) notes.push_back("agent." + k + " changed: takes effect after an agent restart");
}

}  // namespace

Limits limitsDelta(const Limits& before, const Limits& after, std::string* description) {
  Limits d;
  std::vector<std::string> lines;
  field<uint64_t>(before.cpu.quotaUs, after.cpu.quotaUs, d.cpu.quotaUs, kUnlimited, "cpu.quota", usText, lines);
  field<uint64_t>(before.cpu.periodUs, after.cpu.periodUs, d.cpu.periodUs, 100000, "cpu.period", usText, lines);
  field<uint64_t>(before.cpu.weight, after.cpu.weight, d.cpu.weight, 100, "cpu.weight", countText, lines);
  // A cpuset that disappears has no default to go back to (it would be the parent's): it
  // is left as it is (planReload notes it).
  if (after.cpu.cpus && before.cpu.cpus != after.cpu.cpus)
    field<std::string>(before.cpu.cpus, after.cpu.cpus, d.cpu.cpus, "", "cpuset.cpus", strText, lines);
  if (after.cpu.mems && before.cpu.mems != after.cpu.mems)
    field<std::string>(before.cpu.mems, after.cpu.mems, d.cpu.mems, "", "cpuset.mems", strText, lines);
  field<uint64_t>(before.memory.max, after.memory.max, d.memory.max, kUnlimited, "memory.max", bytesText, lines);
  field<uint64_t>(before.memory.high, after.memory.high, d.memory.high, kUnlimited, "memory.high", bytesText, lines);
  field<uint64_t>(before.memory.low, after.memory.low, d.memory.low, 0, "memory.low", bytesText, lines);
  field<uint64_t>(before.memory.swapMax, after.memory.swapMax, d.memory.swapMax, kUnlimited, "memory.swap", bytesText,
                  lines);
  field<uint64_t>(before.pids.max, after.pids.max, d.pids.max, kUnlimited, "pids.max", countText, lines);
  field<uint64_t>(before.io.weight, after.io.weight, d.io.weight, 100, "io.weight", countText, lines);
  std::set<std::pair<uint32_t, uint32_t>> devices;
  for (const auto& dev : before.io.devices) devices.insert({dev.major, dev.minor});
  for (const auto& dev : after.io.devices) devices.insert({dev.major, dev.minor});
  for (const auto& [major, minor] : devices) {
    auto find = [&](const IoLimits& io) {
      IoDeviceLimit none{major, minor, {}, {}, {}, {}};
      for (const auto& dev : io.devices) {
        if (dev.major == major && dev.minor == minor) return dev;
      }
      return none;
    };
    IoDeviceLimit a = find(before.io), b = find(after.io), out{major, minor, {}, {}, {}, {}};
    const std::string dev = std::to_string(major) + ":" + std::to_string(minor);
    std::vector<std::string> devLines;
    field<uint64_t>(a.readBps, b.readBps, out.readBps, kUnlimited, "rbps", countText, devLines);
    field<uint64_t>(a.writeBps, b.writeBps, out.writeBps, kUnlimited, "wbps", countText, devLines);
    field<uint64_t>(a.readIops, b.readIops, out.readIops, kUnlimited, "riops", countText, devLines);
    field<uint64_t>(a.writeIops, b.writeIops, out.writeIops, kUnlimited, "wiops", countText, devLines);
    if (devLines.empty()) continue;
    d.io.devices.push_back(out);
    for (const auto& l : devLines) lines.push_back("io " + dev + " " + l);
  }
  if (description) *description = join(lines);
  return d;
}

ReloadPlan planReload(const config::Config& running, const config::Loaded<config::Config>& next) {
  ReloadPlan plan;
  if (!next.ok()) {
    plan.rejected = true;
    plan.errors = next.errors;
    if (plan.errors.empty())
      plan.errors.push_back(config::ConfigIssue{config::SourceLocation{running.path, 0, 0}, "", "the new config did not load"});
    return plan;
  }
  plan.next = *next.value;
  const config::Config& cfg = plan.next;
  std::map<std::string, const WorkloadSpec*> old;
  for (const auto& w : running.workloads) old[w.name] = &w;
  std::set<std::string> kept;
  for (const auto& w : cfg.workloads) {
    auto it = old.find(w.name);
    if (it == old.end()) {
      plan.start.push_back(w);
      continue;
    }
    kept.insert(w.name);
    const WorkloadSpec& before = *it->second;
    auto launch = launchChanges(before, w);
    if (!launch.empty()) {
      plan.relaunch.push_back(Relaunch{w, launch});
      continue;  // the new spec brings its limits with it
    }
    std::string description;
    Limits delta = limitsDelta(before.limits, w.limits, &description);
    if (!description.empty()) plan.limits.push_back(LimitChange{w.name, delta, description});
    if ((before.limits.cpu.cpus && !w.limits.cpu.cpus) || (before.limits.cpu.mems && !w.limits.cpu.mems))
      plan.notes.push_back(w.name + ": cpuset removed: the current one stays until the workload is relaunched");
    auto meta = metadataChanges(before, w);
    if (!meta.empty()) plan.settings.push_back(SettingsChange{w, meta});
  }
  for (const auto& w : running.workloads) {
    if (!kept.count(w.name) &&
        std::none_of(plan.start.begin(), plan.start.end(), [&](const auto& s) { return s.name == w.name; }))
      plan.stop.push_back(w.name);
  }
  agentNotes(running.agent, cfg.agent, plan.notes);
  if (!std::equal(running.adoptRules.begin(), running.adoptRules.end(), cfg.adoptRules.begin(), cfg.adoptRules.end(),
                  sameAdoptRule)) {
    plan.notes.push_back("adopt: rules changed: take effect after an agent restart");
  }
  plan.policiesChanged = !std::equal(running.policies.begin(), running.policies.end(), cfg.policies.begin(),
                                     cfg.policies.end(), sameRule);
  return plan;
}

std::vector<std::string> ReloadPlan::describe() const {
  std::vector<std::string> out;
  if (rejected) {
    for (const auto& e : errors) out.push_back("rejected: " + e.render());
    return out;
  }
  for (const auto& w : start) out.push_back(w.name + ": start (added)");
  for (const auto& n : stop) out.push_back(n + ": stop (removed)");
  for (const auto& r : relaunch) out.push_back(r.spec.name + ": relaunch (" + join(r.changed) + " changed)");
  for (const auto& l : limits) out.push_back(l.workload + ": limits " + l.description);
  for (const auto& s : settings) out.push_back(s.spec.name + ": " + join(s.changed) + " updated");
  if (policiesChanged) out.push_back("policies: " + std::to_string(next.policies.size()) + " rules loaded");
  for (const auto& n : notes) out.push_back(n);
  return out;
}

}  // namespace cgwarden::agent
