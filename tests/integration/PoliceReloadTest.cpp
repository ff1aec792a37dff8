// Reload against real cgroups: ConfigReloader + SupervisorReloadTarget (what SIGHUP runs).
// A raised memory limit reaches the cgroup file while the workload keeps its pid; a broken
// config changes nothing; a removed workload stops and an added one starts.
#include <gmock/gmock.h>
#include <signal.h>

#include <fstream>

#include "agent/ConfigReloader.h"
#include "agent/Supervisor.h"
#include "agent/SupervisorReloadTarget.h"
#include "integration/CgroupFixture.h"
#include "integration/LaunchHelpers.h"

namespace cgwarden::testing {
namespace {

using agent::WorkloadState;
using namespace std::chrono_literals;
constexpr uint64_t kMiB = 1024 * 1024;

class PoliceReloadTest : public CgroupTest {
 protected:
  void SetUp() override {
    CgroupTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    auto manager = agent::CgroupManager::create(layout_, testCgroupRoot());
    ASSERT_TRUE(manager.ok());
    agent::SupervisorOptions options;
    options.stateDir = launchTempDir();
    supervisor_ = std::make_unique<agent::Supervisor>(std::move(*manager), options);
    path_ = joinPath(launchTempDir(), "reload.yaml");
  }
  void TearDown() override {
    reloader_.reset();
    supervisor_.reset();
    ::unlink(path_.c_str());
    CgroupTest::TearDown();
  }

  std::string configText(const std::string& memory, bool withExtra, bool broken = false) {
    std::string text = "agent: {state_dir: " + launchTempDir() + "}\nworkloads:\n";
    text += "  - name: web\n    command: [" + cgwardenBinary() + ", stress, --sleep]\n    stdout: null\n    stderr: null\n";
    text += "    stop_grace: 200ms\n    limits: {memory: {max: " + memory + "}, pids: {max: 32}}\n";
    if (withExtra) text += "  - {name: extra, command: [" + cgwardenBinary() + ", stress, --sleep], stdout: null, stderr: null, stop_grace: 200ms}\n";
    if (broken) text += "  - {name: Broken!, command: []}\n";
    return text;
  }
  void writeConfig(const std::string& text) { std::ofstream(path_, std::ios::trunc) << text; }

  void start(const std::string& text) {
    writeConfig(text);
    auto loaded = config::loadConfigFile(path_);
    ASSERT_TRUE(loaded.ok()) << loaded.renderErrors();
    for (const auto& w : loaded.value->workloads) ASSERT_TRUE(supervisor_->launch(w).ok());
    reloader_ = std::make_unique<agent::ConfigReloader>(*loaded.value,
                                                        std::make_unique<agent::SupervisorReloadTarget>(*supervisor_, 10s));
  }

  agent::WorkloadStatus running(const std::string& name) {
    auto s = supervisor_->waitFor(name, [](const auto& st) { return st.state == WorkloadState::Running; }, 10s);
    EXPECT_TRUE(s.ok()) << name << ": " << s.error().message();
    return s.ok() ? *s : agent::WorkloadStatus{};
  }

  Limits kernelLimits(const std::string& name) {
    auto cg = manager_->open(name);
    EXPECT_TRUE(cg.ok());
    auto l = cg.ok() ? (*cg)->readLimits() : Result<Limits>(Limits{});
    return l.ok() ? *l : Limits{};
  }

  std::unique_ptr<agent::Supervisor> supervisor_;
  std::unique_ptr<agent::ConfigReloader> reloader_;
  std::string path_;
};

TEST_F(PoliceReloadTest, RaisedMemoryLimitIsAppliedLiveAndThePidStays) {
  start(configText("64Mi", true));
  const pid_t pid = running("web").pid;
  running("extra");
  EXPECT_EQ(kernelLimits("web").memory.max, 64 * kMiB);

  writeConfig(configText("128Mi", false));
  auto report = reloader_->reloadFile();
  EXPECT_TRUE(report.ok()) << (report.failures.empty() ? "" : report.failures[0]);
  EXPECT_EQ(kernelLimits("web").memory.max, 128 * kMiB);
  EXPECT_EQ(kernelLimits("web").pids.max, 32u);
  auto web = supervisor_->status("web");
  ASSERT_TRUE(web.ok());
  EXPECT_EQ(web->pid, pid) << "not restarted";
  EXPECT_EQ(web->state, WorkloadState::Running);
  EXPECT_EQ(web->limits.memory.max, 128 * kMiB);
  EXPECT_EQ(supervisor_->status("extra").error().errnum, ENOENT) << "removed from the config: stopped and forgotten";

  writeConfig(configText("128Mi", true));
  report = reloader_->reloadFile();
  EXPECT_TRUE(report.ok());
  running("extra");
}

TEST_F(PoliceReloadTest, ABrokenConfigChangesNothing) {
  start(configText("64Mi", true));
  const pid_t pid = running("web").pid;
  writeConfig(configText("256Mi", false, true));
  auto report = reloader_->reloadFile();
  ASSERT_FALSE(report.errors.empty());
  EXPECT_EQ(report.errors[0].where.file, path_);
  EXPECT_GT(report.errors[0].where.line, 0);
  EXPECT_EQ(kernelLimits("web").memory.max, 64 * kMiB);
  EXPECT_EQ(supervisor_->status("web")->pid, pid);
  EXPECT_EQ(supervisor_->status("extra")->state, WorkloadState::Running);
  EXPECT_EQ(reloader_->running().workloads.size(), 2u);
}

TEST_F(PoliceReloadTest, RestartPolicyAndLabelsChangeLiveWithoutARestart) {
  auto text = [&](const std::string& restart, const std::string& tier) {
    return "agent: {state_dir: " + launchTempDir() + "}\nworkloads:\n  - name: web\n    command: [" + cgwardenBinary() +
           ", stress, --sleep]\n    stdout: null\n    stderr: null\n    stop_grace: 200ms\n    labels: {tier: " + tier +
           "}\n    restart: " + restart + "\n";
  };
  start(text("{policy: never}", "a"));
  const pid_t pid = running("web").pid;
  writeConfig(text("{policy: always, backoff: {initial: 100ms}}", "b"));
  auto report = reloader_->reloadFile();
  ASSERT_TRUE(report.ok()) << (report.errors.empty() ? "" : report.errors[0].render());
  EXPECT_THAT(report.changes, ::testing::Contains("web: labels, restart updated"));
  auto st = supervisor_->status("web");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->pid, pid) << "updating settings restarts nothing";
  EXPECT_EQ(st->restarts, 0u);
  auto targets = supervisor_->sampleTargets();
  ASSERT_EQ(targets.size(), 1u);
  EXPECT_EQ(targets[0].labels.at("tier"), "b") << "the next sample exports the new labels";

  // The old policy (never) would leave it exited; the new one restarts it.
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  auto again = supervisor_->waitFor(
      "web", [pid](const auto& s) { return s.state == WorkloadState::Running && s.pid != pid; }, 10s);
  ASSERT_TRUE(again.ok()) << "not restarted under the reloaded policy: " << again.error().message();
  EXPECT_EQ(again->restarts, 1u);
}

}  // namespace
}  // namespace cgwarden::testing
