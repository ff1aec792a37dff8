// `cgwarden run --config FILE [--leave-running]`: the agent.
#include <spdlog/spdlog.h>

#include <cstdio>
#include <optional>

#include "agent/AdopterComponent.h"
#include "agent/Agent.h"
#include "agent/Commands.h"
#include "agent/Logging.h"
#include "agent/ConfigReloader.h"
#include "agent/ControlApiComponent.h"
#include "agent/PolicerComponent.h"
#include "agent/ServingComponent.h"
#include "agent/SupervisorReloadTarget.h"

#include <mutex>
#include "collectors/FileIo.h"
#include "collectors/TextParse.h"
#include "config/Loader.h"

namespace cgwarden::agent {

namespace {

constexpr const char* kDefaultConfig = "/etc/cgwarden/cgwarden.yaml";

const char* kRunUsage =
    "usage: cgwarden run [--config FILE] [--leave-running]\n"
    "\n"
    "Launches and supervises the workloads of FILE (default /etc/cgwarden/cgwarden.yaml) until\n"
    "SIGTERM or SIGINT, then stops them (stop signal, SIGKILL after the grace period) and\n"
    "removes their cgroups.\n"
    "\n"
    "  --config FILE      the config (see docs/config.md; `cgwarden check FILE` validates it)\n"
    "  --leave-running    on exit leave the workloads running for the next agent to adopt\n"
    "                     (same as agent.leave_running: true)\n"
    "\n"
    "Logging follows agent.log_level / agent.log_format unless the global --log-level /\n"
    "--log-format flags are given.\n";

// The value of a global flag given before the verb ("--log-level debug" or "--log-level=debug").
// The command line parser consumed it already, so read our own argv.
std::optional<std::string> globalFlag(std::string_view flag) {
  auto cmdline = readFile("/proc/self/cmdline");
  if (!cmdline) return std::nullopt;
  std::vector<std::string_view> argv = splitOn(*cmdline, '\0');
  for (size_t i = 1; i < argv.size(); ++i) {
    std::string_view arg = argv[i];
    if (arg == "run") break;
    if (arg == flag && i + 1 < argv.size()) return std::string(argv[i + 1]);
    if (arg.size() > flag.size() && arg.substr(0, flag.size()) == flag && arg[flag.size()] == '=') {
      return std::string(arg.substr(flag.size() + 1));
    }
  }
  return std::nullopt;
}

}  // namespace

int commandRun(const std::vector<std::string>& args) {
  std::string configPath = kDefaultConfig;
  AgentOptions options;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--help" || a == "-h") {
      std::printf("%s", kRunUsage);
      return kExitOk;
    }
    if (a == "--leave-running") {
      options.leaveRunning = true;
    } else if (a == "--config" && i + 1 < args.size()) {
      configPath = args[++i];
    } else if (a.rfind("--config=", 0) == 0) {
      configPath = a.substr(9);
    } else {
      std::fprintf(stderr, "cgwarden run: unexpected argument \"%s\"\n%s", a.c_str(), kRunUsage);
      return kExitUsage;
    }
  }

  auto loaded = config::loadConfigFile(configPath);
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s", loaded.renderErrors().c_str());
    std::fprintf(stderr, "cgwarden run: %zu error(s) in %s; nothing started\n", loaded.errors.size(), configPath.c_str());
    return kExitUsage;
  }
  const config::AgentSpec& agentSpec = loaded.value->agent;
  auto level = globalFlag("--log-level");
  auto format = globalFlag("--log-format");
  if (!level || !format) {
    auto fmt = parseLogFormat(format.value_or(agentSpec.logFormat));
    Status st = fmt ? setupLogging(level.value_or(agentSpec.logLevel), *fmt) : Status(fmt.error());
    if (!st) {
      std::fprintf(stderr, "cgwarden run: %s\n", st.error().message().c_str());
      return kExitUsage;
    }
  }

  Agent agent(std::move(*loaded.value), options);
  auto serving = std::make_unique<ServingComponent>();
  ServingComponent* servingPtr = serving.get();
  agent.addComponent(std::move(serving));

  // Adoption: `adopt:` rules and POST /api/v1/adopt; adopted workloads join the supervisor.
  auto adopter = std::make_unique<AdopterComponent>([servingPtr] { return &servingPtr->metrics(); });
  AdopterComponent* adopterPtr = adopter.get();
  agent.addComponent(std::move(adopter));

  PolicerHooks policeHooks;
  policeHooks.server = [servingPtr] { return &servingPtr->server(); };
  policeHooks.registry = [servingPtr] { return &servingPtr->metrics().registry(); };
  policeHooks.snapshots = [servingPtr] { return servingPtr->metrics().latest(); };
  policeHooks.everyTick = [servingPtr](uint32_t sections) {
    collectors::Sampler& sampler = servingPtr->metrics().sampler();
    sampler.setEveryTick(sections | sampler.options().everyTick);  // the rules' and agent.sample_every_tick
  };
  auto police = std::make_unique<PolicerComponent>(std::move(policeHooks));
  PolicerComponent* policePtr = police.get();
  agent.addComponent(std::move(police));

  // Reload (SIGHUP and POST /api/v1/reload): the reloader is created once the supervisor exists.
  std::unique_ptr<ConfigReloader> reloader;
  std::mutex reloaderMutex;
  auto reload = [&]() -> ReloadReport {
    std::lock_guard lock(reloaderMutex);
    if (!reloader) {
      reloader = std::make_unique<ConfigReloader>(
          agent.config(), std::make_unique<SupervisorReloadTarget>(agent.supervisor()),
          [policePtr](std::vector<config::PolicyRule> rules) { policePtr->setRules(std::move(rules)); });
    }
    return reloader->reloadFile();
  };
  agent.onHangup([&reload] { (void)reload(); });

  ControlApiHooks apiHooks;
  apiHooks.server = [servingPtr] { return &servingPtr->server(); };
  apiHooks.snapshots = [servingPtr] { return servingPtr->metrics().latest(); };
  apiHooks.events = policePtr->eventsFn();
  apiHooks.adopt = adopterPtr->adoptFn();
  apiHooks.reload = [&reload]() -> Result<ReloadOutcome> {
    ReloadReport report = reload();
    ReloadOutcome out;
    out.errors = report.errors;
    out.changes = report.changes;
    for (const auto& f : report.failures) out.changes.push_back("failed: " + f);
    return out;
  };
  agent.addComponent(std::make_unique<ControlApiComponent>(std::move(apiHooks)));
  if (auto st = agent.start(); !st) {
    spdlog::error("{}", st.error().message());
    agent.stop();
    return kExitFailure;
  }
  spdlog::info("cgwarden running; SIGTERM or SIGINT stops it{}", agent.leaveRunning() ? " (workloads are left running)" : "");
  agent.run();
  agent.stop();
  return kExitOk;
}

}  // namespace cgwarden::agent
