#pragma once
// Runs an `exec` action's hook: `command` with `input` (the event as JSON) on stdin, in its
// own process group, SIGKILLed (the whole group) when it outlives `timeout`.
//
// The hook inherits the agent's environment plus CGWARDEN_RULE, CGWARDEN_WORKLOAD and
// CGWARDEN_CGROUP; stdout and stderr are the agent's. command[0] without '/' is searched
// in PATH. Blocks until the hook has ended (or was killed) and reaps it. stdin is a Unix
// socket (EOF after the input); input beyond its buffer (~200 KiB) is dropped rather than
// block on a hook that does not read.

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "agent/ExitStatus.h"
#include "collectors/Result.h"

namespace cgwarden::agent {

struct HookRequest {
  std::vector<std::string> command;
  std::string input;                          // written to stdin, then stdin is closed
  std::chrono::milliseconds timeout{10000};
  std::map<std::string, std::string> env;     // added to the agent's environment
};

class HookRunner {
 public:
  virtual ~HookRunner() = default;
  // The hook's exit status; an Error when it cannot start or when it timed out
  // ("exec /x: timed out after 10s (killed)").
  virtual Result<ExitStatus> run(const HookRequest& request) = 0;
};

// fork/exec (posix_spawn) with a pidfd wait.
class ProcessHookRunner final : public HookRunner {
 public:
  Result<ExitStatus> run(const HookRequest& request) override;
};

}  // namespace cgwarden::agent
