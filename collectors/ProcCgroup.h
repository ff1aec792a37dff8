#pragma once
// /proc/<pid>/cgroup: which cgroup a process is in, per hierarchy.
//
//   4:memory:/cgwarden/web        (v1: hierarchy id, comma-separated controllers, path)
//   1:name=systemd:/user.slice
//   0::/cgwarden/web              (v2 / the hybrid cgroup2: id 0, no controllers)

#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

#include "collectors/Result.h"

namespace cgwarden::collectors {

struct ProcCgroupEntry {
  unsigned hierarchyId = 0;
  std::vector<std::string> controllers;  // empty for the cgroup2 line; "name=systemd" kept as is
  std::string path;                      // always starts with '/'
};

struct ProcCgroup {
  std::vector<ProcCgroupEntry> entries;

  // Path in the v1 hierarchy holding `controller`, or in cgroup2 for "" ; nullptr if absent.
  const std::string* pathFor(std::string_view controller) const;
  const std::string* unifiedPath() const { return pathFor(""); }
};

Result<ProcCgroup> parseProcCgroup(std::string_view text);
// Reads <procRoot>/<pid>/cgroup.
Result<ProcCgroup> readProcCgroup(pid_t pid, const std::string& procRoot = "/proc");

}  // namespace cgwarden::collectors
