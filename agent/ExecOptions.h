#pragma once
// `cgwarden exec [options] -- CMD ARGS`: the command line, parsed into a WorkloadSpec
// (pure: no I/O except resolving --user/--group names through NSS).
//
//   --memory SIZE        memory.max / memory.limit_in_bytes        ("64Mi", "1G")
//   --memory-high SIZE   memory.high (v2; v1 has no equivalent: warned, not enforced)
//   --memory-low SIZE    memory.low / memory.soft_limit_in_bytes
//   --memory-swap SIZE   swap on top of --memory (v2 memory.swap.max; v1 memsw = max + swap)
//   --cpus CORES         CFS quota over a 100 ms period               ("0.5", "150%")
//   --cpu-weight N       cpu.weight 1..10000 (v1 cpu.shares converted)
//   --cpuset LIST        cpuset.cpus                                   ("0-1")
//   --pids N             pids.max
//   --io-weight N        io.weight 1..10000 (v1 blkio weight converted)
//   --name NAME          cgroup name below the root (default exec-<pid>); must not exist yet
//   --cgroup-root PATH   the managed root (default "cgwarden")
//   --hostname NAME      default: the name
//   --net host|none      none (default): a network namespace with only lo; host: share the host's
//   --no-ns              no namespaces at all (cgroup confinement only)
//   --user U, --group G  name or number; supplementary groups are cleared
//   --workdir DIR        default "/"
//   --env KEY=VALUE      repeatable; added to PATH and HOME
//   --rlimit NAME=SOFT[:HARD]  nofile, nproc, core, stack, as, cpu, fsize, memlock, data (repeatable)

#include <string>
#include <vector>

#include "collectors/Result.h"
#include "config/Config.h"

namespace cgwarden::agent {

struct ExecOptions {
  config::WorkloadSpec spec;          // command, limits, namespaces, identity
  std::string cgroupRoot = "cgwarden";
  bool nameGiven = false;             // else the caller names it exec-<pid>
  bool help = false;
};

// Errors name the flag: `--memory: "64Q" is not a size (e.g. 64Mi, 1.5G)`.
Result<ExecOptions> parseExecArgs(const std::vector<std::string>& args);

// One line per flag, for --help.
const char* execUsage();

}  // namespace cgwarden::agent
