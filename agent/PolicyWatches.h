#pragma once
// The kernel notifications that wake the policer between sampler ticks, so a rule fires
// within milliseconds of the kernel noticing, not at the next tick.
//
//   V1Threshold   v1: eventfd registered in <memory dir>/cgroup.event_control with
//                 memory.usage_in_bytes and a byte value ("<efd> <fd> <bytes>"): signalled
//                 when usage crosses it (either way). The value is the leaf's threshold
//                 (a fraction: of the current memory limit; re-registered when it changes),
//                 plus one byte for a strict '>'. Working-set leaves also get a FastPoll
//                 (the working set can cross after usage did, with no second notification).
//   V1Oom         v1: eventfd registered with memory.oom_control ("<efd> <fd>"): an OOM.
//   MemoryEvents  v2: inotify IN_MODIFY on memory.events (high/max/oom/oom_kill changed).
//   Psi           v2 and the hybrid twin (SampleTarget::dirs[""]): a PSI trigger, the pressure
//                 file opened O_RDWR|O_NONBLOCK with "some|full <stall µs> <window µs>"
//                 written, polled for POLLPRI.
//   FastPoll      v2 memory rules (v2 has no usage threshold notification) and v1 working-set
//                 rules: the target's memory is re-read every PolicerOptions::fastPollInterval.
// Observed cgroups get read-only watches only (inotify); cgwarden writes neither triggers
// nor event_control registrations into a cgroup it does not manage.
//
// PSI trigger windows are multiples of 2 s (2..10 s): without CAP_SYS_RESOURCE the kernel
// refuses any other window (EINVAL), and containers commonly lack it. The stall is the
// leaf's ratio of that window (a rate leaf), or of 2 s (avg10) / 10 s (avg60).

#include <poll.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "agent/PolicyEvent.h"
#include "collectors/FileIo.h"
#include "collectors/Snapshot.h"
#include "config/PolicyRule.h"

namespace cgwarden::agent {

struct WatchSpec {
  enum class Kind { V1Threshold, V1Oom, MemoryEvents, Psi, FastPoll };
  Kind kind = Kind::FastPoll;
  std::string targetId;
  std::string dir;      // directory of `file` (and of cgroup.event_control for v1)
  std::string file;     // memory.usage_in_bytes, memory.oom_control, memory.events, <res>.pressure
  uint64_t bytes = 0;   // V1Threshold
  std::string trigger;  // Psi: "some 150000 2000000"

  // Identity: two specs with the same key are the same watch.
  std::string key() const;
  bool operator==(const WatchSpec&) const = default;
};

PolicyTrigger triggerOf(WatchSpec::Kind kind);

// Pure: the watches the rules want on the snapshot's targets (deduplicated, sorted by key).
std::vector<WatchSpec> desiredWatches(const std::vector<config::PolicyRule>& rules, const collectors::Snapshot& snapshot);

// The open watches. Single-threaded (the policer's loop).
class WatchSet {
 public:
  WatchSet();
  ~WatchSet();
  WatchSet(const WatchSet&) = delete;
  WatchSet& operator=(const WatchSet&) = delete;

  // Opens the missing watches and closes the ones not wanted any more. A watch that cannot
  // be opened is logged (once per key; debug afterwards) and retried at the next reconcile.
  void reconcile(const std::vector<WatchSpec>& desired);

  // Appends the descriptors to poll (inotify first, if any watch uses it).
  void pollFds(std::vector<struct pollfd>& out) const;
  struct Fired {
    std::string targetId;
    PolicyTrigger trigger;
  };
  // Given the pollfds appended by pollFds (same order, starting at `offset`), drains the ones
  // that fired and says which targets to re-read. A PSI descriptor reporting POLLERR (cgroup
  // gone) is closed.
  std::vector<Fired> collect(const std::vector<struct pollfd>& fds, size_t offset);

  std::vector<std::string> fastPollTargets() const;
  size_t size() const { return open_.size(); }
  bool has(const std::string& key) const { return open_.count(key) != 0; }

 private:
  struct Open {
    WatchSpec spec;
    UniqueFd fd;      // eventfd (v1), pressure file (PSI); invalid for inotify and fast poll
    UniqueFd aux;     // the file registered with event_control (v1)
    int wd = -1;      // inotify watch descriptor
  };
  Status open(Open& w);

  std::map<std::string, Open> open_;
  std::set<std::string> failedOnce_;
  UniqueFd inotify_;
  std::map<int, std::string> byWd_;  // inotify wd -> target id
};

}  // namespace cgwarden::agent
