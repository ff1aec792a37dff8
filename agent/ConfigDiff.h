#pragma once
// What a reload (SIGHUP, `cgwarden reload`, POST /api/v1/reload) must do to go from the
// running config to a newly loaded one: a pure function, tested on plain structs. The
// executor is ReloadApplier.h.
//
//   invalid new config            rejected: its errors, nothing else (the running config stays)
//   workload added                start it
//   workload removed              stop it and forget it
//   limits changed                applied live to the running workload (no restart); a field
//                                 that disappeared goes back to the kernel default: "max" for
//                                 cpu quota, memory max/high/swap, pids, IO throttles; weight
//                                 100; memory.low 0; the CFS period 100 ms
//   how it is launched changed    relaunch: stop it, start it with the new spec (command, env,
//                                 working_dir, user/group, namespaces, hostname, rlimits,
//                                 stdout/stderr)
//   labels, image, restart, stop_signal, stop_grace changed
//                                 updated live (no restart): the next exit, stop and sample use them
//   a cpuset removed              noted: the current one stays until the workload is relaunched
//   agent: section changed        noted: takes effect after an agent restart
//   policies: changed             the new rules replace the old (rule state kept by name)

#include <string>
#include <vector>

#include "collectors/Limits.h"
#include "config/Config.h"
#include "config/Loader.h"

namespace cgwarden::agent {

struct LimitChange {
  std::string workload;
  Limits apply;             // only the fields that change, with their new (or default) values
  std::string description;  // "memory.max 64Mi -> 128Mi, pids.max 32 -> max"
};

struct SettingsChange {
  config::WorkloadSpec spec;         // the new spec (its labels, image, restart, stop_* are used)
  std::vector<std::string> changed;  // "labels", "restart", ...
};

struct Relaunch {
  config::WorkloadSpec spec;         // the new spec
  std::vector<std::string> changed;  // "command", "env", ...
};

struct ReloadPlan {
  bool rejected = false;
  std::vector<config::ConfigIssue> errors;     // set when rejected
  std::vector<LimitChange> limits;
  std::vector<config::WorkloadSpec> start;     // added workloads, in config order
  std::vector<std::string> stop;               // removed workloads
  std::vector<Relaunch> relaunch;
  std::vector<SettingsChange> settings;
  std::vector<std::string> notes;              // what this reload does not apply, and why
  bool policiesChanged = false;
  config::Config next;                         // the new config (valid unless rejected)

  bool empty() const {
    return !rejected && limits.empty() && start.empty() && stop.empty() && relaunch.empty() && settings.empty() &&
           !policiesChanged;
  }
  // One line per change, for logs and API answers: "web: limits memory.max 64Mi -> 128Mi".
  std::vector<std::string> describe() const;
};

ReloadPlan planReload(const config::Config& running, const config::Loaded<config::Config>& next);

// The live-limit part on its own: the fields of `after` that differ from `before`, with
// removed fields set to the kernel default (see above); `description` as in LimitChange.
Limits limitsDelta(const Limits& before, const Limits& after, std::string* description = nullptr);

}  // namespace cgwarden::agent
