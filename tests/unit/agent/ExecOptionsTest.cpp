#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "agent/ExecOptions.h"
#include "agent/ExitStatus.h"

namespace cgwarden::agent {
namespace {

TEST(ExecOptionsTest, ParsesLimitsAndCommand) {
  auto o = parseExecArgs({"--memory", "64Mi", "--cpus", "0.5", "--pids", "32", "--memory-swap=0", "--cpuset", "0",
                          "--io-weight", "200", "--name", "job", "--hostname", "box", "--", "/bin/echo", "-n", "hi"});
  ASSERT_TRUE(o.ok()) << o.error().message();
  const auto& s = o->spec;
  EXPECT_EQ(s.limits.memory.max, 64u << 20);
  EXPECT_EQ(s.limits.memory.swapMax, 0u);
  EXPECT_EQ(s.limits.cpu.quotaUs, 50000u);
  EXPECT_EQ(s.limits.cpu.periodUs, 100000u);
  EXPECT_EQ(s.limits.pids.max, 32u);
  EXPECT_EQ(s.limits.cpu.cpus, "0");
  EXPECT_EQ(s.limits.io.weight, 200u);
  EXPECT_EQ(s.name, "job");
  EXPECT_TRUE(o->nameGiven);
  EXPECT_EQ(s.hostname, "box");
  EXPECT_EQ(s.command, (std::vector<std::string>{"/bin/echo", "-n", "hi"}));
  EXPECT_TRUE(s.namespaces.pid && s.namespaces.net && s.namespaces.cgroup);
  EXPECT_EQ(s.restart.policy, config::RestartPolicy::Never);
}

TEST(ExecOptionsTest, CommandMayFollowOptionsWithoutDoubleDash) {
  auto o = parseExecArgs({"--pids", "4", "sleep", "--not-an-option"});
  ASSERT_TRUE(o.ok()) << o.error().message();
  EXPECT_EQ(o->spec.command, (std::vector<std::string>{"sleep", "--not-an-option"}));
}

TEST(ExecOptionsTest, NamespacesSwitches) {
  auto host = parseExecArgs({"--net", "host", "--", "true"});
  ASSERT_TRUE(host.ok());
  EXPECT_FALSE(host->spec.namespaces.net);
  EXPECT_TRUE(host->spec.namespaces.pid);
  auto none = parseExecArgs({"--no-ns", "--", "true"});
  ASSERT_TRUE(none.ok());
  const auto& ns = none->spec.namespaces;
  EXPECT_FALSE(ns.pid || ns.mount || ns.uts || ns.ipc || ns.net || ns.cgroup);
}

TEST(ExecOptionsTest, RlimitsEnvAndUser) {
  auto o = parseExecArgs({"--rlimit", "nofile=64:128", "--rlimit", "core=unlimited", "--env", "A=b=c", "--user", "0",
                          "--workdir", "/tmp", "--", "true"});
  ASSERT_TRUE(o.ok()) << o.error().message();
  ASSERT_EQ(o->spec.rlimits.size(), 2u);
  EXPECT_EQ(o->spec.rlimits[0].resource, RLIMIT_NOFILE);
  EXPECT_EQ(o->spec.rlimits[0].soft, 64u);
  EXPECT_EQ(o->spec.rlimits[0].hard, 128u);
  EXPECT_EQ(o->spec.rlimits[1].soft, static_cast<uint64_t>(RLIM_INFINITY));
  EXPECT_EQ(o->spec.env.at("A"), "b=c");
  EXPECT_EQ(o->spec.uid, 0u);
  EXPECT_EQ(o->spec.workingDir, "/tmp");
}

TEST(ExecOptionsTest, ErrorsNameTheFlag) {
  auto expectError = [](std::vector<std::string> args, const std::string& needle) {
    auto o = parseExecArgs(args);
    ASSERT_FALSE(o.ok());
    EXPECT_NE(o.error().message().find(needle), std::string::npos) << o.error().message();
  };
  expectError({"--memory", "64Q", "--", "true"}, "--memory: \"64Q\" is not a size");
  expectError({"--cpus", "lots", "--", "true"}, "--cpus: \"lots\" is not a number of cores");
  expectError({"--pids", "-3", "--", "true"}, "--pids");
  expectError({"--net", "bridge", "--", "true"}, "neither \"host\" nor \"none\"");
  expectError({"--bogus", "1", "--", "true"}, "--bogus: unknown option");
  expectError({"--memory", "1G"}, "command: missing");
  expectError({"--memory-swap", "1G", "--", "true"}, "needs --memory");
  expectError({"--memory"}, "needs a value");
  expectError({"--rlimit", "files=3", "--", "true"}, "unknown resource \"files\"");
}

TEST(ExitStatusTest, DecodesWaitStatuses) {
  ExitStatus code = ExitStatus::fromWaitStatus(3 << 8);
  EXPECT_FALSE(code.signaled);
  EXPECT_EQ(code.code, 3);
  EXPECT_EQ(code.shellCode(), 3);
  EXPECT_EQ(code.describe(), "exit code 3");
  ExitStatus killed = ExitStatus::fromWaitStatus(SIGKILL);
  EXPECT_TRUE(killed.signaled);
  EXPECT_EQ(killed.shellCode(), 137);
  EXPECT_EQ(killed.describe(), "killed by SIGKILL");
  EXPECT_EQ(signalName(SIGTERM), "SIGTERM");
}

}  // namespace
}  // namespace cgwarden::agent
