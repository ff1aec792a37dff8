#include "agent/HookRunner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "collectors/FileIo.h"
#include "config/Units.h"

extern char** environ;

namespace cgwarden::agent {

namespace {

using Clock = std::chrono::steady_clock;

std::string commandLabel(const std::vector<std::string>& command) { return command.empty() ? "" : command[0]; }

}  // namespace

Result<ExitStatus> ProcessHookRunner::run(const HookRequest& request) {
  const std::string label = commandLabel(request.command);
  if (request.command.empty()) return Error::invalid("exec", "", "an empty command");

  // stdin is a socket, not a pipe: send(MSG_NOSIGNAL) to a hook that already exited gets
  // EPIPE instead of a SIGPIPE that would kill the agent.
  int pair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) return Error::fromErrno("socketpair", label, errno);
  UniqueFd readEnd(pair[0]);
  UniqueFd writeEnd(pair[1]);

  std::vector<std::string> envStrings;
  for (char** e = environ; e && *e; ++e) {
    std::string_view entry(*e);
    auto eq = entry.find('=');
    if (eq != std::string_view::npos && request.env.count(std::string(entry.substr(0, eq)))) continue;
    envStrings.emplace_back(entry);
  }
  for (const auto& [k, v] : request.env) envStrings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : envStrings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = request.command;
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_adddup2(&actions, readEnd.get(), STDIN_FILENO);
  sigset_t empty, defaults;
  sigemptyset(&empty);
  sigfillset(&defaults);
  posix_spawnattr_setsigmask(&attr, &empty);       // the agent blocks TERM/INT/HUP in every thread
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);             // own group: a timeout kills its children too
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return Error::fromErrno("exec", label, rc);
  readEnd.reset();

  // The event is small (a few KiB, below the socket buffer); a hook that does not read stdin
  // must not block the policer, so what does not fit at once is dropped.
  size_t off = 0;
  while (off < request.input.size()) {
    ssize_t n = ::send(writeEnd.get(), request.input.data() + off, request.input.size() - off,
                       MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  ::shutdown(writeEnd.get(), SHUT_WR);
  writeEnd.reset();

  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  const auto deadline = Clock::now() + request.timeout;
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return ExitStatus::fromWaitStatus(status);
    if (r < 0 && errno != EINTR) return Error::fromErrno("waitpid", label, errno);
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) break;
    if (pidfd.valid()) {
      struct pollfd p {pidfd.get(), POLLIN, 0};
      ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    } else {
      ::usleep(static_cast<useconds_t>(std::min<int64_t>(left.count(), 10) * 1000));
    }
  }
  ::kill(-pid, SIGKILL);
  ::kill(pid, SIGKILL);
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return Error::invalid("exec", label, "timed out after " + config::formatDuration(request.timeout) + " (killed)");
}

}  // namespace cgwarden::agent
