#include <gtest/gtest.h>
#include <sys/resource.h>

#include "agent/ApiJson.h"
#include "agent/WorkloadTable.h"
#include "config/Loader.h"

namespace cgwarden::agent {
namespace {

using nlohmann::json;

TEST(ApiJsonTest, LimitsRenderInTheConfigSchemaAndParseBackEqual) {
  Limits l;
  l.cpu.quotaUs = 50000;
  l.cpu.periodUs = 100000;
  l.cpu.weight = 200;
  l.cpu.cpus = "0-1";
  l.memory.max = 64 << 20;
  l.memory.high = kUnlimited;
  l.memory.low = 1 << 20;
  l.memory.swapMax = 0;
  l.pids.max = kUnlimited;
  l.io.weight = 300;
  IoDeviceLimit d;
  d.major = 254;
  d.minor = 0;
  d.readBps = 10'000'000;
  d.writeIops = kUnlimited;
  l.io.devices.push_back(d);
  json j = limitsToJson(l);
  EXPECT_EQ(j, json::parse(R"({"cpu":{"quota":50000,"period":100000,"weight":200,"cpus":"0-1"},
                               "memory":{"max":67108864,"high":"max","low":1048576,"swap":0},
                               "pids":{"max":"max"},
                               "io":{"weight":300,"devices":[{"device":"254:0","rbps":10000000,"wiops":"max"}]}})"));
  auto back = config::parseLimitsText(j.dump(), "test");
  ASSERT_TRUE(back.ok()) << back.renderErrors();
  EXPECT_EQ(*back.value, l);
  EXPECT_EQ(limitsToJson(Limits{}), json::object());
}

TEST(ApiJsonTest, AWorkloadSpecRoundTripsThroughTheLoader) {
  config::WorkloadSpec s;
  s.name = "web";
  s.command = {"/usr/bin/env", "a b", "--x=1"};
  s.env = {{"MODE", "fast"}, {"EMPTY", ""}};
  s.workingDir = "/tmp";
  s.labels = {{"team", "a"}};
  s.image = "local/web:1";
  s.namespaces.net = false;
  s.hostname = "box";
  s.rlimits.push_back({RLIMIT_NOFILE, 1024, 4096});
  s.rlimits.push_back({RLIMIT_CORE, 0, RLIM_INFINITY});
  s.limits.memory.max = 32 << 20;
  s.limits.pids.max = 8;
  s.restart.policy = config::RestartPolicy::Always;
  s.restart.maxRestarts = 7;
  s.restart.initialBackoff = std::chrono::milliseconds(250);
  s.restart.maxBackoff = std::chrono::milliseconds(5000);
  s.restart.resetAfter = std::chrono::milliseconds(90000);
  s.stopSignal = SIGINT;
  s.stopGrace = std::chrono::milliseconds(1500);
  s.stdoutSpec.mode = config::OutputSpec::Mode::Null;
  s.stderrSpec.mode = config::OutputSpec::Mode::File;
  s.stderrSpec.path = "/var/log/web.err";
  s.stderrSpec.rotateBytes = 1 << 20;
  s.stderrSpec.keep = 2;
  auto back = config::parseWorkloadText(workloadSpecToJson(s).dump(), "test");
  ASSERT_TRUE(back.ok()) << back.renderErrors() << "\n" << workloadSpecToJson(s).dump(2);
  const auto& b = *back.value;
  EXPECT_EQ(b.name, s.name);
  EXPECT_EQ(b.command, s.command);
  EXPECT_EQ(b.env, s.env);
  EXPECT_EQ(b.workingDir, s.workingDir);
  EXPECT_EQ(b.labels, s.labels);
  EXPECT_EQ(b.image, s.image);
  EXPECT_FALSE(b.namespaces.net);
  EXPECT_TRUE(b.namespaces.pid);
  EXPECT_EQ(b.hostname, "box");
  ASSERT_EQ(b.rlimits.size(), 2u);
  EXPECT_EQ(b.limits, s.limits);
  EXPECT_EQ(b.restart.policy, config::RestartPolicy::Always);
  EXPECT_EQ(b.restart.maxRestarts, 7u);
  EXPECT_EQ(b.restart.initialBackoff, s.restart.initialBackoff);
  EXPECT_EQ(b.restart.maxBackoff, s.restart.maxBackoff);
  EXPECT_EQ(b.restart.resetAfter, s.restart.resetAfter);
  EXPECT_EQ(b.stopSignal, SIGINT);
  EXPECT_EQ(b.stopGrace, s.stopGrace);
  EXPECT_EQ(b.stdoutSpec.mode, config::OutputSpec::Mode::Null);
  EXPECT_EQ(b.stderrSpec.mode, config::OutputSpec::Mode::File);
  EXPECT_EQ(b.stderrSpec.path, "/var/log/web.err");
  EXPECT_EQ(b.stderrSpec.rotateBytes, 1u << 20);
  EXPECT_EQ(b.stderrSpec.keep, 2u);
}

TEST(ApiJsonTest, NestingDepthSkipsStrings) {
  EXPECT_EQ(jsonNestingDepth("1"), 0u);
  EXPECT_EQ(jsonNestingDepth("[[1],[2]]"), 2u);
  EXPECT_EQ(jsonNestingDepth(R"({"a":"[[[[","b":{"c":[]}})"), 3u);
  EXPECT_EQ(jsonNestingDepth(R"({"a":"\"[[[","b":1})"), 1u);
  EXPECT_EQ(jsonNestingDepth(std::string(1000, '[')), 1000u);
}

TEST(ApiJsonTest, LineColumnAndFormatting) {
  EXPECT_EQ(lineColumnOf("ab\ncd\nef", 0), std::make_pair(1, 1));
  EXPECT_EQ(lineColumnOf("ab\ncd\nef", 4), std::make_pair(2, 2));
  EXPECT_EQ(lineColumnOf("ab\ncd\nef", 6), std::make_pair(3, 1));
  EXPECT_EQ(formatBytes(0), "0B");
  EXPECT_EQ(formatBytes(1023), "1023B");
  EXPECT_EQ(formatBytes(1536), "1.5Ki");
  EXPECT_EQ(formatBytes(64 << 20), "64Mi");
  EXPECT_EQ(formatBytes(25.3 * (1 << 20)), "25.3Mi");
  EXPECT_EQ(formatBytes(300.0 * (1 << 30)), "300Gi");
  EXPECT_EQ(formatDuration(5.9), "5s");
  EXPECT_EQ(formatDuration(312), "5m12s");
  EXPECT_EQ(formatDuration(7260), "2h1m");
  EXPECT_EQ(formatDuration(90061), "1d1h");
  EXPECT_EQ(isoTime(0.0), "");
  EXPECT_EQ(isoTime(1795839437.123), "2026-11-28T04:17:17.123Z");
}

json sample() {
  return json::parse(R"([
    {"name":"web","state":"running","pid":4242,"frozen":false,"restarts":1,"uptime_seconds":312.4,
     "limits":{"memory":{"max":67108864}},
     "usage":{"cpu_percent":12.5,"memory_bytes":25270272,"memory_limit_bytes":67108864,"tasks":3,
              "io_read_bytes_per_second":1024,"io_write_bytes_per_second":0}},
    {"name":"db","state":"running","kind":"adopted","pid":77,"frozen":true,"restarts":0,"uptime_seconds":5,
     "limits":{},"usage":{"cpu_percent":80,"memory_bytes":1048576,"memory_limit_bytes":null,"tasks":9}},
    {"name":"old","state":"stopped","pid":null,"frozen":null,"restarts":2,"uptime_seconds":null,
     "limits":{"memory":{"max":1048576}},"usage":null,"pids":[]}
  ])");
}

TEST(WorkloadTableTest, PsRowsFromTheApiJson) {
  EXPECT_EQ(psTable(sample()).render(),
            "NAME  STATE           KIND       PID    CPU      MEM/LIMIT  PIDS  RESTARTS  UPTIME\n"
            "web   running         launched  4242  12.5%  24.1Mi / 64Mi     3         1   5m12s\n"
            "db    running,frozen  adopted     77  80.0%        1Mi / -     9         0      5s\n"
            "old   stopped         launched     -      -        - / 1Mi     -         2       -\n");
}

TEST(WorkloadTableTest, TopSortsByCpuMemoryOrNameAndCutsToTheWidth) {
  std::string byCpu = topTable(sample(), TopSort::Cpu).render();
  EXPECT_EQ(byCpu,
            "NAME  STATE            CPU%     MEM   MEM%  LIMIT  IO-R/s  IO-W/s  PIDS  RESTARTS\n"
            "db    running,frozen  80.0%     1Mi      -      -       -       -     9         0\n"
            "web   running         12.5%  24.1Mi  37.7%   64Mi   1Ki/s    0B/s     3         1\n"
            "old   stopped             -       -      -    1Mi       -       -     -         2\n");
  std::string byMem = topTable(sample(), TopSort::Memory).render();
  EXPECT_LT(byMem.find("\nweb "), byMem.find("\ndb "));
  std::string byName = topTable(sample(), TopSort::Name).render();
  EXPECT_LT(byName.find("\ndb "), byName.find("\nold "));
  EXPECT_LT(byName.find("\nold "), byName.find("\nweb "));
  for (auto line : {topTable(sample(), TopSort::Cpu).render(20)}) {
    size_t start = 0;
    for (size_t nl = line.find('\n'); nl != std::string::npos; start = nl + 1, nl = line.find('\n', start)) {
      EXPECT_LE(nl - start, 20u);
    }
  }
}

}  // namespace
}  // namespace cgwarden::agent
