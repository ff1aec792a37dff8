#pragma once
// The cgroup layer: one interface, a v1 and a v2 backend, chosen once per host.
//
// A CgroupManager owns a subtree (the "root", default "cgwarden", relative to each
// hierarchy's mount point) and creates Cgroups below it. A Cgroup holds an open
// directory fd per hierarchy it lives in:
//   v1      one per controller mount (cpu, cpuacct, cpuset, memory, blkio, pids, freezer)
//   hybrid  the v1 directories plus a twin in the controller-less cgroup2, for PSI files
//   v2      one directory
// Callers never branch on the version; they call the interface.
//
// cgwarden never writes to a cgroup it did not create: every path is below root().

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/CgroupLayout.h"
#include "collectors/Limits.h"
#include "collectors/Result.h"

namespace cgwarden::agent {

using collectors::CgroupLayout;
using collectors::CgroupMode;

class Cgroup {
 public:
  virtual ~Cgroup() = default;

  // Path relative to the mount points, e.g. "cgwarden/web".
  virtual const std::string& path() const = 0;
  // Every directory a member process must join (absolute paths), for the launcher's
  // attach-before-exec handshake on v1/hybrid and for diagnostics.
  virtual std::vector<std::string> directories() const = 0;
  // The directory holding `controller`'s files ("cpu", "memory", "pids", "io"/"blkio", ...),
  // or "" for the cgroup2 directory (PSI on v2 and hybrid). nullopt when absent here.
  virtual std::optional<std::string> directoryFor(std::string_view controller) const = 0;
  // v2: an O_DIRECTORY fd for clone3(CLONE_INTO_CGROUP); -1 where that cannot be used.
  virtual int cloneIntoFd() const = 0;

  // Moves a process (all its threads) in: writes `pid` to every hierarchy's cgroup.procs.
  virtual Status attach(pid_t pid) = 0;
  // Members (thread-group ids) from cgroup.procs, this cgroup only.
  virtual Result<std::vector<pid_t>> pids() const = 0;
  // Whether any process is left in it (v2 and hybrid: cgroup.events "populated").
  virtual Result<bool> populated() const = 0;

  // Writes the fields that are set; leaves the others alone. Changing live limits of a
  // running workload is just another call. Fails naming the file and errno, or the
  // missing controller, and stops at the first failure.
  virtual Status applyLimits(const Limits& limits) = 0;
  // The effective limits as the kernel reports them (fields unreadable here stay unset).
  virtual Result<Limits> readLimits() const = 0;

  // Freezes every process and waits until the kernel reports the cgroup frozen
  // (v1 freezer.state FROZEN, v2 cgroup.events "frozen 1").
  virtual Status freeze(std::chrono::milliseconds timeout) = 0;
  virtual Status thaw() = 0;
  virtual Result<bool> frozen() const = 0;

  // SIGKILLs everything in it and waits until it is empty: v2 cgroup.kill where the
  // kernel has it (>= 5.14), else freeze / kill each member / thaw, repeated until empty.
  virtual Status killAll(std::chrono::milliseconds timeout) = 0;
  // Waits up to `timeout` for the cgroup to empty, then removes its directories.
  // A cgroup that is already gone counts as removed.
  virtual Status remove(std::chrono::milliseconds timeout) = 0;
};

class CgroupManager {
 public:
  virtual ~CgroupManager() = default;

  // Picks the backend for `layout`. `root` is relative to the mount points ("cgwarden").
  static Result<std::unique_ptr<CgroupManager>> create(const CgroupLayout& layout, std::string root);

  virtual CgroupMode mode() const = 0;
  virtual const CgroupLayout& layout() const = 0;
  virtual const std::string& root() const = 0;
  // Controllers usable for limits here ("cpu", "memory", "pids", "io", "cpuset", "freezer", ...),
  // with v1's "blkio" reported as "io".
  virtual std::vector<std::string> controllers() const = 0;

  // Creates the root in every hierarchy. v2: enables controllers top-down in
  // cgroup.subtree_control and, if the agent itself lives in the root, first moves it
  // into "<root>/agent" (no internal processes). v1: gives cpuset its cpus/mems.
  virtual Status prepareRoot() = 0;

  // Creates "<root>/<name>" (or opens it if it already exists, for re-adoption).
  // `name` is checked: [A-Za-z0-9][A-Za-z0-9_.-]*, '/'-separated, no "..".
  virtual Result<std::unique_ptr<Cgroup>> create(std::string_view name) = 0;
  // Opens an existing "<root>/<name>"; ENOENT if it does not exist.
  virtual Result<std::unique_ptr<Cgroup>> open(std::string_view name) = 0;
  // Names of the cgroups directly under the root.
  virtual Result<std::vector<std::string>> children() const = 0;

  // Kills everything below the root and removes the whole subtree, deepest first,
  // the root included. For tests and for `cgwarden cleanup`.
  virtual Status destroyTree(std::chrono::milliseconds timeout) = 0;
};

// Checks a cgroup or workload name: [A-Za-z0-9][A-Za-z0-9_.-]* segments joined by '/'.
Status validateCgroupName(std::string_view name);

}  // namespace cgwarden::agent
