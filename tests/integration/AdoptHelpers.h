#pragma once
// Helpers of the adoption suite: processes the test starts itself (never anyone else's),
// where they are, and cleanup that leaves no orphan behind.

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "agent/Cgroup.h"
#include "collectors/CgroupLayout.h"

namespace cgwarden::testing {

// Forks a child that waits until the parent has attached it to `cg`, then runs `body`
// (its exit code is body's). -1 when the attach failed (the child is killed and reaped).
pid_t forkInto(agent::Cgroup& cg, const std::function<int()>& body);
// cgroup.procs of every directory of `cg`: "" when all are empty, else "<dir>: <pids>".
std::string membersAnywhere(const agent::Cgroup& cg);
// fork + execv(path, argv) with stdin/stdout/stderr on /dev/null; returns the pid.
pid_t spawn(const std::string& path, const std::vector<std::string>& argv);
// Live (non-zombie) descendants of `root`, the root included, by a /proc PPid scan.
std::vector<pid_t> liveTree(pid_t root);
// Whether /proc/<pid>/cgroup puts `pid` in `cg` in every hierarchy `cg` has. `why` gets
// the first hierarchy where it is not. A process that is gone counts as inside ("gone").
bool inCgroup(pid_t pid, const agent::Cgroup& cg, const collectors::CgroupLayout& layout, std::string* why = nullptr);
// Kills `pids` and every descendant of them, then reaps every child of this process.
void killAndReap(const std::vector<pid_t>& pids);
// Makes this test process the subreaper of its descendants (orphans come back to us).
void becomeSubreaper();
// Copies `src` to `<tmpdir>/<name>` (mode 0755); returns the new path. Removed by removeCopy.
std::string copyBinary(const std::string& src, const std::string& name);
void removeCopy(const std::string& path);

}  // namespace cgwarden::testing
