#pragma once
// How a finished process ended, decoded from a waitpid(2) status.

#include <string>

namespace cgwarden::agent {

struct ExitStatus {
  int code = 0;     // exit code when !signaled
  int signal = 0;   // terminating signal when signaled
  bool signaled = false;

  // The exit code as a shell reports it: code, or 128+signal. A workload under cgwarden's
  // init (pid namespace) always comes back as an exit code: the init exits 128+signal.
  int shellCode() const { return signaled ? 128 + signal : code; }
  // "exit code 3", "killed by SIGKILL"
  std::string describe() const;
  static ExitStatus fromWaitStatus(int status);
  bool operator==(const ExitStatus&) const = default;
};

// "SIGKILL" for 9; "signal 77" for numbers without a name.
std::string signalName(int signal);

}  // namespace cgwarden::agent
