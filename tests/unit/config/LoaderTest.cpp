#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/resource.h>
#include <sys/stat.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "unit/TempTree.h"
#include "collectors/Conversions.h"
#include "collectors/Limits.h"
#include "collectors/Sampler.h"
#include "config/Loader.h"

namespace cgwarden::config {
namespace {

using std::chrono::milliseconds;
using ::testing::ElementsAre;

std::vector<std::string> errorsOf(std::string_view yaml) {
  auto loaded = parseConfigText(yaml, "t.yaml");
  EXPECT_EQ(loaded.value.has_value(), loaded.errors.empty());
  std::vector<std::string> out;
  for (const auto& e : loaded.errors) out.push_back(e.render());
  return out;
}

Config load(std::string_view yaml) {
  auto loaded = parseConfigText(yaml, "t.yaml");
  EXPECT_TRUE(loaded.ok()) << loaded.renderErrors();
  return loaded.value ? *loaded.value : Config{};
}

TEST(LoaderTest, EmptyDocumentGivesDefaults) {
  Config c = load("");
  EXPECT_EQ(c.agent.cgroupRoot, "cgwarden");
  EXPECT_EQ(c.agent.sampleInterval, milliseconds(1000));
  EXPECT_EQ(c.agent.listen, "127.0.0.1:9839");
  EXPECT_EQ(c.agent.logLevel, "info");
  EXPECT_EQ(c.agent.logFormat, "text");
  EXPECT_EQ(c.agent.stateDir, "/var/lib/cgwarden");
  EXPECT_FALSE(c.agent.leaveRunning);
  EXPECT_TRUE(c.workloads.empty());
  EXPECT_EQ(c.path, "t.yaml");
}

TEST(LoaderTest, EveryAgentKey) {
  Config c = load(R"(agent:
  cgroup_root: system.slice/cgw
  sample_interval: 250ms
  detail_interval: 5s
  sample_every_tick: [io, tasks]
  listen: "[::1]:9000"
  log_level: debug
  log_format: json
  state_dir: /run/cgw
  leave_running: true
  observe: ["system.slice/*", "user.slice"]
)");
  EXPECT_EQ(c.agent.cgroupRoot, "system.slice/cgw");
  EXPECT_EQ(c.agent.sampleInterval, milliseconds(250));
  EXPECT_EQ(c.agent.detailInterval, milliseconds(5000));
  EXPECT_EQ(c.agent.sampleEveryTick, uint32_t{collectors::kSectionIo | collectors::kSectionTasks});
  EXPECT_EQ(c.agent.listen, "[::1]:9000");
  EXPECT_EQ(c.agent.logLevel, "debug");
  EXPECT_EQ(c.agent.logFormat, "json");
  EXPECT_EQ(c.agent.stateDir, "/run/cgw");
  EXPECT_TRUE(c.agent.leaveRunning);
  EXPECT_THAT(c.agent.observe, ElementsAre("system.slice/*", "user.slice"));
}

TEST(LoaderTest, EveryWorkloadKey) {
  Config c = load(R"(agent: {state_dir: /srv/state}
workloads:
  - name: api-1.v2_x
    command: [/usr/bin/env, python3, "-m", http.server]
    env: {PYTHONUNBUFFERED: "1", MODE: prod, N: 3}
    working_dir: /tmp
    user: root
    group: "7"
    labels: {team: web, Tier_2: front}
    image: python:3.11
    namespaces: {pid: false, mount: false, uts: true, ipc: false, net: host, cgroup: false}
    hostname: api.local
    rlimits:
      nofile: {soft: 4096, hard: 8192}
      nproc: unlimited
      core: 0
      memlock: 64Ki
      cpu: 10m
      rttime: 500ms
    limits:
      cpu: {cores: 1.5, period: 50ms, weight: 200, cpus: "0-1,3", mems: "0"}
      memory: {max: 512Mi, high: 448Mi, low: 64Mi, swap: 1G}
      pids: {max: 128}
      io:
        weight: 300
        devices:
          - {device: "254:0", rbps: 50M/s, wbps: 20Mi, riops: 2000/s, wiops: max}
    restart:
      policy: always
      max_restarts: 0
      backoff: {initial: 500ms, max: 1m}
      reset_after: 2m
    stop_signal: INT
    stop_grace: 3s
    stdout: {file: /var/log/api.log, rotate_size: 1Mi, keep: 7}
    stderr: file
)");
  ASSERT_EQ(c.workloads.size(), 1u);
  const WorkloadSpec& w = c.workloads[0];
  EXPECT_EQ(w.name, "api-1.v2_x");
  EXPECT_THAT(w.command, ElementsAre("/usr/bin/env", "python3", "-m", "http.server"));
  EXPECT_EQ(w.env, (std::map<std::string, std::string>{{"PYTHONUNBUFFERED", "1"}, {"MODE", "prod"}, {"N", "3"}}));
  EXPECT_EQ(w.workingDir, "/tmp");
  EXPECT_EQ(w.user, "root");
  EXPECT_EQ(w.uid, 0u);
  EXPECT_EQ(w.group, "7");
  EXPECT_EQ(w.gid, 7u);  // group overrides the user's primary group
  EXPECT_EQ(w.labels, (std::map<std::string, std::string>{{"team", "web"}, {"Tier_2", "front"}}));
  EXPECT_EQ(w.image, "python:3.11");
  EXPECT_FALSE(w.namespaces.pid);
  EXPECT_FALSE(w.namespaces.mount);
  EXPECT_TRUE(w.namespaces.uts);
  EXPECT_FALSE(w.namespaces.ipc);
  EXPECT_FALSE(w.namespaces.net);
  EXPECT_FALSE(w.namespaces.cgroup);
  EXPECT_EQ(w.hostname, "api.local");
  ASSERT_EQ(w.rlimits.size(), 6u);
  EXPECT_EQ(w.rlimits[0].resource, RLIMIT_NOFILE);
  EXPECT_EQ(w.rlimits[0].soft, 4096u);
  EXPECT_EQ(w.rlimits[0].hard, 8192u);
  EXPECT_EQ(w.rlimits[1].resource, RLIMIT_NPROC);
  EXPECT_EQ(w.rlimits[1].soft, static_cast<uint64_t>(RLIM_INFINITY));
  EXPECT_EQ(w.rlimits[1].hard, static_cast<uint64_t>(RLIM_INFINITY));
  EXPECT_EQ(w.rlimits[2].resource, RLIMIT_CORE);
  EXPECT_EQ(w.rlimits[2].hard, 0u);
  EXPECT_EQ(w.rlimits[3].resource, RLIMIT_MEMLOCK);
  EXPECT_EQ(w.rlimits[3].soft, 65536u);
  EXPECT_EQ(w.rlimits[4].resource, RLIMIT_CPU);
  EXPECT_EQ(w.rlimits[4].soft, 600u);  // seconds
  EXPECT_EQ(w.rlimits[5].resource, RLIMIT_RTTIME);
  EXPECT_EQ(w.rlimits[5].soft, 500000u);  // microseconds
  EXPECT_EQ(w.limits.cpu.periodUs, 50000u);
  EXPECT_EQ(w.limits.cpu.quotaUs, 75000u);
  EXPECT_EQ(w.limits.cpu.weight, 200u);
  EXPECT_EQ(w.limits.cpu.cpus, "0-1,3");
  EXPECT_EQ(w.limits.cpu.mems, "0");
  EXPECT_EQ(w.limits.memory.max, 512ull << 20);
  EXPECT_EQ(w.limits.memory.high, 448ull << 20);
  EXPECT_EQ(w.limits.memory.low, 64ull << 20);
  EXPECT_EQ(w.limits.memory.swapMax, 1000000000ull);
  EXPECT_EQ(w.limits.pids.max, 128u);
  EXPECT_EQ(w.limits.io.weight, 300u);
  ASSERT_EQ(w.limits.io.devices.size(), 1u);
  const IoDeviceLimit& d = w.limits.io.devices[0];
  EXPECT_EQ(d.major, 254u);
  EXPECT_EQ(d.minor, 0u);
  EXPECT_EQ(d.readBps, 50000000u);
  EXPECT_EQ(d.writeBps, 20ull << 20);
  EXPECT_EQ(d.readIops, 2000u);
  EXPECT_EQ(d.writeIops, kUnlimited);
  EXPECT_EQ(w.restart.policy, RestartPolicy::Always);
  EXPECT_EQ(w.restart.maxRestarts, 0u);
  EXPECT_EQ(w.restart.initialBackoff, milliseconds(500));
  EXPECT_EQ(w.restart.maxBackoff, milliseconds(60000));
  EXPECT_EQ(w.restart.resetAfter, milliseconds(120000));
  EXPECT_EQ(w.stopSignal, SIGINT);
  EXPECT_EQ(w.stopGrace, milliseconds(3000));
  EXPECT_EQ(w.stdoutSpec.mode, OutputSpec::Mode::File);
  EXPECT_EQ(w.stdoutSpec.path, "/var/log/api.log");
  EXPECT_EQ(w.stdoutSpec.rotateBytes, 1u << 20);
  EXPECT_EQ(w.stdoutSpec.keep, 7u);
  EXPECT_EQ(w.stderrSpec.mode, OutputSpec::Mode::File);
  EXPECT_EQ(w.stderrSpec.path, "/srv/state/logs/api-1.v2_x.log");  // default under state_dir
  EXPECT_EQ(w.location.line, 3);
  EXPECT_EQ(w.location.column, 5);
}

TEST(LoaderTest, WorkloadDefaultsAndShorthands) {
  Config c = load(R"(workloads:
  - name: a
    command: echo hello $HOME
    limits: {cpu: 0.25, memory: 64Mi, pids: 32}
    restart: never
    stdout: null
    stderr: /tmp/a.err
  - name: b
    command: [sleep, "1"]
    user: "4000123"
    limits: {cpu: {quota: 20ms, shares: 1024}, pids: max}
    namespaces: {net: false}
)");
  ASSERT_EQ(c.workloads.size(), 2u);
  const WorkloadSpec& a = c.workloads[0];
  EXPECT_THAT(a.command, ElementsAre("/bin/sh", "-c", "echo hello $HOME"));
  EXPECT_EQ(a.limits.cpu.quotaUs, 25000u);
  EXPECT_EQ(a.limits.cpu.periodUs, 100000u);
  EXPECT_FALSE(a.limits.cpu.weight.has_value());
  EXPECT_EQ(a.limits.memory.max, 64ull << 20);
  EXPECT_EQ(a.limits.pids.max, 32u);
  EXPECT_EQ(a.restart.policy, RestartPolicy::Never);
  EXPECT_EQ(a.stdoutSpec.mode, OutputSpec::Mode::Null);
  EXPECT_EQ(a.stderrSpec.mode, OutputSpec::Mode::File);
  EXPECT_EQ(a.stderrSpec.path, "/tmp/a.err");
  // Documented defaults.
  EXPECT_EQ(a.workingDir, "/");
  EXPECT_FALSE(a.uid.has_value());
  EXPECT_FALSE(a.gid.has_value());
  EXPECT_EQ(a.hostname, "a");
  EXPECT_TRUE(a.namespaces.pid && a.namespaces.mount && a.namespaces.uts && a.namespaces.ipc &&
              a.namespaces.net && a.namespaces.cgroup);
  EXPECT_EQ(a.stopSignal, SIGTERM);
  EXPECT_EQ(a.stopGrace, milliseconds(10000));
  EXPECT_EQ(a.restart.maxRestarts, 5u);
  EXPECT_EQ(a.restart.initialBackoff, milliseconds(1000));
  EXPECT_EQ(a.restart.maxBackoff, milliseconds(30000));
  EXPECT_EQ(a.restart.resetAfter, milliseconds(60000));
  EXPECT_FALSE(a.limits.memory.high.has_value());
  EXPECT_TRUE(a.rlimits.empty());

  const WorkloadSpec& b = c.workloads[1];
  EXPECT_EQ(b.limits.cpu.quotaUs, 20000u);
  EXPECT_EQ(b.limits.cpu.periodUs, 100000u);
  EXPECT_EQ(b.limits.cpu.weight, sharesToWeight(1024));
  EXPECT_EQ(b.limits.cpu.weight, 100u);
  EXPECT_EQ(b.limits.pids.max, kUnlimited);
  EXPECT_EQ(b.uid, 4000123u);
  EXPECT_EQ(b.gid, 4000123u);  // a numeric uid without a passwd entry: gid = uid
  EXPECT_FALSE(b.namespaces.net);
  EXPECT_EQ(b.restart.policy, RestartPolicy::OnFailure);
  EXPECT_EQ(b.stdoutSpec.mode, OutputSpec::Mode::Inherit);
}

TEST(LoaderTest, TheExampleFromTheHeader) {
  EXPECT_THAT(errorsOf(R"(workloads:
  - name: a
    command: [x]
  - name: b
    command: [x]
  - name: c
    command: [x]
    limits:
      memory:
        max: 64Q
)"),
              ElementsAre("t.yaml:10:14: workloads[2].limits.memory.max: \"64Q\" is not a size (e.g. 64Mi, 1.5G)"));
}

TEST(LoaderTest, UnknownKeysSuggestTheClosestKnownOne) {
  EXPECT_THAT(errorsOf(R"(agent:
  sampel_interval: 1s
  lisen: :80
  colour: blue
workload:
  - name: a
workloads:
  - name: web
    comand: [x]
    command: [x]
    limts: {}
    limits: {memroy: {max: 1Gi}, cpu: {core: 1}}
    restart: {polcy: always, backof: {inital: 1s}}
    namespaces: {netw: true}
    rlimits: {nofiles: 3}
    stdout: {fil: /x}
logging: {}
)"),
              ElementsAre("t.yaml:2:3: agent.sampel_interval: unknown key (did you mean \"sample_interval\"?)",
                          "t.yaml:3:3: agent.lisen: unknown key (did you mean \"listen\"?)",
                          "t.yaml:4:3: agent.colour: unknown key",
                          "t.yaml:5:1: workload: unknown key (did you mean \"workloads\"?)",
                          "t.yaml:9:5: workloads[0].comand: unknown key (did you mean \"command\"?)",
                          "t.yaml:11:5: workloads[0].limts: unknown key (did you mean \"limits\"?)",
                          "t.yaml:12:14: workloads[0].limits.memroy: unknown key (did you mean \"memory\"?)",
                          "t.yaml:12:40: workloads[0].limits.cpu.core: unknown key (did you mean \"cores\"?)",
                          "t.yaml:13:15: workloads[0].restart.polcy: unknown key (did you mean \"policy\"?)",
                          "t.yaml:13:30: workloads[0].restart.backof: unknown key (did you mean \"backoff\"?)",
                          "t.yaml:14:18: workloads[0].namespaces.netw: unknown key (did you mean \"net\"?)",
                          "t.yaml:15:15: workloads[0].rlimits.nofiles: unknown key (did you mean \"nofile\"?)",
                          "t.yaml:16:14: workloads[0].stdout.fil: unknown key (did you mean \"file\"?)",
                          "t.yaml:17:1: logging: unknown key"));
}

TEST(LoaderTest, WrongTypesNameTheExpectedType) {
  EXPECT_THAT(errorsOf(R"(agent: [1, 2]
workloads:
  - name: [a]
    command: {x: 1}
    env: [A=1]
    limits:
      memory: {max: [1]}
      cpu: {weight: high}
      io: {devices: {device: /dev/vda}}
    restart: {max_restarts: -1}
    stop_grace: {s: 1}
  - just a string
  -
)"),
              ElementsAre("t.yaml:1:8: agent: expected a mapping, got a list",
                          "t.yaml:3:11: workloads[0].name: expected a string, got a list",
                          "t.yaml:4:14: workloads[0].command: expected a list (argv) or a string (run by /bin/sh "
                          "-c), got a mapping",
                          "t.yaml:5:10: workloads[0].env: expected a mapping, got a list",
                          "t.yaml:7:21: workloads[0].limits.memory.max: expected a size (e.g. 64Mi, 1.5G), got a list",
                          "t.yaml:8:21: workloads[0].limits.cpu.weight: \"high\" is not a whole number",
                          "t.yaml:9:21: workloads[0].limits.io.devices: expected a list of devices, got a mapping",
                          "t.yaml:10:29: workloads[0].restart.max_restarts: \"-1\" is not a whole number",
                          "t.yaml:11:17: workloads[0].stop_grace: expected a duration (e.g. 250ms, 30s, 1m30s), got "
                          "a mapping",
                          "t.yaml:12:5: workloads[1]: expected a mapping, got a string",
                          "t.yaml:14:1: workloads[2]: expected a workload (a mapping with name and command), got "
                          "nothing"));
}

TEST(LoaderTest, BadValuesEachWithItsMessage) {
  EXPECT_THAT(
      errorsOf(R"(agent:
  cgroup_root: /abs/../x
  sample_interval: 1ms
  listen: 127.0.0.1
  log_level: verbose
  log_format: xml
  state_dir: relative/dir
  leave_running: maybe
  observe: [""]
workloads:
  - name: Web
    command: []
    env: {"MY-VAR": x}
    working_dir: tmp
    user: cgwarden-no-such-user
    group: cgwarden-no-such-group
    labels: {"app.kubernetes.io/name": x}
    hostname: "-bad"
    rlimits: {nofile: {soft: 10, hard: 5}, nproc: lots, core: 64Q, cpu: 1500ms, stack: {soft: 1Mi}}
    stop_signal: SIGFOO
    stop_grace: 5 minutes
    stdout: relative.log
    stderr: {file: x.log, rotate_size: 100, keep: 5000}
  - name: ok
    command: [""]
    restart: {policy: on_failure, backoff: {initial: 1m, max: 1s}}
    namespaces: {net: hots, pid: 2}
    limits:
      cpu: {cores: 0, period: 100, cpus: "3-1", weight: 0}
      memory: {max: 1Gi, low: 2Gi, swap: lots}
      pids: {max: 0}
      io:
        weight: 20000
        devices:
          - {device: /etc/passwd, rbps: 1M/s}
          - {device: "8:0"}
          - {rbps: fast}
)"),
      ElementsAre(
          "t.yaml:2:16: agent.cgroup_root: \"/abs/../x\" is not a relative cgroup path (e.g. cgwarden or "
          "system.slice/cgwarden)",
          "t.yaml:3:20: agent.sample_interval: must be at least 10ms",
          "t.yaml:4:11: agent.listen: \"127.0.0.1\" is not a listen address (e.g. 127.0.0.1:9839, [::1]:9839, :9839)",
          "t.yaml:5:14: agent.log_level: \"verbose\" is not a log level (expected trace, debug, info, warn, error, "
          "critical or off)",
          "t.yaml:6:15: agent.log_format: \"xml\" is not a log format (expected text or json)",
          "t.yaml:7:14: agent.state_dir: \"relative/dir\" is not an absolute path",
          "t.yaml:8:18: agent.leave_running: \"maybe\" is not a boolean (true or false)",
          "t.yaml:9:13: agent.observe[0]: an empty glob matches nothing",
          "t.yaml:11:11: workloads[0].name: \"Web\" is not a valid name (lowercase letters, digits, '_', '.', '-', "
          "starting with a letter or digit, at most 64 characters)",
          "t.yaml:12:14: workloads[0].command: the command is empty",
          "t.yaml:13:11: workloads[0].env.MY-VAR: \"MY-VAR\" is not a valid environment variable name (letters, "
          "digits, '_')",
          "t.yaml:14:18: workloads[0].working_dir: \"tmp\" is not an absolute path",
          "t.yaml:15:11: workloads[0].user: unknown user \"cgwarden-no-such-user\"",
          "t.yaml:16:12: workloads[0].group: unknown group \"cgwarden-no-such-group\"",
          "t.yaml:17:14: workloads[0].labels[\"app.kubernetes.io/name\"]: \"app.kubernetes.io/name\" is not a valid "
          "label name (letters, digits, '_'; exported as container_label_<name>)",
          "t.yaml:18:15: workloads[0].hostname: \"-bad\" is not a valid host name (letters, digits, '-', '.', at "
          "most 64 characters)",
          "t.yaml:19:30: workloads[0].rlimits.nofile.soft: soft limit is above the hard limit",
          "t.yaml:19:51: workloads[0].rlimits.nproc: \"lots\" is not a whole number or \"unlimited\"",
          "t.yaml:19:63: workloads[0].rlimits.core: \"64Q\" is not a size (e.g. 64Mi, 1.5G) or \"unlimited\"",
          "t.yaml:19:73: workloads[0].rlimits.cpu: \"1500ms\" is not a whole number of seconds (e.g. 60, 10m) or "
          "\"unlimited\"",
          "t.yaml:19:88: workloads[0].rlimits.stack: missing key \"hard\"",
          "t.yaml:20:18: workloads[0].stop_signal: \"SIGFOO\" is not a signal (e.g. SIGTERM, INT, 15)",
          "t.yaml:21:17: workloads[0].stop_grace: \"5 minutes\" is not a duration (e.g. 250ms, 30s, 1m30s)",
          "t.yaml:22:13: workloads[0].stdout: \"relative.log\" is not inherit, null, file or an absolute path",
          "t.yaml:23:20: workloads[0].stderr.file: \"x.log\" is not an absolute path",
          "t.yaml:23:40: workloads[0].stderr.rotate_size: must be at least 4Ki (or max)",
          "t.yaml:23:51: workloads[0].stderr.keep: 5000 is out of range (0 to 1000)",
          "t.yaml:25:15: workloads[1].command[0]: the program name is empty",
          "t.yaml:26:23: workloads[1].restart.policy: \"on_failure\" is not a restart policy (expected never, "
          "on-failure or always; did you mean \"on-failure\"?)",
          "t.yaml:26:54: workloads[1].restart.backoff: initial (1m) is above max (1s)",
          "t.yaml:27:23: workloads[1].namespaces.net: \"hots\" is not a network mode (expected true, false, private "
          "or host)",
          "t.yaml:27:34: workloads[1].namespaces.pid: \"2\" is not a boolean (true or false)",
          "t.yaml:29:20: workloads[1].limits.cpu.cores: \"0\" is not a number of cores (e.g. 0.5, 2, 150%)",
          "t.yaml:29:31: workloads[1].limits.cpu.period: 100us is out of range (1000us to 1000000us)",
          "t.yaml:29:42: workloads[1].limits.cpu.cpus: \"3-1\" is not a list of ids (e.g. 0-3,6)",
          "t.yaml:29:57: workloads[1].limits.cpu.weight: 0 is out of range (1 to 10000)",
          "t.yaml:30:31: workloads[1].limits.memory.low: low (2Gi) is above max (1Gi)",
          "t.yaml:30:42: workloads[1].limits.memory.swap: \"lots\" is not a size (e.g. 64Mi, 1.5G)",
          "t.yaml:31:19: workloads[1].limits.pids.max: 0 is out of range (at least 1)",
          "t.yaml:33:17: workloads[1].limits.io.weight: 20000 is out of range (1 to 10000)",
          "t.yaml:35:22: workloads[1].limits.io.devices[0].device: \"/etc/passwd\" is not a block device",
          "t.yaml:36:13: workloads[1].limits.io.devices[1]: sets none of rbps, wbps, riops, wiops",
          "t.yaml:37:13: workloads[1].limits.io.devices[2]: missing key \"device\" (a /dev path or MAJOR:MINOR)",
          "t.yaml:37:20: workloads[1].limits.io.devices[2].rbps: \"fast\" is not a rate (e.g. 10M/s, 500/s)"));
}

TEST(LoaderTest, ErrorsComeInFileOrder) {
  auto errors = errorsOf(R"(workloads:
  - name: a
    command: [x]
    stop_grace: x
agent:
  listen: x
)");
  EXPECT_THAT(errors, ElementsAre("t.yaml:4:17: workloads[0].stop_grace: \"x\" is not a duration (e.g. 250ms, 30s, 1m30s)",
                                  "t.yaml:6:11: agent.listen: \"x\" is not a listen address (e.g. 127.0.0.1:9839, "
                                  "[::1]:9839, :9839)"));
}

TEST(LoaderTest, DuplicatesArePointedAtTheSecondOne) {
  EXPECT_THAT(errorsOf(R"(workloads:
  - name: web
    command: [x]
  - name: db
    command: [x]
  - name: web
    command: [y]
    command: [z]
    limits:
      io:
        devices:
          - {device: "8:0", rbps: 1M}
          - {device: "8:0", wbps: 1M}
)"),
              ElementsAre("t.yaml:6:11: workloads[2].name: duplicate workload name \"web\" (first at line 2)",
                          "t.yaml:8:5: workloads[2].command: duplicate key (first at line 7)",
                          "t.yaml:13:22: workloads[2].limits.io.devices[1].device: device 8:0 is already limited "
                          "(line 12)"));
}

TEST(LoaderTest, MissingRequiredKeysAndExclusiveKeys) {
  EXPECT_THAT(errorsOf(R"(workloads:
  - image: x
  - name: b
    command: [x]
    namespaces: {uts: false}
    hostname: b
    limits: {cpu: {cores: 1, quota: 50ms, weight: 10, shares: 100}}
)"),
              ElementsAre("t.yaml:2:5: workloads[0]: missing key \"name\"",
                          "t.yaml:2:5: workloads[0]: missing key \"command\"",
                          "t.yaml:6:15: workloads[1].hostname: needs namespaces.uts (without it the workload shares "
                          "the host's name)",
                          "t.yaml:7:37: workloads[1].limits.cpu.quota: cores and quota are exclusive (cores = quota / "
                          "period)",
                          "t.yaml:7:63: workloads[1].limits.cpu.shares: weight and shares are exclusive (shares are "
                          "converted to a weight)"));
}

TEST(LoaderTest, MergeKeysShareSettingsAndExplicitKeysWin) {
  Config c = load(R"(x-defaults: &defaults
  limits: {memory: 64Mi}
  restart: always
x-small: &small
  limits: {memory: 16Mi}
  stop_grace: 2s
workloads:
  - <<: *defaults
    name: a
    command: [x]
  - <<: [*small, *defaults]
    name: b
    command: [x]
    restart: never
)");
  ASSERT_EQ(c.workloads.size(), 2u);
  EXPECT_EQ(c.workloads[0].limits.memory.max, 64ull << 20);
  EXPECT_EQ(c.workloads[0].restart.policy, RestartPolicy::Always);
  EXPECT_EQ(c.workloads[1].limits.memory.max, 16ull << 20);  // the first source wins
  EXPECT_EQ(c.workloads[1].stopGrace, milliseconds(2000));
  EXPECT_EQ(c.workloads[1].restart.policy, RestartPolicy::Never);  // written in the mapping: wins

  // An error inside merged settings points at where they are written (the anchor).
  EXPECT_THAT(errorsOf(R"(x-defaults: &defaults
  limits: {memory: 64Q}
  stop_grace: 1s
workloads:
  - <<: *defaults
    name: a
    command: [x]
  - <<: 3
    name: b
    command: [x]
)"),
              ElementsAre("t.yaml:2:20: workloads[0].limits.memory: \"64Q\" is not a size (e.g. 64Mi, 1.5G)",
                          "t.yaml:8:9: workloads[1][\"<<\"]: a merge key takes a mapping or a list of mappings, got "
                          "a string"));
}

TEST(LoaderTest, SampleEveryTickNamesSections) {
  EXPECT_EQ(load("agent: {sample_every_tick: [all]}\n").agent.sampleEveryTick,
            uint32_t{collectors::kAllDetailSections});
  EXPECT_THAT(errorsOf("agent:\n  sample_every_tick: [io, presure]\n"),
              ElementsAre("t.yaml:2:27: agent.sample_every_tick[1]: \"presure\" is not a sampling section (did you "
                          "mean \"pressure\"?); expected all, pressure, memory_peak, swap, processes, throttling, "
                          "oom, io, tasks or cpu_user_system"));
}

TEST(LoaderTest, YamlSyntaxErrorsHaveAPosition) {
  auto errors = errorsOf("workloads:\n  - name: a\n    command: [x\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_THAT(errors[0], ::testing::StartsWith("t.yaml:"));
  EXPECT_THAT(errors[0], ::testing::HasSubstr(": YAML syntax error: "));
  EXPECT_THAT(errorsOf("- just\n- a list\n"), ElementsAre("t.yaml:1:1: expected a mapping, got a list"));
}

TEST(LoaderTest, BlockDevicePathsAreResolvedWithStat) {
  // A real block device of this host, found through /sys/block/*/dev.
  std::string path, numbers;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/sys/block", ec)) {
    struct stat st {};
    std::string candidate = "/dev/" + e.path().filename().string();
    std::ifstream dev(e.path() / "dev");
    if (dev >> numbers && ::stat(candidate.c_str(), &st) == 0 && S_ISBLK(st.st_mode)) {
      path = candidate;
      break;
    }
  }
  if (path.empty()) GTEST_SKIP() << "no block device on this host";
  Config c = load("workloads:\n  - name: a\n    command: [x]\n    limits: {io: {devices: [{device: " + path +
                  ", rbps: 1M}]}}\n");
  ASSERT_EQ(c.workloads.size(), 1u);
  ASSERT_EQ(c.workloads[0].limits.io.devices.size(), 1u);
  const auto& d = c.workloads[0].limits.io.devices[0];
  EXPECT_EQ(std::to_string(d.major) + ":" + std::to_string(d.minor), numbers);
  EXPECT_EQ(d.readBps, 1000000u);
  EXPECT_FALSE(d.writeBps.has_value());
}

TEST(LoaderTest, LoadConfigFileReadsAndNamesTheFile) {
  testing::TempTree t;
  t.write("c.yaml", "workloads:\n  - name: a\n    command: [x]\n    limits: {memory: 1Q}\n");
  auto loaded = loadConfigFile(t.path("c.yaml"));
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.renderErrors(),
            t.path("c.yaml") + ":4:22: workloads[0].limits.memory: \"1Q\" is not a size (e.g. 64Mi, 1.5G)\n");
  auto missing = loadConfigFile(t.path("nope.yaml"));
  ASSERT_EQ(missing.errors.size(), 1u);
  EXPECT_EQ(missing.errors[0].render(), t.path("nope.yaml") + ": cannot read the config file: No such file or directory");
  t.write("good.yaml", "workloads: []\n");
  auto good = loadConfigFile(t.path("good.yaml"));
  ASSERT_TRUE(good.ok()) << good.renderErrors();
  EXPECT_EQ(good.value->path, t.path("good.yaml"));
}

TEST(LoaderTest, BundledExamplesLoadCleanly) {
  std::string dir = std::string(CGWARDEN_SOURCE_DIR) + "/config/examples";
  size_t count = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() != ".yaml") continue;
    ++count;
    auto loaded = loadConfigFile(e.path().string());
    EXPECT_TRUE(loaded.ok()) << loaded.renderErrors();
    if (loaded.ok()) {
      EXPECT_FALSE(loaded.value->workloads.empty()) << e.path();
    }
  }
  EXPECT_GE(count, 3u);
}

TEST(LoaderTest, DemoConfigIsWhatTheReadmePromises) {
  auto loaded = loadConfigFile(std::string(CGWARDEN_SOURCE_DIR) + "/config/examples/demo.yaml");
  ASSERT_TRUE(loaded.ok()) << loaded.renderErrors();
  const Config& c = *loaded.value;
  EXPECT_EQ(c.agent.listen, "127.0.0.1:9839");
  EXPECT_EQ(c.agent.stateDir, "/var/lib/cgwarden");
  ASSERT_EQ(c.workloads.size(), 3u);
  const WorkloadSpec& burner = c.workloads[0];
  EXPECT_THAT(burner.command, ElementsAre("cgwarden", "stress", "--cpu", "1"));
  EXPECT_EQ(burner.limits.cpu.quotaUs, 25000u);  // 0.25 cores
  EXPECT_EQ(burner.limits.cpu.periodUs, 100000u);
  const WorkloadSpec& grower = c.workloads[1];
  EXPECT_EQ(grower.command[1], "stress");
  EXPECT_EQ(grower.command[2], "--memory-grow");
  EXPECT_EQ(grower.limits.memory.max, 64ull << 20);
  EXPECT_EQ(grower.restart.policy, RestartPolicy::Always);
  EXPECT_EQ(c.workloads[2].command[2], "--sleep");
}

TEST(LoaderTest, OneWorkloadOnItsOwn) {
  auto ok = parseWorkloadText(R"({"name": "api", "command": ["sleep", "9"], "limits": {"memory": {"max": "1Gi"}},
  "stdout": "file"})",
                              "request");
  ASSERT_TRUE(ok.ok()) << ok.renderErrors();
  EXPECT_EQ(ok.value->name, "api");
  EXPECT_EQ(ok.value->limits.memory.max, 1ull << 30);
  EXPECT_EQ(ok.value->stdoutSpec.path, "/var/lib/cgwarden/logs/api.log");
  AgentSpec agent;
  agent.stateDir = "/state";
  auto withAgent = parseWorkloadText("name: api\ncommand: [x]\nstdout: file\n", "request", agent);
  ASSERT_TRUE(withAgent.ok());
  EXPECT_EQ(withAgent.value->stdoutSpec.path, "/state/logs/api.log");

  auto bad = parseWorkloadText(R"({"name": "api", "comand": ["x"]})", "request");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.renderErrors(),
            "request:1:1: missing key \"command\"\n"
            "request:1:17: comand: unknown key (did you mean \"command\"?)\n");
}

TEST(LoaderTest, LimitsOnTheirOwnSetOnlyWhatIsPresent) {
  auto only = parseLimitsText("memory: {high: 100Mi}\n", "flags");
  ASSERT_TRUE(only.ok()) << only.renderErrors();
  Limits expected;
  expected.memory.high = 100ull << 20;
  EXPECT_EQ(*only.value, expected);

  auto all = parseLimitsText("cpu: 50%\nmemory: max\npids: 32\nio: {weight: 50}\n", "flags");
  ASSERT_TRUE(all.ok()) << all.renderErrors();
  EXPECT_EQ(all.value->cpu.quotaUs, 50000u);
  EXPECT_EQ(all.value->memory.max, kUnlimited);
  EXPECT_EQ(all.value->pids.max, 32u);
  EXPECT_EQ(all.value->io.weight, 50u);

  auto bad = parseLimitsText("cpu: {cores: lots}\nmemmory: 1G\n", "flags");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.renderErrors(),
            "flags:1:14: cpu.cores: \"lots\" is not a number of cores (e.g. 0.5, 2, 150%)\n"
            "flags:2:1: memmory: unknown key (did you mean \"memory\"?)\n");
}

TEST(LoaderTest, RenderWithoutLineOrKey) {
  EXPECT_EQ((ConfigIssue{{"api", 0, 0}, "limits.memory.max", "bad"}).render(), "api: limits.memory.max: bad");
  EXPECT_EQ((ConfigIssue{{"f.yaml", 3, 1}, "", "bad"}).render(), "f.yaml:3:1: bad");
}

}  // namespace
}  // namespace cgwarden::config
