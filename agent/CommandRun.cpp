#include <spdlog/spdlog.h>

#include <cstdio>

#include "agent/Cgroup.h"
#include "agent/Commands.h"

namespace cgwarden::agent {

// Foundation stage: detects the cgroup mode and prepares the managed root.
// The launch issue replaces this with the supervisor.
int commandRun(const std::vector<std::string>& args) {
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
    std::printf("usage: cgwarden run [--config FILE]\n");
    return kExitOk;
  }
  auto layout = CgroupLayout::detect();
  if (!layout) {
    spdlog::error("{}", layout.error().message());
    return kExitFailure;
  }
  spdlog::info("{}", layout->describe());
  auto manager = CgroupManager::create(*layout, "cgwarden");
  if (!manager) {
    spdlog::error("{}", manager.error().message());
    return kExitFailure;
  }
  if (auto st = (*manager)->prepareRoot(); !st) {
    spdlog::error("{}", st.error().message());
    return kExitFailure;
  }
  spdlog::info("cgroup root /{} ready", (*manager)->root());
  return kExitOk;
}

}  // namespace cgwarden::agent
