// state.json: round trip of every spec field, errors naming the key, pid-reuse check.
#include <gtest/gtest.h>
#include <unistd.h>

#include "unit/TempTree.h"
#include "agent/SupervisorState.h"

namespace cgwarden::agent {
namespace {

StateEntry fullEntry() {
  StateEntry e;
  e.kind = WorkloadKind::Launched;
  e.state = "running";
  e.pid = 4242;
  e.startTicks = 987654321;
  e.restarts = 3;
  e.oomKills = 1;
  e.oomCounterAtStart = 7;
  e.startedAtMs = 1764619200123;
  config::WorkloadSpec& s = e.spec;
  s.name = "web";
  s.command = {"/usr/sbin/nginx", "-g", "daemon off;"};
  s.env = {{"A", "1"}, {"B", "two words"}};
  s.workingDir = "/srv";
  s.uid = 1000;
  s.gid = 1001;
  s.user = "www";
  s.group = "www";
  s.labels = {{"team", "edge"}};
  s.image = "nginx:1.25";
  s.namespaces.net = false;
  s.namespaces.cgroup = false;
  s.hostname = "web";
  s.rlimits.push_back({7, 1024, 4096});
  s.limits.cpu.quotaUs = 50000;
  s.limits.cpu.periodUs = 100000;
  s.limits.cpu.cpus = "0-1";
  s.limits.memory.max = 64ull << 20;
  s.limits.memory.swapMax = kUnlimited;
  s.limits.pids.max = 32;
  s.limits.io.weight = 200;
  s.limits.io.devices.push_back({8, 0, 1000000, std::nullopt, std::nullopt, 50});
  s.restart.policy = config::RestartPolicy::Always;
  s.restart.maxRestarts = 0;
  s.restart.initialBackoff = std::chrono::milliseconds(250);
  s.restart.maxBackoff = std::chrono::milliseconds(4000);
  s.restart.resetAfter = std::chrono::milliseconds(9000);
  s.stopSignal = SIGQUIT;
  s.stopGrace = std::chrono::milliseconds(1500);
  s.stdoutSpec.mode = config::OutputSpec::Mode::File;
  s.stdoutSpec.path = "/var/log/web.log";
  s.stdoutSpec.rotateBytes = 1234;
  s.stdoutSpec.keep = 2;
  s.stderrSpec.mode = config::OutputSpec::Mode::Null;
  return e;
}

TEST(SupervisorStateTest, RoundTripKeepsEveryField) {
  AgentState state;
  state.workloads.push_back(fullEntry());
  StateEntry adopted;
  adopted.kind = WorkloadKind::Adopted;
  adopted.spec.name = "legacy";
  adopted.spec.labels = {{"owner", "ops"}};
  adopted.spec.limits.memory.max = 1 << 30;
  adopted.pid = 77;
  adopted.startTicks = 5;
  state.workloads.push_back(adopted);

  std::string text = stateToJson(state);
  auto back = stateFromJson(text, "state.json");
  ASSERT_TRUE(back.ok()) << back.error().message();
  ASSERT_EQ(back->workloads.size(), 2u);
  EXPECT_TRUE(back->workloads[0] == state.workloads[0]);
  EXPECT_TRUE(back->workloads[1] == state.workloads[1]);
  const config::WorkloadSpec& s = back->workloads[0].spec;
  EXPECT_EQ(s.command, fullEntry().spec.command);
  EXPECT_EQ(s.limits, fullEntry().spec.limits);
  EXPECT_EQ(s.limits.memory.swapMax, kUnlimited);
  EXPECT_EQ(s.restart.policy, config::RestartPolicy::Always);
  EXPECT_EQ(s.restart.initialBackoff.count(), 250);
  EXPECT_EQ(s.stopSignal, SIGQUIT);
  EXPECT_EQ(s.stdoutSpec.path, "/var/log/web.log");
  EXPECT_EQ(s.stderrSpec.mode, config::OutputSpec::Mode::Null);
  EXPECT_FALSE(s.namespaces.net);
  EXPECT_EQ(back->workloads[0].pid, 4242);
  EXPECT_EQ(back->workloads[0].startTicks, 987654321u);
  EXPECT_EQ(back->workloads[0].restarts, 3u);
  EXPECT_EQ(back->workloads[0].oomCounterAtStart, 7u);
  EXPECT_EQ(back->workloads[0].startedAtMs, 1764619200123);
  EXPECT_EQ(back->workloads[1].kind, WorkloadKind::Adopted);
  EXPECT_EQ(stateToJson(*back), text);
}

TEST(SupervisorStateTest, ErrorsNameTheFileAndKey) {
  auto bad = stateFromJson(R"({"version":1,"workloads":[{"kind":"launched","spec":{"name":"a","limits":{"cpu":{"weight":"x"}}}}]})",
                           "/s/state.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("/s/state.json"), std::string::npos) << bad.error().message();
  EXPECT_NE(bad.error().message().find("workloads[0].spec.limits.cpu.weight: not an integer"), std::string::npos)
      << bad.error().message();
  EXPECT_FALSE(stateFromJson("{not json", "x").ok());
  auto version = stateFromJson(R"({"version":2})", "x");
  ASSERT_FALSE(version.ok());
  EXPECT_NE(version.error().message().find("unsupported state version 2"), std::string::npos);
  auto kind = stateFromJson(R"({"version":1,"workloads":[{"kind":"borrowed","spec":{"name":"a"}}]})", "x");
  ASSERT_FALSE(kind.ok());
  EXPECT_NE(kind.error().message().find("workloads[0].kind: unknown kind \"borrowed\""), std::string::npos);
}

TEST(SupervisorStateTest, FileWriteIsReadBackAndAMissingFileIsEmpty) {
  testing::TempTree tree;
  std::string path = tree.path("sub/dir/state.json");
  auto missing = readStateFile(path);
  ASSERT_TRUE(missing.ok());
  EXPECT_TRUE(missing->workloads.empty());
  AgentState state;
  state.workloads.push_back(fullEntry());
  ASSERT_TRUE(writeStateFile(path, state).ok());
  auto back = readStateFile(path);
  ASSERT_TRUE(back.ok()) << back.error().message();
  ASSERT_EQ(back->workloads.size(), 1u);
  EXPECT_TRUE(back->workloads[0] == state.workloads[0]);
}

TEST(SupervisorStateTest, StartTimeMismatchMeansAnotherProcess) {
  testing::TempTree proc;
  proc.mkdir("100");
  proc.write("100/stat", "100 (sleep) S 1 100 100 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 5000 0 0\n");
  proc.mkdir("101");
  proc.write("101/stat", "101 (dead one) Z 1 101 101 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 6000 0 0\n");
  EXPECT_TRUE(sameProcessAlive(100, 5000, proc.root()));
  EXPECT_FALSE(sameProcessAlive(100, 4999, proc.root())) << "pid reused by a later process";
  EXPECT_FALSE(sameProcessAlive(101, 6000, proc.root())) << "a zombie is dead";
  EXPECT_FALSE(sameProcessAlive(102, 1, proc.root())) << "no such pid";
  EXPECT_EQ(processStartTicks(100, proc.root()), std::optional<uint64_t>(5000));

  auto self = processStartTicks(::getpid());
  ASSERT_TRUE(self.has_value());
  EXPECT_TRUE(sameProcessAlive(::getpid(), *self));
  EXPECT_FALSE(sameProcessAlive(::getpid(), *self + 1));
}

}  // namespace
}  // namespace cgwarden::agent

namespace cgwarden::agent {
namespace {

TEST(SupervisorStateTest, FilesWithoutTheNewerKeysStillLoad) {
  auto back = stateFromJson(R"({"version":1,"workloads":[{"name":"web","kind":"launched","state":"running",
      "pid":4242,"start_ticks":9,"restarts":0,"oom_kills":0,"spec":{"name":"web","command":["x"]}}]})",
                            "state.json");
  ASSERT_TRUE(back.ok()) << back.error().message();
  EXPECT_EQ(back->workloads[0].oomCounterAtStart, 0u);
  EXPECT_EQ(back->workloads[0].startedAtMs, 0);
}

}  // namespace
}  // namespace cgwarden::agent
