#pragma once
// Takes running processes into managed cgroups: by rule (config `adopt:`), event-driven
// from the netlink proc connector with a /proc scan as fallback, and by pid on request.
//
// By rule:
//  - exec, uid change and gid change events (ProcConnector) trigger a look at that process:
//    read /proc/<pid>/{stat,status[,exe][,cmdline]}, try the rules in order, first match
//    wins; the target workload's cgroup is created on first use ("<root>/<name>", the rule's
//    limits applied) and the process is moved with all the children it already forked
//    (moveTree repeats until none is left behind: the cgrulesengd race);
//  - a full /proc scan at start(), every `rescanInterval`, after every netlink overrun,
//    and on scan();
//  - a process already in a managed workload is left alone, unless a rule names that
//    workload as `parent: {workload: W}`; the agent, its threads and ancestors are refused;
//  - a workload a rule created is removed once empty (checked after exit events, at most
//    every `emptyCheckInterval`, and at each scan), and onRemoved is called.
//
// By pid (adoptPid): the same move into a named workload with the given limits.
//
// Threads: start() runs the first scan on the caller's thread, then one background thread
// owns the netlink socket and the timers. adoptPid/scan/stats are thread-safe. Callbacks run
// on the thread that did the adoption, outside the adopter's lock (they may call back in).

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "agent/AdoptMatcher.h"
#include "agent/AdopterStats.h"
#include "agent/Cgroup.h"
#include "agent/ProcConnector.h"
#include "agent/ProcessMover.h"
#include "collectors/Limits.h"
#include "collectors/Result.h"
#include "config/AdoptRule.h"

namespace cgwarden::agent {

struct AdopterOptions {
  std::vector<config::AdoptRule> rules;
  std::chrono::milliseconds rescanInterval{30000};
  std::chrono::milliseconds emptyCheckInterval{500};
  bool useNetlink = true;                 // false: scans only
  int netlinkBufferBytes = 8 * 1024 * 1024;
  // procRoot, selfPid, maxPasses; managedRoot is forced to the manager's root.
  MoveOptions move;
  // Names the adopter must not create or move into (launched workloads). Default: none.
  std::function<bool(const std::string& workload)> reservedName;
  // uid -> user name for %u (default getpwuid_r; "" when unknown: the uid is used).
  std::function<std::string(uint32_t uid)> userName;
};

// One adoption, as reported to onAdopted and returned by adoptPid.
struct AdoptionEvent {
  enum class Trigger { Exec, IdChange, Scan, Request };
  Trigger trigger = Trigger::Request;
  std::string workload;              // workload name ("py-alice")
  std::string cgroupPath;            // Cgroup::path(), "cgwarden/py-alice"
  std::string rule;                  // rule name; "" for adoptPid
  pid_t pid = 0;                     // the matched / requested process (thread-group id)
  std::string comm;
  std::vector<pid_t> moved;          // pids written into the cgroup by this adoption
  std::vector<pid_t> members;        // live members of the tree in the cgroup afterwards
  std::vector<SkippedPid> skipped;   // descendants left alone (see MoveResult)
  bool createdWorkload = false;      // this adoption created the cgroup
  bool complete = true;              // MoveResult::complete and no per-pid failure
  std::optional<std::chrono::nanoseconds> latency;  // kernel event -> moved (Exec/IdChange)
};

class Adopter {
 public:
  using AdoptedCallback = std::function<void(const AdoptionEvent&)>;
  using RemovedCallback = std::function<void(const std::string& workload)>;

  // Compiles every rule; the error lists every bad rule (one per line). Nothing starts yet.
  static Result<std::unique_ptr<Adopter>> create(CgroupManager& manager, AdopterOptions options);
  ~Adopter();  // stop()
  Adopter(const Adopter&) = delete;
  Adopter& operator=(const Adopter&) = delete;

  // Set before start().
  void onAdopted(AdoptedCallback cb) { onAdopted_ = std::move(cb); }
  void onRemoved(RemovedCallback cb) { onRemoved_ = std::move(cb); }

  // Subscribes to proc events (falls back to scans only, with a warning, when the
  // connector cannot be opened), runs the first full scan (every process already matching
  // is adopted when start() returns), then starts the background thread. With no rules,
  // nothing is subscribed and no thread runs (adoptPid still works).
  Status start();
  // Stops and joins the thread. Workloads and their cgroups stay.
  void stop();

  // Adopt-by-pid (control API): refuses like checkAdoptable, creates or opens
  // "<root>/<workload>" (workload: [a-z0-9][a-z0-9_.-]*; not a reserved name), applies
  // `limits` when it creates it, moves the tree. The workload is not removed when empty
  // unless `removeWhenEmpty` (the supervisor owns it). On a refusal or failure a cgroup
  // this call created is removed again.
  Result<AdoptionEvent> adoptPid(pid_t pid, const std::string& workload, const Limits& limits,
                                 bool removeWhenEmpty = false);

  // A full /proc scan now; returns how many processes it adopted.
  Result<size_t> scan();

  // The supervisor removed `workload` (stopped or deleted it): drop the adopter's handle of its
  // cgroup without touching the cgroup, so a later adoption into that name creates it afresh.
  void forget(const std::string& workload);

  AdopterStats stats() const;
  // Workloads the adopter has created or adopted into and not removed: name -> cgroup path.
  std::map<std::string, std::string> workloads() const;

 private:
  struct Workload {
    std::unique_ptr<Cgroup> cgroup;
    std::string rule;
    bool removeWhenEmpty = false;
  };

  Adopter(CgroupManager& manager, AdopterOptions options, std::vector<AdoptMatcher> matchers);
  void run();
  void handleEvent(const ProcEvent& ev);
  // Evaluates one process against the rules; adopts on a match. True when it adopted.
  bool consider(pid_t pid, AdoptionEvent::Trigger trigger, uint64_t eventNs);
  Result<AdoptionEvent> adopt(pid_t pid, const std::string& workload, const Limits& limits, const AdoptMatcher* rule,
                              const std::vector<std::string>& allowedSources, bool removeWhenEmpty,
                              AdoptionEvent::Trigger trigger, uint64_t eventNs);
  void removeEmptyWorkloads();
  size_t scanLocked();
  std::string userNameOf(uint32_t uid) const;

  CgroupManager& manager_;
  AdopterOptions options_;
  std::vector<AdoptMatcher> matchers_;
  unsigned neededFields_ = 0;

  AdoptedCallback onAdopted_;
  RemovedCallback onRemoved_;

  mutable std::mutex mu_;  // workloads_, stats_, refused_
  std::map<std::string, Workload> workloads_;
  AdopterStats stats_;
  std::map<pid_t, uint64_t> refused_;  // pid -> start time: refused once, not retried

  std::unique_ptr<ProcConnector> connector_;
  std::thread thread_;
  std::mutex wakeMu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool overrunPending_ = false;
  bool exitSeen_ = false;
};

}  // namespace cgwarden::agent
