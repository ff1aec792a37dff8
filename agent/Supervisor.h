#pragma once
// Owns the managed workloads: launches them into their cgroups, watches their main process,
// applies the restart policy, stops them, and says what the sampler should read.
//
// Threading: every public method is thread-safe (the HTTP server calls from its threads).
// One internal thread waits on the workloads' pidfds (poll) and on timers (back-off, stop
// grace); it alone reaps the main processes with waitpid, so the process must not set
// SIGCHLD to SIG_IGN. Cgroup operations run under one mutex: a call may wait behind a
// launch (a few ms) or a SIGKILL sweep (bounded by SupervisorOptions::cleanupTimeout).
//
// Cgroups: "<root>/<name>" via the CgroupManager. The cgroup is created by launch(), kept
// across restarts and while the workload is exited/oom_killed/failed (its kernel counters stay
// monotonic and readable for the metrics), and removed by stop(), remove() and shutdown().
//
// Kinds (WorkloadStatus.h): `launched` workloads are started by launch(); `adopted` ones are
// processes the Adopter moved into "<root>/<name>" and handed over with adopt(). Both are
// sampled, exported, policed and stopped alike; an adopted one cannot be restarted.
//
// Main processes that are not the agent's children (adopted ones, and launched ones re-adopted
// by restore() after an agent restart) are watched with pidfd_open(2) (readable once the process
// has exited) and cannot be waitpid'ed: their exit status is unknown. A launched workload whose
// status is unknown counts as failed for `on-failure` (logged), OOM still comes from the counter.
//
// Persistence: with SupervisorOptions::stateFile set, the state (SupervisorState.h) is rewritten
// atomically after every change of the set of workloads, of a state, pid, restart count or limits.
//
// OOM kills: the kernel's oom_kill counter of the workload's memory cgroup (v1
// memory.oom_control, v2 memory.events, "oom_kill N") is read when a run starts and when it
// ends; a rise means the run ended by OOM, whatever its exit status says.

#include <csignal>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/Cgroup.h"
#include "agent/Launcher.h"
#include "agent/SupervisorState.h"
#include "agent/WorkloadEvent.h"
#include "agent/WorkloadStatus.h"
#include "collectors/Result.h"
#include "collectors/SampleTarget.h"
#include "config/Config.h"

namespace cgwarden::agent {

struct SupervisorOptions {
  // Log files with an empty path default to <stateDir>/logs/<name>.log.
  std::string stateDir = "/var/lib/cgwarden";
  // Upper bound for one SIGKILL sweep of a cgroup and for waiting until it is empty.
  std::chrono::milliseconds cleanupTimeout{5000};
  LaunchOptions launch;
  // Where the state is persisted (the agent: <state_dir>/state.json); "" = not persisted.
  std::string stateFile;
  std::string procRoot = "/proc";  // for start times (pid-reuse checks)
};

// Processes the Adopter already moved into "<root>/<name>", handed to the supervisor.
// Every member has an initializer, so designated initializers may leave any out (-Wextra).
struct AdoptedWorkloadSpec {
  std::string name{};
  std::map<std::string, std::string> labels{};
  Limits limits{};                  // as applied to the cgroup; recorded, not written again
  pid_t mainPid = -1;               // the adopted process (thread-group id)
  int stopSignal = SIGTERM;         // on stop, sent to every process of the cgroup
  std::chrono::milliseconds stopGrace{10000};
};

// What restore() did with a state file (names of workloads, or of cgroups under the root).
struct RestoreReport {
  std::vector<std::string> resumed;       // same process still running: watched again, not restarted
  std::vector<std::string> endedAway;     // launched, its process ended while no agent ran: restart policy applied
  std::vector<std::string> dropped;       // entries not restored (not running when saved, adopted and empty,
                                          // cgroup gone); the log says why
  std::vector<std::string> unclaimed;     // cgroups under the root that no entry names and that hold
                                          // processes: left alone (nothing in them is killed)
  std::vector<std::string> removedEmpty;  // cgroups under the root that no entry names, empty: removed
};

class Supervisor {
 public:
  explicit Supervisor(std::unique_ptr<CgroupManager> manager, SupervisorOptions options = {});
  // Calls shutdown() unless shutdown() or detach() ran: workloads never outlive an
  // accidentally destroyed supervisor.
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  CgroupManager& cgroups() { return *manager_; }

  // Registers `spec` and starts it: creates the cgroup, applies the limits, launches.
  // Fails without registering anything on a duplicate or invalid name, or when the cgroup
  // or its limits cannot be set up. When the launch itself fails (missing binary, bad
  // working_dir, ...) the workload stays registered as `failed` with lastError set, and the
  // launch error is returned.
  Status launch(const config::WorkloadSpec& spec);

  // Takes over an adopted workload: opens "<root>/<name>" (it must exist, with the processes in
  // it), watches `mainPid` by pidfd (if it is already gone, the lowest pid left in the cgroup).
  // When the watched process ends, the lowest remaining member is watched instead; when none
  // remains the cgroup is removed and the workload forgotten (event `removed`). EEXIST when a
  // workload of that name is registered (an adopted one: the new processes simply joined it);
  // ESRCH when the cgroup has no process left.
  Status adopt(const AdoptedWorkloadSpec& spec);
  // The Adopter removed the (empty) cgroup of a rule workload: forget it without touching the
  // cgroup. No-op for unknown names and for launched workloads.
  void forgetAdopted(std::string_view name);

  // Agent start, before launching the configured workloads: re-registers the entries of a
  // previous agent's state that were live (starting, running, stopping, restarting):
  //  - pid alive with the recorded start time (sameProcessAlive) and cgroup present: watched
  //    again by pidfd as it was (same pid, kind, spec, limits, restart count; nothing written to
  //    the cgroup, nothing restarted);
  //  - launched, process gone: the cgroup is kept (or re-created), leftovers killed, and the run
  //    counts as ended with an unknown status (OOM if the cgroup's oom_kill counter rose since the
  //    recorded start): the restart policy decides;
  //  - adopted, process gone: the lowest remaining member is watched; an empty cgroup is removed.
  // Then every cgroup directly under the root that no workload owns is logged: removed when
  // empty, else reported (unclaimedCgroups) and left alone.
  RestoreReport restore(const AgentState& state);
  // The `unclaimed` cgroups of the last restore() (names under the root).
  std::vector<std::string> unclaimedCgroups() const;

  // Sends the stop signal; after the grace period SIGKILLs the whole cgroup; then removes the
  // cgroup and the state becomes `stopped`. Returns at once (see waitFor). A workload that is
  // not running is stopped right away.
  Status stop(std::string_view name);
  // Running: stop (with grace) and start again at once, without back-off or counting.
  // Adopted workloads cannot be restarted (Error::invalid, errnum 0: the API's 409).
  // Otherwise: start now (re-creating the cgroup if it was removed); the restart streak resets.
  Status restart(std::string_view name);
  // stop(), then forget the workload once its cgroup is gone.
  Status remove(std::string_view name);
  // Sends `signal` to the main process (cgwarden's init forwards TERM INT HUP QUIT USR1 USR2
  // WINCH to the workload).
  Status signal(std::string_view name, int signal);

  // Live limits: writes the set fields to the cgroup and records them as configured
  // (a workload without a cgroup gets them at its next start).
  Status applyLimits(std::string_view name, const Limits& limits);
  // Reload: the settings of `spec.name` that need no restart (labels, image, restart policy,
  // stop signal, stop grace) become `spec`'s, in force at once: the next exit follows the new
  // restart policy, the next stop the new signal and grace, the next sample exports the new
  // labels. The process and the cgroup are untouched; the crash-loop streak is kept. An adopted
  // workload keeps `never` as its policy. ENOENT when no such workload is registered.
  Status updateSettings(const config::WorkloadSpec& spec);
  Status freeze(std::string_view name);
  Status thaw(std::string_view name);

  std::vector<WorkloadStatus> list() const;  // sorted by name
  Result<WorkloadStatus> status(std::string_view name) const;
  // Blocks until `done(status)` holds or `timeout` passes; returns the last status seen, or
  // ENOENT if the workload is not (or no longer) registered. ETIMEDOUT on timeout.
  Result<WorkloadStatus> waitFor(std::string_view name, const std::function<bool(const WorkloadStatus&)>& done,
                                 std::chrono::milliseconds timeout) const;

  // What the sampler reads: one target per workload that has a cgroup. Its state is the
  // workload's, except "adopted" for a running adopted workload (cgwarden_workload_state).
  std::vector<collectors::SampleTarget> sampleTargets() const;
  collectors::TargetProvider targetProvider() const {
    return [this] { return sampleTargets(); };
  }

  // Listeners run on the thread that caused the event, outside the supervisor's lock
  // (they may call back into it). Register before launching.
  void onEvent(std::function<void(const WorkloadEvent&)> listener);

  // Agent shutdown: stops every workload (grace periods run in parallel), removes their
  // cgroups, waits until done (longest grace + cleanupTimeout at most), stops the thread.
  void shutdown();
  // Agent exit with leave_running: stops the thread and leaves every process and cgroup as
  // it is, for the next agent to adopt.
  void detach();

 private:
  struct Workload;
  struct Impl;
  std::unique_ptr<CgroupManager> manager_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cgwarden::agent
