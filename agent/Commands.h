#pragma once
// The command line: `cgwarden <verb> [options]`. Each verb is a function registered in
// the table in Commands.cpp; it returns the process exit code.
//
// Exit codes: 0 ok, 1 runtime failure, 2 usage or config error.

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

}  // namespace cgwarden::agent
