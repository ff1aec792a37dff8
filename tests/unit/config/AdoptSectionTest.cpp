// The `adopt:` section: every key, defaults, and the exact error messages.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/Loader.h"

namespace cgwarden::config {
namespace {

using ::testing::ElementsAre;

const char* kWorkloads = R"(workloads:
  - {name: web, command: [/bin/true]}
)";

std::vector<std::string> errorsOf(const std::string& adopt) {
  auto loaded = parseConfigText(std::string(kWorkloads) + adopt, "t.yaml");
  EXPECT_EQ(loaded.value.has_value(), loaded.errors.empty());
  std::vector<std::string> out;
  for (const auto& e : loaded.errors) out.push_back(e.render());
  return out;
}

Config load(const std::string& adopt) {
  auto loaded = parseConfigText(std::string(kWorkloads) + adopt, "t.yaml");
  EXPECT_TRUE(loaded.ok()) << loaded.renderErrors();
  return loaded.value ? *loaded.value : Config{};
}

TEST(AdoptSectionTest, FullRule) {
  Config c = load(R"Y(adopt:
  - name: batch-python
    exe: "/usr/bin/python3*"
    comm: "worker-*"
    cmdline: "--queue=(low|bulk)"
    user: root
    group: "0"
    parent: {comm: cron, pid: 812, workload: web}
    workload: "py-%u-%%"
    limits: {memory: {max: 1Gi}, cpu: 0.5}
)Y");
  ASSERT_EQ(c.adoptRules.size(), 1u);
  const AdoptRule& r = c.adoptRules[0];
  EXPECT_EQ(r.name, "batch-python");
  EXPECT_EQ(r.exe, "/usr/bin/python3*");
  EXPECT_EQ(r.comm, "worker-*");
  EXPECT_EQ(r.cmdline, "--queue=(low|bulk)");
  EXPECT_EQ(r.uid, 0u);
  EXPECT_EQ(r.user, "root");
  EXPECT_EQ(r.gid, 0u);
  EXPECT_EQ(r.group, "0");
  ASSERT_TRUE(r.parent.has_value());
  EXPECT_EQ(r.parent->comm, "cron");
  EXPECT_EQ(r.parent->pid, 812);
  EXPECT_EQ(r.parent->workload, "web");
  EXPECT_EQ(r.workload, "py-%u-%%");
  EXPECT_EQ(r.limits.memory.max, 1ull << 30);
  EXPECT_EQ(r.limits.cpu.quotaUs, 50000u);
  EXPECT_EQ(r.location.line, 4);
  EXPECT_EQ(r.location.column, 5);
}

TEST(AdoptSectionTest, DefaultsAndOrder) {
  Config c = load(R"(adopt:
  - {name: sleepers, comm: sleep}
  - {name: second, exe: /bin/*, workload: shared}
)");
  ASSERT_EQ(c.adoptRules.size(), 2u);
  EXPECT_EQ(c.adoptRules[0].workload, "sleepers");  // default: the rule's name
  EXPECT_FALSE(c.adoptRules[0].uid.has_value());
  EXPECT_FALSE(c.adoptRules[0].parent.has_value());
  EXPECT_FALSE(c.adoptRules[0].limits.memory.max.has_value());
  EXPECT_EQ(c.adoptRules[1].name, "second");
  EXPECT_EQ(c.adoptRules[1].workload, "shared");
  EXPECT_TRUE(load("adopt:\n").adoptRules.empty());
  EXPECT_TRUE(load("adopt: []\n").adoptRules.empty());
}

TEST(AdoptSectionTest, EveryErrorAtOnceWithLocation) {
  EXPECT_THAT(errorsOf(R"Y(adopt:
  - name: Bad_Name
    comm: sleep
  - name: no-matcher
  - name: typo
    comm: x
    wokload: y
  - name: regex
    cmdline: "(unclosed"
  - name: who
    user: no-such-user-cgw
  - name: tmpl
    comm: x
    workload: "w-%q"
  - name: launched
    comm: x
    workload: web
  - name: orphan
    parent: {workload: wbe}
  - name: empty-parent
    parent: {}
  - name: typo
    comm: y
  - name: glob
    comm: ""
)Y"),
              ElementsAre("t.yaml:4:11: adopt[0].name: \"Bad_Name\" is not a valid name (lowercase letters, digits, "
                          "'_', '.', '-', starting with a letter or digit, at most 64 characters)",
                          "t.yaml:6:5: adopt[1]: a rule needs at least one matcher (exe, comm, cmdline, user, group "
                          "or parent); it would adopt every process",
                          "t.yaml:9:5: adopt[2].wokload: unknown key (did you mean \"workload\"?)",
                          testing::StartsWith("t.yaml:11:14: adopt[3].cmdline: \"(unclosed\" is not a regular "
                                              "expression: "),
                          "t.yaml:13:11: adopt[4].user: unknown user \"no-such-user-cgw\"",
                          "t.yaml:16:15: adopt[5].workload: \"w-%q\": unknown escape \"%q\" (use %u user, %p pid, "
                          "%c comm, %% a '%')",
                          "t.yaml:17:5: adopt[6].workload: \"web\" is a launched workload (workloads:); adopt into "
                          "another name",
                          "t.yaml:20:5: adopt[7].parent.workload: no workload named \"wbe\" (did you mean \"web\"?)",
                          "t.yaml:23:13: adopt[8].parent: expected one of pid, comm or workload",
                          "t.yaml:24:11: adopt[9].name: duplicate adopt rule name \"typo\" (first at line 7)",
                          "t.yaml:27:11: adopt[10].comm: the pattern is empty"));
}

TEST(AdoptSectionTest, NotAList) {
  EXPECT_THAT(errorsOf("adopt: {name: x}\n"),
              ElementsAre("t.yaml:3:8: adopt: expected a list of adopt rules, got a mapping"));
  EXPECT_THAT(errorsOf("adpot: []\n"), ElementsAre(testing::HasSubstr("did you mean \"adopt\"")));
}

}  // namespace
}  // namespace cgwarden::config

namespace cgwarden::config {
namespace {

TEST(AdoptSectionTest, FullExampleHasBothRuleKinds) {
  auto loaded = loadConfigFile(std::string(CGWARDEN_SOURCE_DIR) + "/config/examples/full.yaml");
  ASSERT_TRUE(loaded.ok()) << loaded.renderErrors();
  ASSERT_EQ(loaded.value->adoptRules.size(), 2u);
  EXPECT_EQ(loaded.value->adoptRules[0].workload, "py-%u");
  EXPECT_EQ(loaded.value->adoptRules[1].parent->workload, "api");
}

}  // namespace
}  // namespace cgwarden::config

namespace cgwarden::config {
namespace {

TEST(AdoptSectionTest, PoliciesMayTargetARuleWorkload) {
  Config c = load(R"(adopt:
  - {name: sleepers, comm: sleep, workload: nappers}
policies:
  - {name: guard, target: nappers, condition: "memory.usage > 10Mi", actions: [log]}
)");
  ASSERT_EQ(c.policies.size(), 1u);
  EXPECT_THAT(errorsOf(R"(adopt:
  - {name: sleepers, comm: sleep, workload: nappers}
policies:
  - {name: guard, target: napers, condition: "memory.usage > 10Mi", actions: [log]}
)"),
              ElementsAre(testing::HasSubstr("no workload named \"napers\" (did you mean \"nappers\"?)")));
}

}  // namespace
}  // namespace cgwarden::config
