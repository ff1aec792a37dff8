#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>

#include "agent/Commands.h"
#include "unit/TempTree.h"

namespace cgwarden::agent {
namespace {

struct Outcome {
  int code;
  std::string out;
  std::string err;
};

Outcome runCheck(const std::vector<std::string>& args) {
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  int code = commandCheck(args);
  std::fflush(stdout);
  std::fflush(stderr);
  Outcome o{code, ::testing::internal::GetCapturedStdout(), ::testing::internal::GetCapturedStderr()};
  return o;
}

TEST(CommandCheckTest, ValidFileSaysOkWithTheWorkloadCount) {
  auto o = runCheck({std::string(CGWARDEN_SOURCE_DIR) + "/config/examples/demo.yaml"});
  EXPECT_EQ(o.code, kExitOk) << o.err;
  EXPECT_EQ(o.out, std::string(CGWARDEN_SOURCE_DIR) + "/config/examples/demo.yaml: ok, 3 workloads\n");
  EXPECT_EQ(o.err, "");
}

TEST(CommandCheckTest, BadFileListsEveryErrorAndExits2) {
  testing::TempTree t;
  t.write("bad.yaml",
          "workloads:\n"
          "  - name: web\n"
          "    command: [x]\n"
          "    limts: {}\n"
          "  - name: web\n"
          "    command: [x]\n"
          "    limits: {memory: {max: 64Q}}\n");
  t.write("good.yaml", "workloads:\n  - {name: a, command: [x]}\n");
  auto o = runCheck({t.path("good.yaml"), t.path("bad.yaml")});
  EXPECT_EQ(o.code, kExitUsage);
  EXPECT_EQ(o.out, t.path("good.yaml") + ": ok, 1 workload\n");
  const std::string f = t.path("bad.yaml");
  EXPECT_EQ(o.err, f + ":4:5: workloads[0].limts: unknown key (did you mean \"limits\"?)\n" + f +
                       ":5:11: workloads[1].name: duplicate workload name \"web\" (first at line 2)\n" + f +
                       ":7:28: workloads[1].limits.memory.max: \"64Q\" is not a size (e.g. 64Mi, 1.5G)\n" + f +
                       ": 3 errors\n");
}

TEST(CommandCheckTest, UsageErrors) {
  auto none = runCheck({});
  EXPECT_EQ(none.code, kExitUsage);
  EXPECT_THAT(none.err, ::testing::HasSubstr("usage: cgwarden check"));
  auto unknown = runCheck({"--frobnicate", "x.yaml"});
  EXPECT_EQ(unknown.code, kExitUsage);
  EXPECT_THAT(unknown.err, ::testing::HasSubstr("unknown option \"--frobnicate\""));
  auto help = runCheck({"--help"});
  EXPECT_EQ(help.code, kExitOk);
  EXPECT_THAT(help.out, ::testing::HasSubstr("usage: cgwarden check"));
  auto missing = runCheck({"/nonexistent/cgwarden.yaml"});
  EXPECT_EQ(missing.code, kExitUsage);
  EXPECT_EQ(missing.err,
            "/nonexistent/cgwarden.yaml: cannot read the config file: No such file or directory\n"
            "/nonexistent/cgwarden.yaml: 1 error\n");
}

}  // namespace
}  // namespace cgwarden::agent
