#pragma once
// Helpers of the launch/supervise suites: workload specs whose output lands in a temp file,
// and running a launched workload to its end.

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "agent/Launcher.h"
#include "collectors/FileIo.h"
#include "collectors/TextParse.h"
#include "config/Config.h"

namespace cgwarden::testing {

// A fresh directory for this test process's files: /tmp/cgwarden-launch-test-<pid>,
// removed when the test process exits.
inline std::string launchTempDir() {
  static const std::string dir = [] {
    std::string d = "/tmp/cgwarden-launch-test-" + std::to_string(::getpid());
    ::mkdir(d.c_str(), 0755);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all("/tmp/cgwarden-launch-test-" + std::to_string(::getpid()), ec);
    });
    return d;
  }();
  ::mkdir(dir.c_str(), 0755);
  return dir;
}

inline std::string cgwardenBinary() { return CGWARDEN_BINARY; }

// A workload that runs `command` with stdout+stderr into <tempdir>/<name>.log, restart never.
inline config::WorkloadSpec outputSpec(const std::string& name, std::vector<std::string> command) {
  config::WorkloadSpec spec;
  spec.name = name;
  spec.command = std::move(command);
  spec.restart.policy = config::RestartPolicy::Never;
  spec.stdoutSpec.mode = config::OutputSpec::Mode::File;
  spec.stdoutSpec.path = joinPath(launchTempDir(), name + ".log");
  spec.stderrSpec = spec.stdoutSpec;
  ::unlink(spec.stdoutSpec.path.c_str());
  return spec;
}

inline std::string logOf(const config::WorkloadSpec& spec) {
  auto text = readFile(spec.stdoutSpec.path);
  return text ? *text : std::string();
}

// Waits (up to `timeout`) for a launched process and reaps it. nullopt on timeout (then killed).
inline std::optional<agent::ExitStatus> waitExit(const agent::LaunchedProcess& p,
                                                 std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(p.pid, &status, WNOHANG);
    if (r == p.pid) return agent::ExitStatus::fromWaitStatus(status);
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(p.pid, SIGKILL);
      ::waitpid(p.pid, &status, 0);
      return std::nullopt;
    }
    struct pollfd fd {p.pidfd.get(), POLLIN, 0};
    ::poll(&fd, p.pidfd.valid() ? 1 : 0, 20);
  }
}

struct Ran {
  agent::ExitStatus exit;
  std::string output;
};

// Launches `spec` in `cgroup`, waits for it, returns its status and log. Fails the test
// (and returns exit code -1) when the launch fails or it does not finish in time.
inline Ran runToExit(agent::Cgroup& cgroup, const config::WorkloadSpec& spec, const agent::LaunchOptions& options = {}) {
  Ran ran;
  ran.exit.code = -1;
  auto launched = agent::Launcher::launch(spec, cgroup, options);
  EXPECT_TRUE(launched.ok()) << launched.error().message();
  if (!launched) return ran;
  auto exit = waitExit(*launched);
  EXPECT_TRUE(exit.has_value()) << spec.name << " did not finish in time";
  if (exit) ran.exit = *exit;
  ran.output = logOf(spec);
  return ran;
}

}  // namespace cgwarden::testing
