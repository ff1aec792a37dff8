#include "agent/Supervisor.h"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

#include <spdlog/spdlog.h>

#include "agent/RestartPolicy.h"
#include "collectors/FileIo.h"
#include "collectors/TextParse.h"

namespace cgwarden::agent {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

const char* workloadStateName(WorkloadState state) {
  switch (state) {
    case WorkloadState::Starting: return "starting";
    case WorkloadState::Running: return "running";
    case WorkloadState::Stopping: return "stopping";
    case WorkloadState::Restarting: return "restarting";
    case WorkloadState::Exited: return "exited";
    case WorkloadState::OomKilled: return "oom_killed";
    case WorkloadState::Stopped: return "stopped";
    case WorkloadState::Failed: return "failed";
  }
  return "?";
}

const char* workloadEventName(WorkloadEvent::Kind kind) {
  switch (kind) {
    case WorkloadEvent::Kind::Started: return "started";
    case WorkloadEvent::Kind::Exited: return "exited";
    case WorkloadEvent::Kind::OomKilled: return "oom_killed";
    case WorkloadEvent::Kind::Restarting: return "restarting";
    case WorkloadEvent::Kind::Stopped: return "stopped";
    case WorkloadEvent::Kind::Failed: return "failed";
    case WorkloadEvent::Kind::LaunchFailed: return "launch_failed";
    case WorkloadEvent::Kind::Removed: return "removed";
  }
  return "?";
}

namespace {

// The kernel's count of OOM kills in the workload's memory cgroup: v1 memory.oom_control and
// v2 memory.events both carry an "oom_kill N" line. nullopt where neither is readable.
std::optional<uint64_t> readOomKills(const Cgroup& cgroup) {
  auto dir = cgroup.directoryFor("memory");
  if (!dir) dir = cgroup.directoryFor("");
  if (!dir) return std::nullopt;
  for (const char* file : {"memory.oom_control", "memory.events"}) {
    auto text = readFile(joinPath(*dir, file));
    if (!text) continue;
    for (auto& [key, value] : parseFlatKeyed(*text)) {
      if (key == "oom_kill") return value;
    }
  }
  return std::nullopt;
}

void mergeLimits(Limits& into, const Limits& from) {
  auto set = [](auto& dst, const auto& src) {
    if (src) dst = src;
  };
  set(into.cpu.quotaUs, from.cpu.quotaUs);
  set(into.cpu.periodUs, from.cpu.periodUs);
  set(into.cpu.weight, from.cpu.weight);
  set(into.cpu.cpus, from.cpu.cpus);
  set(into.cpu.mems, from.cpu.mems);
  set(into.memory.max, from.memory.max);
  set(into.memory.high, from.memory.high);
  set(into.memory.low, from.memory.low);
  set(into.memory.swapMax, from.memory.swapMax);
  set(into.pids.max, from.pids.max);
  set(into.io.weight, from.io.weight);
  for (const IoDeviceLimit& d : from.io.devices) {
    auto it = std::find_if(into.io.devices.begin(), into.io.devices.end(),
                           [&](const IoDeviceLimit& x) { return x.major == d.major && x.minor == d.minor; });
    if (it == into.io.devices.end()) {
      into.io.devices.push_back(d);
      continue;
    }
    set(it->readBps, d.readBps);
    set(it->writeBps, d.writeBps);
    set(it->readIops, d.readIops);
    set(it->writeIops, d.writeIops);
  }
}

int64_t toEpochMs(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count();
}

bool isLiveStateName(std::string_view state) {
  return state == "starting" || state == "running" || state == "stopping" || state == "restarting";
}

Error notFound(std::string_view name) {
  return Error::fromErrno("find workload", std::string(name), ENOENT, "no workload of that name is registered");
}

}  // namespace

struct Supervisor::Workload {
  enum class After { Stop, Restart, Remove };

  config::WorkloadSpec spec;
  WorkloadKind kind = WorkloadKind::Launched;
  std::unique_ptr<Cgroup> cgroup;
  WorkloadState state = WorkloadState::Starting;
  pid_t pid = -1;
  UniqueFd pidfd;
  bool child = true;         // pid is our child (waitpid); else watched by pidfd only
  uint64_t startTicks = 0;   // /proc/<pid>/stat start time of pid
  uint32_t restarts = 0;
  uint32_t streak = 0;  // restarts in the current crash loop
  uint32_t oomKills = 0;
  std::optional<ExitStatus> lastExit;
  bool lastExitWasOom = false;
  uint64_t oomAtStart = 0;
  std::chrono::system_clock::time_point startedAt{};
  Clock::time_point startedSteady{};
  Clock::time_point restartAt{};
  Clock::time_point killAt{};
  bool killed = false;
  After after = After::Stop;
  std::string lastError;
};

struct Supervisor::Impl {
  CgroupManager* manager = nullptr;
  SupervisorOptions options;
  mutable std::mutex mu;
  mutable std::condition_variable changed;
  std::map<std::string, std::unique_ptr<Workload>, std::less<>> workloads;
  std::vector<std::function<void(const WorkloadEvent&)>> listeners;
  std::vector<WorkloadEvent> pending;  // emitted under the lock, delivered after it
  UniqueFd wakeFd;
  std::thread thread;
  bool quit = false;
  bool finished = false;
  bool dirty = false;               // state changed since the state file was written
  std::string lastPersistError;     // logged once per distinct message
  std::vector<std::string> unclaimed;

  // ---- under mu ----

  Workload* find(std::string_view name) {
    auto it = workloads.find(name);
    return it == workloads.end() ? nullptr : it->second.get();
  }

  void wake() {
    uint64_t one = 1;
    (void)!::write(wakeFd.get(), &one, sizeof one);
  }

  void emit(WorkloadEvent::Kind kind, const Workload& w, std::string message, std::optional<ExitStatus> exit = {},
            milliseconds delay = milliseconds(0)) {
    bool bad = kind == WorkloadEvent::Kind::Failed || kind == WorkloadEvent::Kind::LaunchFailed ||
               kind == WorkloadEvent::Kind::OomKilled;
    spdlog::log(bad ? spdlog::level::warn : spdlog::level::info, "workload {}: {}", w.spec.name, message);
    dirty = true;
    pending.push_back(WorkloadEvent{kind, w.spec.name, exit, delay, std::move(message)});
  }

  WorkloadStatus snapshot(const Workload& w) const {
    WorkloadStatus s;
    s.name = w.spec.name;
    s.state = w.state;
    s.kind = w.kind;
    s.pid = w.pid;
    s.childOfAgent = w.child;
    s.cgroupPath = w.cgroup ? w.cgroup->path() : std::string();
    s.restarts = w.restarts;
    s.oomKills = w.oomKills;
    s.lastExit = w.lastExit;
    s.lastExitWasOom = w.lastExitWasOom;
    s.startedAt = w.startedAt;
    if (w.state == WorkloadState::Restarting) {
      s.restartIn = std::max(milliseconds(0), std::chrono::duration_cast<milliseconds>(w.restartAt - Clock::now()));
    }
    s.lastError = w.lastError;
    s.limits = w.spec.limits;
    return s;
  }

  // Rewrites the state file if anything changed (SupervisorOptions::stateFile).
  void persist() {
    if (!dirty || options.stateFile.empty()) return;
    dirty = false;
    AgentState state;
    for (const auto& [name, w] : workloads) {
      StateEntry e;
      e.spec = w->spec;
      e.kind = w->kind;
      e.state = workloadStateName(w->state);
      e.pid = w->pid;
      e.startTicks = w->pid > 0 ? w->startTicks : 0;
      e.restarts = w->restarts;
      e.oomKills = w->oomKills;
      e.oomCounterAtStart = w->oomAtStart;
      e.startedAtMs = toEpochMs(w->startedAt);
      state.workloads.push_back(std::move(e));
    }
    if (auto st = writeStateFile(options.stateFile, state); !st) {
      std::string message = st.error().message();
      if (message != lastPersistError) spdlog::warn("state: {} (a restarted agent may not re-adopt)", message);
      lastPersistError = message;
    } else if (!lastPersistError.empty()) {
      spdlog::info("state: {} written again", options.stateFile);
      lastPersistError.clear();
    }
  }

  // Watches `pid`, which is not our child, by pidfd. With `expectedTicks`, only if it is still
  // the process that started then (pid reuse). False when it is gone (or a zombie).
  bool watchForeign(Workload& w, pid_t pid, std::optional<uint64_t> expectedTicks) {
    auto ticks = processStartTicks(pid, options.procRoot);
    if (!ticks || (expectedTicks && *ticks != *expectedTicks)) return false;
    UniqueFd fd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    if (!fd.valid()) return false;
    // The pidfd pins this pid: if it still has the same start time now, fd is that process.
    if (!sameProcessAlive(pid, *ticks, options.procRoot)) return false;
    w.pid = pid;
    w.pidfd = std::move(fd);
    w.startTicks = *ticks;
    w.child = false;
    return true;
  }

  // Watches the lowest pid left in the workload's cgroup; false when none is left.
  bool watchLowestMember(Workload& w) {
    if (!w.cgroup) return false;
    auto members = w.cgroup->pids();
    if (!members) return false;
    std::vector<pid_t> sorted = *members;
    std::sort(sorted.begin(), sorted.end());
    for (pid_t p : sorted) {
      if (watchForeign(w, p, std::nullopt)) return true;
    }
    return false;
  }

  // A pidfd-watched main process has exited (or, without a pidfd, is no longer the same process).
  bool foreignEnded(const Workload& w) const {
    if (w.pidfd.valid()) {
      pollfd p{w.pidfd.get(), POLLIN, 0};
      return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)) != 0;
    }
    return !sameProcessAlive(w.pid, w.startTicks, options.procRoot);
  }

  Status ensureCgroup(Workload& w) {
    if (w.cgroup) return {};
    auto cg = manager->create(w.spec.name);
    if (!cg) return cg.error();
    if (auto st = (*cg)->applyLimits(w.spec.limits); !st) {
      (void)(*cg)->remove(options.cleanupTimeout);
      return st;
    }
    w.cgroup = std::move(*cg);
    return {};
  }

  void removeCgroup(Workload& w) {
    if (!w.cgroup) return;
    if (auto st = w.cgroup->killAll(options.cleanupTimeout); !st) {
      w.lastError = st.error().message();
      spdlog::warn("workload {}: {}", w.spec.name, w.lastError);
    }
    if (auto st = w.cgroup->remove(options.cleanupTimeout); !st) {
      w.lastError = st.error().message();
      spdlog::warn("workload {}: {}", w.spec.name, w.lastError);
    }
    w.cgroup.reset();
  }

  // Starts one run. On failure the caller decides what the state becomes.
  Status startRun(Workload& w) {
    if (auto st = ensureCgroup(w); !st) {
      Error e = st.error();
      e.context("launch " + w.spec.name);
      return e;
    }
    w.oomAtStart = readOomKills(*w.cgroup).value_or(0);
    w.state = WorkloadState::Starting;
    w.killed = false;
    auto launched = Launcher::launch(w.spec, *w.cgroup, options.launch);
    if (!launched) return launched.error();
    w.pid = launched->pid;
    w.pidfd = std::move(launched->pidfd);
    w.child = true;
    w.startTicks = processStartTicks(w.pid, options.procRoot).value_or(0);
    w.startedAt = launched->startedAt;
    w.startedSteady = Clock::now();
    w.state = WorkloadState::Running;
    w.lastError.clear();
    emit(WorkloadEvent::Kind::Started, w, "started, pid " + std::to_string(w.pid) + " in /" + w.cgroup->path());
    wake();
    return {};
  }

  // A run ended (or a restart's launch failed): apply the restart policy.
  void runEnded(Workload& w, bool succeeded) {
    RestartDecision d = decideRestart(w.spec.restart, succeeded, w.streak);
    if (d.restart) {
      w.state = WorkloadState::Restarting;
      w.restartAt = Clock::now() + d.delay;
      ++w.streak;
      ++w.restarts;
      emit(WorkloadEvent::Kind::Restarting, w,
           "restarting in " + std::to_string(d.delay.count()) + " ms (restart " + std::to_string(w.streak) +
               (w.spec.restart.maxRestarts ? " of " + std::to_string(w.spec.restart.maxRestarts) : std::string()) + ")",
           w.lastExit, d.delay);
    } else if (d.failed) {
      w.state = WorkloadState::Failed;
      emit(WorkloadEvent::Kind::Failed, w,
           "failed: " + std::to_string(w.streak) + " restarts in a row (max_restarts), last run: " +
               (w.lastExit ? w.lastExit->describe() : w.lastError),
           w.lastExit);
    } else {
      w.state = w.lastExitWasOom ? WorkloadState::OomKilled : WorkloadState::Exited;
    }
  }

  void launchFailed(Workload& w, const Error& e) {
    w.lastError = e.message();
    w.pid = -1;
    w.pidfd.reset();
    emit(WorkloadEvent::Kind::LaunchFailed, w, w.lastError);
  }

  // Erases `w` (after its cgroup is gone).
  void forget(Workload& w) {
    emit(WorkloadEvent::Kind::Removed, w, "removed");
    workloads.erase(w.spec.name);
  }

  // The main process of a launched workload ended; `exit` is unknown when it was not our child.
  void handleExit(Workload& w, std::optional<ExitStatus> exit) {
    const pid_t endedPid = w.pid;
    w.pid = -1;
    w.pidfd.reset();
    bool oom = w.cgroup && readOomKills(*w.cgroup).value_or(0) > w.oomAtStart;
    w.lastExit = exit;
    w.lastExitWasOom = oom;
    const std::string what = exit ? exit->describe() : "exit status unknown";
    if (!exit) {
      w.lastError = "pid " + std::to_string(endedPid) +
                    " was not the agent's child (re-adopted after an agent restart): its exit status is unknown" +
                    (oom ? "; the cgroup's oom_kill counter rose" : "; counted as a failure");
      spdlog::warn("workload {}: {}", w.spec.name, w.lastError);
    }
    // Whatever the main process left behind (children without a pid namespace) goes too.
    if (w.cgroup) {
      if (auto st = w.cgroup->killAll(options.cleanupTimeout); !st) spdlog::warn("workload {}: {}", w.spec.name, st.error().message());
    }
    if (w.state == WorkloadState::Stopping) {
      switch (w.after) {
        case Workload::After::Stop:
          removeCgroup(w);
          w.state = WorkloadState::Stopped;
          emit(WorkloadEvent::Kind::Stopped, w, "stopped (" + what + (w.killed ? ", killed after the grace period)" : ")"), exit);
          return;
        case Workload::After::Remove:
          removeCgroup(w);
          forget(w);
          return;
        case Workload::After::Restart:
          w.streak = 0;
          if (auto st = startRun(w); !st) {
            launchFailed(w, st.error());
            runEnded(w, false);
          }
          return;
      }
    }
    if (oom) ++w.oomKills;
    if (Clock::now() - w.startedSteady >= w.spec.restart.resetAfter) w.streak = 0;
    bool succeeded = exit && !oom && !exit->signaled && exit->code == 0;
    if (oom) {
      emit(WorkloadEvent::Kind::OomKilled, w, "OOM-killed by the kernel (" + what + ")", exit);
    } else {
      emit(WorkloadEvent::Kind::Exited, w, "exited: " + what, exit);
    }
    runEnded(w, succeeded);
  }

  // The watched process of an adopted workload ended: watch another member, or, when the
  // cgroup is empty, finish a stop or remove the workload. `w` may be erased.
  void adoptedMainEnded(Workload& w) {
    const pid_t endedPid = w.pid;
    w.pid = -1;
    w.pidfd.reset();
    if (watchLowestMember(w)) {
      spdlog::info("workload {}: pid {} ended; now watching pid {}", w.spec.name, endedPid, w.pid);
      dirty = true;
      return;
    }
    if (w.state == WorkloadState::Stopping && w.after == Workload::After::Stop) {
      removeCgroup(w);
      w.state = WorkloadState::Stopped;
      emit(WorkloadEvent::Kind::Stopped, w,
           std::string("stopped (every process ended") + (w.killed ? ", killed after the grace period)" : ")"));
      return;
    }
    removeCgroup(w);
    if (w.state != WorkloadState::Stopping) {
      emit(WorkloadEvent::Kind::Exited, w, "every process of the adopted workload ended (last watched pid " +
                                               std::to_string(endedPid) + "); its cgroup is removed");
    }
    forget(w);
  }

  void beginStop(Workload& w, Workload::After after) {
    w.after = after;
    if (w.state == WorkloadState::Stopping) return;
    w.state = WorkloadState::Stopping;
    w.killAt = Clock::now() + w.spec.stopGrace;
    w.killed = false;
    if (w.kind == WorkloadKind::Adopted && w.cgroup) {
      // No init of ours forwards the signal: every process of the cgroup gets it.
      if (auto members = w.cgroup->pids()) {
        for (pid_t p : *members) ::kill(p, w.spec.stopSignal);
      }
    } else if (w.pid > 0 && ::kill(w.pid, w.spec.stopSignal) != 0 && errno != ESRCH) {
      spdlog::warn("workload {}: kill({}, {}): {}", w.spec.name, w.pid, signalName(w.spec.stopSignal), std::strerror(errno));
    }
    wake();
  }

  void killNow(Workload& w) {
    w.killed = true;
    if (w.cgroup) {
      if (auto st = w.cgroup->killAll(options.cleanupTimeout); !st) {
        w.lastError = st.error().message();
        spdlog::warn("workload {}: {}", w.spec.name, w.lastError);
      }
    }
    if (w.pid > 0) ::kill(w.pid, SIGKILL);  // in case it escaped the cgroup
  }

  // Reaps exited main processes and fires due timers.
  void tick() {
    std::vector<std::string> names;
    for (const auto& [name, w] : workloads) names.push_back(name);
    for (const auto& name : names) {
      Workload* w = find(name);
      if (w == nullptr) continue;
      if (w->pid > 0 && !w->child) {
        if (foreignEnded(*w)) {
          if (w->kind == WorkloadKind::Adopted) adoptedMainEnded(*w);
          else handleExit(*w, std::nullopt);
          w = find(name);
          if (w == nullptr) continue;
        }
      } else if (w->pid > 0) {
        int status = 0;
        pid_t r = ::waitpid(w->pid, &status, WNOHANG);
        if (r == w->pid) {
          handleExit(*w, ExitStatus::fromWaitStatus(status));
          w = find(name);
          if (w == nullptr) continue;
        } else if (r < 0 && errno == ECHILD) {
          // Not our child any more (someone reaped it): treat as gone, status unknown.
          handleExit(*w, std::nullopt);
          w = find(name);
          if (w == nullptr) continue;
        }
      }
      auto now = Clock::now();
      if (w->state == WorkloadState::Restarting && now >= w->restartAt) {
        if (auto st = startRun(*w); !st) {
          launchFailed(*w, st.error());
          runEnded(*w, false);
        }
      } else if (w->state == WorkloadState::Stopping && !w->killed && now >= w->killAt) {
        spdlog::info("workload {}: still running after the {} ms grace period; SIGKILL to its cgroup", name,
                     w->spec.stopGrace.count());
        killNow(*w);
      }
    }
  }

  void loop() {
    std::unique_lock lock(mu);
    while (!quit) {
      std::vector<pollfd> fds{{wakeFd.get(), POLLIN, 0}};
      auto next = Clock::time_point::max();
      bool needTick = false;
      for (const auto& [name, w] : workloads) {
        if (w->pid > 0) {
          if (w->pidfd.valid()) {
            fds.push_back({w->pidfd.get(), POLLIN, 0});
          } else {
            needTick = true;
          }
        }
        if (w->state == WorkloadState::Restarting) next = std::min(next, w->restartAt);
        if (w->state == WorkloadState::Stopping && !w->killed) next = std::min(next, w->killAt);
        // A killed workload whose main process lingers (e.g. frozen elsewhere): look again soon.
        if (w->state == WorkloadState::Stopping && w->killed) needTick = true;
      }
      int timeout = -1;
      if (next != Clock::time_point::max()) {
        auto left = std::chrono::ceil<milliseconds>(next - Clock::now()).count();
        timeout = static_cast<int>(std::clamp<int64_t>(left, 0, 60000));
      }
      if (needTick) timeout = timeout < 0 ? 100 : std::min(timeout, 100);
      lock.unlock();
      ::poll(fds.data(), fds.size(), timeout);
      uint64_t drained = 0;
      (void)!::read(wakeFd.get(), &drained, sizeof drained);
      lock.lock();
      if (quit) break;
      tick();
      persist();
      changed.notify_all();
      deliverLocked(lock);
    }
    changed.notify_all();
  }

  // Delivers pending events outside the lock; returns with the lock held again.
  void deliverLocked(std::unique_lock<std::mutex>& lock) {
    if (pending.empty()) return;
    auto events = std::move(pending);
    pending.clear();
    auto ls = listeners;
    lock.unlock();
    for (const auto& e : events) {
      for (const auto& l : ls) l(e);
    }
    lock.lock();
  }

  // For public methods: notify waiters and deliver events.
  void finish(std::unique_lock<std::mutex>& lock) {
    persist();
    changed.notify_all();
    deliverLocked(lock);
  }
};

Supervisor::Supervisor(std::unique_ptr<CgroupManager> manager, SupervisorOptions options)
    : manager_(std::move(manager)), impl_(std::make_unique<Impl>()) {
  impl_->manager = manager_.get();
  impl_->options = std::move(options);
  impl_->wakeFd.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  impl_->thread = std::thread([this] { impl_->loop(); });
}

Supervisor::~Supervisor() {
  if (!impl_->finished) shutdown();
}

Status Supervisor::launch(const config::WorkloadSpec& specIn) {
  config::WorkloadSpec spec = specIn;
  if (auto st = validateCgroupName(spec.name); !st || spec.name.find('/') != std::string::npos) {
    return Error::invalid("launch", spec.name, st ? "a workload name cannot contain '/'" : st.error().detail);
  }
  if (spec.command.empty()) return Error::invalid("launch " + spec.name, "command", "the command is empty");
  for (config::OutputSpec* out : {&spec.stdoutSpec, &spec.stderrSpec}) {
    if (out->mode == config::OutputSpec::Mode::File && out->path.empty()) {
      out->path = joinPath(joinPath(impl_->options.stateDir, "logs"), spec.name + ".log");
    }
  }
  std::unique_lock lock(impl_->mu);
  if (impl_->finished) return Error::invalid("launch", spec.name, "the supervisor is shut down");
  if (impl_->find(spec.name) != nullptr) {
    return Error::fromErrno("launch", spec.name, EEXIST, "a workload of that name is already registered");
  }
  auto w = std::make_unique<Workload>();
  w->spec = std::move(spec);
  if (auto st = impl_->ensureCgroup(*w); !st) {
    Error e = st.error();
    e.context("launch " + w->spec.name);
    return e;
  }
  Workload& ref = *w;
  impl_->workloads.emplace(ref.spec.name, std::move(w));
  Status result = impl_->startRun(ref);
  if (!result) {
    impl_->launchFailed(ref, result.error());
    ref.state = WorkloadState::Failed;
  }
  impl_->finish(lock);
  return result;
}

Status Supervisor::adopt(const AdoptedWorkloadSpec& spec) {
  if (auto st = validateCgroupName(spec.name); !st || spec.name.find('/') != std::string::npos) {
    return Error::invalid("adopt", spec.name, st ? "a workload name cannot contain '/'" : st.error().detail);
  }
  std::unique_lock lock(impl_->mu);
  if (impl_->finished) return Error::invalid("adopt", spec.name, "the supervisor is shut down");
  if (Workload* old = impl_->find(spec.name); old && old->kind == WorkloadKind::Adopted && !old->cgroup) {
    impl_->workloads.erase(old->spec.name);  // stopped earlier, its cgroup removed: adopted afresh
  }
  if (Workload* existing = impl_->find(spec.name)) {
    return Error::fromErrno("adopt", spec.name, EEXIST,
                            existing->kind == WorkloadKind::Adopted
                                ? "an adopted workload of that name is registered (the processes joined its cgroup)"
                                : "a launched workload of that name is registered");
  }
  auto cg = impl_->manager->open(spec.name);
  if (!cg) {
    Error e = cg.error();
    e.context("adopt " + spec.name);
    return e;
  }
  auto w = std::make_unique<Workload>();
  w->kind = WorkloadKind::Adopted;
  w->spec.name = spec.name;
  w->spec.labels = spec.labels;
  w->spec.limits = spec.limits;
  w->spec.stopSignal = spec.stopSignal;
  w->spec.stopGrace = spec.stopGrace;
  w->spec.restart.policy = config::RestartPolicy::Never;
  w->cgroup = std::move(*cg);
  if (!impl_->watchForeign(*w, spec.mainPid, std::nullopt) && !impl_->watchLowestMember(*w)) {
    return Error::fromErrno("adopt", "/" + w->cgroup->path(), ESRCH,
                            "pid " + std::to_string(spec.mainPid) + " and every other process of the cgroup ended");
  }
  w->oomAtStart = readOomKills(*w->cgroup).value_or(0);
  w->state = WorkloadState::Running;
  w->startedAt = std::chrono::system_clock::now();
  w->startedSteady = Clock::now();
  Workload& ref = *w;
  impl_->workloads.emplace(ref.spec.name, std::move(w));
  impl_->emit(WorkloadEvent::Kind::Started, ref,
              "adopted: watching pid " + std::to_string(ref.pid) + " in /" + ref.cgroup->path() +
                  " (not restartable)");
  impl_->wake();
  impl_->finish(lock);
  return {};
}

void Supervisor::forgetAdopted(std::string_view name) {
  std::unique_lock lock(impl_->mu);
  Workload* w = impl_->find(name);
  if (w == nullptr || w->kind != WorkloadKind::Adopted) return;
  w->cgroup.reset();  // removed by the adopter already
  impl_->forget(*w);
  impl_->finish(lock);
}

RestoreReport Supervisor::restore(const AgentState& state) {
  RestoreReport report;
  std::unique_lock lock(impl_->mu);
  for (const StateEntry& e : state.workloads) {
    const std::string& name = e.spec.name;
    if (impl_->find(name) != nullptr || validateCgroupName(name).ok() == false) {
      spdlog::warn("restore {}: duplicate or invalid name in the state file; skipped", name);
      report.dropped.push_back(name);
      continue;
    }
    if (!isLiveStateName(e.state)) {
      spdlog::info("restore {}: was {} when the state was saved; not restored", name, e.state);
      report.dropped.push_back(name);
      continue;
    }
    auto w = std::make_unique<Workload>();
    w->spec = e.spec;
    w->kind = e.kind;
    w->restarts = e.restarts;
    w->oomKills = e.oomKills;
    w->oomAtStart = e.oomCounterAtStart;
    w->startedAt = std::chrono::system_clock::time_point(milliseconds(e.startedAtMs));
    auto sinceStart = std::chrono::system_clock::now() - w->startedAt;
    w->startedSteady = Clock::now() - std::chrono::duration_cast<Clock::duration>(sinceStart);
    auto cg = impl_->manager->open(name);
    if (cg) w->cgroup = std::move(*cg);

    if (w->cgroup && e.pid > 0 && impl_->watchForeign(*w, e.pid, e.startTicks)) {
      w->state = WorkloadState::Running;
      Workload& ref = *w;
      impl_->workloads.emplace(name, std::move(w));
      impl_->emit(WorkloadEvent::Kind::Started, ref,
                  std::string("re-adopted after an agent restart: ") + workloadKindName(ref.kind) + ", pid " +
                      std::to_string(ref.pid) + " still running in /" + ref.cgroup->path() + ", " +
                      std::to_string(ref.restarts) + " restarts so far");
      report.resumed.push_back(name);
      continue;
    }
    if (!w->cgroup) {
      // Its process may run on elsewhere (someone moved it): never touched.
      spdlog::warn("restore {}: its cgroup /{}/{} is gone; not restored", name, impl_->manager->root(), name);
      report.dropped.push_back(name);
      continue;
    }
    if (w->kind == WorkloadKind::Adopted) {
      if (impl_->watchLowestMember(*w)) {
        w->state = WorkloadState::Running;
        Workload& ref = *w;
        impl_->workloads.emplace(name, std::move(w));
        impl_->emit(WorkloadEvent::Kind::Started, ref,
                    "re-adopted after an agent restart: pid " + std::to_string(e.pid) + " ended, watching pid " +
                        std::to_string(ref.pid) + " in /" + ref.cgroup->path());
        report.resumed.push_back(name);
      } else {
        spdlog::info("restore {}: every process of the adopted workload ended while no agent ran; removing its cgroup",
                     name);
        impl_->removeCgroup(*w);
        report.dropped.push_back(name);
      }
      continue;
    }
    // Launched, and its main process ended while no agent was watching.
    Workload& ref = *w;
    impl_->workloads.emplace(name, std::move(w));
    bool oom = readOomKills(*ref.cgroup).value_or(0) > ref.oomAtStart;
    if (auto st = ref.cgroup->killAll(impl_->options.cleanupTimeout); !st) {
      spdlog::warn("workload {}: {}", name, st.error().message());
    }
    ref.pid = -1;
    ref.lastExit.reset();
    ref.lastExitWasOom = oom;
    if (oom) ++ref.oomKills;
    ref.lastError = "pid " + std::to_string(e.pid) + " ended while no agent ran (exit status unknown" +
                    std::string(oom ? ", the cgroup's oom_kill counter rose" : "; counted as a failure") + ")";
    impl_->emit(oom ? WorkloadEvent::Kind::OomKilled : WorkloadEvent::Kind::Exited, ref, ref.lastError);
    impl_->runEnded(ref, false);
    report.endedAway.push_back(name);
  }

  impl_->unclaimed.clear();
  if (auto children = impl_->manager->children()) {
    for (const std::string& child : *children) {
      if (impl_->find(child) != nullptr) continue;
      auto cg = impl_->manager->open(child);
      if (!cg) continue;
      auto members = (*cg)->pids();
      if (members && members->empty()) {
        if (auto st = (*cg)->remove(impl_->options.cleanupTimeout); st) {
          spdlog::info("cgroup /{}: under the root but in no saved state, and empty: removed", (*cg)->path());
          report.removedEmpty.push_back(child);
          continue;
        }
      }
      spdlog::warn("cgroup /{}: under the root but in no saved state, holding {} process(es): left alone (nothing "
                   "in it is killed; remove it by hand when done)",
                   (*cg)->path(), members ? std::to_string(members->size()) : "unknown");
      report.unclaimed.push_back(child);
    }
  } else {
    spdlog::warn("restore: cannot list the cgroup root: {}", children.error().message());
  }
  impl_->unclaimed = report.unclaimed;
  impl_->dirty = true;
  impl_->wake();
  impl_->finish(lock);
  return report;
}

std::vector<std::string> Supervisor::unclaimedCgroups() const {
  std::lock_guard lock(impl_->mu);
  return impl_->unclaimed;
}

Status Supervisor::stop(std::string_view name) {
  std::unique_lock lock(impl_->mu);
  Workload* w = impl_->find(name);
  if (w == nullptr) return notFound(name);
  switch (w->state) {
    case WorkloadState::Starting:
    case WorkloadState::Running: impl_->beginStop(*w, Workload::After::Stop); break;
    case WorkloadState::Stopping: w->after = Workload::After::Stop; break;
    case WorkloadState::Stopped: break;
    default:
      impl_->removeCgroup(*w);
      w->state = WorkloadState::Stopped;
      impl_->emit(WorkloadEvent::Kind::Stopped, *w, "stopped");
  }
  impl_->finish(lock);
  return {};
}

Status Supervisor::restart(std::string_view name) {
  std::unique_lock lock(impl_->mu);
  Workload* w = impl_->find(name);
  if (w == nullptr) return notFound(name);
  if (w->kind == WorkloadKind::Adopted) {
    return Error::invalid("restart", std::string(name),
                          "an adopted workload cannot be restarted: cgwarden did not start it and does not know its "
                          "command (stop it, or start it again the way it was started)");
  }
  Status result;
  switch (w->state) {
    case WorkloadState::Starting:
    case WorkloadState::Running: impl_->beginStop(*w, Workload::After::Restart); break;
    case WorkloadState::Stopping: w->after = Workload::After::Restart; break;
    default:
      w->streak = 0;
      result = impl_->startRun(*w);
      if (!result) {
        impl_->launchFailed(*w, result.error());
        w->state = WorkloadState::Failed;
      }
  }
  impl_->finish(lock);
  return result;
}

Status Supervisor::remove(std::string_view name) {
  std::unique_lock lock(impl_->mu);
  Workload* w = impl_->find(name);
  if (w == nullptr) return notFound(name);
  switch (w->state) {
    case WorkloadState::Starting:
    case WorkloadState::Running: impl_->beginStop(*w, Workload::After::Remove); break;
    case WorkloadState::Stopping: w->after = Workload::After::Remove; break;
    default:
      impl_->removeCgroup(*w);
      impl_->forget(*w);
  }
  impl_->finish(lock);
  return {};
}

Status Supervisor::signal(std::string_view name, int sig) {
  std::unique_lock lock(impl_->mu);
  Workload* w = impl_->find(name);
  if (w == nullptr) return notFound(name);
  if (w->pid <= 0) {
    return Error::invalid("signal", std::string(name), std::string("not running (") + workloadStateName(w->state) + ")");
  }
  if (::kill(w->pid, sig) != 0) return Error::fromErrno("kill", "pid " + std::to_string(w->pid), errno);
  return {};
}

Status Supervisor::applyLimits(std::string_view name, const Limits& limits) {
  std::unique_lock lock(impl_->mu);
  Workload* w = impl_->find(name);
  if (w == nullptr) return notFound(name);
  if (w->cgroup) {
    if (auto st = w->cgroup->applyLimits(limits); !st) return st;
  }
  mergeLimits(w->spec.limits, limits);
  impl_->dirty = true;
  spdlog::info("workload {}: limits set: {}", w->spec.name, describeLimits(limits));
  impl_->finish(lock);
  return {};
}

Status Supervisor::updateSettings(const config::WorkloadSpec& spec) {
  std::unique_lock lock(impl_->mu);
  Workload* w = impl_->find(spec.name);
  if (w == nullptr) return notFound(spec.name);
  w->spec.labels = spec.labels;
  w->spec.image = spec.image;
  if (w->kind == WorkloadKind::Launched) w->spec.restart = spec.restart;
  w->spec.stopSignal = spec.stopSignal;
  w->spec.stopGrace = spec.stopGrace;
  impl_->dirty = true;
  spdlog::info("workload {}: settings updated (labels, image, restart, stop signal and grace)", spec.name);
  impl_->finish(lock);
  return {};
}

Status Supervisor::freeze(std::string_view name) {
  std::unique_lock lock(impl_->mu);
  Workload* w = impl_->find(name);
  if (w == nullptr) return notFound(name);
  if (!w->cgroup) return Error::invalid("freeze", std::string(name), "it has no cgroup (stopped)");
  return w->cgroup->freeze(impl_->options.cleanupTimeout);
}

Status Supervisor::thaw(std::string_view name) {
  std::unique_lock lock(impl_->mu);
  Workload* w = impl_->find(name);
  if (w == nullptr) return notFound(name);
  if (!w->cgroup) return Error::invalid("thaw", std::string(name), "it has no cgroup (stopped)");
  return w->cgroup->thaw();
}

std::vector<WorkloadStatus> Supervisor::list() const {
  std::lock_guard lock(impl_->mu);
  std::vector<WorkloadStatus> out;
  for (const auto& [name, w] : impl_->workloads) out.push_back(impl_->snapshot(*w));
  return out;
}

Result<WorkloadStatus> Supervisor::status(std::string_view name) const {
  std::lock_guard lock(impl_->mu);
  auto it = impl_->workloads.find(name);
  if (it == impl_->workloads.end()) return notFound(name);
  return impl_->snapshot(*it->second);
}

Result<WorkloadStatus> Supervisor::waitFor(std::string_view name, const std::function<bool(const WorkloadStatus&)>& done,
                                           std::chrono::milliseconds timeout) const {
  auto deadline = Clock::now() + timeout;
  std::unique_lock lock(impl_->mu);
  for (;;) {
    auto it = impl_->workloads.find(name);
    if (it == impl_->workloads.end()) return notFound(name);
    WorkloadStatus s = impl_->snapshot(*it->second);
    if (done(s)) return s;
    if (impl_->changed.wait_until(lock, deadline) == std::cv_status::timeout) {
      it = impl_->workloads.find(name);
      if (it == impl_->workloads.end()) return notFound(name);
      s = impl_->snapshot(*it->second);
      if (done(s)) return s;
      return Error::fromErrno("wait for workload", std::string(name), ETIMEDOUT,
                              std::string("still ") + workloadStateName(s.state) + " after " +
                                  std::to_string(timeout.count()) + " ms");
    }
  }
}

std::vector<collectors::SampleTarget> Supervisor::sampleTargets() const {
  static const char* const kControllers[] = {"cpu", "cpuacct", "cpuset", "memory", "pids", "blkio", "io", ""};
  std::lock_guard lock(impl_->mu);
  std::vector<collectors::SampleTarget> out;
  for (const auto& [name, w] : impl_->workloads) {
    if (!w->cgroup) continue;
    collectors::SampleTarget t;
    t.id = "/" + w->cgroup->path();
    t.name = name;
    t.image = w->spec.image;
    t.labels = w->spec.labels;
    t.managed = true;
    for (const char* c : kControllers) {
      if (auto dir = w->cgroup->directoryFor(c)) t.dirs.set(c, *dir);
    }
    // The exporter's vocabulary has "adopted" for a running adopted workload (the kind is
    // otherwise not exported); every other state keeps its name.
    t.state = w->kind == WorkloadKind::Adopted && w->state == WorkloadState::Running ? "adopted"
                                                                                       : workloadStateName(w->state);
    t.restarts = w->restarts;
    if (w->lastExit) t.lastExitCode = w->lastExit->shellCode();
    t.startTimeSeconds = std::chrono::duration<double>(w->startedAt.time_since_epoch()).count();
    t.configuredLimits = w->spec.limits;
    out.push_back(std::move(t));
  }
  return out;
}

void Supervisor::onEvent(std::function<void(const WorkloadEvent&)> listener) {
  std::lock_guard lock(impl_->mu);
  impl_->listeners.push_back(std::move(listener));
}

void Supervisor::shutdown() {
  std::unique_lock lock(impl_->mu);
  if (impl_->finished) return;
  milliseconds longest{0};
  std::vector<std::string> names;
  for (const auto& [name, w] : impl_->workloads) names.push_back(name);
  for (const auto& name : names) {
    Workload* w = impl_->find(name);
    longest = std::max(longest, w->spec.stopGrace);
    switch (w->state) {
      case WorkloadState::Starting:
      case WorkloadState::Running: impl_->beginStop(*w, Workload::After::Stop); break;
      case WorkloadState::Stopping: w->after = Workload::After::Stop; break;
      case WorkloadState::Stopped: break;
      default:
        impl_->removeCgroup(*w);
        w->state = WorkloadState::Stopped;
        impl_->emit(WorkloadEvent::Kind::Stopped, *w, "stopped");
    }
  }
  impl_->finish(lock);
  auto allDone = [this] {
    return std::all_of(impl_->workloads.begin(), impl_->workloads.end(),
                       [](const auto& kv) { return kv.second->state == WorkloadState::Stopped; });
  };
  auto deadline = Clock::now() + longest + 2 * impl_->options.cleanupTimeout + std::chrono::seconds(1);
  impl_->changed.wait_until(lock, deadline, allDone);
  if (!allDone()) {
    for (auto& [name, w] : impl_->workloads) {
      if (w->state == WorkloadState::Stopped) continue;
      spdlog::warn("workload {}: not stopped in time ({}); removing its cgroup anyway", name, workloadStateName(w->state));
      impl_->removeCgroup(*w);
    }
  }
  impl_->persist();
  impl_->quit = true;
  impl_->finished = true;
  impl_->wake();
  lock.unlock();
  if (impl_->thread.joinable()) impl_->thread.join();
}

void Supervisor::detach() {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->finished) return;
    impl_->persist();
    impl_->quit = true;
    impl_->finished = true;
    impl_->wake();
    for (const auto& [name, w] : impl_->workloads) {
      if (w->pid > 0) spdlog::info("workload {}: left running, pid {} in /{}", name, w->pid, w->cgroup ? w->cgroup->path() : "");
    }
  }
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace cgwarden::agent
