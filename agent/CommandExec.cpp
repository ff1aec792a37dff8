// `cgwarden exec`: one command, confined like a workload, in the foreground.
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>

#include "agent/Cgroup.h"
#include "agent/Commands.h"
#include "agent/ExecOptions.h"
#include "agent/Launcher.h"

namespace cgwarden::agent {

namespace {

constexpr auto kCleanupTimeout = std::chrono::seconds(5);
const int kForwardedSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};

int fail(const Error& e, int code = kExitFailure) {
  std::fprintf(stderr, "cgwarden exec: %s\n", e.message().c_str());
  return code;
}

// Waits for `child`, forwarding the signals cgwarden receives meanwhile. Returns its waitpid status.
int waitForwarding(const LaunchedProcess& child, int signalFd) {
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(child.pid, &status, WNOHANG);
    if (r == child.pid) return status;
    if (r < 0 && errno != EINTR) return 0;
    struct pollfd fds[2] = {{child.pidfd.get(), POLLIN, 0}, {signalFd, POLLIN, 0}};
    nfds_t n = child.pidfd.valid() ? 2 : 1;
    struct pollfd* first = child.pidfd.valid() ? fds : fds + 1;
    ::poll(first, n, child.pidfd.valid() ? -1 : 50);
    signalfd_siginfo info{};
    while (::read(signalFd, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
      ::kill(child.pid, static_cast<int>(info.ssi_signo));
    }
  }
}

}  // namespace

int commandExec(const std::vector<std::string>& args) {
  auto options = parseExecArgs(args);
  if (!options) {
    std::fprintf(stderr, "cgwarden exec: %s\n%s", options.error().message().c_str(), execUsage());
    return kExitUsage;
  }
  if (options->help) {
    std::printf("%s", execUsage());
    return kExitOk;
  }
  config::WorkloadSpec& spec = options->spec;
  if (!options->nameGiven) spec.name = "exec-" + std::to_string(::getpid());

  auto layout = CgroupLayout::detect();
  if (!layout) return fail(layout.error());
  auto manager = CgroupManager::create(*layout, options->cgroupRoot);
  if (!manager) return fail(manager.error());
  if (auto st = (*manager)->prepareRoot(); !st) return fail(st.error());
  if (auto existing = (*manager)->open(spec.name); existing) {
    return fail(Error::fromErrno("create cgroup", (*manager)->root() + "/" + spec.name, EEXIST,
                                 "another workload uses this name; pick another --name"));
  }
  auto cgroup = (*manager)->create(spec.name);
  if (!cgroup) return fail(cgroup.error(), kExitUsage);
  auto cleanup = [&]() {
    if (auto st = (*cgroup)->killAll(kCleanupTimeout); !st) std::fprintf(stderr, "cgwarden exec: %s\n", st.error().message().c_str());
    if (auto st = (*cgroup)->remove(kCleanupTimeout); !st) std::fprintf(stderr, "cgwarden exec: %s\n", st.error().message().c_str());
  };
  if (auto st = (*cgroup)->applyLimits(spec.limits); !st) {
    cleanup();
    return fail(st.error(), kExitUsage);
  }

  // Signals for the child are taken from a signalfd; the child unblocks its own mask.
  sigset_t set;
  sigemptyset(&set);
  for (int s : kForwardedSignals) sigaddset(&set, s);
  sigset_t previous;
  ::sigprocmask(SIG_BLOCK, &set, &previous);
  int signalFd = ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);

  LaunchOptions launchOptions;
  launchOptions.newSession = false;
  launchOptions.stdinFromNull = false;
  auto child = Launcher::launch(spec, **cgroup, launchOptions);
  if (!child) {
    if (signalFd >= 0) ::close(signalFd);
    ::sigprocmask(SIG_SETMASK, &previous, nullptr);
    cleanup();
    // As a shell would: 127 for a command not found, 126 for one that cannot be run.
    int code = kExitFailure;
    if (Launcher::isExecFailure(child.error())) code = child.error().errnum == ENOENT ? 127 : 126;
    return fail(child.error(), code);
  }
  int status = waitForwarding(*child, signalFd);
  if (signalFd >= 0) ::close(signalFd);
  ::sigprocmask(SIG_SETMASK, &previous, nullptr);
  cleanup();
  return ExitStatus::fromWaitStatus(status).shellCode();
}

}  // namespace cgwarden::agent
