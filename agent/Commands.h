#pragma once
// The command line: `cgwarden <verb> [options]`. Each verb is a function registered in
// the table in Commands.cpp; it returns the process exit code.
//
// Exit codes: 0 ok, 1 runtime failure, 2 usage or config error; the verbs that talk to a
// running agent add 3 agent unreachable, 4 not found, 5 unauthorized (ApiClient.h).

#include <string>
#include <vector>

namespace cgwarden::agent {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

struct Command {
  const char* name;
  const char* summary;
  int (*run)(const std::vector<std::string>& args);  // args after the verb
};

int runCommandLine(int argc, char** argv);

// Verbs (one file each where they grow).
int commandInfo(const std::vector<std::string>& args);
int commandRun(const std::vector<std::string>& args);
int commandExec(const std::vector<std::string>& args);
int commandStress(const std::vector<std::string>& args);
int commandCheck(const std::vector<std::string>& args);
// Against a running agent, through the control API (ApiClient.h, docs/api.md).
int commandPs(const std::vector<std::string>& args);
int commandTop(const std::vector<std::string>& args);
int commandLaunch(const std::vector<std::string>& args);
int commandStop(const std::vector<std::string>& args);
int commandRestart(const std::vector<std::string>& args);
int commandFreeze(const std::vector<std::string>& args);
int commandThaw(const std::vector<std::string>& args);
int commandRm(const std::vector<std::string>& args);
int commandSet(const std::vector<std::string>& args);
int commandAdopt(const std::vector<std::string>& args);
int commandEvents(const std::vector<std::string>& args);
int commandReload(const std::vector<std::string>& args);

}  // namespace cgwarden::agent
