#include <cstdio>

#include "agent/Commands.h"
#include "config/Loader.h"

namespace cgwarden::agent {

int commandCheck(const std::vector<std::string>& args) {
  std::vector<std::string> files;
  bool quiet = false;
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") {
      std::printf(
          "usage: cgwarden check [--quiet] FILE...\n\n"
          "Validates config files without touching the system (users, groups and devices are\n"
          "looked up, nothing is created). Every problem is printed to stderr as\n"
          "  file:line:col: key.path: message\n"
          "Exit status: 0 when every file is valid, 2 when any has errors.\n\n"
          "  -q, --quiet   print nothing on success\n");
      return kExitOk;
    }
    if (a == "--quiet" || a == "-q") {
      quiet = true;
    } else if (a.size() > 1 && a[0] == '-' && a != "--") {
      std::fprintf(stderr, "cgwarden check: unknown option \"%s\"; see cgwarden check --help\n", a.c_str());
      return kExitUsage;
    } else if (a != "--") {
      files.push_back(a);
    }
  }
  if (files.empty()) {
    std::fprintf(stderr, "usage: cgwarden check [--quiet] FILE...\n");
    return kExitUsage;
  }
  int status = kExitOk;
  for (const auto& file : files) {
    auto loaded = config::loadConfigFile(file);
    if (!loaded.ok()) {
      std::fputs(loaded.renderErrors().c_str(), stderr);
      std::fprintf(stderr, "%s: %zu error%s\n", file.c_str(), loaded.errors.size(),
                   loaded.errors.size() == 1 ? "" : "s");
      status = kExitUsage;
      continue;
    }
    if (!quiet) {
      size_t n = loaded.value->workloads.size();
      std::printf("%s: ok, %zu workload%s\n", file.c_str(), n, n == 1 ? "" : "s");
    }
  }
  return status;
}

}  // namespace cgwarden::agent
