// Which kernel watches the rules want (pure), and the event ring with its /events handler.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>

#include "agent/PolicyEventLog.h"
#include "agent/PolicyWatches.h"
#include "collectors/FileIo.h"
#include "unit/agent/PolicyTestKit.h"

namespace cgwarden::testing {
namespace {

using agent::WatchSpec;
using ::testing::ElementsAre;

std::vector<std::string> keys(const std::vector<WatchSpec>& specs) {
  std::vector<std::string> out;
  for (const auto& s : specs) out.push_back(s.key());
  return out;
}

TEST(PolicyWatchesTest, V1MemoryThresholdAndOomEventfds) {
  auto rules = rulesOf(R"(  - {name: a, target: web, condition: "memory.working_set > 80%", actions: [freeze]}
  - {name: b, target: web, condition: {any: ["memory.usage > 32Mi", "memory.oom_kills >= 1"]}, actions: [log]}
  - {name: c, target: grower, condition: "cpu.usage > 1", actions: [log]}
)");
  auto snap = snapshotOf({sampleOf(makeTarget("web"), 0, 0, 64 * kMiB), sampleOf(makeTarget("grower"), 0)},
                         collectors::CgroupMode::Hybrid);
  auto specs = agent::desiredWatches(rules, *snap);
  EXPECT_THAT(keys(specs),
              ElementsAre("oom|/cgwarden/web|/sys/fs/cgroup/memory/cgwarden/web/memory.oom_control|0|",
                          "poll|/cgwarden/web|/|0|",
                          "threshold|/cgwarden/web|/sys/fs/cgroup/memory/cgwarden/web/memory.usage_in_bytes|33554433|",
                          "threshold|/cgwarden/web|/sys/fs/cgroup/memory/cgwarden/web/memory.usage_in_bytes|53687092|"));
  EXPECT_EQ(agent::triggerOf(specs[0].kind), agent::PolicyTrigger::Oom);
  EXPECT_EQ(agent::triggerOf(specs[1].kind), agent::PolicyTrigger::Poll);
  EXPECT_EQ(agent::triggerOf(specs[2].kind), agent::PolicyTrigger::Threshold);
  // >= registers the value itself; a strict > one byte more (usage == threshold does not satisfy it).
  auto ge = rulesOf("  - {name: a, target: web, condition: \"memory.usage >= 32Mi\", actions: [log]}\n");
  EXPECT_EQ(agent::desiredWatches(ge, *snap)[0].bytes, 32 * kMiB);
}

TEST(PolicyWatchesTest, FractionWithoutALimitAndObservedCgroupsGetNoWriteWatches) {
  auto rules = rulesOf(R"(  - {name: a, target: "*", condition: "memory.usage > 80%", actions: [log]}
  - {name: b, target: "*", condition: "memory.pressure.some > 10%", actions: [log]}
)");
  auto snap = snapshotOf({sampleOf(makeTarget("web"), 0, 0, kUnlimited), sampleOf(makeTarget("x", false), 0)},
                         collectors::CgroupMode::Hybrid);
  EXPECT_THAT(keys(agent::desiredWatches(rules, *snap)),
              ElementsAre("psi|/cgwarden/web|/sys/fs/cgroup/unified/cgwarden/web/memory.pressure|0|some 1000000 10000000"));
}

TEST(PolicyWatchesTest, PsiTriggerWindowsAreMultiplesOfTwoSeconds) {
  auto rules = rulesOf(R"(  - {name: a, target: web, condition: "cpu.pressure.full > 25% over 3s", actions: [log]}
  - {name: b, target: web, condition: "io.pressure.some.avg10 > 50%", actions: [log]}
  - {name: c, target: web, condition: "memory.pressure.some.avg60 > 5%", actions: [log]}
  - {name: d, target: web, condition: "memory.pressure.some > 20% over 500ms", actions: [log]}
)");
  auto snap = snapshotOf({sampleOf(makeTarget("web"), 0)}, collectors::CgroupMode::V2);
  std::vector<std::string> triggers;
  for (const auto& s : agent::desiredWatches(rules, *snap)) triggers.push_back(s.file + " " + s.trigger);
  EXPECT_THAT(triggers, ElementsAre("cpu.pressure full 1000000 4000000", "io.pressure some 1000000 2000000",
                                    "memory.pressure some 400000 2000000", "memory.pressure some 500000 10000000"));
}

TEST(PolicyWatchesTest, V2MemoryRulesUseMemoryEventsAndTheFastPoll) {
  auto rules = rulesOf("  - {name: a, target: web, condition: \"memory.usage > 80%\", actions: [log]}\n");
  auto snap = snapshotOf({sampleOf(makeTarget("web"), 0)}, collectors::CgroupMode::V2);
  auto specs = agent::desiredWatches(rules, *snap);
  ASSERT_EQ(specs.size(), 2u);
  EXPECT_EQ(specs[0].kind, WatchSpec::Kind::MemoryEvents);
  EXPECT_EQ(specs[0].dir, "/sys/fs/cgroup/unified/cgwarden/web");
  EXPECT_EQ(specs[0].file, "memory.events");
  EXPECT_EQ(specs[1].kind, WatchSpec::Kind::FastPoll);
}

TEST(PolicyWatchesTest, InotifyOnARealFileAndFastPollTargets) {
  char dir[] = "/tmp/cgwarden-watch-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  std::string events = std::string(dir) + "/memory.events";
  std::ofstream(events) << "oom_kill 0\n";
  agent::WatchSet set;
  set.reconcile({WatchSpec{WatchSpec::Kind::MemoryEvents, "/cgwarden/web", dir, "memory.events", 0, ""},
                 WatchSpec{WatchSpec::Kind::FastPoll, "/cgwarden/web", "", "", 0, ""}});
  EXPECT_EQ(set.size(), 2u);
  EXPECT_THAT(set.fastPollTargets(), ElementsAre("/cgwarden/web"));
  std::ofstream(events, std::ios::app) << "oom_kill 1\n";
  std::vector<struct pollfd> fds;
  set.pollFds(fds);
  ASSERT_EQ(fds.size(), 1u);
  ASSERT_EQ(::poll(fds.data(), fds.size(), 1000), 1);
  auto fired = set.collect(fds, 0);
  ASSERT_FALSE(fired.empty());
  EXPECT_EQ(fired[0].targetId, "/cgwarden/web");
  EXPECT_EQ(fired[0].trigger, agent::PolicyTrigger::MemoryEvents);
  set.reconcile({});
  EXPECT_EQ(set.size(), 0u);
  ::unlink(events.c_str());
  ::rmdir(dir);
}

TEST(PolicyWatchesTest, AWatchThatCannotOpenIsLeftOutAndRetried) {
  agent::WatchSet set;
  WatchSpec psi{WatchSpec::Kind::Psi, "/cgwarden/gone", "/nonexistent/cgwarden/gone", "memory.pressure", 0,
                "some 150000 2000000"};
  set.reconcile({psi});
  EXPECT_EQ(set.size(), 0u);
  set.reconcile({psi});
  EXPECT_EQ(set.size(), 0u);
}

agent::PolicyEvent eventFor(const std::string& rule, const std::string& workload) {
  agent::PolicyEvent e;
  e.time = kT0;
  e.rule = rule;
  e.workload = workload;
  e.action = "kill";
  return e;
}

TEST(PolicyEventLogTest, BoundedRingAndQueries) {
  agent::PolicyEventLog log(3);
  std::vector<uint64_t> seen;
  log.onEvent([&](const agent::PolicyEvent& e) { seen.push_back(e.seq); });
  for (int i = 0; i < 5; ++i) log.append(eventFor(i % 2 ? "odd" : "even", "w" + std::to_string(i)));
  EXPECT_THAT(seen, ElementsAre(1, 2, 3, 4, 5));
  EXPECT_EQ(log.lastSeq(), 5u);
  auto all = log.all();
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all.front().seq, 3u);
  EXPECT_EQ(all.back().seq, 5u);
  EXPECT_EQ(log.recent({10, 4, "", ""}).size(), 1u);
  EXPECT_EQ(log.recent({10, 0, "even", ""}).size(), 2u);
  EXPECT_EQ(log.recent({10, 0, "", "w3"}).size(), 1u);
  EXPECT_EQ(log.recent({1, 0, "", ""})[0].seq, 5u);
}

TEST(PolicyEventLogTest, EventsHandlerServesJson) {
  agent::PolicyEventLog log(2);
  for (int i = 0; i < 3; ++i) log.append(eventFor("guard", "web"));
  agent::HttpRequest req;
  req.method = "GET";
  req.path = "/events";
  req.query = "limit=1";
  auto r = log.handle(req);
  EXPECT_EQ(r.status, 200);
  auto body = nlohmann::json::parse(r.body);
  ASSERT_EQ(body["events"].size(), 1u);
  EXPECT_EQ(body["events"][0]["seq"], 3);
  EXPECT_EQ(body["events"][0]["rule"], "guard");
  EXPECT_EQ(body["events"][0]["time"], "2027-01-15T08:00:00.000Z");
  EXPECT_EQ(body["last_seq"], 3);
  EXPECT_EQ(body["dropped"], 1);
  req.query = "after=x";
  r = log.handle(req);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(nlohmann::json::parse(r.body)["error"], "after: \"x\" is not a whole number");
  req.method = "POST";
  req.query = "";
  EXPECT_EQ(log.handle(req).status, 405);
}

}  // namespace
}  // namespace cgwarden::testing
