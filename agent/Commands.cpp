#include "agent/Commands.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstring>
#include <iostream>

#include "Version.h"
#include "agent/Cgroup.h"
#include "agent/Logging.h"

namespace cgwarden::agent {

namespace {

const std::vector<Command>& commands() {
  static const std::vector<Command> kCommands = {
      {"run", "launch and supervise the workloads of a config file, serve metrics", commandRun},
      {"exec", "run one command confined in a fresh cgroup and namespaces, in the foreground", commandExec},
      {"stress", "generate CPU, memory, fork or idle load (demo and test workloads)", commandStress},
      {"info", "show the cgroup mode, mounts and controllers of this host", commandInfo},
      {"check", "validate config files and list every error (file:line:col: key: message)", commandCheck},
      {"ps", "list the running agent's workloads (state, pid, CPU, memory, restarts)", commandPs},
      {"top", "live view of the workloads' CPU, memory, IO and pids, refreshed every second", commandTop},
      {"launch", "start an ad-hoc workload in the running agent: launch NAME [limits] -- CMD", commandLaunch},
      {"stop", "stop workloads (stop signal, SIGKILL after the grace period)", commandStop},
      {"restart", "restart workloads", commandRestart},
      {"rm", "stop workloads and forget them", commandRm},
      {"freeze", "freeze every process of workloads", commandFreeze},
      {"thaw", "resume frozen workloads", commandThaw},
      {"set", "change a running workload's limits: set NAME --memory 128Mi --cpus 1", commandSet},
      {"adopt", "move a running process tree into a new workload: adopt PID --name NAME", commandAdopt},
      {"events", "the policer's recent decisions; --follow for new ones", commandEvents},
      {"reload", "make the running agent re-read its config file", commandReload},
  };
  return kCommands;
}

void printUsage(FILE* out) {
  std::fprintf(out,
               "cgwarden %s: launch, adopt, limit, police and account workloads with cgroups\n\n"
               "usage: cgwarden [--log-level LEVEL] [--log-format text|json] <command> [args]\n"
               "       cgwarden --help | --version\n\ncommands:\n",
               kVersion);
  for (const auto& c : commands()) std::fprintf(out, "  %-10s %s\n", c.name, c.summary);
  std::fprintf(out,
               "\nglobal options:\n"
               "  --log-level LEVEL    trace, debug, info (default), warn, error, critical, off\n"
               "  --log-format FORMAT  text (default) or json (one JSON object per line)\n"
               "\n`cgwarden <command> --help` describes each command.\n");
}

}  // namespace

int commandInfo(const std::vector<std::string>& args) {
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
    std::printf("usage: cgwarden info\n\nPrints the cgroup mode found in /proc/self/mountinfo, where each "
                "controller is mounted, and which controllers cgwarden can use.\n");
    return kExitOk;
  }
  auto layout = CgroupLayout::detect();
  if (!layout) {
    std::fprintf(stderr, "cgwarden: %s\n", layout.error().message().c_str());
    return kExitFailure;
  }
  auto manager = CgroupManager::create(*layout, "cgwarden");
  if (!manager) {
    std::fprintf(stderr, "cgwarden: %s\n", manager.error().message().c_str());
    return kExitFailure;
  }
  std::printf("cgwarden %s\n%s\ncontrollers:", kVersion, layout->describe().c_str());
  for (const auto& c : (*manager)->controllers()) std::printf(" %s", c.c_str());
  std::printf("\n");
  return kExitOk;
}

int runCommandLine(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string level = "info";
  std::string format = "text";
  size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      printUsage(stdout);
      return kExitOk;
    }
    if (a == "--version" || a == "-V") {
      std::printf("cgwarden %s\n", kVersion);
      return kExitOk;
    }
    if ((a == "--log-level" || a == "--log-format") && i + 1 < args.size()) {
      (a == "--log-level" ? level : format) = args[++i];
      continue;
    }
    if (a.rfind("--log-level=", 0) == 0) {
      level = a.substr(12);
      continue;
    }
    if (a.rfind("--log-format=", 0) == 0) {
      format = a.substr(13);
      continue;
    }
    break;
  }
  if (i >= args.size()) {
    printUsage(stderr);
    return kExitUsage;
  }
  auto fmt = parseLogFormat(format);
  Status logging = fmt ? setupLogging(level, *fmt) : Status(fmt.error());
  if (!logging) {
    std::fprintf(stderr, "cgwarden: %s\n", logging.error().message().c_str());
    return kExitUsage;
  }
  const std::string verb = args[i];
  std::vector<std::string> rest(args.begin() + static_cast<long>(i) + 1, args.end());
  for (const auto& c : commands()) {
    if (verb == c.name) return c.run(rest);
  }
  std::fprintf(stderr, "cgwarden: unknown command \"%s\"; see cgwarden --help\n", verb.c_str());
  return kExitUsage;
}

}  // namespace cgwarden::agent
