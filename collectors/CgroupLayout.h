#pragma once
// Where the cgroup hierarchies are mounted, detected once from /proc/self/mountinfo.
//
//   v1      every controller on its own (or a co-mounted) "cgroup" mount
//   v2      one "cgroup2" mount holding every controller
//   hybrid  v1 controllers plus a controller-less cgroup2 (usually /sys/fs/cgroup/unified),
//           which still gives every cgroup its own cpu/memory/io.pressure files
//
// Sample mountinfo line:
//   32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/Result.h"

namespace cgwarden::collectors {

enum class CgroupMode { V1, V2, Hybrid };
const char* cgroupModeName(CgroupMode mode);  // "v1", "v2", "hybrid"

struct MountEntry {
  std::string root;          // the mount's root within its filesystem (4th field)
  std::string mountPoint;    // octal escapes (\040) decoded
  std::string fsType;        // "cgroup", "cgroup2", "tmpfs", ...
  std::string source;
  std::string superOptions;  // "rw,cpu,cpuacct"
};

// Pure parser; an Error names the line number of the first malformed line.
Result<std::vector<MountEntry>> parseMountinfo(std::string_view text);

// The v1 controllers cgwarden knows, in the order they are mounted on most hosts.
const std::vector<std::string>& knownV1Controllers();

struct CgroupLayout {
  CgroupMode mode = CgroupMode::V2;
  // v1/hybrid: controller -> mount point ("memory" -> "/sys/fs/cgroup/memory").
  // Co-mounted controllers map to the same directory.
  std::map<std::string, std::string> v1Mounts;
  // v2: the cgroup2 mount; hybrid: the controller-less cgroup2 (PSI twin); v1: empty.
  std::string unifiedMount;

  // Builds the layout from parsed mounts. Errors when no cgroup filesystem is mounted.
  static Result<CgroupLayout> fromMounts(const std::vector<MountEntry>& mounts);
  // Reads and parses `mountinfoPath`.
  static Result<CgroupLayout> detect(const std::string& mountinfoPath = "/proc/self/mountinfo");

  bool hasV1Controller(const std::string& controller) const { return v1Mounts.count(controller) != 0; }
  // The distinct v1 mount points (co-mounted controllers appear once), sorted.
  std::vector<std::string> v1MountPoints() const;
  std::string describe() const;  // one line for logs and --version
};

}  // namespace cgwarden::collectors
