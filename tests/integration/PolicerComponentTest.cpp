// The policer wired into a real Agent as its integrator would: a sampler + HTTP server
// component first, then PolicerComponent. A policed workload's event reaches GET /events
// and the cgwarden_policy_* counters reach /metrics.
#include <pthread.h>
#include <signal.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "agent/Agent.h"
#include "agent/HttpServer.h"
#include "agent/MetricsService.h"
#include "agent/PolicerComponent.h"
#include "config/Loader.h"
#include "integration/CgroupFixture.h"
#include "integration/LaunchHelpers.h"
#include "support/HttpClient.h"

namespace cgwarden::testing {
namespace {

using namespace std::chrono_literals;

// What ServingComponent does, kept minimal: the sampler over the agent's workloads and an
// HTTP server on an ephemeral loopback port with /metrics.
class TestServing final : public agent::AgentComponent {
 public:
  std::string name() const override { return "test serving"; }
  Status start(agent::Agent& agent) override {
    agent::MetricsOptions o = agent::MetricsOptions::fromAgentSpec(agent.config().agent);
    auto m = agent::MetricsService::create(agent.layout(), agent.supervisor().targetProvider(), o);
    if (!m) return m.error();
    metrics = std::move(*m);
    auto s = agent::HttpServer::start({.listen = "127.0.0.1:0"});
    if (!s) return s.error();
    server = std::move(*s);
    metrics->registerHandlers(*server);
    metrics->start();
    return {};
  }
  void stop() override {
    if (metrics) metrics->stop();
  }
  std::unique_ptr<agent::MetricsService> metrics;
  std::unique_ptr<agent::HttpServer> server;
};

class PolicerComponentTest : public CgroupTest {
 protected:
  void SetUp() override {
    ::pthread_sigmask(SIG_SETMASK, nullptr, &savedMask_);
    CgroupTest::SetUp();
  }
  void TearDown() override {
    if (agent_) agent_->stop();
    agent_.reset();
    ::pthread_sigmask(SIG_SETMASK, &savedMask_, nullptr);  // Agent::start blocks TERM/INT/HUP
    CgroupTest::TearDown();
  }
  sigset_t savedMask_{};
  std::unique_ptr<agent::Agent> agent_;
};

TEST_F(PolicerComponentTest, EventsAndCountersAreServed) {
  std::string yaml = "agent: {cgroup_root: " + testCgroupRoot() + "/agent, sample_interval: 200ms, state_dir: " +
                     launchTempDir() + "}\n" +
                     "workloads:\n  - {name: grower, command: [" + cgwardenBinary() +
                     ", stress, --memory-grow, 20M/s], limits: {memory: 64Mi}, stdout: null, stderr: null, stop_grace: 100ms}\n"
                     "policies:\n"
                     "  - {name: guard, target: grower, condition: \"memory.usage > 50%\", actions: [log, freeze]}\n";
  auto loaded = config::parseConfigText(yaml, "agent.yaml");
  ASSERT_TRUE(loaded.ok()) << loaded.renderErrors();
  agent_ = std::make_unique<agent::Agent>(*loaded.value);
  auto serving = std::make_unique<TestServing>();
  TestServing* servingPtr = serving.get();
  agent_->addComponent(std::move(serving));
  auto police = std::make_unique<agent::PolicerComponent>(agent::PolicerHooks{
      .server = [servingPtr] { return servingPtr->server.get(); },
      .registry = [servingPtr] { return &servingPtr->metrics->registry(); },
      .snapshots = [servingPtr] { return servingPtr->metrics->latest(); },
      .options = {},
      .eventCapacity = 100,
      .everyTick = [servingPtr](uint32_t sections) { servingPtr->metrics->sampler().setEveryTick(sections); },
  });
  agent::PolicerComponent* policePtr = police.get();
  agent_->addComponent(std::move(police));
  ASSERT_TRUE(agent_->start().ok());
  const uint16_t port = servingPtr->server->port();

  nlohmann::json events;
  auto deadline = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = httpGet(port, "/events?rule=guard");
    ASSERT_EQ(r.status, 200) << r.error;
    events = nlohmann::json::parse(r.body);
    if (events["events"].size() >= 2) break;
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_GE(events["events"].size(), 2u) << events.dump();
  EXPECT_EQ(events["events"][0]["action"], "log");
  EXPECT_EQ(events["events"][1]["action"], "freeze");
  EXPECT_EQ(events["events"][1]["outcome"], "ok");
  EXPECT_EQ(events["events"][1]["workload"], "grower");

  auto page = policePtr->eventsFn()({10, 0, "guard", ""});
  EXPECT_EQ(page.events.size(), events["events"].size());

  auto metrics = httpGet(port, "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find(
                "cgwarden_policy_actions_total{action=\"freeze\",dry_run=\"false\",rule=\"guard\",workload=\"grower\"} 1"),
            std::string::npos)
      << metrics.body.substr(0, 2000);
  EXPECT_NE(metrics.body.find("cgwarden_policy_evaluations_total{rule=\"guard\"}"), std::string::npos);
  ASSERT_TRUE(agent_->supervisor().thaw("grower").ok());
}

}  // namespace
}  // namespace cgwarden::testing
