// The exec action's hook runner on real processes: stdin, environment, exit status, timeout.
#include <gtest/gtest.h>

#include "agent/HookRunner.h"

namespace cgwarden::agent {
namespace {

using namespace std::chrono_literals;

TEST(HookRunnerTest, InputOnStdinAndEnvironment) {
  ProcessHookRunner runner;
  HookRequest r;
  r.command = {"/bin/sh", "-c", "read line; test \"$line\" = '{\"rule\":\"guard\"}' && test \"$CGWARDEN_RULE\" = guard"};
  r.input = "{\"rule\":\"guard\"}\n";
  r.env = {{"CGWARDEN_RULE", "guard"}};
  auto exit = runner.run(r);
  ASSERT_TRUE(exit.ok()) << exit.error().message();
  EXPECT_EQ(exit->code, 0);
  EXPECT_FALSE(exit->signaled);
}

TEST(HookRunnerTest, ExitCodeAndAHookThatIgnoresStdin) {
  ProcessHookRunner runner;
  HookRequest r;
  r.command = {"sh", "-c", "exit 7"};  // found in PATH
  r.input = std::string(200000, 'x');  // more than a pipe holds: must not block
  auto exit = runner.run(r);
  ASSERT_TRUE(exit.ok()) << exit.error().message();
  EXPECT_EQ(exit->code, 7);
}

TEST(HookRunnerTest, TimeoutKillsTheWholeGroup) {
  ProcessHookRunner runner;
  HookRequest r;
  r.command = {"/bin/sh", "-c", "sleep 30 & sleep 30"};
  r.timeout = 100ms;
  auto exit = runner.run(r);
  ASSERT_FALSE(exit.ok());
  EXPECT_EQ(exit.error().message(), "exec /bin/sh: timed out after 100ms (killed)");
}

TEST(HookRunnerTest, MissingProgram) {
  ProcessHookRunner runner;
  HookRequest r;
  r.command = {"/nonexistent/dump-heap"};
  auto exit = runner.run(r);
  ASSERT_FALSE(exit.ok());
  EXPECT_EQ(exit.error().errnum, ENOENT);
  EXPECT_EQ(exit.error().path, "/nonexistent/dump-heap");
}

}  // namespace
}  // namespace cgwarden::agent
