// The real agent surviving its own death: `cgwarden run` with two launched workloads and one
// adopted process is SIGKILLed; a second agent on the same config and state takes everything
// over (same pids, nothing restarted, limits and counters intact) and keeps the restart
// policy working. Plus `adopt:` rules through the real agent.
#include <sys/prctl.h>
#include <sys/wait.h>

#include <fstream>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "collectors/FileIo.h"
#include "collectors/ProcCgroup.h"
#include "integration/AgentProcess.h"
#include "integration/CgroupFixture.h"
#include "support/PromText.h"

namespace cgwarden::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr uint64_t kMiB = 1024 * 1024;

// Makes the test a child subreaper for its lifetime, so the workloads a SIGKILLed agent leaves
// behind are reparented to (and reaped by) the test; on exit kills what it was told about and
// reaps every child.
class SubreaperScope {
 public:
  SubreaperScope() { ::prctl(PR_SET_CHILD_SUBREAPER, 1); }
  ~SubreaperScope() {
    for (pid_t p : pids_) ::kill(p, SIGKILL);
    // Orphans (workload inits) are ours now: reap whatever has ended, for a bounded time.
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < deadline) {
      pid_t r = ::waitpid(-1, nullptr, WNOHANG);
      if (r < 0) break;  // no children left
      if (r == 0) std::this_thread::sleep_for(20ms);
    }
    ::prctl(PR_SET_CHILD_SUBREAPER, 0);
  }
  void killAtExit(pid_t pid) { pids_.insert(pid); }

 private:
  std::set<pid_t> pids_;
};

class AgentRestartTest : public CgroupTest {
 protected:
  void SetUp() override {
    CgroupTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    static int counter = 0;
    std::string dir = joinPath(launchTempDir(), "restart-" + std::to_string(++counter));
    stateDir_ = joinPath(dir, "state");
    configPath_ = dir + ".yaml";
    port_ = freeLoopbackPort();
  }

  void TearDown() override {
    // Whatever is left in the test root (an agent that failed mid-test) is killed and removed
    // by the fixture; the subreaper scope reaps the processes.
    CgroupTest::TearDown();
  }

  void writeConfig(const std::string& body) {
    std::ofstream(configPath_) << "agent:\n"
                               << "  cgroup_root: " << testCgroupRoot() << "\n"
                               << "  listen: 127.0.0.1:" << port_ << "\n"
                               << "  state_dir: " << stateDir_ << "\n"
                               << "  sample_interval: 200ms\n"
                               << body;
  }

  std::unique_ptr<AgentProcess> startAgent() {
    auto a = std::make_unique<AgentProcess>(configPath_, port_, stateDir_);
    reaper_.killAtExit(a->pid());
    return a;
  }

  // name -> workload JSON from GET /api/v1/workloads.
  std::map<std::string, json> workloads(AgentProcess& agent) {
    std::map<std::string, json> out;
    auto r = agent.api("GET", "/api/v1/workloads");
    if (r.status != 200) return out;
    auto j = json::parse(r.body, nullptr, false);
    if (j.is_discarded()) return out;
    for (const auto& w : j["workloads"]) out[w["name"].get<std::string>()] = w;
    return out;
  }

  // Polls until `done(workloads)` or the timeout; returns the last list.
  std::map<std::string, json> waitWorkloads(AgentProcess& agent,
                                            const std::function<bool(const std::map<std::string, json>&)>& done,
                                            std::chrono::milliseconds timeout = 20s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::map<std::string, json> w;
    do {
      w = workloads(agent);
      if (done(w)) return w;
      std::this_thread::sleep_for(50ms);
    } while (std::chrono::steady_clock::now() < deadline);
    return w;
  }

  // container_cpu_usage_seconds_total of `name` (NaN when not exported yet).
  double cpuSeconds(AgentProcess& agent, const std::string& name) {
    PromText t = parsePromText(agent.metrics());
    auto found = t.find("container_cpu_usage_seconds_total", {{"name", name}});
    if (found.size() == 1) return found[0]->value;
    for (const PromSample* s : found) {
      auto cpu = s->labels.find("cpu");
      if (cpu != s->labels.end() && cpu->second == "total") return s->value;
    }
    return std::nan("");
  }

  std::string memoryLimitFile(const std::string& name) const {
    bool v2 = layout_.mode == collectors::CgroupMode::V2;
    std::string mount = v2 ? layout_.unifiedMount : layout_.v1Mounts.at("memory");
    return joinPath(joinPath(joinPath(mount, testCgroupRoot()), name), v2 ? "memory.max" : "memory.limit_in_bytes");
  }
  // A kernel limit file of "<root>/<name>" read as a number (v1 and v2 name them alike here).
  uint64_t limitFile(const std::string& controller, const std::string& name, const std::string& file) const {
    bool v2 = layout_.mode == collectors::CgroupMode::V2;
    std::string mount = v2 ? layout_.unifiedMount : layout_.v1Mounts.at(controller);
    auto text = readFile(joinPath(joinPath(joinPath(mount, testCgroupRoot()), name), file));
    return text ? std::strtoull(text->c_str(), nullptr, 10) : 0;
  }
  uint64_t memoryLimit(const std::string& name) const {
    auto text = readFile(memoryLimitFile(name));
    return text ? std::strtoull(text->c_str(), nullptr, 10) : 0;
  }

  // A process of the test's own: /bin/sleep under `comm` (a symlink named so), in its own
  // process group. Killed and reaped at the end by the subreaper scope.
  pid_t spawnSleep(const std::string& comm = "sleep") {
    std::string exe = "/bin/sleep";
    if (comm != "sleep") {
      // Made once: re-creating it while earlier children exec it would make their exec fail.
      exe = joinPath(launchTempDir(), comm);
      if (!pathExists(exe)) {
        EXPECT_EQ(::symlink("/bin/sleep", exe.c_str()), 0);
      }
    }
    pid_t pid = ::fork();
    if (pid == 0) {
      ::setpgid(0, 0);
      ::execl(exe.c_str(), comm.c_str(), "300", nullptr);
      ::_exit(127);
    }
    reaper_.killAtExit(pid);
    return pid;
  }

  static bool alive(pid_t pid) { return ::kill(pid, 0) == 0; }

  SubreaperScope reaper_;
  std::string stateDir_, configPath_;
  uint16_t port_ = 0;
};

TEST_F(AgentRestartTest, KillNineThenASecondAgentKeepsPidsLimitsCountersAndRestartPolicy) {
  writeConfig("workloads:\n"
              "  - name: burner\n"
              "    command: [" + cgwardenBinary() + ", stress, --cpu, \"0.5\"]\n"
              "    limits: {memory: 64Mi, cpu: 1}\n"
              "    restart: {policy: on-failure, backoff: {initial: 100ms}}\n"
              "    stdout: null\n"
              "  - name: idler\n"
              "    command: [" + cgwardenBinary() + ", stress, --sleep]\n"
              "    limits: {memory: 48Mi, pids: 50}\n"
              "    restart: {policy: on-failure, backoff: {initial: 100ms}}\n"
              "    stdout: null\n");
  auto first = startAgent();
  ASSERT_TRUE(first->waitHealthy()) << first->err();

  pid_t sleeper = spawnSleep();
  auto adopted = first->api("POST", "/api/v1/adopt",
                            R"({"pid":)" + std::to_string(sleeper) + R"(,"name":"napper","limits":{"memory":"40Mi"}})");
  ASSERT_EQ(adopted.status / 100, 2) << adopted.body << first->err();

  auto allRunning = [](const std::map<std::string, json>& w) {
    if (w.size() != 3) return false;
    for (const auto& [name, j] : w) {
      if (j["state"] != "running" || !j["pid"].is_number()) return false;
    }
    return true;
  };
  auto before = waitWorkloads(*first, allRunning);
  ASSERT_TRUE(allRunning(before)) << json(before).dump() << first->err();
  EXPECT_EQ(before["napper"]["kind"], "adopted");
  EXPECT_EQ(before["napper"]["pid"], sleeper);
  EXPECT_EQ(before["burner"]["kind"], "launched");

  // A counter that must not reset: the burner's CPU time, once it is clearly above zero.
  double cpuBefore = std::nan("");
  for (int i = 0; i < 200 && !(cpuBefore > 0.2); ++i) {
    std::this_thread::sleep_for(50ms);
    cpuBefore = cpuSeconds(*first, "burner");
  }
  ASSERT_GT(cpuBefore, 0.2) << "the burner's CPU counter never showed up on /metrics";

  first->killHard();
  for (const auto& [name, j] : before) EXPECT_TRUE(alive(j["pid"].get<pid_t>())) << name << " died with the agent";

  auto restartBegan = std::chrono::steady_clock::now();
  auto second = startAgent();
  ASSERT_TRUE(second->waitHealthy()) << second->err();
  std::fprintf(stderr, "MEASURED: second agent serving the API %.0f ms after its start (3 workloads restored)\n",
               std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - restartBegan).count());
  auto after = workloads(*second);
  ASSERT_EQ(after.size(), 3u) << json(after).dump() << second->err();
  for (const auto& [name, j] : before) {
    ASSERT_TRUE(after.count(name)) << name;
    EXPECT_EQ(after[name]["state"], "running") << name;
    EXPECT_EQ(after[name]["pid"], j["pid"]) << name << ": the same process, not a new one";
    EXPECT_EQ(after[name]["restarts"], 0) << name;
    EXPECT_EQ(after[name]["kind"], j["kind"]) << name;
  }
  EXPECT_EQ(after["napper"]["restartable"], false);
  EXPECT_EQ(memoryLimit("burner"), 64 * kMiB);
  EXPECT_EQ(memoryLimit("idler"), 48 * kMiB);
  EXPECT_EQ(memoryLimit("napper"), 40 * kMiB);
  EXPECT_EQ(limitFile("pids", "idler", "pids.max"), 50u);
  if (layout_.mode == collectors::CgroupMode::V2) {
    EXPECT_EQ(readFile(joinPath(joinPath(joinPath(layout_.unifiedMount, testCgroupRoot()), "burner"), "cpu.max"))
                  .valueOr(""),
              "100000 100000\n");
  } else {
    EXPECT_EQ(limitFile("cpu", "burner", "cpu.cfs_quota_us"), 100000u);
  }
  EXPECT_NE(second->err().find("re-adopted after an agent restart"), std::string::npos) << second->err();

  double cpuAfter = std::nan("");
  for (int i = 0; i < 100 && std::isnan(cpuAfter); ++i) {
    std::this_thread::sleep_for(50ms);
    cpuAfter = cpuSeconds(*second, "burner");
  }
  EXPECT_GE(cpuAfter, cpuBefore) << "container_cpu_usage_seconds_total reset across the agent restart";

  // Restart policy on a process that is not the new agent's child: its exit status is unknown,
  // which on-failure treats as a failure.
  pid_t idlerPid = after["idler"]["pid"].get<pid_t>();
  ASSERT_EQ(::kill(idlerPid, SIGKILL), 0);
  auto restarted = waitWorkloads(*second, [&](const std::map<std::string, json>& w) {
    auto it = w.find("idler");
    return it != w.end() && it->second["state"] == "running" && it->second["pid"].is_number() &&
           it->second["pid"] != idlerPid && it->second["restarts"] == 1;
  });
  EXPECT_EQ(restarted["idler"]["restarts"], 1) << json(restarted).dump() << second->err();
  EXPECT_NE(restarted["idler"]["pid"], idlerPid);
  EXPECT_EQ(memoryLimit("idler"), 48 * kMiB) << "the cgroup (and its limits) are kept across the restart";
  EXPECT_NE(second->err().find("exit status is unknown"), std::string::npos) << second->err();

  // Restarting an adopted workload is refused with a conflict.
  auto refused = second->api("POST", "/api/v1/workloads/napper/restart");
  EXPECT_EQ(refused.status, 409) << refused.body;
  EXPECT_NE(refused.body.find("cannot be restarted"), std::string::npos) << refused.body;

  // A clean stop ends every workload, the adopted process included, and removes the cgroups.
  EXPECT_EQ(second->stop(), 0) << second->err();
  for (int i = 0; i < 100 && alive(sleeper); ++i) {
    ::waitpid(sleeper, nullptr, WNOHANG);
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_FALSE(alive(sleeper));
  for (const char* name : {"burner", "idler", "napper"}) EXPECT_FALSE(pathExists(memoryLimitFile(name))) << name;
}

TEST_F(AgentRestartTest, StateEntriesThatDiedWhileAwayFollowTheirPolicyAndStrayCgroupsAreOnlyReported) {
  writeConfig("workloads:\n"
              "  - name: idler\n"
              "    command: [" + cgwardenBinary() + ", stress, --sleep]\n"
              "    restart: {policy: on-failure, backoff: {initial: 100ms}}\n"
              "    stdout: null\n");
  auto first = startAgent();
  ASSERT_TRUE(first->waitHealthy()) << first->err();
  auto before = waitWorkloads(*first, [](const auto& w) { return w.count("idler") && w.at("idler")["pid"].is_number(); });
  pid_t idlerPid = before["idler"]["pid"].get<pid_t>();
  first->killHard();
  ASSERT_EQ(::kill(idlerPid, SIGKILL), 0);  // dies while no agent runs
  for (int i = 0; i < 100 && ::waitpid(idlerPid, nullptr, WNOHANG) != idlerPid; ++i) std::this_thread::sleep_for(20ms);

  // A stray cgroup with a process of ours in it, and an empty one.
  auto stray = manager_->create("stray");
  ASSERT_TRUE(stray.ok()) << stray.error().message();
  pid_t strayPid = spawnSleep();
  ASSERT_TRUE((*stray)->attach(strayPid).ok());
  ASSERT_TRUE(manager_->create("leftover").ok());

  auto second = startAgent();
  ASSERT_TRUE(second->waitHealthy()) << second->err();
  auto after = waitWorkloads(*second, [&](const auto& w) {
    return w.count("idler") && w.at("idler")["state"] == "running" && w.at("idler")["pid"] != idlerPid;
  });
  EXPECT_EQ(after["idler"]["restarts"], 1) << json(after).dump() << second->err();
  EXPECT_EQ(after.count("stray"), 0u);
  auto info = json::parse(second->api("GET", "/api/v1/info").body, nullptr, false);
  EXPECT_EQ(info["cgroup"]["unclaimed"], json::array({"stray"})) << info.dump();
  EXPECT_TRUE(alive(strayPid)) << "nothing in an unclaimed cgroup is killed";
  EXPECT_FALSE(pathExists(memoryLimitFile("leftover"))) << "an empty unclaimed cgroup is removed";
  EXPECT_EQ(second->stop(), 0) << second->err();
  EXPECT_TRUE(alive(strayPid)) << "the agent's stop leaves unclaimed cgroups alone";
}

TEST_F(AgentRestartTest, AConfigEditedWhileNoAgentRanIsAppliedLiveToTheRestoredWorkloads) {
  auto config = [&](const std::string& memory, const std::string& tier) {
    return "workloads:\n"
           "  - name: svc\n"
           "    command: [" + cgwardenBinary() + ", stress, --sleep]\n"
           "    labels: {tier: " + tier + "}\n"
           "    limits: {memory: {max: " + memory + "}}\n"
           "    stdout: null\n";
  };
  writeConfig(config("64Mi", "a"));
  auto first = startAgent();
  ASSERT_TRUE(first->waitHealthy()) << first->err();
  auto before = waitWorkloads(*first, [](const auto& w) { return w.count("svc") && w.at("svc")["pid"].is_number(); });
  pid_t pid = before["svc"]["pid"].get<pid_t>();
  ASSERT_EQ(memoryLimit("svc"), 64 * kMiB);
  first->killHard();

  writeConfig(config("96Mi", "b"));  // edited while no agent runs
  auto second = startAgent();
  ASSERT_TRUE(second->waitHealthy()) << second->err();
  auto after = waitWorkloads(*second, [](const auto& w) { return w.count("svc") && w.at("svc")["state"] == "running"; });
  EXPECT_EQ(after["svc"]["pid"], pid) << "limits and labels change without a restart; " << second->err();
  EXPECT_EQ(after["svc"]["restarts"], 0);
  EXPECT_EQ(memoryLimit("svc"), 96 * kMiB) << "the file's limit is in force, not the saved one";
  EXPECT_EQ(after["svc"]["labels"]["tier"], "b") << json(after).dump();
  EXPECT_EQ(after["svc"]["limits"]["memory"]["max"], 96 * kMiB);

  // And the agent's reload baseline is the file: a SIGHUP now changes nothing.
  auto reload = second->api("POST", "/api/v1/reload");
  EXPECT_EQ(reload.status, 200) << reload.body;
  EXPECT_EQ(workloads(*second)["svc"]["pid"], pid);
  EXPECT_EQ(second->stop(), 0) << second->err();
}

TEST_F(AgentRestartTest, AnAdoptRuleOnCommTakesOverAProcessAndLetsGoOfItsEmptyWorkload) {
  std::string comm = "cga-" + std::to_string(::getpid());  // unique on this host, <= 15 characters
  writeConfig("adopt:\n"
              "  - name: probe\n"
              "    comm: \"" + comm + "\"\n"
              "    workload: probes\n"
              "    limits: {memory: 24Mi}\n"
              "policies:\n"
              "  - {name: watch-probes, target: probes, condition: \"pids >= 1\", actions: [log]}\n");
  auto agent = startAgent();
  ASSERT_TRUE(agent->waitHealthy()) << agent->err();
  pid_t pid = spawnSleep(comm);
  auto w = waitWorkloads(*agent, [&](const auto& list) {
    return list.count("probes") && list.at("probes")["pid"] == pid;
  });
  ASSERT_TRUE(w.count("probes")) << agent->err();
  EXPECT_EQ(w["probes"]["kind"], "adopted");
  EXPECT_EQ(w["probes"]["state"], "running");
  EXPECT_EQ(memoryLimit("probes"), 24 * kMiB);
  auto cg = manager_->open("probes");
  ASSERT_TRUE(cg.ok());
  auto members = (*cg)->pids();
  ASSERT_TRUE(members.ok());
  EXPECT_EQ(*members, std::vector<pid_t>{pid});

  PromText t = parsePromText(agent->metrics());
  EXPECT_EQ(t.value("cgwarden_adoptions_total", {{"rule", "probe"}}), 1.0);
  EXPECT_EQ(t.types["cgwarden_adoptions_total"], "counter");
  EXPECT_EQ(t.types["cgwarden_adoption_latency_seconds"], "histogram");
  EXPECT_TRUE(t.value("cgwarden_adoption_netlink_overruns_total").has_value());
  double memory = std::nan("");
  for (int i = 0; i < 100 && std::isnan(memory); ++i) {
    auto found = parsePromText(agent->metrics()).find("container_memory_usage_bytes", {{"name", "probes"}});
    if (!found.empty()) memory = found[0]->value;
    if (std::isnan(memory)) std::this_thread::sleep_for(50ms);
  }
  EXPECT_FALSE(std::isnan(memory)) << "the adopted workload is sampled and exported";
  EXPECT_EQ(parsePromText(agent->metrics()).value("cgwarden_workload_state", {{"name", "probes"}, {"state", "adopted"}}),
            1.0);

  // Policed like a launched workload: the rule's policy fires on it.
  bool policed = false;
  for (int i = 0; i < 100 && !policed; ++i) {
    auto events = json::parse(agent->api("GET", "/api/v1/events?workload=probes").body, nullptr, false);
    for (const auto& e : events.value("events", json::array())) policed = policed || e.value("rule", "") == "watch-probes";
    if (!policed) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(policed) << agent->err();

  // More execs of the matching program, all at once: each is moved after its exec event.
  std::vector<pid_t> more;
  for (int i = 0; i < 20; ++i) more.push_back(spawnSleep(comm));
  auto all = [&] {
    auto p = (*cg)->pids();
    return p.ok() && p->size() == more.size() + 1;
  };
  for (int i = 0; i < 250 && !all(); ++i) std::this_thread::sleep_for(20ms);
  EXPECT_TRUE(all()) << "every exec of the matching program is adopted\n" << agent->err();
  t = parsePromText(agent->metrics());
  EXPECT_EQ(t.value("cgwarden_adoptions_total", {{"rule", "probe"}}), 21.0);
  double count = t.value("cgwarden_adoption_latency_seconds_count").value_or(0);
  EXPECT_GE(count, 1.0) << "event-driven adoptions are timed";
  std::string buckets;
  for (const PromSample* b : t.find("cgwarden_adoption_latency_seconds_bucket")) {
    buckets += " le=" + b->labels.at("le") + ":" + std::to_string(static_cast<int>(b->value));
  }
  std::fprintf(stderr, "MEASURED: exec-to-adopted over %.0f execs, mean %.3f ms; cumulative buckets%s\n", count,
               1000.0 * t.value("cgwarden_adoption_latency_seconds_sum").value_or(0) / std::max(count, 1.0),
               buckets.c_str());
  for (pid_t p : more) {
    ::kill(p, SIGKILL);
    ::waitpid(p, nullptr, 0);
  }

  // Once its processes are gone, the rule's workload leaves the cgroup tree and the supervisor.
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  auto gone = waitWorkloads(*agent, [](const auto& list) { return list.count("probes") == 0; });
  EXPECT_EQ(gone.count("probes"), 0u) << agent->err();
  EXPECT_FALSE(pathExists(memoryLimitFile("probes")));
  EXPECT_EQ(agent->stop(), 0) << agent->err();
}

}  // namespace
}  // namespace cgwarden::testing
