// The control API against real cgroups: a real Supervisor, Sampler and CivetWeb server on
// loopback; every endpoint's success and error paths, authentication, and hostile input.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <mutex>

#include "Version.h"
#include "agent/Adopter.h"
#include "integration/AdoptHelpers.h"
#include "integration/ApiHelpers.h"

namespace cgwarden::testing {
namespace {

using agent::WorkloadState;
using nlohmann::json;
using namespace std::chrono_literals;

constexpr uint64_t kMiB = 1024 * 1024;

class ApiTest : public ApiFixture {
 protected:
  std::string cpuQuotaText(const std::string& name) const {
    if (layout_.mode == collectors::CgroupMode::V2) return readText(joinPath(dirOf("cpu", name), "cpu.max"));
    return readText(joinPath(dirOf("cpu", name), "cpu.cfs_quota_us"));
  }
  bool kernelFrozen(const std::string& name) const {
    if (layout_.mode == collectors::CgroupMode::V2) {
      return readText(joinPath(dirOf("", name), "cgroup.events")).find("frozen 1") != std::string::npos;
    }
    return readText(joinPath(dirOf("freezer", name), "freezer.state")).find("FROZEN") == 0;
  }
  std::vector<pid_t> procsOf(const std::string& name) const {
    std::vector<pid_t> out;
    for (auto line : splitLines(readText(joinPath(dirOf("memory", name), "cgroup.procs")))) {
      if (auto v = parseUint64(line)) out.push_back(static_cast<pid_t>(*v));
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  void launchSleeper(const std::string& name, const std::string& extra = "") {
    auto r = call("POST", "/api/v1/workloads", sleeperBody(name, extra));
    ASSERT_EQ(r.status, 201) << r.body;
  }
};

TEST_F(ApiTest, LaunchThenListAndGetShowPidsCgroupLimitsLabelsAndUsageFromTheSnapshot) {
  auto r = call("POST", "/api/v1/workloads",
                sleeperBody("web", R"(,"labels":{"tier":"front"},"limits":{"memory":{"max":"64Mi"},"pids":32})"));
  ASSERT_EQ(r.status, 201) << r.body;
  json launched = parse(r);
  auto st = supervisor_->status("web");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(launched["name"], "web");
  EXPECT_EQ(launched["state"], "running");
  EXPECT_EQ(launched["pid"], st->pid);
  EXPECT_EQ(readNumber(dirOf("memory", "web"), layout_.mode == collectors::CgroupMode::V2 ? "memory.max" : "memory.limit_in_bytes"),
            64 * kMiB);
  EXPECT_EQ(readNumber(dirOf("pids", "web"), "pids.max"), 32u);

  // Two sampler ticks give the CPU rate window, with no API call in between: one call (a
  // single `cgwarden ps`) sees the rate over the last tick.
  sampler_->tick();
  auto first = sampler_->latest();
  std::this_thread::sleep_for(300ms);
  sampler_->tick();
  auto snap = sampler_->latest();
  std::string id = "/" + testCgroupRoot() + "/web";
  const collectors::TargetSample* t = snap->find(id);
  const collectors::TargetSample* t0 = first->find(id);
  ASSERT_NE(t, nullptr);
  ASSERT_NE(t0, nullptr);

  r = call("GET", "/api/v1/workloads");
  ASSERT_EQ(r.status, 200) << r.body;
  json list = parse(r)["workloads"];
  ASSERT_EQ(list.size(), 1u) << r.body;
  json w = list[0];
  EXPECT_EQ(w["name"], "web");
  EXPECT_EQ(w["state"], "running");
  EXPECT_EQ(w["pid"], st->pid);
  EXPECT_EQ(w["cgroup"], id);
  EXPECT_EQ(w["pids"].get<std::vector<pid_t>>(), procsOf("web")) << "pids = the kernel's cgroup.procs";
  EXPECT_NE(std::find(w["pids"].begin(), w["pids"].end(), json(st->pid)), w["pids"].end());
  EXPECT_EQ(w["frozen"], false);
  EXPECT_EQ(w["restarts"], 0);
  EXPECT_EQ(w["labels"]["tier"], "front");
  EXPECT_EQ(w["limits"]["memory"]["max"], 64 * kMiB);
  EXPECT_EQ(w["limits"]["pids"]["max"], 32);
  EXPECT_GE(w["uptime_seconds"].get<double>(), 0.3);
  json u = w["usage"];
  ASSERT_TRUE(u.is_object()) << w.dump();
  EXPECT_EQ(u["memory_bytes"], t->memory.usageBytes);
  EXPECT_EQ(u["working_set_bytes"], t->memory.workingSetBytes());
  EXPECT_EQ(u["memory_limit_bytes"], 64 * kMiB);
  EXPECT_DOUBLE_EQ(u["cpu_seconds"].get<double>(), static_cast<double>(t->cpu.usageNs) / 1e9);
  EXPECT_EQ(u["tasks"], t->pidsCurrent);
  EXPECT_EQ(u["tasks_limit"], 32);
  double expected = static_cast<double>(t->cpu.usageNs - t0->cpu.usageNs) / 1e9 / (t->sampleTime - t0->sampleTime) * 100;
  ASSERT_TRUE(u["cpu_percent"].is_number()) << u.dump();
  EXPECT_NEAR(u["cpu_percent"].get<double>(), expected, 1e-6);
  EXPECT_NEAR(u["rate_window_seconds"].get<double>(), t->sampleTime - t0->sampleTime, 1e-9);

  r = call("GET", "/api/v1/workloads/web");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(parse(r)["usage"]["memory_bytes"], t->memory.usageBytes);
  r = call("GET", "/api/v1/workloads/nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(parse(r)["error"].get<std::string>().find("no workload named \"nope\""), std::string::npos);
  // HEAD is a GET without the body.
  r = call("HEAD", "/api/v1/workloads/web");
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.body.empty());
}

TEST_F(ApiTest, LaunchRefusesBadBodiesWithTheFieldPathAndCreatesNothing) {
  launchSleeper("dup");
  auto before = supervisor_->status("dup");
  ASSERT_TRUE(before.ok());

  struct Case {
    std::string what, body, contentType;
    int status;
    std::string field;  // "" = no field expected
    int line;           // 0 = not checked
    std::string message;
  };
  std::string deep = std::string(200, '[') + std::string(200, ']');
  std::string deepObj = R"({"name":"deep","command":["true"],"labels":)" + std::string(100, '[') + std::string(100, ']') + "}";
  std::vector<Case> cases = {
      {"name in use", sleeperBody("dup"), "application/json", 409, "name", 0, "already exists"},
      {"truncated JSON", R"({"name": "x", "command": [)", "application/json", 400, "", 1, "invalid JSON"},
      {"YAML is not JSON", "name: x\ncommand: [true]\n", "application/json", 400, "", 1, "invalid JSON"},
      {"unknown field", R"({"name":"x","command":["true"],"limts":{}})", "application/json", 400, "limts", 1,
       "unknown key (did you mean \"limits\"?)"},
      {"negative limit on line 4", "{\n  \"name\": \"x\",\n  \"command\": [\"true\"],\n  \"limits\": {\"memory\": {\"max\": -5}}\n}",
       "application/json", 400, "limits.memory.max", 4, "\"-5\" is not a size"},
      {"wrong type", R"({"name":"x","command":{"run":"true"}})", "application/json", 400, "command", 1, "expected"},
      {"wrong type for limits", R"({"name":"x","command":["true"],"limits":"lots"})", "application/json", 400, "limits", 1,
       "expected a mapping"},
      {"path traversal name", R"({"name":"../../etc","command":["true"]})", "application/json", 400, "name", 1, ""},
      {"control character in name", R"({"name":"a\nb","command":["true"]})", "application/json", 400, "name", 1, ""},
      {"missing command", R"({"name":"x"})", "application/json", 400, "", 0, "missing key \"command\""},
      {"not an object", "[1,2]", "application/json", 400, "", 0, "expected a JSON object"},
      {"nesting bomb", deep, "application/json", 400, "", 0, "nested 200 levels"},
      {"nesting bomb in a field", deepObj, "application/json", 400, "", 0, "nested 101 levels"},
      {"text/plain", sleeperBody("x"), "text/plain", 415, "", 0, "text/plain"},
      {"form post", "name=x", "application/x-www-form-urlencoded", 415, "", 0, "send application/json"},
      {"no content type", sleeperBody("x"), "", 415, "", 0, "Content-Type is missing"},
      {"empty body", "", "application/json", 400, "", 0, "a JSON body is required"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    auto r = call("POST", "/api/v1/workloads", c.body, c.contentType);
    EXPECT_EQ(r.status, c.status) << r.body;
    json j = parse(r);
    ASSERT_TRUE(j.contains("error")) << r.body;
    if (!c.field.empty()) {
      EXPECT_EQ(j["field"], c.field) << r.body;
    }
    if (c.line > 0) {
      EXPECT_EQ(j["line"], c.line) << r.body;
      EXPECT_GT(j["column"].get<int>(), 0) << r.body;
    }
    if (!c.message.empty()) {
      EXPECT_NE(j["error"].get<std::string>().find(c.message), std::string::npos) << r.body;
    }
  }
  // Over the server's 64 KiB limit: 413 before any handler runs.
  std::string huge = R"({"name":"big","command":["true"],"env":{"X":")" + std::string(100 * 1024, 'a') + "\"}}";
  auto r = call("POST", "/api/v1/workloads", huge);
  EXPECT_EQ(r.status, 413) << r.body;

  // A launch that fails after registering: 422 and the workload is `failed`.
  r = call("POST", "/api/v1/workloads", R"({"name":"ghost","command":["/nonexistent/daemon"],"restart":"never"})");
  EXPECT_EQ(r.status, 422) << r.body;
  json j = parse(r);
  EXPECT_NE(j["error"].get<std::string>().find("/nonexistent/daemon"), std::string::npos) << r.body;
  EXPECT_EQ(j["workload"]["state"], "failed");

  // Nothing else was created, the first workload was not touched, and the API still serves.
  std::vector<std::string> names;
  for (const auto& s : supervisor_->list()) names.push_back(s.name);
  EXPECT_EQ(names, (std::vector<std::string>{"dup", "ghost"}));
  for (const char* n : {"x", "deep", "big", "etc"}) EXPECT_FALSE(cgroupExists(n)) << n;
  auto after = supervisor_->status("dup");
  EXPECT_EQ(after->pid, before->pid);
  EXPECT_EQ(after->state, WorkloadState::Running);
  EXPECT_EQ(call("GET", "/api/v1/workloads").status, 200);
}

TEST_F(ApiTest, EveryEndpointNeedsTheTokenAndRefusedCallsChangeNothing) {
  launchSleeper("web", R"(,"limits":{"memory":"64Mi"})");
  auto before = supervisor_->status("web");
  ASSERT_TRUE(before.ok());
  std::string memFile = memoryMaxFile("web");
  std::string memBefore = readText(memFile);

  struct Ep {
    std::string method, path, body;
  };
  std::vector<Ep> endpoints = {
      {"GET", "/api/v1/info", ""},
      {"GET", "/api/v1/events", ""},
      {"GET", "/api/v1/workloads", ""},
      {"GET", "/api/v1/workloads/web", ""},
      {"GET", "/api/v1/workloads/web/limits", ""},
      {"POST", "/api/v1/workloads", sleeperBody("evil")},
      {"POST", "/api/v1/workloads/web/stop", ""},
      {"POST", "/api/v1/workloads/web/restart", ""},
      {"POST", "/api/v1/workloads/web/freeze", ""},
      {"PATCH", "/api/v1/workloads/web/limits", R"({"memory":{"max":"1Mi"}})"},
      {"PUT", "/api/v1/workloads/web/limits", R"({"memory":{"max":"1Mi"}})"},
      {"DELETE", "/api/v1/workloads/web", ""},
      {"POST", "/api/v1/adopt", R"({"pid":1,"name":"x"})"},
      {"POST", "/api/v1/reload", ""},
      {"GET", "/api/v1/no-such-endpoint", ""},
  };
  std::string wrong = token_;
  wrong[0] = wrong[0] == 'a' ? 'b' : 'a';
  for (const auto& ep : endpoints) {
    SCOPED_TRACE(ep.method + " " + ep.path);
    auto r = callWith("", ep.method, ep.path, ep.body);
    EXPECT_EQ(r.status, 401) << r.body;
    EXPECT_EQ(r.header("www-authenticate"), "Bearer realm=\"cgwarden\"");
    EXPECT_NE(parse(r)["error"].get<std::string>().find("missing"), std::string::npos);
    EXPECT_EQ(callWith(wrong, ep.method, ep.path, ep.body).status, 401);
    EXPECT_EQ(callWith(token_ + "0", ep.method, ep.path, ep.body).status, 401);
    EXPECT_EQ(callWith(token_.substr(0, 10), ep.method, ep.path, ep.body).status, 401);
    auto basic = httpRequest(port(), ep.method, ep.path, {{"Authorization", "Basic " + token_}}, ep.body);
    EXPECT_EQ(basic.status, 401);
  }
  // Nothing changed: same run, same limit, not frozen, nothing launched.
  auto after = supervisor_->status("web");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->state, WorkloadState::Running);
  EXPECT_EQ(after->pid, before->pid);
  EXPECT_EQ(readText(memFile), memBefore);
  EXPECT_FALSE(kernelFrozen("web"));
  EXPECT_FALSE(supervisor_->status("evil").ok());
  EXPECT_FALSE(cgroupExists("evil"));
  // The scheme is case-insensitive.
  auto lower = httpRequest(port(), "GET", "/api/v1/info", {{"Authorization", "bearer " + token_}});
  EXPECT_EQ(lower.status, 200);
  // /metrics-style open endpoints are not under /api/v1: the API does not guard them.
  EXPECT_EQ(callWith("", "GET", "/api/v1x").status, 404);
}

TEST_F(ApiTest, LimitsChangeLiveAndBadLimitsAreRefusedWithTheFieldPath) {
  launchSleeper("web", R"(,"limits":{"memory":"64Mi","pids":32})");
  pid_t pid = supervisor_->status("web")->pid;
  std::string memFile = memoryMaxFile("web");

  auto r = call("PATCH", "/api/v1/workloads/web/limits", R"({"memory":{"max":"128Mi"}})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(readNumber(dirOf("memory", "web"), layout_.mode == collectors::CgroupMode::V2 ? "memory.max" : "memory.limit_in_bytes"),
            128 * kMiB);
  EXPECT_EQ(parse(r)["limits"]["memory"]["max"], 128 * kMiB);
  EXPECT_EQ(parse(r)["limits"]["pids"]["max"], 32) << "fields not given are kept";
  EXPECT_EQ(supervisor_->status("web")->pid, pid) << "live: same process";

  r = call("PUT", "/api/v1/workloads/web/limits", R"({"pids":{"max":16},"cpu":{"cores":0.5}})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(readNumber(dirOf("pids", "web"), "pids.max"), 16u);
  std::string quota = cpuQuotaText("web");
  EXPECT_EQ(quota.substr(0, 5), "50000") << quota;

  r = call("GET", "/api/v1/workloads/web/limits");
  ASSERT_EQ(r.status, 200) << r.body;
  json j = parse(r);
  EXPECT_EQ(j["configured"]["memory"]["max"], 128 * kMiB);
  EXPECT_EQ(j["effective"]["memory"]["max"], 128 * kMiB);
  EXPECT_EQ(j["effective"]["pids"]["max"], 16);

  std::string memBefore = readText(memFile);
  struct Case {
    std::string body;
    int status;
    std::string field;
  };
  for (const Case& c : std::vector<Case>{{R"({"memory":{"max":-1}})", 400, "memory.max"},
                                         {R"({"memory":{"max":"12 parsecs"}})", 400, "memory.max"},
                                         {R"({"memory":[1]})", 400, "memory"},
                                         {R"({"memroy":{"max":"1Mi"}})", 400, "memroy"},
                                         {R"({"pids":{"max":0}})", 400, "pids.max"},
                                         {R"({"cpu":{"weight":20000}})", 400, "cpu.weight"},
                                         {R"({"cpu":{"cores":-1}})", 400, "cpu.cores"},
                                         {R"({})", 400, ""}}) {
    SCOPED_TRACE(c.body);
    r = call("PATCH", "/api/v1/workloads/web/limits", c.body);
    EXPECT_EQ(r.status, c.status) << r.body;
    if (!c.field.empty()) {
      EXPECT_EQ(parse(r)["field"], c.field) << r.body;
      EXPECT_EQ(parse(r)["line"], 1) << r.body;
    }
  }
  EXPECT_EQ(readText(memFile), memBefore) << "refused changes write nothing";
  EXPECT_EQ(call("PATCH", "/api/v1/workloads/nope/limits", R"({"pids":8})").status, 404);
  r = call("POST", "/api/v1/workloads/web/limits", R"({"pids":8})");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("allow"), "GET, PATCH, PUT");
  EXPECT_EQ(call("PATCH", "/api/v1/workloads/web/limits", R"({"pids":8})", "text/plain").status, 415);
}

TEST_F(ApiTest, StopRestartFreezeThawAndDeleteDriveTheSupervisor) {
  launchSleeper("web");
  pid_t pid = supervisor_->status("web")->pid;

  auto r = call("POST", "/api/v1/workloads/web/freeze");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(kernelFrozen("web"));
  EXPECT_EQ(parse(r)["frozen"], true);
  r = call("POST", "/api/v1/workloads/web/thaw", "{}");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(kernelFrozen("web"));
  EXPECT_EQ(parse(r)["frozen"], false);

  r = call("POST", "/api/v1/workloads/web/restart");
  ASSERT_EQ(r.status, 202) << r.body;
  auto restarted = supervisor_->waitFor(
      "web", [pid](const agent::WorkloadStatus& s) { return s.state == WorkloadState::Running && s.pid != pid; }, 30s);
  ASSERT_TRUE(restarted.ok()) << restarted.error().message();

  r = call("POST", "/api/v1/workloads/web/stop");
  ASSERT_EQ(r.status, 202) << r.body;
  waitState("web", WorkloadState::Stopped);
  r = call("GET", "/api/v1/workloads/web");
  json j = parse(r);
  EXPECT_EQ(j["state"], "stopped");
  EXPECT_TRUE(j["pid"].is_null());
  EXPECT_TRUE(j["cgroup"].is_null());
  EXPECT_FALSE(cgroupExists("web"));
  r = call("POST", "/api/v1/workloads/web/freeze");
  EXPECT_EQ(r.status, 409) << r.body;

  r = call("POST", "/api/v1/workloads/web/restart");
  ASSERT_EQ(r.status, 202) << r.body;
  waitState("web", WorkloadState::Running);
  EXPECT_TRUE(cgroupExists("web"));

  r = call("DELETE", "/api/v1/workloads/web");
  ASSERT_EQ(r.status, 202) << r.body;
  for (int i = 0; i < 300 && supervisor_->status("web").ok(); ++i) std::this_thread::sleep_for(50ms);
  EXPECT_EQ(call("GET", "/api/v1/workloads/web").status, 404);
  EXPECT_FALSE(cgroupExists("web"));

  EXPECT_EQ(call("POST", "/api/v1/workloads/nope/stop").status, 404);
  EXPECT_EQ(call("POST", "/api/v1/workloads/nope/freeze").status, 404);
  r = call("GET", "/api/v1/workloads/nope/stop");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.header("allow"), "POST");
  EXPECT_EQ(call("POST", "/api/v1/workloads/nope/explode").status, 404);
  EXPECT_EQ(call("PUT", "/api/v1/workloads").status, 405);
  launchSleeper("web2");
  r = call("POST", "/api/v1/workloads/web2/stop", R"({"force":true})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(parse(r)["field"], "force");
  EXPECT_EQ(call("POST", "/api/v1/workloads/web2/stop", "now", "text/plain").status, 415);
  EXPECT_EQ(supervisor_->status("web2")->state, WorkloadState::Running);
}

TEST_F(ApiTest, HostilePathsAreRefusedWhileTheAgentKeepsServing) {
  launchSleeper("web");
  pid_t pid = supervisor_->status("web")->pid;
  struct Case {
    std::string method, target;
    int status;
  };
  std::vector<Case> cases = {
      // CivetWeb decodes %2f and removes dot segments before routing: this lands on
      // /api/etc/stop, which nobody serves.
      {"POST", "/api/v1/workloads/..%2f..%2fetc/stop", 404},
      {"POST", "/api/v1/workloads/%2e%2e/stop", 404},         // -> /api/v1/stop
      {"POST", "/api/v1/workloads/a%2fb/stop", 404},          // -> a/b/stop: no such endpoint
      {"POST", "/api/v1/workloads/a%0ab/stop", 400},          // control character
      {"POST", "/api/v1/workloads/a%09b/stop", 400},
      {"POST", "/api/v1/workloads/.hidden/stop", 400},
      {"POST", "/api/v1/workloads/UPPER/stop", 400},
      {"POST", "/api/v1/workloads/a%20b/stop", 400},
      {"POST", "/api/v1/workloads/" + std::string(65, 'a') + "/stop", 400},
      {"PATCH", "/api/v1/workloads/..%2fweb/limits", 404},     // -> /api/v1/web/limits
      {"GET", "/api/v1/workloads/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd", 404},
  };
  std::atomic<int> wrong{0};
  std::atomic<int> servedOk{0};
  std::mutex mu;
  std::vector<std::string> failures;
  auto hostile = [&] {
    for (int round = 0; round < 5; ++round) {
      for (const auto& c : cases) {
        auto r = call(c.method, c.target, c.method == "PATCH" ? R"({"pids":1})" : "");
        if (r.status != c.status) {
          ++wrong;
          std::lock_guard lock(mu);
          failures.push_back(c.method + " " + c.target + " -> " + std::to_string(r.status) + " " + r.body);
        }
      }
    }
  };
  auto reader = [&] {
    for (int i = 0; i < 20; ++i) {
      if (call("GET", "/api/v1/workloads").status == 200) ++servedOk;
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) threads.emplace_back(hostile);
  for (int i = 0; i < 2; ++i) threads.emplace_back(reader);
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0) << (failures.empty() ? "" : failures.front());
  EXPECT_EQ(servedOk.load(), 40);
  auto r = call("POST", "/api/v1/workloads/a%0ab/stop");
  EXPECT_EQ(parse(r)["field"], "name");
  // A NUL ends the path inside CivetWeb: what is left is a different, still checked, request.
  r = call("POST", "/api/v1/workloads/web%00/../../x/stop");
  EXPECT_FALSE(r.status >= 200 && r.status < 300) << r.status << " " << r.body;
  EXPECT_EQ(supervisor_->status("web")->state, WorkloadState::Running);
  EXPECT_EQ(supervisor_->status("web")->pid, pid);
  EXPECT_EQ(readText(joinPath(dirOf("pids", "web"), "pids.max")), "max\n") << "the hostile PATCH reached nothing";
  auto names = cgroupsUnderRoot();
  names.erase(std::remove(names.begin(), names.end(), "agent"), names.end());
  EXPECT_EQ(names, std::vector<std::string>{"web"});
}

TEST_F(ApiTest, InfoReportsVersionCgroupModeUptimeAndTheConfigHash) {
  auto r = call("GET", "/api/v1/info");
  ASSERT_EQ(r.status, 200) << r.body;
  json j = parse(r);
  EXPECT_EQ(j["version"], kVersion);
  EXPECT_EQ(j["pid"], ::getpid());
  EXPECT_EQ(j["cgroup"]["mode"], collectors::cgroupModeName(layout_.mode));
  EXPECT_EQ(j["cgroup"]["root"], testCgroupRoot());
  EXPECT_GE(j["uptime_seconds"].get<double>(), 0.0);
  EXPECT_EQ(j["config"]["path"], configPath_);
  // The hash as sha256sum(1) computes it.
  std::string cmd = "sha256sum " + configPath_;
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  char buf[128] = {};
  ASSERT_NE(std::fgets(buf, sizeof buf, p), nullptr);
  ::pclose(p);
  EXPECT_EQ(j["config"]["sha256"], std::string(buf, 64));
  EXPECT_EQ(j["config"]["changed_on_disk"], false);
  {
    FILE* f = std::fopen(configPath_.c_str(), "a");
    std::fputs("# edited\n", f);
    std::fclose(f);
  }
  j = parse(call("GET", "/api/v1/info"));
  EXPECT_EQ(j["config"]["changed_on_disk"], true);
  EXPECT_EQ(j["config"]["sha256"], std::string(buf, 64)) << "the loaded config's hash until a reload";
  EXPECT_EQ(j["api"]["token_file"], api_->tokenPath());
  EXPECT_EQ(call("POST", "/api/v1/info").status, 405);
}

TEST_F(ApiTest, TheTokenFileIsCreated0600AndAnExposedOneIsRefused) {
  struct stat st {};
  ASSERT_EQ(::stat(api_->tokenPath().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_TRUE(api_->tokenCreated());
  EXPECT_EQ(token_.size(), 64u);
  // A second API on the same state dir reuses it.
  agent::ControlApiOptions o;
  o.agent.stateDir = stateDir_;
  auto again = agent::ControlApi::create(*supervisor_, layout_, o);
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE((*again)->tokenCreated());
  // Group-readable: refused, with the fix in the message.
  ASSERT_EQ(::chmod(api_->tokenPath().c_str(), 0640), 0);
  auto refused = agent::ControlApi::create(*supervisor_, layout_, o);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message().find("mode 0640"), std::string::npos) << refused.error().message();
  EXPECT_NE(refused.error().message().find("chmod 600 " + api_->tokenPath()), std::string::npos);
}

TEST_F(ApiTest, EventsComeFromTheProviderWithTheQuery) {
  auto r = call("GET", "/api/v1/events");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(parse(r), json::parse(R"({"events":[],"last_seq":0})"));

  agent::EventsQuery seen;
  api_->setEventsProvider([&](const agent::EventsQuery& q) {
    seen = q;
    agent::EventsPage page;
    page.events.push_back({{"seq", 4}, {"rule", "r1"}, {"workload", "web"}, {"action", "freeze"}});
    page.lastSeq = 4;
    return page;
  });
  r = call("GET", "/api/v1/events?limit=5&after=3&rule=r1&workload=web");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(seen.limit, 5u);
  EXPECT_EQ(seen.after, 3u);
  EXPECT_EQ(seen.rule, "r1");
  EXPECT_EQ(seen.workload, "web");
  json j = parse(r);
  EXPECT_EQ(j["last_seq"], 4);
  EXPECT_EQ(j["events"][0]["action"], "freeze");
  for (const char* q : {"limit=abc", "limit=0", "limit=-1", "after=x"}) {
    r = call("GET", std::string("/api/v1/events?") + q);
    EXPECT_EQ(r.status, 400) << q;
  }
  EXPECT_EQ(call("POST", "/api/v1/events").status, 405);
}

TEST_F(ApiTest, AdoptMovesARunningProcessTreeAndRefusesWhatItMustNot) {
  // Not wired: 501.
  auto r = call("POST", "/api/v1/adopt", R"({"pid":1,"name":"x"})");
  EXPECT_EQ(r.status, 501) << r.body;

  auto adopter = agent::Adopter::create(supervisor_->cgroups(), {});
  ASSERT_TRUE(adopter.ok()) << adopter.error().message();
  api_->setAdopter(agent::adoptFnFor(**adopter));

  pid_t sh = spawn("/bin/sh", {"sh", "-c", "sleep 60 & sleep 60 & wait"});
  for (int i = 0; i < 500 && liveTree(sh).size() < 3; ++i) std::this_thread::sleep_for(2ms);
  ASSERT_EQ(liveTree(sh).size(), 3u);
  r = call("POST", "/api/v1/adopt",
           "{\"pid\": " + std::to_string(sh) + ", \"name\": \"legacy\", \"limits\": {\"memory\": \"32Mi\", \"pids\": 20}}");
  ASSERT_EQ(r.status, 201) << r.body;
  json j = parse(r);
  EXPECT_EQ(j["workload"], "legacy");
  EXPECT_EQ(j["cgroup"], "/" + testCgroupRoot() + "/legacy");
  EXPECT_EQ(j["complete"], true);
  EXPECT_EQ(j["moved"].size(), 3u);
  EXPECT_EQ(j["members"].get<std::vector<pid_t>>(), liveTree(sh));
  auto cg = supervisor_->cgroups().open("legacy");
  ASSERT_TRUE(cg.ok());
  for (pid_t p : liveTree(sh)) {
    std::string why;
    EXPECT_TRUE(inCgroup(p, **cg, layout_, &why)) << p << ": " << why;
  }
  EXPECT_EQ(readNumber(dirOf("pids", "legacy"), "pids.max"), 20u);
  EXPECT_EQ(readNumber(dirOf("memory", "legacy"), layout_.mode == collectors::CgroupMode::V2 ? "memory.max" : "memory.limit_in_bytes"),
            32 * kMiB);

  launchSleeper("web");
  struct Case {
    std::string body;
    int status;
    std::string field;
  };
  std::vector<Case> cases = {
      {R"({"pid":1,"name":"init"})", 403, ""},                                  // init
      {"{\"pid\":" + std::to_string(::getpid()) + ",\"name\":\"me\"}", 403, ""},  // the agent itself
      {R"({"pid":2,"name":"kt"})", 403, ""},                                    // a kernel thread
      {"{\"pid\":" + std::to_string(supervisor_->status("web")->pid) + ",\"name\":\"thief\"}", 403, ""},
      {R"({"pid":4194303,"name":"ghost"})", 404, ""},
      {"{\"pid\":" + std::to_string(sh) + ",\"name\":\"web\"}", 409, "name"},  // a launched workload's name
      {R"({"pid":-3,"name":"x"})", 400, "pid"},
      {R"({"pid":"12abc","name":"x"})", 400, "pid"},
      {R"({"name":"x"})", 400, "pid"},
      {R"({"pid":5})", 400, "name"},
      {R"({"pid":5,"name":"../x"})", 400, "name"},
      {R"({"pid":5,"name":"x","limits":{"memory":{"max":-1}}})", 400, "limits.memory.max"},
      {R"({"pid":5,"name":"x","extra":1})", 400, "extra"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.body);
    r = call("POST", "/api/v1/adopt", c.body);
    EXPECT_EQ(r.status, c.status) << r.body;
    if (!c.field.empty()) {
      EXPECT_EQ(parse(r)["field"], c.field) << r.body;
    }
  }
  for (const char* n : {"init", "me", "kt", "thief", "ghost", "x"}) EXPECT_FALSE(cgroupExists(n)) << n;
  EXPECT_EQ(supervisor_->status("web")->state, WorkloadState::Running);
  killAndReap({sh});
}

TEST_F(ApiTest, ReloadDelegatesAndReportsConfigErrorsWithTheirLocation) {
  auto r = call("POST", "/api/v1/reload");
  EXPECT_EQ(r.status, 501) << r.body;

  int calls = 0;
  bool broken = true;
  api_->setReloader([&]() -> Result<agent::ReloadOutcome> {
    ++calls;
    agent::ReloadOutcome out;
    if (broken) {
      out.errors.push_back(config::ConfigIssue{{"/etc/cgwarden/cgwarden.yaml", 14, 16}, "workloads[2].limits.memory.max",
                                               "\"64Q\" is not a size (e.g. 64Mi, 1.5G)"});
    } else {
      out.changes = {"web: limits memory max 128Mi"};
    }
    return out;
  });
  r = call("POST", "/api/v1/reload");
  EXPECT_EQ(r.status, 422) << r.body;
  json j = parse(r);
  EXPECT_EQ(j["field"], "workloads[2].limits.memory.max");
  EXPECT_EQ(j["line"], 14);
  EXPECT_EQ(j["column"], 16);
  EXPECT_NE(j["error"].get<std::string>().find("the running config stays in force"), std::string::npos);
  broken = false;
  r = call("POST", "/api/v1/reload", "{}");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(parse(r)["changes"][0], "web: limits memory max 128Mi");
  EXPECT_EQ(call("POST", "/api/v1/reload", R"({"now":true})").status, 400);
  EXPECT_EQ(call("GET", "/api/v1/reload").status, 405);
  EXPECT_EQ(calls, 2);
}

}  // namespace
}  // namespace cgwarden::testing
