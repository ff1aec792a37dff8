#include "agent/Policer.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "collectors/TargetProbe.h"

namespace cgwarden::agent {

namespace {

double unixNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

Policer::Policer(std::vector<config::PolicyRule> rules, ActionTarget& target, PolicyEventLog& events,
                 PolicyMetrics* metrics, PolicerOptions options, std::unique_ptr<HookRunner> hooks)
    : target_(target), events_(events), metrics_(metrics), options_(std::move(options)), hooks_(std::move(hooks)) {
  if (!hooks_) hooks_ = std::make_unique<ProcessHookRunner>();
  wakeFd_.reset(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  PolicyEngineOptions engineOptions = options_.engine;
  engineOptions.timersChanged = [this] { wake(); };
  engineOptions.refresh = [this](const collectors::TargetSample& last) -> std::optional<collectors::TargetSample> {
    auto snapshot = engine_->latestSnapshot();
    auto fresh = collectors::probeTarget(last, snapshot ? snapshot->mode : collectors::CgroupMode::V2, unixNow());
    if (!fresh) return std::nullopt;
    return std::move(*fresh);
  };
  engine_ = std::make_unique<PolicyEngine>(std::move(rules), target_, *hooks_, events_, metrics_, std::move(engineOptions));
}

Policer::~Policer() { stop(); }

Status Policer::start() {
  if (thread_.joinable()) return {};
  if (!wakeFd_.valid()) return Error::fromErrno("eventfd", "policer", errno);
  stopping_ = false;
  thread_ = std::thread([this] { loop(); });
  return {};
}

void Policer::stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  wake();
  thread_.join();
}

void Policer::wake() {
  uint64_t one = 1;
  if (wakeFd_.valid()) (void)!::write(wakeFd_.get(), &one, sizeof one);
}

void Policer::publish(std::shared_ptr<const collectors::Snapshot> snapshot) {
  {
    std::lock_guard lock(mu_);
    pendingSnapshot_ = std::move(snapshot);
  }
  wake();
}

void Policer::setRules(std::vector<config::PolicyRule> rules) {
  {
    std::lock_guard lock(mu_);
    pendingRules_ = std::move(rules);
  }
  wake();
}

void Policer::evaluateFresh(const std::string& targetId, PolicyTrigger trigger, SteadyClock::time_point wokeAt) {
  auto snapshot = engine_->latestSnapshot();
  if (!snapshot) return;
  const collectors::TargetSample* last = snapshot->find(targetId);
  if (!last) return;
  auto fresh = collectors::probeTarget(*last, snapshot->mode, unixNow());
  if (!fresh) {
    if (!fresh.error().cgroupGone()) spdlog::debug("policer: re-read {}: {}", targetId, fresh.error().message());
    return;
  }
  engine_->evaluateTarget(*fresh, trigger, wokeAt);
  ++passes_;
}

void Policer::loop() {
  using namespace std::chrono;
  auto nextSource = SteadyClock::now();
  auto nextFastPoll = SteadyClock::now() + options_.fastPollInterval;
  std::vector<struct pollfd> fds;
  while (!stopping_) {
    const auto now = SteadyClock::now();
    std::optional<SteadyClock::time_point> deadline = engine_->nextTimer();
    auto earliest = [&](SteadyClock::time_point t) {
      if (!deadline || t < *deadline) deadline = t;
    };
    if (options_.snapshotSource) earliest(nextSource);
    const bool fastPoll = options_.kernelEvents && !watches_.fastPollTargets().empty();
    if (fastPoll) earliest(nextFastPoll);
    for (const auto& f : followUps_) earliest(f.due);
    int timeoutMs = -1;
    if (deadline) {
      auto left = duration_cast<milliseconds>(*deadline - now + microseconds(999)).count();
      timeoutMs = static_cast<int>(std::clamp<int64_t>(left, 0, 60000));
    }

    fds.clear();
    fds.push_back({wakeFd_.get(), POLLIN, 0});
    if (options_.kernelEvents) watches_.pollFds(fds);
    int n = ::poll(fds.data(), fds.size(), timeoutMs);
    const auto wokeAt = SteadyClock::now();
    if (n < 0 && errno != EINTR) {
      spdlog::error("policer: poll: {}", std::strerror(errno));
      std::this_thread::sleep_for(milliseconds(100));
      continue;
    }
    if (fds[0].revents & POLLIN) {
      uint64_t count = 0;
      (void)!::read(wakeFd_.get(), &count, sizeof count);
    }
    if (stopping_) break;

    std::shared_ptr<const collectors::Snapshot> snapshot;
    std::optional<std::vector<config::PolicyRule>> rules;
    {
      std::lock_guard lock(mu_);
      snapshot = std::move(pendingSnapshot_);
      pendingSnapshot_.reset();
      rules = std::move(pendingRules_);
      pendingRules_.reset();
    }
    if (!snapshot && options_.snapshotSource && wokeAt >= nextSource) {
      nextSource = wokeAt + options_.sourcePollInterval;
      auto latest = options_.snapshotSource();
      if (latest && latest != lastSourced_) {
        lastSourced_ = latest;
        snapshot = std::move(latest);
      }
    }
    if (rules) {
      engine_->setRules(std::move(*rules));
      if (!snapshot) snapshot = engine_->latestSnapshot();  // re-evaluate and re-watch under the new rules
    }
    if (snapshot) {
      engine_->evaluateSnapshot(snapshot, PolicyTrigger::Tick, wokeAt);
      ++passes_;
      if (options_.kernelEvents) {
        auto desired = desiredWatches(engine_->rules(), *snapshot);
        watches_.reconcile(desired);
        spdlog::debug("policer: snapshot with {} targets, {} watches", snapshot->targets.size(), watches_.size());
        watchCount_ = watches_.size();
      }
    }

    if (options_.kernelEvents && n > 0) {
      std::set<std::string> seen;
      for (const auto& f : watches_.collect(fds, 1)) {
        spdlog::debug("policer: {} woke by {}", f.targetId, policyTriggerName(f.trigger));
        if (!seen.insert(f.targetId).second) continue;
        evaluateFresh(f.targetId, f.trigger, wokeAt);
        if (f.trigger == PolicyTrigger::Oom || f.trigger == PolicyTrigger::MemoryEvents ||
            f.trigger == PolicyTrigger::Threshold) {
          for (auto delay : {milliseconds(2), milliseconds(10), milliseconds(50), milliseconds(200)})
            followUps_.push_back({wokeAt + delay, f.targetId, f.trigger});
        }
      }
      watchCount_ = watches_.size();
    }
    for (auto it = followUps_.begin(); it != followUps_.end();) {
      if (it->due > wokeAt) {
        ++it;
        continue;
      }
      FollowUp f = *it;
      it = followUps_.erase(it);
      evaluateFresh(f.targetId, f.trigger, f.due);
    }
    if (fastPoll && wokeAt >= nextFastPoll) {
      nextFastPoll = wokeAt + options_.fastPollInterval;
      for (const auto& id : watches_.fastPollTargets()) evaluateFresh(id, PolicyTrigger::Poll, wokeAt);
    }
    engine_->runDueTimers();
  }
}

}  // namespace cgwarden::agent
