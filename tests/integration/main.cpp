// The privileged suite: root and real cgroups. Skips loudly only where those are missing.
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdio>
#include <string>

#include "agent/Cgroup.h"
#include "agent/CgroupCommon.h"
#include "collectors/FileIo.h"
#include "integration/CgroupFixture.h"

namespace {

// Removes "cgwarden-test-<pid>" subtrees left by runs that crashed (their pid is gone).
void removeStaleTestRoots() {
  auto layout = cgwarden::collectors::CgroupLayout::detect();
  if (!layout) return;
  std::vector<std::string> mounts = layout->v1MountPoints();
  if (!layout->unifiedMount.empty()) mounts.push_back(layout->unifiedMount);
  for (const auto& mount : mounts) {
    auto dirs = cgwarden::agent::detail::listSubdirs(mount);
    if (!dirs) continue;
    for (const auto& name : *dirs) {
      const std::string prefix = "cgwarden-test-";
      if (name.rfind(prefix, 0) != 0) continue;
      pid_t owner = static_cast<pid_t>(std::atoi(name.c_str() + prefix.size()));
      if (owner > 0 && (::kill(owner, 0) == 0 || errno != ESRCH)) continue;
      auto manager = cgwarden::agent::CgroupManager::create(*layout, name);
      if (manager) (void)(*manager)->destroyTree(std::chrono::seconds(5));
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  std::string why = cgwarden::testing::privilegedSkipReason();
  if (!why.empty()) {
    std::fprintf(stderr,
                 "\n*** WARNING: the integration suite needs root and cgroups; %s. "
                 "Every test will be SKIPPED. ***\n\n",
                 why.c_str());
  } else {
    removeStaleTestRoots();
  }
  ::signal(SIGPIPE, SIG_IGN);
  return RUN_ALL_TESTS();
}
