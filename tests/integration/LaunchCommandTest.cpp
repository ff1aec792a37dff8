// The real binary: `cgwarden exec` and `cgwarden run`.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "integration/AgentProcess.h"
#include "integration/CgroupFixture.h"
#include "integration/LaunchHelpers.h"

namespace cgwarden::testing {
namespace {

using namespace std::chrono_literals;

using Cli = BinaryProcess;

class LaunchCommandTest : public CgroupTest {
 protected:
  // Whether "<root>/<name>" exists in any hierarchy.
  bool cgroupExists(const std::string& name) const {
    std::vector<std::string> mounts = layout_.v1MountPoints();
    if (!layout_.unifiedMount.empty()) mounts.push_back(layout_.unifiedMount);
    for (const auto& m : mounts) {
      if (pathExists(joinPath(joinPath(m, testCgroupRoot()), name))) return true;
    }
    return false;
  }

  // The directory holding `controller`'s files for "<root>/<name>" on this host.
  std::string dirOf(const std::string& controller, const std::string& name) const {
    std::string mount = layout_.mode == collectors::CgroupMode::V2 ? layout_.unifiedMount : layout_.v1Mounts.at(controller);
    return joinPath(joinPath(mount, testCgroupRoot()), name);
  }

  // Waits until "<root>/<name>" holds a process.
  bool waitPopulated(const std::string& name, std::chrono::milliseconds timeout = 20s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (auto cg = manager_->open(name)) {
        if (auto p = (*cg)->pids(); p && !p->empty()) return true;
      }
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

  std::string writeConfig(const std::string& file, const std::string& text) {
    std::string path = joinPath(launchTempDir(), file);
    std::ofstream(path) << text;
    return path;
  }
};

TEST_F(LaunchCommandTest, ExecReturnsTheExitStatusWithTheLimitsAppliedAndLeavesNoCgroup) {
  bool v2 = layout_.mode == collectors::CgroupMode::V2;
  std::string memFile = joinPath(dirOf("memory", "e1"), v2 ? "memory.max" : "memory.limit_in_bytes");
  std::string pidsFile = joinPath(dirOf("pids", "e1"), "pids.max");
  Cli cli({"exec", "--cgroup-root", testCgroupRoot(), "--name", "e1", "--memory", "64Mi", "--cpus", "0.5", "--pids", "32",
           "--", "sh", "-c", "cat " + memFile + " " + pidsFile + "; exit 7"});
  EXPECT_EQ(cli.wait(), 7) << cli.err();
  EXPECT_EQ(cli.out(), "67108864\n32\n") << cli.err();
  EXPECT_FALSE(cgroupExists("e1"));

  Cli killed({"exec", "--cgroup-root", testCgroupRoot(), "--name", "e2", "--", "sh", "-c", "kill -KILL $$"});
  EXPECT_EQ(killed.wait(), 128 + SIGKILL) << killed.err();
  EXPECT_FALSE(cgroupExists("e2"));
}

TEST_F(LaunchCommandTest, ExecReportsAMissingBinaryAndCleansUp) {
  Cli cli({"exec", "--cgroup-root", testCgroupRoot(), "--name", "e3", "--", "/nonexistent/tool"});
  EXPECT_EQ(cli.wait(), 127);
  EXPECT_NE(cli.err().find("exec /nonexistent/tool: No such file or directory (ENOENT)"), std::string::npos) << cli.err();
  EXPECT_FALSE(cgroupExists("e3"));

  Cli usage({"exec", "--memory", "64Q", "--", "true"});
  EXPECT_EQ(usage.wait(), 2);
  EXPECT_NE(usage.err().find("--memory: \"64Q\" is not a size"), std::string::npos) << usage.err();
}

TEST_F(LaunchCommandTest, ExecForwardsSignalsToTheCommand) {
  std::string ready = joinPath(launchTempDir(), "exec-ready");
  ::unlink(ready.c_str());
  Cli cli({"exec", "--cgroup-root", testCgroupRoot(), "--name", "e4", "--", "sh", "-c",
           "trap 'exit 9' TERM; touch " + ready + "; while :; do sleep 0.05; done"});
  for (int i = 0; i < 1000 && !pathExists(ready); ++i) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(pathExists(ready)) << cli.err();
  ::kill(cli.pid(), SIGTERM);
  EXPECT_EQ(cli.wait(), 9) << cli.err();
  EXPECT_FALSE(cgroupExists("e4"));
}

TEST_F(LaunchCommandTest, RunStartsTheWorkloadsAndStopsThemOnSigterm) {
  std::string config = writeConfig("run.yaml",
                                   "agent:\n"
                                   "  cgroup_root: " + testCgroupRoot() + "\n"
                                   "  state_dir: " + launchTempDir() + "/state\n"
                                   "workloads:\n"
                                   "  - name: ticker\n"
                                   "    command: [" + cgwardenBinary() + ", stress, --sleep]\n"
                                   "    limits:\n"
                                   "      pids: {max: 8}\n"
                                   "    stdout: file\n"
                                   "  - name: broken\n"
                                   "    command: [/nonexistent/daemon]\n");
  Cli cli({"--log-level", "debug", "run", "--config", config});
  ASSERT_TRUE(waitPopulated("ticker")) << cli.err();
  EXPECT_EQ(readNumber(dirOf("pids", "ticker"), "pids.max"), 8u);
  ::kill(cli.pid(), SIGTERM);
  EXPECT_EQ(cli.wait(), 0) << cli.err();
  EXPECT_NE(cli.err().find("workload broken: launch broken: exec /nonexistent/daemon"), std::string::npos) << cli.err();
  EXPECT_NE(cli.err().find("debug"), std::string::npos) << "--log-level wins over the config";
  EXPECT_FALSE(cgroupExists("ticker")) << cli.err();
  EXPECT_FALSE(cgroupExists("broken")) << cli.err();
  EXPECT_TRUE(pathExists(launchTempDir() + "/state/logs/ticker.log"));
}

TEST_F(LaunchCommandTest, RunWithLeaveRunningLeavesTheWorkloadsInTheirCgroups) {
  std::string config = writeConfig("leave.yaml",
                                   "agent:\n"
                                   "  cgroup_root: " + testCgroupRoot() + "\n"
                                   "  state_dir: " + launchTempDir() + "/state\n"
                                   "workloads:\n"
                                   "  - name: survivor\n"
                                   "    command: [" + cgwardenBinary() + ", stress, --sleep]\n");
  Cli cli({"run", "--config", config, "--leave-running"});
  ASSERT_TRUE(waitPopulated("survivor")) << cli.err();
  ::kill(cli.pid(), SIGINT);
  EXPECT_EQ(cli.wait(), 0) << cli.err();
  std::this_thread::sleep_for(200ms);
  auto cg = manager_->open("survivor");
  ASSERT_TRUE(cg.ok()) << cli.err();
  auto members = (*cg)->pids();
  ASSERT_TRUE(members.ok());
  EXPECT_FALSE(members->empty()) << "the workload outlives the agent";
  // TearDown's destroyTree kills it.
}

TEST_F(LaunchCommandTest, RunRejectsABadConfigAndCreatesNothing) {
  std::string config = writeConfig("bad.yaml",
                                   "agent:\n"
                                   "  cgroup_root: " + testCgroupRoot() + "\n"
                                   "workloads:\n"
                                   "  - name: web\n"
                                   "    command: [true]\n"
                                   "    limits:\n"
                                   "      memory: {max: 64Q}\n");
  Cli cli({"run", "--config", config});
  EXPECT_EQ(cli.wait(), 2);
  EXPECT_NE(cli.err().find("bad.yaml:7:"), std::string::npos) << cli.err();
  EXPECT_NE(cli.err().find("workloads[0].limits.memory.max"), std::string::npos) << cli.err();
  EXPECT_FALSE(cgroupExists("web"));
}

}  // namespace
}  // namespace cgwarden::testing
