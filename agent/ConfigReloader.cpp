#include "agent/ConfigReloader.h"

#include <spdlog/spdlog.h>

namespace cgwarden::agent {

ConfigReloader::ConfigReloader(config::Config running, std::unique_ptr<ReloadTarget> target, RulesSink rules)
    : running_(std::move(running)), target_(std::move(target)), rules_(std::move(rules)) {}

config::Config ConfigReloader::running() const {
  std::lock_guard lock(mu_);
  return running_;
}

ReloadReport ConfigReloader::reloadFile() {
  std::string path;
  {
    std::lock_guard lock(mu_);
    path = running_.path;
  }
  return apply(config::loadConfigFile(path));
}

ReloadReport ConfigReloader::apply(const config::Loaded<config::Config>& next) {
  std::lock_guard lock(mu_);
  ReloadReport report;
  ReloadPlan plan = planReload(running_, next);
  if (plan.rejected) {
    report.errors = plan.errors;
    spdlog::error("reload rejected ({} errors); the running config stays in force", report.errors.size());
    for (const auto& e : report.errors) spdlog::error("  {}", e.render());
    return report;
  }
  auto step = [&](const std::string& what, const Status& st) {
    if (st) {
      report.changes.push_back(what);
      spdlog::info("reload: {}", what);
    } else {
      report.failures.push_back(what + ": " + st.error().message());
      spdlog::error("reload: {}: {}", what, st.error().message());
    }
  };
  for (const auto& name : plan.stop) step(name + ": stopped (removed from the config)", target_->remove(name));
  for (const auto& r : plan.relaunch) {
    std::string changed;
    for (const auto& c : r.changed) changed += (changed.empty() ? "" : ", ") + c;
    Status st = target_->remove(r.spec.name);
    if (st) st = target_->launch(r.spec);
    step(r.spec.name + ": relaunched (" + changed + " changed)", st);
  }
  for (const auto& l : plan.limits) step(l.workload + ": limits " + l.description, target_->applyLimits(l.workload, l.apply));
  for (const auto& s : plan.settings) {
    std::string changed;
    for (const auto& c : s.changed) changed += (changed.empty() ? "" : ", ") + c;
    step(s.spec.name + ": " + changed + " updated", target_->updateSettings(s.spec));
  }
  for (const auto& w : plan.start) step(w.name + ": started (added to the config)", target_->launch(w));
  if (plan.policiesChanged && rules_) {
    rules_(plan.next.policies);
    step("policies: " + std::to_string(plan.next.policies.size()) + " rules in force", Status());
  }
  for (const auto& n : plan.notes) {
    report.changes.push_back(n);
    spdlog::warn("reload: {}", n);
  }
  if (report.changes.empty() && report.failures.empty()) spdlog::info("reload: no changes");
  running_ = std::move(plan.next);
  return report;
}

}  // namespace cgwarden::agent
