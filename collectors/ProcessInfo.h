#pragma once
// What the kernel says about one process, from /proc/<pid>/{stat,status,exe,comm,cmdline}
// and the parent links between processes (/proc/<pid>/task/<tid>/children, else PPid).
// Pure parsers apart from the readers; the /proc root is a parameter so tests use temp trees.
//
// /proc/<pid>/stat (one line; comm may hold spaces and ')', so it ends at the LAST ')'):
//   4242 (my prog) S 4200 4242 4200 34816 4242 4194560 ...   field 9 = flags, field 22 = starttime
// /proc/<pid>/status (the lines used):
//   Name:   sleep
//   Tgid:   4242
//   PPid:   4200
//   Uid:    1000    1000    1000    1000       (real, effective, saved, filesystem)
//   Gid:    1000    1000    1000    1000
// /proc/<pid>/cmdline: arguments, each terminated by '\0'.
// /proc/<pid>/task/<tid>/children: "4243 4250 " — the children forked by that thread
//   (needs CONFIG_PROC_CHILDREN; not a consistent snapshot while the process forks, so
//   callers that must not miss a child confirm with a full PPid scan).

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "collectors/Result.h"

namespace cgwarden::collectors {

// PF_KTHREAD in include/linux/sched.h: the task is a kernel thread.
constexpr uint32_t kPfKthread = 0x00200000;

struct ProcStat {
  pid_t pid = 0;
  std::string comm;           // without the parentheses, at most 15 bytes
  char state = '?';           // R S D T t Z X I ...
  pid_t ppid = 0;
  uint32_t flags = 0;         // PF_* (field 9)
  uint64_t startTimeTicks = 0;  // field 22, clock ticks since boot: with the pid, a process identity
};
// Errors name the field that is missing or malformed.
Result<ProcStat> parseProcStat(std::string_view text);

struct ProcStatus {
  std::string name;
  pid_t tgid = 0;
  pid_t ppid = 0;
  uint32_t uid[4] = {0, 0, 0, 0};  // real, effective, saved, filesystem
  uint32_t gid[4] = {0, 0, 0, 0};
};
Result<ProcStatus> parseProcStatus(std::string_view text);

// NUL-separated arguments; a missing final NUL is tolerated, empty text gives none.
std::vector<std::string> parseCmdline(std::string_view text);

// "4243 4250 \n" (children) or "4243\n4250\n" (cgroup.procs) -> {4243, 4250}; garbage is skipped.
std::vector<pid_t> parsePidList(std::string_view text);

// Everything the adopter matches on, about one process (thread group).
struct ProcessInfo {
  pid_t pid = 0;    // the thread-group id
  pid_t ppid = 0;
  char state = '?';
  uint32_t flags = 0;
  uint64_t startTimeTicks = 0;
  std::string comm;                  // stat field 2, the same text as /proc/<pid>/comm (15 bytes max)
  std::string exe;                   // readlink /proc/<pid>/exe; "" for kernel threads or when unreadable;
                                     // a replaced binary keeps the kernel's " (deleted)" suffix
  std::vector<std::string> cmdline;  // empty for kernel threads and zombies
  uint32_t uid = 0;   // real
  uint32_t euid = 0;  // effective: the one rules match (as cgrulesengd does)
  uint32_t gid = 0;
  uint32_t egid = 0;

  bool zombie() const { return state == 'Z' || state == 'X'; }
  // PF_KTHREAD, or (for kernels that hide it) kthreadd itself / a child of kthreadd with no cmdline.
  bool kernelThread() const { return (flags & kPfKthread) != 0 || pid == 2 || (ppid == 2 && cmdline.empty()); }
  // The command line joined with single spaces, for regex matching and logs.
  std::string commandLine() const;
};

// Which files readProcessInfo reads beyond stat and status (both always read).
enum ProcessInfoFields : unsigned {
  kInfoBasic = 0,
  kInfoExe = 1u << 0,
  kInfoCmdline = 1u << 1,
  kInfoAll = kInfoExe | kInfoCmdline,
};

// Reads <procRoot>/<pid>/{stat,status[,exe][,cmdline]}. A process that is gone gives an
// Error with errnum ESRCH (open/read of its files fails with ENOENT or ESRCH). `pid` may be
// a thread id: the info is then about its thread group (pid = Tgid).
Result<ProcessInfo> readProcessInfo(pid_t pid, const std::string& procRoot = "/proc",
                                    unsigned fields = kInfoAll);
Result<ProcStat> readProcStat(pid_t pid, const std::string& procRoot = "/proc");

// Numeric entries of <procRoot> (thread-group ids), ascending.
Result<std::vector<pid_t>> listPids(const std::string& procRoot = "/proc");
// Children of every thread of `pid`, from <procRoot>/<pid>/task/*/children. ESRCH when the
// process is gone; ENOENT errnum on the children file when the kernel lacks CONFIG_PROC_CHILDREN.
Result<std::vector<pid_t>> readChildren(pid_t pid, const std::string& procRoot = "/proc");
// Whether <procRoot>/<pid>/task/<pid>/children exists (CONFIG_PROC_CHILDREN).
bool childrenFilesAvailable(pid_t pid, const std::string& procRoot = "/proc");

}  // namespace cgwarden::collectors
