#include "agent/ExitStatus.h"

#include <sys/wait.h>

#include <cstring>

namespace cgwarden::agent {

std::string signalName(int signal) {
  const char* abbrev = ::sigabbrev_np(signal);
  if (abbrev == nullptr) return "signal " + std::to_string(signal);
  return std::string("SIG") + abbrev;
}

std::string ExitStatus::describe() const {
  if (signaled) return "killed by " + signalName(signal);
  return "exit code " + std::to_string(code);
}

ExitStatus ExitStatus::fromWaitStatus(int status) {
  ExitStatus s;
  if (WIFSIGNALED(status)) {
    s.signaled = true;
    s.signal = WTERMSIG(status);
  } else if (WIFEXITED(status)) {
    s.code = WEXITSTATUS(status);
  }
  return s;
}

}  // namespace cgwarden::agent
