#pragma once
// Reload, end to end: load the config file again, plan (ConfigDiff.h), execute against a
// ReloadTarget, hand the new rules to the policer, and keep the new config as the running
// one. An invalid file changes nothing and comes back as its errors.
//
//   ConfigReloader reloader(config, std::make_unique<SupervisorReloadTarget>(supervisor),
//                           [&](std::vector<config::PolicyRule> r) { policer.setRules(std::move(r)); });
//   on SIGHUP:           auto report = reloader.reloadFile();          // logs what it did
//   POST /api/v1/reload: the same, mapped to ReloadOutcome{report.errors, report.changes}
//
// Order: removed workloads stop first (freeing their resources), then relaunches, then live
// limits, then added workloads start, then the rules are swapped. A step that fails is
// reported and the others still run; the running config becomes the new one regardless
// (the file is what the operator asked for; the failures say what is not in force).
// Thread-safe: one reload at a time.

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/ConfigDiff.h"
#include "agent/ReloadTarget.h"
#include "config/Config.h"
#include "config/Loader.h"

namespace cgwarden::agent {

struct ReloadReport {
  std::vector<config::ConfigIssue> errors;  // non-empty: rejected, nothing changed
  std::vector<std::string> changes;         // done: "web: limits memory.max 64Mi -> 128Mi", notes included
  std::vector<std::string> failures;        // steps that failed: "web: limits: write ...: EBUSY"
  bool ok() const { return errors.empty() && failures.empty(); }
};

class ConfigReloader {
 public:
  using RulesSink = std::function<void(std::vector<config::PolicyRule>)>;
  ConfigReloader(config::Config running, std::unique_ptr<ReloadTarget> target, RulesSink rules = nullptr);

  // Loads running().path again.
  ReloadReport reloadFile();
  // Applies an already loaded config (tests, API bodies).
  ReloadReport apply(const config::Loaded<config::Config>& next);

  config::Config running() const;

 private:
  mutable std::mutex mu_;
  config::Config running_;
  std::unique_ptr<ReloadTarget> target_;
  RulesSink rules_;
};

}  // namespace cgwarden::agent
