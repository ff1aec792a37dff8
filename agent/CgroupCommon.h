#pragma once
// Shared machinery of the v1 and v2 backends (private to agent/).

#include <functional>
#include <map>

#include "agent/Cgroup.h"
#include "collectors/FileIo.h"

namespace cgwarden::agent::detail {

// One directory of a cgroup in one hierarchy, held open for openat().
struct HierarchyDir {
  std::string path;  // absolute, for messages and for the launcher
  UniqueFd fd;
};

// Creates every missing directory of `relPath` under `mount` (mkdir -p); reports the
// directories it created, top-down. EEXIST is fine.
Result<std::vector<std::string>> makeDirs(const std::string& mount, const std::string& relPath);

// Opens "<mount>/<relPath>".
Result<HierarchyDir> openHierarchyDir(const std::string& mount, const std::string& relPath);

// cgroup.procs of `dir` as pids.
Result<std::vector<pid_t>> readProcs(const HierarchyDir& dir);

// rmdir that treats ENOENT as done and retries EBUSY (a just-killed task still exiting)
// until `deadline`.
Status removeDir(const std::string& path, std::chrono::steady_clock::time_point deadline);

// Sub-directories of `path` (cgroups are directories; files are skipped).
Result<std::vector<std::string>> listSubdirs(const std::string& path);

// Removes `path` and every cgroup below it, deepest first, after `killFn(dir)` has
// emptied each one. Used by destroyTree.
Status removeTreeDeepestFirst(const std::string& path, std::chrono::steady_clock::time_point deadline);

// Polls `check` every few ms until it returns true, fails, or `timeout` passes.
Status waitUntil(const std::function<Result<bool>()>& check, std::chrono::milliseconds timeout,
                 const std::string& what, const std::string& path);

// Best effort: writes `value` to `file` in `path` and every cgroup below it (thawing a
// subtree before it is destroyed: a frozen task cannot die).
void writeToTree(const std::string& path, const char* file, const char* value);

// SIGKILL each pid; ESRCH (already gone) is fine.
void killPids(const std::vector<pid_t>& pids);

// Base of both backends' cgroups: the directories, attach, pids, remove, and the
// freeze/kill/thaw loop.
class DirCgroup : public Cgroup {
 public:
  // `index` maps each key (a v1 controller, "" for cgroup2) to its entry in `dirs`;
  // co-mounted v1 controllers share one directory.
  DirCgroup(std::string relPath, std::vector<HierarchyDir> dirs, std::map<std::string, size_t, std::less<>> index);

  const std::string& path() const override { return path_; }
  std::vector<std::string> directories() const override;
  std::optional<std::string> directoryFor(std::string_view controller) const override;
  Status attach(pid_t pid) override;
  Result<std::vector<pid_t>> pids() const override;
  Status remove(std::chrono::milliseconds timeout) override;

 protected:
  // The directory for `key` (a v1 controller, "" for cgroup2), or nullptr.
  const HierarchyDir* dir(std::string_view key) const;
  // Where cgroup.procs is read: v1 "pids" (else "memory", else any), v2 "".
  const HierarchyDir& primary() const;
  Status write(std::string_view key, std::string_view file, std::string_view value);
  Result<std::string> read(std::string_view key, std::string_view file) const;
  bool hasFile(std::string_view key, std::string_view file) const;
  // Freeze, SIGKILL every member, thaw; until empty or timeout.
  Status killByFreezing(std::chrono::milliseconds timeout);

  std::string path_;
  std::vector<HierarchyDir> dirs_;
  bool removed_ = false;
  std::map<std::string, size_t, std::less<>> index_;
};

}  // namespace cgwarden::agent::detail
