#include "agent/Launcher.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/sched.h>
#include <net/if.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <optional>
#include <vector>

#include "agent/CgroupCommon.h"
#include "collectors/TextParse.h"

namespace cgwarden::agent {

namespace {

// Exit code of a child that failed before exec (the parent reports the step instead).
constexpr int kLaunchFailureExit = 127;

// Steps of the child, reported with errno over the error pipe.
enum class Step : int32_t {
  WaitForAttach = 1,
  SelfAttach,
  CloseInherited,
  UnshareCgroup,
  MountPrivate,
  MountProc,
  Hostname,
  Loopback,
  Session,
  InitSignals,
  InitPipes,
  ForkWorkload,
  Stdio,
  Rlimit,
  Setgroups,
  Setgid,
  Setuid,
  Chdir,
  CloseFds,
  Exec,
};

const char* stepName(Step step) {
  switch (step) {
    case Step::WaitForAttach: return "wait for the cgroup attach";
    case Step::SelfAttach: return "join the cgroup";
    case Step::CloseInherited: return "close inherited fds";
    case Step::UnshareCgroup: return "unshare the cgroup namespace";
    case Step::MountPrivate: return "make / private in the mount namespace";
    case Step::MountProc: return "mount a fresh /proc";
    case Step::Hostname: return "sethostname";
    case Step::Loopback: return "bring up lo";
    case Step::Session: return "setsid";
    case Step::InitSignals: return "set up the init's signals";
    case Step::InitPipes: return "create the log pipes";
    case Step::ForkWorkload: return "fork the workload from the init";
    case Step::Stdio: return "set up stdin/stdout/stderr";
    case Step::Rlimit: return "setrlimit";
    case Step::Setgroups: return "setgroups";
    case Step::Setgid: return "setgid";
    case Step::Setuid: return "setuid";
    case Step::Chdir: return "chdir";
    case Step::CloseFds: return "mark inherited fds close-on-exec";
    case Step::Exec: return "exec";
  }
  return "launch";
}

struct FailureRecord {
  int32_t step = 0;
  int32_t err = 0;
  int32_t detail = -1;  // index of the rlimit or exec candidate concerned
};

// A log file the init writes, rotated by size. Prepared by the parent.
struct LogTarget {
  int fd = -1;
  const char* path = nullptr;
  const char* const* rotated = nullptr;  // path.1 .. path.keep
  uint32_t keep = 0;
  uint64_t rotateBytes = 0;  // 0: never rotate
  uint64_t size = 0;
};

// Everything the child needs, as plain data: it must not allocate.
struct ChildPlan {
  int syncFd = -1;  // read end; -1 when the child joins its cgroups itself (or clone did)
  int tasksFds[12] = {};  // v1 `tasks` files the child writes "0" to, pids first
  int tasksCount = 0;
  int errFd = -1;   // write end of the close-on-exec error pipe
  bool cgroupNs = false, mountNs = false, pidNs = false, utsNs = false, netNs = false;
  const char* hostname = nullptr;
  size_t hostnameLen = 0;
  bool newSession = false;
  bool runInit = false;

  int stdinFd = -1;  // dup2'ed onto 0/1/2 when >= 0
  int stdoutFd = -1;
  int stderrFd = -1;
  int stdoutLog = -1;  // index into logs, or -1
  int stderrLog = -1;
  LogTarget logs[2];
  int logCount = 0;

  const config::RlimitSpec* rlimits = nullptr;
  size_t rlimitCount = 0;
  bool hasUid = false, hasGid = false;
  uid_t uid = 0;
  gid_t gid = 0;
  const char* workingDir = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  const char* const* candidates = nullptr;
  size_t candidateCount = 0;

  // Stack of the init's CLONE_VM|CLONE_VFORK child (the workload until it execs).
  char* workloadStack = nullptr;
  size_t workloadStackSize = 0;

  // fds the child keeps (everything else is closed at once): sorted, unique.
  int keep[24] = {};
  int keepCount = 0;
};

// ---- child side: async-signal-safe only -------------------------------------------------

[[noreturn]] void fail(const ChildPlan& p, Step step, int err, int detail = -1) {
  FailureRecord r{static_cast<int32_t>(step), err, detail};
  (void)!::write(p.errFd, &r, sizeof r);
  ::_exit(kLaunchFailureExit);
}

void writeAll(int fd, const char* data, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return;  // a full disk loses log lines, never the workload
    }
    data += w;
    n -= static_cast<size_t>(w);
  }
}

// Dup `from` onto `to`; when they are the same fd, clear close-on-exec instead.
bool moveFd(int from, int to) {
  if (from < 0) return true;
  if (from == to) return ::fcntl(to, F_SETFD, 0) == 0;
  return ::dup2(from, to) == to;
}

// Closes every fd but 0, 1, 2 and p.keep (other threads' sockets and pipes of concurrent
// launches must not leak into a long-lived init).
bool closeInherited(const ChildPlan& p) {
  unsigned from = 3;
  for (int i = 0; i < p.keepCount; ++i) {
    unsigned k = static_cast<unsigned>(p.keep[i]);
    if (k < from) continue;
    if (k > from && ::syscall(SYS_close_range, from, k - 1, 0) != 0) return false;
    from = k + 1;
  }
  return ::syscall(SYS_close_range, from, ~0U, 0) == 0;
}

bool loopbackUp() {
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return false;
  struct ifreq ifr {};
  std::memcpy(ifr.ifr_name, "lo", 3);
  bool ok = ::ioctl(s, SIOCGIFFLAGS, &ifr) == 0;
  if (ok) {
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP | IFF_RUNNING);
    ok = ::ioctl(s, SIOCSIFFLAGS, &ifr) == 0;
  }
  int err = errno;
  ::close(s);
  errno = err;
  return ok;
}

const int kForwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};

void ignoreSignal(int) {}

[[noreturn]] void execWorkload(const ChildPlan& p, int in, int out, int err) {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int s = 1; s < NSIG; ++s) {
    if (s != SIGKILL && s != SIGSTOP) ::sigaction(s, &dfl, nullptr);  // glibc's own signals: EINVAL, fine
  }
  if (!moveFd(in, 0) || !moveFd(out, 1) || !moveFd(err, 2)) fail(p, Step::Stdio, errno);
  for (size_t i = 0; i < p.rlimitCount; ++i) {
    struct rlimit rl {
      static_cast<rlim_t>(p.rlimits[i].soft), static_cast<rlim_t>(p.rlimits[i].hard)
    };
    if (::setrlimit(static_cast<__rlimit_resource>(p.rlimits[i].resource), &rl) != 0) {
      fail(p, Step::Rlimit, errno, static_cast<int>(i));
    }
  }
  // Raw syscalls: glibc's wrappers would try to signal the agent's other threads (setxid).
  if (p.hasUid || p.hasGid) {
    if (::syscall(SYS_setgroups, 0, nullptr) != 0) fail(p, Step::Setgroups, errno);
  }
  if (p.hasGid && ::syscall(SYS_setgid, p.gid) != 0) fail(p, Step::Setgid, errno);
  if (p.hasUid && ::syscall(SYS_setuid, p.uid) != 0) fail(p, Step::Setuid, errno);
  if (p.workingDir != nullptr && p.workingDir[0] != '\0' && ::chdir(p.workingDir) != 0) {
    fail(p, Step::Chdir, errno);
  }
  if (::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
    for (int fd = 3; fd < 65536; ++fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  // execvp's rules: try each PATH entry; EACCES is remembered, other errors than
  // ENOENT/ENOTDIR/EACCES stop the search.
  int lastErr = ENOENT;
  int lastIndex = 0;
  int accessIndex = -1;
  for (size_t i = 0; i < p.candidateCount; ++i) {
    ::execve(p.candidates[i], p.argv, p.envp);
    lastErr = errno;
    lastIndex = static_cast<int>(i);
    if (lastErr == EACCES) {
      if (accessIndex < 0) accessIndex = lastIndex;
      continue;
    }
    if (lastErr != ENOENT && lastErr != ENOTDIR) break;
  }
  if (accessIndex >= 0 && (lastErr == ENOENT || lastErr == ENOTDIR)) fail(p, Step::Exec, EACCES, accessIndex);
  fail(p, Step::Exec, lastErr, lastIndex);
}

void rotate(LogTarget& t) {
  if (t.keep == 0) {
    if (::ftruncate(t.fd, 0) == 0) t.size = 0;
    return;
  }
  for (uint32_t k = t.keep; k > 1; --k) ::rename(t.rotated[k - 2], t.rotated[k - 1]);
  ::rename(t.path, t.rotated[0]);
  int fd = ::open(t.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd >= 0) {
    ::close(t.fd);
    t.fd = fd;
  }
  t.size = 0;
}

// Copies what is readable from `readFd` into `t` (at most 4 MiB per call, so a writer that
// keeps the pipe full cannot hold the init's loop). Returns false at EOF.
bool pump(int readFd, LogTarget& t) {
  static char buf[65536];
  for (int round = 0; round < 64; ++round) {
    ssize_t n = ::read(readFd, buf, sizeof buf);
    if (n == 0) return false;
    if (n < 0) return errno == EINTR || errno == EAGAIN;
    writeAll(t.fd, buf, static_cast<size_t>(n));
    t.size += static_cast<uint64_t>(n);
    if (t.rotateBytes != 0 && t.size >= t.rotateBytes) rotate(t);
    if (static_cast<size_t>(n) < sizeof buf) return true;
  }
  return true;
}

// The init's child until it execs: runs on its own stack in the init's memory (vfork-style).
struct WorkloadStart {
  const ChildPlan* plan;
  int signalFd;
  int readEnd[2];
  int out;
  int err;
};

int workloadMain(void* arg) {
  auto* w = static_cast<WorkloadStart*>(arg);
  ::close(w->signalFd);
  for (int fd : w->readEnd) {
    if (fd >= 0) ::close(fd);
  }
  execWorkload(*w->plan, w->plan->stdinFd, w->out, w->err);
}

// pid 1 of the workload's pid namespace (or a subreaper without one).
[[noreturn]] void runInit(ChildPlan& p) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  struct sigaction sa {};
  sa.sa_handler = ignoreSignal;
  sa.sa_flags = SA_RESTART;
  for (int s : kForwarded) {
    sigaddset(&set, s);
    // A handler makes the signal deliverable to a namespace init from outside.
    ::sigaction(s, &sa, nullptr);
  }
  if (::sigprocmask(SIG_BLOCK, &set, nullptr) != 0) fail(p, Step::InitSignals, errno);
  int sfd = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) fail(p, Step::InitSignals, errno);
  if (!p.pidNs && ::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) fail(p, Step::InitSignals, errno);

  // Pipes feeding the log files: [log index] -> read end, and the write ends for the workload.
  int readEnd[2] = {-1, -1};
  int writeEnd[2] = {-1, -1};
  for (int i = 0; i < p.logCount; ++i) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) fail(p, Step::InitPipes, errno);
    readEnd[i] = fds[0];
    writeEnd[i] = fds[1];
  }
  int out = p.stdoutLog >= 0 ? writeEnd[p.stdoutLog] : p.stdoutFd;
  int err = p.stderrLog >= 0 ? writeEnd[p.stderrLog] : p.stderrFd;

  // CLONE_VM|CLONE_VFORK (as posix_spawn does): no copy of the address space; the init
  // sleeps until the workload has exec'd (or failed), then goes on with its own memory.
  WorkloadStart start{&p, sfd, {readEnd[0], readEnd[1]}, out, err};
  char* stackTop = p.workloadStack + p.workloadStackSize;
  stackTop -= reinterpret_cast<uintptr_t>(stackTop) % 16;
  long child = ::clone(workloadMain, stackTop, CLONE_VM | CLONE_VFORK | SIGCHLD, &start);
  if (child < 0) fail(p, Step::ForkWorkload, errno);
  for (int i = 0; i < p.logCount; ++i) {
    ::close(writeEnd[i]);
    ::fcntl(readEnd[i], F_SETFL, O_NONBLOCK);
  }
  ::close(p.errFd);
  for (int fd : {p.syncFd, p.stdinFd, p.stdoutFd, p.stderrFd}) {
    if (fd > 2) ::close(fd);
  }

  const pid_t workload = static_cast<pid_t>(child);
  bool open[2] = {p.logCount > 0, p.logCount > 1};
  bool exited = false;
  int status = 0;
  for (;;) {
    struct pollfd fds[3];
    int logAt[3] = {-1, -1, -1};
    nfds_t n = 0;
    fds[n++] = {sfd, POLLIN, 0};
    for (int i = 0; i < p.logCount; ++i) {
      if (!open[i]) continue;
      logAt[n] = i;
      fds[n++] = {readEnd[i], POLLIN, 0};
    }
    if (!exited && ::poll(fds, n, -1) < 0 && errno != EINTR) continue;
    for (nfds_t i = 1; i < n; ++i) {
      if (exited || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
        int idx = logAt[i];
        open[idx] = pump(readEnd[idx], p.logs[idx]);
      }
    }
    if (exited) {
      // Output written before the exit is in the pipes now: drained above. Orphans that
      // still hold the pipes die with the namespace.
      ::_exit(WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status));
    }
    struct signalfd_siginfo infos[8];
    ssize_t got;
    while ((got = ::read(sfd, infos, sizeof infos)) > 0) {
      for (ssize_t i = 0; i < got / static_cast<ssize_t>(sizeof infos[0]); ++i) {
        int signo = static_cast<int>(infos[i].ssi_signo);
        if (signo != SIGCHLD) ::kill(workload, signo);
      }
    }
    // SIGCHLDs coalesce: reap everything that is dead, zombies of orphans included.
    for (;;) {
      int st = 0;
      pid_t w = ::waitpid(-1, &st, WNOHANG);
      if (w <= 0) break;
      if (w == workload) {
        exited = true;
        status = st;
      }
    }
  }
}

[[noreturn]] void runChild(ChildPlan& p) {
  if (p.syncFd >= 0) {
    char c = 0;
    ssize_t n;
    do {
      n = ::read(p.syncFd, &c, 1);
    } while (n < 0 && errno == EINTR);
    if (n != 1) ::_exit(kLaunchFailureExit);  // the parent gave up (attach failed)
  }
  for (int i = 0; i < p.tasksCount; ++i) {
    if (::write(p.tasksFds[i], "0", 1) != 1) fail(p, Step::SelfAttach, errno, i);
  }
  if (!closeInherited(p)) fail(p, Step::CloseInherited, errno);
  if (p.cgroupNs && ::unshare(CLONE_NEWCGROUP) != 0) fail(p, Step::UnshareCgroup, errno);
  if (p.mountNs) {
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) fail(p, Step::MountPrivate, errno);
    if (::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0) {
      fail(p, Step::MountProc, errno);
    }
  }
  if (p.utsNs && p.hostnameLen > 0 && ::sethostname(p.hostname, p.hostnameLen) != 0) fail(p, Step::Hostname, errno);
  if (p.netNs && !loopbackUp()) fail(p, Step::Loopback, errno);
  if (p.newSession && ::setsid() < 0) fail(p, Step::Session, errno);
  if (p.runInit) runInit(p);
  execWorkload(p, p.stdinFd, p.stdoutFd, p.stderrFd);
}

// ---- parent side ---------------------------------------------------------------------------

// Storage behind the ChildPlan's pointers; lives until the child has exec'd or failed.
struct PlanStorage {
  std::vector<std::string> argvStrings, envStrings, candidates;
  std::vector<char*> argv, envp;
  std::vector<const char*> candidatePtrs;
  std::vector<std::string> logPaths;
  std::vector<std::vector<std::string>> rotated;
  std::vector<std::vector<const char*>> rotatedPtrs;
  std::vector<UniqueFd> fds;  // closed in the parent after the clone
  std::vector<std::string> tasksPaths;
  std::vector<char> workloadStack = std::vector<char>(64 * 1024);
};

std::string homeOf(uid_t uid) {
  struct passwd pw {};
  struct passwd* found = nullptr;
  std::vector<char> buf(16384);
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) == 0 && found != nullptr && pw.pw_dir != nullptr) {
    return pw.pw_dir;
  }
  return "/";
}

Result<int> openNull(PlanStorage& s, int flags) {
  int fd = ::open("/dev/null", flags | O_CLOEXEC);
  if (fd < 0) return Error::fromErrno("open", "/dev/null", errno);
  s.fds.emplace_back(fd);
  return fd;
}

Status makeParentDirs(const std::string& file) {
  auto slash = file.rfind('/');
  if (slash == std::string::npos || slash == 0) return {};
  std::string dir = file.substr(0, slash);
  std::string current;
  for (std::string_view seg : splitOn(dir, '/')) {
    if (seg.empty()) continue;
    current += "/";
    current += seg;
    if (::mkdir(current.c_str(), 0755) != 0 && errno != EEXIST) return Error::fromErrno("mkdir", current, errno);
  }
  return {};
}

// Opens the log file of `out` (or reuses the other stream's when the path is the same).
Result<int> prepareLog(ChildPlan& plan, PlanStorage& s, const config::OutputSpec& out, const std::string& stream) {
  if (out.path.empty()) return Error::invalid("open", stream + " log", "log file mode needs a path");
  for (int i = 0; i < plan.logCount; ++i) {
    if (s.logPaths[static_cast<size_t>(i)] == out.path) return i;
  }
  if (auto st = makeParentDirs(out.path); !st) return st.error();
  int fd = ::open(out.path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) return Error::fromErrno("open", out.path, errno, "the " + stream + " log file");
  s.fds.emplace_back(fd);
  struct stat st {};
  ::fstat(fd, &st);
  s.logPaths.push_back(out.path);
  std::vector<std::string> names;
  for (uint32_t k = 1; k <= out.keep; ++k) names.push_back(out.path + "." + std::to_string(k));
  s.rotated.push_back(std::move(names));
  int idx = plan.logCount++;
  LogTarget& t = plan.logs[idx];
  t.fd = fd;
  t.keep = out.keep;
  t.rotateBytes = out.rotateBytes;
  t.size = static_cast<uint64_t>(st.st_size);
  return idx;
}

Result<int> prepareOutput(ChildPlan& plan, PlanStorage& s, const config::OutputSpec& out, const std::string& stream,
                          int& logIndex) {
  switch (out.mode) {
    case config::OutputSpec::Mode::Inherit: return -1;
    case config::OutputSpec::Mode::Null: return openNull(s, O_WRONLY);
    case config::OutputSpec::Mode::File: {
      auto idx = prepareLog(plan, s, out, stream);
      if (!idx) return idx.error();
      logIndex = *idx;
      return -1;
    }
  }
  return -1;
}

void buildCommand(const config::WorkloadSpec& spec, PlanStorage& s) {
  std::map<std::string, std::string> env;
  env["PATH"] = Launcher::kDefaultPath;
  env["HOME"] = homeOf(spec.uid ? static_cast<uid_t>(*spec.uid) : ::geteuid());
  for (const auto& [k, v] : spec.env) env[k] = v;
  for (const auto& [k, v] : env) s.envStrings.push_back(k + "=" + v);
  s.argvStrings = spec.command;
  for (auto& a : s.argvStrings) s.argv.push_back(a.data());
  s.argv.push_back(nullptr);
  for (auto& e : s.envStrings) s.envp.push_back(e.data());
  s.envp.push_back(nullptr);

  const std::string& cmd = spec.command.front();
  char self[4096];
  ssize_t selfLen = cmd == Launcher::kSelfCommand ? ::readlink("/proc/self/exe", self, sizeof self - 1) : -1;
  if (selfLen > 0) {
    s.candidates.emplace_back(self, static_cast<size_t>(selfLen));
  } else if (cmd.find('/') != std::string::npos) {
    s.candidates.push_back(cmd);
  } else {
    for (std::string_view dir : splitOn(env["PATH"], ':')) {
      s.candidates.push_back((dir.empty() ? std::string(".") : std::string(dir)) + "/" + cmd);
    }
  }
  for (auto& c : s.candidates) s.candidatePtrs.push_back(c.c_str());
}

std::string rlimitName(int resource) {
  static const std::map<int, const char*> kNames = {
      {RLIMIT_NOFILE, "nofile"}, {RLIMIT_NPROC, "nproc"}, {RLIMIT_CORE, "core"},     {RLIMIT_STACK, "stack"},
      {RLIMIT_AS, "as"},         {RLIMIT_CPU, "cpu"},     {RLIMIT_FSIZE, "fsize"},   {RLIMIT_MEMLOCK, "memlock"},
      {RLIMIT_DATA, "data"},     {RLIMIT_NICE, "nice"},   {RLIMIT_RTPRIO, "rtprio"}, {RLIMIT_MSGQUEUE, "msgqueue"}};
  auto it = kNames.find(resource);
  return it == kNames.end() ? "resource " + std::to_string(resource) : it->second;
}

Error describeFailure(const FailureRecord& r, const config::WorkloadSpec& spec, const PlanStorage& s) {
  Step step = static_cast<Step>(r.step);
  std::string path;
  std::string hint;
  switch (step) {
    case Step::Exec: {
      if (s.candidates.size() == 1 || r.detail < 0 || static_cast<size_t>(r.detail) >= s.candidates.size()) {
        path = s.candidates.empty() ? spec.command.front() : s.candidates.front();
      } else {
        path = s.candidates[static_cast<size_t>(r.detail)];
      }
      if (s.candidates.size() > 1 && r.err == ENOENT) {
        path = spec.command.front();
        hint = "not found in PATH (" + std::string(spec.env.count("PATH") ? spec.env.at("PATH") : Launcher::kDefaultPath) +
               "); check command[0] or give an absolute path";
      } else if (r.err == ENOENT) {
        hint = "check command[0]: the file does not exist (inside the workload's mount namespace)";
      } else if (r.err == EACCES) {
        hint = "the file is not executable (chmod +x), or a directory on its path is not searchable by the workload's user";
      } else if (r.err == ENOEXEC) {
        hint = "not a binary or script the kernel can run (missing #! line?)";
      }
      break;
    }
    case Step::SelfAttach:
      if (r.detail >= 0 && static_cast<size_t>(r.detail) < s.tasksPaths.size()) path = s.tasksPaths[static_cast<size_t>(r.detail)];
      break;
    case Step::Chdir:
      path = spec.workingDir;
      hint = "check working_dir";
      break;
    case Step::Setuid: path = "uid " + std::to_string(spec.uid.value_or(0)); break;
    case Step::Setgid: path = "gid " + std::to_string(spec.gid.value_or(0)); break;
    case Step::Hostname: path = spec.hostname; break;
    case Step::MountProc: path = "/proc"; break;
    case Step::Rlimit:
      if (r.detail >= 0 && static_cast<size_t>(r.detail) < spec.rlimits.size()) {
        path = "rlimit " + rlimitName(spec.rlimits[static_cast<size_t>(r.detail)].resource);
        hint = "the soft limit must not exceed the hard one";
      }
      break;
    default: break;
  }
  Error e = Error::fromErrno(stepName(step), path, r.err, hint);
  e.context("launch " + spec.name);
  return e;
}

long cloneChild(uint64_t flags, int cgroupFd, int* pidfd, bool useClone3, bool& intoCgroup) {
  intoCgroup = false;
  if (useClone3) {
    struct clone_args args {};
    args.flags = flags | CLONE_PIDFD;
    args.pidfd = reinterpret_cast<uint64_t>(pidfd);
    args.exit_signal = SIGCHLD;
    if (cgroupFd >= 0) {
      args.flags |= CLONE_INTO_CGROUP;
      args.cgroup = static_cast<uint64_t>(cgroupFd);
    }
    long r = ::syscall(SYS_clone3, &args, sizeof args);
    if (r >= 0 || errno != ENOSYS) {
      intoCgroup = r >= 0 && cgroupFd >= 0;
      return r;
    }
  }
  // clone(2) with a null stack: fork semantics plus the namespace flags. x86-64 argument
  // order: flags, stack, parent_tid, child_tid, tls.
  long r = ::syscall(SYS_clone, flags | SIGCHLD, 0, nullptr, nullptr, 0);
  if (r > 0) *pidfd = static_cast<int>(::syscall(SYS_pidfd_open, r, 0));
  return r;
}

}  // namespace

bool Launcher::isExecFailure(const Error& error) {
  const std::string& op = error.operation;
  return op == "exec" || (op.size() > 6 && op.compare(op.size() - 6, 6, ": exec") == 0);
}

Result<LaunchedProcess> Launcher::launch(const config::WorkloadSpec& spec, Cgroup& cgroup,
                                         const LaunchOptions& options) {
  auto context = [&spec](Error e) { return e.context("launch " + spec.name); };
  if (spec.command.empty() || spec.command.front().empty()) {
    return context(Error::invalid("check", "command", "the command is empty"));
  }
  PlanStorage s;
  ChildPlan plan;
  buildCommand(spec, s);
  plan.argv = s.argv.data();
  plan.envp = s.envp.data();
  plan.candidates = s.candidatePtrs.data();
  plan.candidateCount = s.candidatePtrs.size();

  const config::NamespaceSpec& ns = spec.namespaces;
  plan.cgroupNs = ns.cgroup;
  plan.mountNs = ns.mount;
  plan.pidNs = ns.pid;
  plan.utsNs = ns.uts;
  plan.netNs = ns.net;
  const std::string& hostname = spec.hostname.empty() ? spec.name : spec.hostname;
  plan.hostname = hostname.c_str();
  plan.hostnameLen = hostname.size();
  plan.newSession = options.newSession;
  plan.rlimits = spec.rlimits.data();
  plan.rlimitCount = spec.rlimits.size();
  plan.hasUid = spec.uid.has_value();
  plan.hasGid = spec.gid.has_value();
  plan.uid = static_cast<uid_t>(spec.uid.value_or(0));
  plan.gid = static_cast<gid_t>(spec.gid.value_or(0));
  plan.workingDir = spec.workingDir.c_str();

  if (options.stdinFromNull) {
    auto fd = openNull(s, O_RDONLY);
    if (!fd) return context(fd.error());
    plan.stdinFd = *fd;
  }
  auto out = prepareOutput(plan, s, spec.stdoutSpec, "stdout", plan.stdoutLog);
  if (!out) return context(out.error());
  plan.stdoutFd = *out;
  auto err = prepareOutput(plan, s, spec.stderrSpec, "stderr", plan.stderrLog);
  if (!err) return context(err.error());
  plan.stderrFd = *err;
  for (int i = 0; i < plan.logCount; ++i) {
    s.rotatedPtrs.emplace_back();
    for (const auto& name : s.rotated[static_cast<size_t>(i)]) s.rotatedPtrs.back().push_back(name.c_str());
    plan.logs[i].path = s.logPaths[static_cast<size_t>(i)].c_str();
    plan.logs[i].rotated = s.rotatedPtrs.back().data();
  }
  plan.runInit = plan.pidNs || plan.logCount > 0;
  plan.workloadStack = s.workloadStack.data();
  plan.workloadStackSize = s.workloadStack.size();

  int errPipe[2];
  if (::pipe2(errPipe, O_CLOEXEC) != 0) return context(Error::fromErrno("pipe2", "", errno));
  UniqueFd errRead(errPipe[0]);
  UniqueFd errWrite(errPipe[1]);
  plan.errFd = errPipe[1];

  uint64_t flags = 0;
  if (ns.pid) flags |= CLONE_NEWPID;
  if (ns.mount) flags |= CLONE_NEWNS;
  if (ns.uts) flags |= CLONE_NEWUTS;
  if (ns.ipc) flags |= CLONE_NEWIPC;
  if (ns.net) flags |= CLONE_NEWNET;

  // Where the clone itself can place the child: the v2 cgroup, or the hybrid PSI twin.
  const bool parentAttach = options.attach == LaunchOptions::AttachMode::Parent || !options.useClone3;
  int cgroupFd = cgroup.cloneIntoFd();
  UniqueFd twinFd;
  std::optional<std::string> twin = cgroup.directoryFor("");
  if (!parentAttach && cgroupFd < 0 && twin) {
    auto fd = openDirectory(*twin);
    if (!fd) return context(fd.error());
    twinFd = std::move(*fd);
    cgroupFd = twinFd.get();
  }
  if (parentAttach) cgroupFd = -1;
  // v1 hierarchies the child joins itself (pids first, so the task limit holds from the start).
  if (!parentAttach && cgroup.cloneIntoFd() < 0) {
    std::vector<std::string> dirs;
    if (auto pids = cgroup.directoryFor("pids")) dirs.push_back(*pids);
    for (const auto& d : cgroup.directories()) {
      if ((!twin || d != *twin) && std::find(dirs.begin(), dirs.end(), d) == dirs.end()) dirs.push_back(d);
    }
    if (dirs.size() > std::size(plan.tasksFds)) {
      return context(Error::invalid("join", cgroup.path(), "more hierarchies than the launcher handles"));
    }
    for (const auto& d : dirs) {
      std::string tasks = joinPath(d, "tasks");
      int fd = ::open(tasks.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0) return context(Error::fromErrno("open", tasks, errno));
      s.fds.emplace_back(fd);
      s.tasksPaths.push_back(tasks);
      plan.tasksFds[plan.tasksCount++] = fd;
    }
  }
  UniqueFd syncRead, syncWrite;
  if (parentAttach) {
    // A socket pair rather than a pipe: send(MSG_NOSIGNAL) to a child that died is EPIPE,
    // not a SIGPIPE for the agent.
    int syncPipe[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, syncPipe) != 0) {
      return context(Error::fromErrno("socketpair", "", errno));
    }
    syncRead.reset(syncPipe[0]);
    syncWrite.reset(syncPipe[1]);
    plan.syncFd = syncRead.get();
  }

  std::vector<int> keep = {plan.syncFd, plan.errFd, plan.stdinFd, plan.stdoutFd, plan.stderrFd};
  for (int i = 0; i < plan.logCount; ++i) keep.push_back(plan.logs[i].fd);
  for (int i = 0; i < plan.tasksCount; ++i) keep.push_back(plan.tasksFds[i]);
  std::sort(keep.begin(), keep.end());
  keep.erase(std::unique(keep.begin(), keep.end()), keep.end());
  for (int fd : keep) {
    if (fd > 2) plan.keep[plan.keepCount++] = fd;
  }

  int pidfd = -1;
  bool intoCgroup = false;
  auto startedAt = std::chrono::system_clock::now();
  long r = cloneChild(flags, cgroupFd, &pidfd, options.useClone3, intoCgroup);
  if (r == 0) runChild(plan);
  if (r < 0) {
    int e = errno;
    std::string hint;
    if (e == EPERM) hint = "creating namespaces needs root (CAP_SYS_ADMIN)";
    if (e == ENOSPC) hint = "a namespace limit in /proc/sys/user/max_*_namespaces is reached";
    if (e == EBUSY || e == EOPNOTSUPP) hint = "the cgroup cannot take processes (v2: controllers enabled in its subtree_control?)";
    return context(Error::fromErrno(options.useClone3 ? "clone3" : "clone", cgroup.path(), e, hint));
  }
  const pid_t pid = static_cast<pid_t>(r);
  UniqueFd pidFd(pidfd);
  syncRead.reset();
  errWrite.reset();
  s.fds.clear();
  twinFd.reset();

  auto reap = [pid]() {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  };

  if (parentAttach) {
    if (auto st = cgroup.attach(pid); !st) {
      ::kill(pid, SIGKILL);
      syncWrite.reset();
      reap();
      return context(st.error());
    }
    char go = 'g';
    if (::send(syncWrite.get(), &go, 1, MSG_NOSIGNAL) != 1) {
      int e = errno;
      ::kill(pid, SIGKILL);
      reap();
      return context(Error::fromErrno("release", "child " + std::to_string(pid), e));
    }
    syncWrite.reset();
  }

  FailureRecord record;
  ssize_t n;
  do {
    n = ::read(errRead.get(), &record, sizeof record);
  } while (n < 0 && errno == EINTR);
  if (n > 0) {
    reap();
    if (n != static_cast<ssize_t>(sizeof record)) {
      return context(Error::invalid("launch", "", "the child failed before exec (short report)"));
    }
    return describeFailure(record, spec, s);
  }

  LaunchedProcess launched;
  launched.pid = pid;
  launched.pidfd = std::move(pidFd);
  launched.hasInit = plan.runInit;
  launched.startedAt = startedAt;
  return launched;
}

}  // namespace cgwarden::agent
