#include "agent/Agent.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>

#include "agent/ConfigReloader.h"
#include "agent/SupervisorReloadTarget.h"

namespace cgwarden::agent {

namespace {

// The config as the restored workloads actually run: `config` with the saved spec of each
// launched workload that restore() took back (resumed, or restarted by its policy) in place
// of the file's. Nullopt when no configured workload was restored.
std::optional<config::Config> configAsRestored(const config::Config& config, const AgentState& saved,
                                               const RestoreReport& restored) {
  auto wasRestored = [&](const std::string& name) {
    return std::find(restored.resumed.begin(), restored.resumed.end(), name) != restored.resumed.end() ||
           std::find(restored.endedAway.begin(), restored.endedAway.end(), name) != restored.endedAway.end();
  };
  config::Config asRestored = config;
  bool any = false;
  for (auto& spec : asRestored.workloads) {
    if (!wasRestored(spec.name)) continue;
    for (const StateEntry& e : saved.workloads) {
      if (e.spec.name == spec.name && e.kind == WorkloadKind::Launched) {
        spec = e.spec;
        any = true;
      }
    }
  }
  return any ? std::optional<config::Config>(std::move(asRestored)) : std::nullopt;
}

sigset_t agentSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}

}  // namespace

Agent::Agent(config::Config config, AgentOptions options) : config_(std::move(config)), options_(options) {}

Agent::~Agent() { stop(); }

void Agent::addComponent(std::unique_ptr<AgentComponent> component) { components_.push_back(std::move(component)); }

Status Agent::start() {
  sigset_t set = agentSignals();
  ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signalFd_.reset(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!signalFd_.valid()) return Error::fromErrno("signalfd", "", errno);
  stopFd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stopFd_.valid()) return Error::fromErrno("eventfd", "", errno);

  spdlog::debug("config {}: {} workloads, cgroup root {}, state dir {}, leave_running {}", config_.path,
                config_.workloads.size(), config_.agent.cgroupRoot, config_.agent.stateDir, leaveRunning());
  auto layout = collectors::CgroupLayout::detect();
  if (!layout) return layout.error();
  layout_ = *layout;
  spdlog::info("{}", layout_.describe());
  auto manager = CgroupManager::create(layout_, config_.agent.cgroupRoot);
  if (!manager) return manager.error();
  if (auto st = (*manager)->prepareRoot(); !st) return st;
  spdlog::info("cgroup root /{} ready ({})", (*manager)->root(), collectors::cgroupModeName(layout_.mode));

  SupervisorOptions options;
  options.stateDir = config_.agent.stateDir;
  options.stateFile = joinPath(config_.agent.stateDir, kStateFileName);
  supervisor_ = std::make_unique<Supervisor>(std::move(*manager), options);

  // What a previous agent left running is taken over before anything is launched.
  auto saved = readStateFile(options.stateFile);
  if (!saved) {
    spdlog::warn("{}; starting without it (it will be overwritten)", saved.error().message());
    saved = AgentState{};
  }
  RestoreReport restored = supervisor_->restore(*saved);
  if (!saved->workloads.empty() || !restored.unclaimed.empty() || !restored.removedEmpty.empty()) {
    spdlog::info("restore from {}: {} still running, {} ended while no agent ran, {} not restored, {} unclaimed "
                 "cgroups left, {} empty ones removed",
                 options.stateFile, restored.resumed.size(), restored.endedAway.size(), restored.dropped.size(),
                 restored.unclaimed.size(), restored.removedEmpty.size());
  }

  // A configured workload taken back from the state follows the file as it is now, as if the
  // file had been edited under a running agent and reloaded: live limits and settings, a
  // relaunch for a changed command. Unchanged specs make an empty plan: nothing is touched.
  if (auto asRestored = configAsRestored(config_, *saved, restored)) {
    config::Loaded<config::Config> current;
    current.value = config_;
    ReloadPlan plan = planReload(*asRestored, current);
    if (!plan.empty() || !plan.notes.empty()) {
      spdlog::info("restore: {} changed while no agent ran; applying it as a reload", config_.path);
      ConfigReloader(std::move(*asRestored), std::make_unique<SupervisorReloadTarget>(*supervisor_)).apply(current);
    }
  }

  size_t launched = 0, alreadyThere = 0;
  for (const auto& spec : config_.workloads) {
    if (supervisor_->status(spec.name)) {
      ++alreadyThere;  // restored from the state: not launched again
      continue;
    }
    // A workload that cannot start is logged (by the supervisor) and left `failed`.
    if (supervisor_->launch(spec)) ++launched;
  }
  spdlog::info("{} of {} workloads started, {} restored", launched, config_.workloads.size() - alreadyThere,
               alreadyThere);

  for (auto& c : components_) {
    if (auto st = c->start(*this); !st) {
      Error e = st.error();
      e.context("start " + c->name());
      return e;
    }
    ++started_;
    spdlog::info("{} started", c->name());
  }
  return {};
}

int Agent::run() {
  if (!signalFd_.valid() || !stopFd_.valid()) return 0;
  for (;;) {
    struct pollfd fds[2] = {{signalFd_.get(), POLLIN, 0}, {stopFd_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0 && errno != EINTR) return 0;
    if ((fds[1].revents & POLLIN) != 0) return 0;
    signalfd_siginfo info{};
    while (::read(signalFd_.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
      int sig = static_cast<int>(info.ssi_signo);
      if (sig == SIGHUP) {
        if (onHangup_) {
          onHangup_();
        } else {
          spdlog::info("SIGHUP: no reload handler installed; restart the agent to apply changes");
        }
        continue;
      }
      spdlog::info("{} received: stopping", signalName(sig));
      return sig;
    }
  }
}

void Agent::requestStop() {
  uint64_t one = 1;
  if (stopFd_.valid()) (void)!::write(stopFd_.get(), &one, sizeof one);
}

void Agent::stop() {
  if (stopped_) return;
  stopped_ = true;
  while (started_ > 0) {
    auto& c = components_[--started_];
    c->stop();
    spdlog::info("{} stopped", c->name());
  }
  if (!supervisor_) return;
  if (leaveRunning()) {
    spdlog::info("leave_running: workloads keep running in /{}", supervisor_->cgroups().root());
    supervisor_->detach();
  } else {
    supervisor_->shutdown();
    spdlog::info("all workloads stopped");
  }
}

}  // namespace cgwarden::agent
