// The CLI through the real binary (CGWARDEN_BINARY) against a control API served by this
// test process (ApiFixture: real Supervisor, real cgroups), and against `cgwarden run`.
// `top` runs inside tmux and is read back with capture-pane.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "agent/Adopter.h"
#include "agent/ExitStatus.h"
#include "integration/AdoptHelpers.h"
#include "integration/AgentProcess.h"
#include "integration/ApiHelpers.h"

namespace cgwarden::testing {
namespace {

using agent::WorkloadState;
using nlohmann::json;
using namespace std::chrono_literals;

constexpr uint64_t kMiB = 1024 * 1024;

using Proc = BinaryProcess;

struct Ran {
  int code = -1;
  std::string out, err;
};

Ran runBinary(std::vector<std::string> args, std::vector<std::pair<std::string, std::string>> env = {}) {
  Proc p(std::move(args), std::move(env));
  Ran r;
  r.code = p.wait();
  r.out = p.out();
  r.err = p.err();
  return r;
}

uint16_t freePort() { return freeLoopbackPort(); }

std::string shell(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

class ApiCliTest : public ApiFixture {
 protected:
  // Runs `cgwarden VERB ARGS... --url U --token-file F`.
  Ran cli(std::vector<std::string> args) {
    std::vector<std::string> full = std::move(args);
    // The shared flags go before a "--" (launch's command follows it).
    auto dash = std::find(full.begin(), full.end(), "--");
    full.insert(dash, {"--url", url(), "--token-file", api_->tokenPath()});
    return runBinary(full);
  }
  std::string launchArgsTail() const { return cgwardenBinary(); }
  std::vector<pid_t> procsOf(const std::string& name) const {
    std::vector<pid_t> out;
    for (auto line : splitLines(readText(joinPath(dirOf("memory", name), "cgroup.procs")))) {
      if (auto v = parseUint64(line)) out.push_back(static_cast<pid_t>(*v));
    }
    return out;
  }
  uint64_t memoryMax(const std::string& name) const {
    return readNumber(dirOf("memory", name), layout_.mode == collectors::CgroupMode::V2 ? "memory.max" : "memory.limit_in_bytes");
  }
  bool kernelFrozen(const std::string& name) const {
    if (layout_.mode == collectors::CgroupMode::V2) {
      return readText(joinPath(dirOf("", name), "cgroup.events")).find("frozen 1") != std::string::npos;
    }
    return readText(joinPath(dirOf("freezer", name), "freezer.state")).find("FROZEN") == 0;
  }
};

TEST_F(ApiCliTest, PsShowsALaunchedWorkloadAsATableAndAsJson) {
  auto r = call("POST", "/api/v1/workloads", sleeperBody("web", R"(,"limits":{"memory":"64Mi"})"));
  ASSERT_EQ(r.status, 201) << r.body;
  pid_t pid = supervisor_->status("web")->pid;
  sampler_->tick();

  Ran ps = cli({"ps"});
  ASSERT_EQ(ps.code, 0) << ps.err;
  auto lines = splitLines(ps.out);
  ASSERT_EQ(lines.size(), 2u) << ps.out;
  EXPECT_EQ(splitFields(lines[0]), (std::vector<std::string_view>{"NAME", "STATE", "KIND", "PID", "CPU", "MEM/LIMIT",
                                                                   "PIDS", "RESTARTS", "UPTIME"}))
      << ps.out;
  auto row = splitFields(lines[1]);
  ASSERT_GE(row.size(), 9u) << ps.out;
  EXPECT_EQ(row[0], "web");
  EXPECT_EQ(row[1], "running");
  EXPECT_EQ(row[2], "launched");
  EXPECT_EQ(row[3], std::to_string(pid));
  EXPECT_NE(lines[1].find("/ 64Mi"), std::string::npos) << ps.out;

  Ran js = cli({"ps", "--json"});
  ASSERT_EQ(js.code, 0) << js.err;
  json j = json::parse(js.out);
  ASSERT_EQ(j["workloads"].size(), 1u);
  EXPECT_EQ(j["workloads"][0]["pid"], pid);
  EXPECT_EQ(j["workloads"][0]["limits"]["memory"]["max"], 64 * kMiB);
}

TEST_F(ApiCliTest, LaunchSetFreezeThawRestartStopAndRmDriveRealCgroups) {
  Ran launched = cli({"launch", "api1", "--memory", "64Mi", "--pids", "16", "--label", "team=a", "--output", "null",
                      "--restart", "never", "--", cgwardenBinary(), "stress", "--sleep"});
  ASSERT_EQ(launched.code, 0) << launched.err;
  auto st = supervisor_->status("api1");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->state, WorkloadState::Running);
  EXPECT_EQ(launched.out, "api1: running, pid " + std::to_string(st->pid) + ", cgroup /" + testCgroupRoot() + "/api1\n");
  EXPECT_EQ(memoryMax("api1"), 64 * kMiB);
  EXPECT_EQ(readNumber(dirOf("pids", "api1"), "pids.max"), 16u);
  auto targets = supervisor_->sampleTargets();
  ASSERT_EQ(targets.size(), 1u);
  EXPECT_EQ(targets[0].labels.at("team"), "a");

  Ran set = cli({"set", "api1", "--memory", "128Mi", "--cpus", "0.5"});
  ASSERT_EQ(set.code, 0) << set.err;
  EXPECT_EQ(memoryMax("api1"), 128 * kMiB);
  EXPECT_EQ(supervisor_->status("api1")->pid, st->pid) << "set does not restart";
  EXPECT_EQ(readNumber(dirOf("pids", "api1"), "pids.max"), 16u) << "limits not given are kept";

  Ran freeze = cli({"freeze", "api1"});
  ASSERT_EQ(freeze.code, 0) << freeze.err;
  EXPECT_EQ(freeze.out, "api1: frozen\n");
  EXPECT_TRUE(kernelFrozen("api1"));
  Ran thaw = cli({"thaw", "api1"});
  ASSERT_EQ(thaw.code, 0) << thaw.err;
  EXPECT_FALSE(kernelFrozen("api1"));

  Ran restart = cli({"restart", "api1"});
  ASSERT_EQ(restart.code, 0) << restart.err;
  auto after = supervisor_->status("api1");
  EXPECT_EQ(after->state, WorkloadState::Running);
  EXPECT_NE(after->pid, st->pid) << "restart waits for the new run";

  Ran stop = cli({"stop", "api1"});
  ASSERT_EQ(stop.code, 0) << stop.err;
  EXPECT_EQ(stop.out, "api1: stopped\n");
  EXPECT_EQ(supervisor_->status("api1")->state, WorkloadState::Stopped);
  EXPECT_FALSE(cgroupExists("api1"));

  Ran rm = cli({"rm", "api1"});
  ASSERT_EQ(rm.code, 0) << rm.err;
  EXPECT_FALSE(supervisor_->status("api1").ok());

  // Agent-side refusals and failures.
  EXPECT_EQ(cli({"stop", "nope"}).code, 4);
  EXPECT_EQ(cli({"set", "nope", "--memory", "1Mi"}).code, 4);
  ASSERT_EQ(cli({"launch", "twice", "--output", "null", "--", cgwardenBinary(), "stress", "--sleep"}).code, 0);
  Ran dup = cli({"launch", "twice", "--", "true"});
  EXPECT_EQ(dup.code, 1) << dup.err;
  EXPECT_NE(dup.err.find("409"), std::string::npos) << dup.err;
  Ran ghost = cli({"launch", "ghost", "--restart", "never", "--", "/nonexistent/daemon"});
  EXPECT_EQ(ghost.code, 1) << ghost.err;
  EXPECT_NE(ghost.err.find("/nonexistent/daemon"), std::string::npos) << ghost.err;
  Ran badCpuset = cli({"set", "twice", "--cpuset", "zz"});
  EXPECT_EQ(badCpuset.code, 2) << "the agent's 400 is a usage error: " << badCpuset.err;
  EXPECT_NE(badCpuset.err.find("cpu.cpus"), std::string::npos) << badCpuset.err;
}

TEST_F(ApiCliTest, ExitCodesAndHelpMeanSomething) {
  for (const char* verb : {"ps", "top", "launch", "stop", "restart", "rm", "freeze", "thaw", "set", "adopt", "events", "reload"}) {
    SCOPED_TRACE(verb);
    Ran help = runBinary({verb, "--help"});
    EXPECT_EQ(help.code, 0) << help.err;
    EXPECT_EQ(help.out.rfind(std::string("usage: cgwarden ") + verb, 0), 0u) << help.out;
    EXPECT_NE(help.out.find("exit codes: 0 ok"), std::string::npos);
  }
  // 2: usage.
  EXPECT_EQ(cli({"set", "web"}).code, 2);
  EXPECT_EQ(cli({"set", "web", "--user", "root"}).code, 2);
  EXPECT_EQ(cli({"launch", "Bad/Name", "--", "true"}).code, 2);
  EXPECT_EQ(cli({"ps", "extra"}).code, 2);
  EXPECT_EQ(cli({"top", "--sort", "colour"}).code, 2);
  EXPECT_EQ(cli({"adopt", "12"}).code, 2);
  EXPECT_EQ(runBinary({"ps", "--config", "/nonexistent/cgwarden.yaml"}).code, 2);
  // 3: nobody listens there (the token is fine).
  Ran unreachable = runBinary({"ps", "--url", "http://127.0.0.1:" + std::to_string(freePort()), "--token-file", api_->tokenPath()});
  EXPECT_EQ(unreachable.code, 3) << unreachable.err;
  EXPECT_NE(unreachable.err.find("Connection refused"), std::string::npos) << unreachable.err;
  // 5: a wrong token, or none readable while the agent is up.
  std::string wrong = joinPath(stateDir_, "wrong-token");
  {
    std::ofstream(wrong) << std::string(64, 'f') << "\n";
  }
  ::chmod(wrong.c_str(), 0600);
  Ran unauthorized = runBinary({"ps", "--url", url(), "--token-file", wrong});
  EXPECT_EQ(unauthorized.code, 5) << unauthorized.err;
  EXPECT_NE(unauthorized.err.find("401"), std::string::npos) << unauthorized.err;
  Ran noToken = runBinary({"ps", "--url", url(), "--token-file", joinPath(stateDir_, "missing")});
  EXPECT_EQ(noToken.code, 5) << noToken.err;
  // 4: not found.
  EXPECT_EQ(cli({"freeze", "nope"}).code, 4);
  // A rejected unauthenticated call changed nothing: nothing was launched.
  Ran sneaky = runBinary({"launch", "sneaky", "--url", url(), "--token-file", wrong, "--", "true"});
  EXPECT_EQ(sneaky.code, 5);
  EXPECT_FALSE(supervisor_->status("sneaky").ok());
}

TEST_F(ApiCliTest, TheConfigFileTellsTheCliWhereTheAgentAndItsTokenAre) {
  ASSERT_EQ(call("POST", "/api/v1/workloads", sleeperBody("web")).status, 201);
  std::string config = joinPath(launchTempDir(), "cli-discovery.yaml");
  std::ofstream(config) << "agent:\n  listen: 127.0.0.1:" << port() << "\n  state_dir: " << stateDir_ << "\n";
  Ran byFlag = runBinary({"ps", "--config", config});
  ASSERT_EQ(byFlag.code, 0) << byFlag.err;
  EXPECT_NE(byFlag.out.find("\nweb "), std::string::npos) << byFlag.out;
  Ran byEnv = runBinary({"ps"}, {{"CGWARDEN_CONFIG", config}});
  ASSERT_EQ(byEnv.code, 0) << byEnv.err;
  EXPECT_EQ(byEnv.out.substr(0, byEnv.out.find('\n')), byFlag.out.substr(0, byFlag.out.find('\n')));
  // 0.0.0.0 in agent.listen is reached on loopback.
  std::ofstream(config) << "agent:\n  listen: 0.0.0.0:" << port() << "\n  state_dir: " << stateDir_ << "\n";
  EXPECT_EQ(runBinary({"ps", "--config", config}).code, 0);
  // A broken config is reported with its location and exit 2.
  std::ofstream(config) << "agent:\n  listen: 127.0.0.1:" << port() << "\n  stat_dir: /x\n";
  Ran broken = runBinary({"ps", "--config", config});
  EXPECT_EQ(broken.code, 2);
  EXPECT_NE(broken.err.find("cli-discovery.yaml:3:3: agent.stat_dir: unknown key"), std::string::npos) << broken.err;
}

TEST_F(ApiCliTest, AdoptMovesARunningProcessTreeThroughTheBinary) {
  // The agent's adopter, bound in-process as the integrator binds it in `cgwarden run`.
  auto adopter = agent::Adopter::create(supervisor_->cgroups(), {});
  ASSERT_TRUE(adopter.ok()) << adopter.error().message();
  api_->setAdopter(agent::adoptFnFor(**adopter));
  pid_t sh = spawn("/bin/sh", {"sh", "-c", "sleep 60 & sleep 60 & wait"});
  for (int i = 0; i < 500 && liveTree(sh).size() < 3; ++i) std::this_thread::sleep_for(2ms);
  ASSERT_EQ(liveTree(sh).size(), 3u);

  Ran adopt = cli({"adopt", std::to_string(sh), "--name", "legacy", "--pids", "20", "--memory", "48Mi"});
  ASSERT_EQ(adopt.code, 0) << adopt.err;
  EXPECT_EQ(adopt.out.rfind("adopted pid " + std::to_string(sh) + " into legacy (/" + testCgroupRoot() +
                                "/legacy): moved 3 process(es):", 0),
            0u)
      << adopt.out;
  auto cg = supervisor_->cgroups().open("legacy");
  ASSERT_TRUE(cg.ok());
  for (pid_t p : liveTree(sh)) {
    std::string why;
    EXPECT_TRUE(inCgroup(p, **cg, layout_, &why)) << p << ": " << why;
  }
  EXPECT_EQ(readNumber(dirOf("pids", "legacy"), "pids.max"), 20u);
  EXPECT_EQ(memoryMax("legacy"), 48 * kMiB);

  Ran init = cli({"adopt", "1", "--name", "init"});
  EXPECT_EQ(init.code, 1) << init.err;
  EXPECT_NE(init.err.find("403"), std::string::npos) << init.err;
  EXPECT_NE(init.err.find("it is init"), std::string::npos) << init.err;
  EXPECT_EQ(cli({"adopt", "4194303", "--name", "ghost"}).code, 4);
  killAndReap({sh});
}

TEST_F(ApiCliTest, EventsPrintFollowAndReloadReportsEveryError) {
  std::mutex mu;
  json events = json::array();
  api_->setEventsProvider([&](const agent::EventsQuery& q) {
    std::lock_guard lock(mu);
    agent::EventsPage page;
    for (const auto& e : events) {
      if (e["seq"].get<uint64_t>() > q.after && (q.workload.empty() || e["workload"] == q.workload)) page.events.push_back(e);
    }
    page.lastSeq = events.empty() ? 0 : events.back()["seq"].get<uint64_t>();
    return page;
  });
  auto event = [](uint64_t seq, const std::string& workload, const std::string& action) {
    return json{{"seq", seq},          {"time", "2026-11-28T04:17:17.123Z"}, {"rule", "guard"}, {"workload", workload},
                {"action", action},    {"outcome", "ok"},                     {"dry_run", false}, {"error", ""},
                {"detail", "thaw after 30s"}};
  };
  {
    std::lock_guard lock(mu);
    events.push_back(event(1, "web", "freeze"));
    events.push_back(event(2, "db", "log"));
  }
  Ran list = cli({"events"});
  ASSERT_EQ(list.code, 0) << list.err;
  EXPECT_EQ(list.out,
            "2026-11-28T04:17:17.123Z  guard  web  freeze  ok  thaw after 30s\n"
            "2026-11-28T04:17:17.123Z  guard  db  log  ok  thaw after 30s\n");
  Ran filtered = cli({"events", "--workload", "db", "--json"});
  ASSERT_EQ(filtered.code, 0) << filtered.err;
  EXPECT_EQ(json::parse(filtered.out)["action"], "log");

  Proc follow({"events", "--follow", "--interval", "100ms", "--json", "--url", url(), "--token-file", api_->tokenPath()});
  auto waitLines = [&](size_t n) {
    for (int i = 0; i < 200 && splitLines(follow.out()).size() < n; ++i) std::this_thread::sleep_for(50ms);
    return splitLines(follow.out()).size();
  };
  EXPECT_EQ(waitLines(2), 2u) << follow.err();
  {
    std::lock_guard lock(mu);
    events.push_back(event(3, "web", "thaw"));
  }
  EXPECT_EQ(waitLines(3), 3u) << follow.err();
  EXPECT_EQ(json::parse(std::string(splitLines(follow.out())[2]))["seq"], 3);
  ::kill(follow.pid(), SIGINT);
  EXPECT_EQ(follow.wait(10s), 0);

  // reload: not wired -> 501 -> 1; rejected config -> every error, 1; applied -> the changes.
  EXPECT_EQ(cli({"reload"}).code, 1);
  bool broken = true;
  api_->setReloader([&]() -> Result<agent::ReloadOutcome> {
    agent::ReloadOutcome out;
    if (broken) {
      out.errors = {{{"/etc/cgwarden/cgwarden.yaml", 14, 16}, "workloads[2].limits.memory.max", "\"64Q\" is not a size"},
                    {{"/etc/cgwarden/cgwarden.yaml", 20, 5}, "workloads[3].limts", "unknown key"}};
    } else {
      out.changes = {"web: memory max 128Mi"};
    }
    return out;
  });
  Ran rejected = cli({"reload"});
  EXPECT_EQ(rejected.code, 1);
  EXPECT_NE(rejected.err.find("/etc/cgwarden/cgwarden.yaml:14:16: workloads[2].limits.memory.max: \"64Q\" is not a size"),
            std::string::npos)
      << rejected.err;
  EXPECT_NE(rejected.err.find("/etc/cgwarden/cgwarden.yaml:20:5: workloads[3].limts: unknown key"), std::string::npos);
  broken = false;
  Ran applied = cli({"reload"});
  EXPECT_EQ(applied.code, 0) << applied.err;
  EXPECT_EQ(applied.out, "web: memory max 128Mi\n");
}

TEST_F(ApiCliTest, TopUnderTmuxShowsTheWorkloadRowsSortedByCpuAndQuitsOnQ) {
  if (shell("command -v tmux").empty()) GTEST_FAIL() << "tmux is not installed (tests/run-all.sh installs it)";
  sampler_->start();
  ASSERT_EQ(call("POST", "/api/v1/workloads", sleeperBody("idler")).status, 201);
  ASSERT_EQ(call("POST", "/api/v1/workloads",
                 R"({"name":"burner","command":[")" + cgwardenBinary() +
                     R"(","stress","--cpu","0.5"],"restart":"never","stdout":null,"stderr":null})")
                .status,
            201);
  std::string sock = "cgwarden-test-" + std::to_string(::getpid());
  std::string tmux = "tmux -L " + sock + " ";
  std::string cmd = cgwardenBinary() + " top --interval 200ms --url " + url() + " --token-file " + api_->tokenPath();
  ASSERT_EQ(std::system((tmux + "new-session -d -s top -x 150 -y 30 '" + cmd + "'").c_str()), 0);
  std::string pane;
  bool sorted = false;
  for (int i = 0; i < 100 && !sorted; ++i) {
    std::this_thread::sleep_for(100ms);
    pane = shell(tmux + "capture-pane -p -t top");
    // Rates need two samples: wait until the burner shows a CPU figure and is listed first.
    int burnerRow = -1, idlerRow = -1, row = 0;
    double burnerCpu = 0;
    for (auto line : splitLines(pane)) {
      auto f = splitFields(line);
      if (f.size() >= 3 && f[0] == "burner") {
        burnerRow = row;
        if (f[2].back() == '%') burnerCpu = parseDouble(f[2].substr(0, f[2].size() - 1)).value_or(0);
      }
      if (!f.empty() && f[0] == "idler") idlerRow = row;
      ++row;
    }
    sorted = burnerRow >= 0 && idlerRow > burnerRow && burnerCpu > 10;
  }
  EXPECT_TRUE(sorted) << pane;
  EXPECT_NE(pane.find("cgwarden top  127.0.0.1:" + std::to_string(port()) + "  2 workloads"), std::string::npos) << pane;
  EXPECT_NE(pane.find("NAME"), std::string::npos) << pane;
  EXPECT_NE(pane.find("CPU%"), std::string::npos) << pane;
  EXPECT_NE(pane.find("RESTARTS"), std::string::npos) << pane;
  EXPECT_EQ(pane.find('\x1b'), std::string::npos) << "capture-pane shows the rendered screen, not raw escapes";
  ASSERT_EQ(std::system((tmux + "send-keys -t top q").c_str()), 0);
  bool gone = false;
  for (int i = 0; i < 50 && !gone; ++i) {
    std::this_thread::sleep_for(100ms);
    gone = std::system((tmux + "has-session -t top 2>/dev/null").c_str()) != 0;
  }
  EXPECT_TRUE(gone) << "q quits top (and so ends the tmux session)";
  [[maybe_unused]] int killed = std::system((tmux + "kill-server 2>/dev/null").c_str());
  sampler_->stop();

  // Batch mode: plain frames, no escapes.
  Ran batch = cli({"top", "--batch", "--iterations", "2", "--interval", "100ms"});
  ASSERT_EQ(batch.code, 0) << batch.err;
  EXPECT_EQ(batch.out.find('\x1b'), std::string::npos);
  size_t frames = 0;
  for (size_t p = batch.out.find("cgwarden top"); p != std::string::npos; p = batch.out.find("cgwarden top", p + 1)) ++frames;
  EXPECT_EQ(frames, 2u) << batch.out;
}

// The real agent: `cgwarden run` with agent.listen on a free loopback port, the state dir in
// a temp dir and the cgroup root under the fixture's, found by the CLI through --config.
TEST_F(ApiCliTest, AgainstCgwardenRunThroughItsConfigFile) {
  uint16_t agentPort = freePort();
  std::string state = joinPath(launchTempDir(), "run-api-state");
  std::string config = joinPath(launchTempDir(), "run-api.yaml");
  std::ofstream(config) << "agent:\n"
                        << "  cgroup_root: " << testCgroupRoot() << "\n"
                        << "  listen: 127.0.0.1:" << agentPort << "\n"
                        << "  state_dir: " << state << "\n"
                        << "  sample_interval: 200ms\n"
                        << "workloads:\n"
                        << "  - name: ticker\n"
                        << "    command: [" << cgwardenBinary() << ", stress, --sleep]\n"
                        << "    stdout: null\n";
  Proc agentProc({"run", "--config", config});
  // The server answers /healthz before the control API (a later component) has registered.
  HttpResult probe;
  for (int i = 0; i < 200 && (probe.status == 0 || probe.status == 404); ++i) {
    std::this_thread::sleep_for(50ms);
    probe = httpGet(agentPort, "/api/v1/info");
  }
  EXPECT_EQ(probe.status, 401) << "/api/v1 needs the token; " << agentProc.err();
  struct stat st {};
  ASSERT_EQ(::stat(joinPath(state, "api-token").c_str(), &st), 0) << "the agent created its token";
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  Ran ps = runBinary({"ps", "--config", config});
  ASSERT_EQ(ps.code, 0) << ps.err << agentProc.err();
  EXPECT_NE(ps.out.find("\nticker "), std::string::npos) << ps.out;
  EXPECT_NE(ps.out.find("running"), std::string::npos) << ps.out;

  Ran set = runBinary({"set", "ticker", "--memory", "96Mi", "--config", config});
  ASSERT_EQ(set.code, 0) << set.err;
  EXPECT_EQ(memoryMax("ticker"), 96 * kMiB);

  Ran launch = runBinary({"launch", "extra", "--config", config, "--memory", "32Mi", "--", cgwardenBinary(), "stress", "--sleep"});
  ASSERT_EQ(launch.code, 0) << launch.err;
  EXPECT_EQ(memoryMax("extra"), 32 * kMiB);

  pid_t sh = spawn("/bin/sh", {"sh", "-c", "sleep 60 & wait"});
  for (int i = 0; i < 500 && liveTree(sh).size() < 2; ++i) std::this_thread::sleep_for(2ms);
  Ran adopt = runBinary({"adopt", std::to_string(sh), "--name", "adopted", "--config", config});
  ASSERT_EQ(adopt.code, 0) << adopt.err;
  {
    auto cg = manager_->open("adopted");
    ASSERT_TRUE(cg.ok());
    for (pid_t p : liveTree(sh)) EXPECT_TRUE(inCgroup(p, **cg, layout_)) << p;
    // Supervised like a launched one: listed, kind adopted, restart refused.
    Ran listed = runBinary({"ps", "--config", config});
    EXPECT_EQ(listed.code, 0) << listed.err;
    std::string kinds;  // "name=kind" per row
    for (auto line : splitLines(listed.out)) {
      auto f = splitFields(line);
      if (f.size() >= 3 && f[0] != "NAME") kinds += std::string(f[0]) + "=" + std::string(f[2]) + " ";
    }
    EXPECT_NE(kinds.find("adopted=adopted "), std::string::npos) << listed.out;
    EXPECT_NE(kinds.find("ticker=launched "), std::string::npos) << listed.out;
    Ran restart = runBinary({"restart", "adopted", "--config", config});
    EXPECT_NE(restart.code, 0);
    EXPECT_NE(restart.err.find("cannot be restarted"), std::string::npos) << restart.err;
  }
  killAndReap({sh});
  ::kill(agentProc.pid(), SIGTERM);
  EXPECT_EQ(agentProc.wait(), 0) << agentProc.err();
}

}  // namespace
}  // namespace cgwarden::testing
