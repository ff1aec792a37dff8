// The pure rule matcher and workload-name templates.
#include <gtest/gtest.h>

#include "agent/AdoptMatcher.h"

namespace cgwarden::agent {
namespace {

using collectors::ProcessInfo;
using config::AdoptRule;

ProcessInfo worker() {
  ProcessInfo p;
  p.pid = 4242;
  p.ppid = 4200;
  p.comm = "worker-7";
  p.exe = "/usr/bin/python3.11";
  p.cmdline = {"python3", "-m", "jobs", "--queue=bulk"};
  p.uid = 1000;
  p.euid = 1000;
  p.gid = 100;
  p.egid = 100;
  return p;
}

AdoptRule rule(std::string workload = "batch") {
  AdoptRule r;
  r.name = "r1";
  r.workload = std::move(workload);
  return r;
}

AdoptMatcher compiled(AdoptRule r) {
  auto m = AdoptMatcher::compile(std::move(r));
  EXPECT_TRUE(m.ok()) << m.error().message();
  return std::move(m.value());
}

TEST(AdoptMatcherTest, EachMatcherAlone) {
  ParentFacts parent{4200, "cron", ""};
  auto p = worker();

  AdoptRule exe = rule();
  exe.exe = "/usr/bin/python3*";
  EXPECT_TRUE(compiled(exe).matches(p, parent));
  exe.exe = "/usr/local/bin/*";
  EXPECT_FALSE(compiled(exe).matches(p, parent));

  AdoptRule commExact = rule();
  commExact.comm = "worker-7";
  EXPECT_TRUE(compiled(commExact).matches(p, parent));
  commExact.comm = "worker";
  EXPECT_FALSE(compiled(commExact).matches(p, parent));  // exact, not a prefix

  AdoptRule commGlob = rule();
  commGlob.comm = "worker-[0-9]";
  EXPECT_TRUE(compiled(commGlob).matches(p, parent));

  AdoptRule cmd = rule();
  cmd.cmdline = "--queue=(low|bulk)";
  EXPECT_TRUE(compiled(cmd).matches(p, parent));
  cmd.cmdline = "^jobs";  // searched in "python3 -m jobs --queue=bulk": not at the start
  EXPECT_FALSE(compiled(cmd).matches(p, parent));

  AdoptRule uid = rule();
  uid.uid = 1000;
  EXPECT_TRUE(compiled(uid).matches(p, parent));
  uid.uid = 0;
  EXPECT_FALSE(compiled(uid).matches(p, parent));

  AdoptRule gid = rule();
  gid.gid = 100;
  EXPECT_TRUE(compiled(gid).matches(p, parent));
  gid.gid = 101;
  EXPECT_FALSE(compiled(gid).matches(p, parent));
}

TEST(AdoptMatcherTest, EffectiveIdsAreMatched) {
  auto p = worker();
  p.uid = 1000;
  p.euid = 0;  // a setuid binary
  AdoptRule r = rule();
  r.uid = 0;
  EXPECT_TRUE(compiled(r).matches(p, {}));
  r.uid = 1000;
  EXPECT_FALSE(compiled(r).matches(p, {}));
}

TEST(AdoptMatcherTest, ParentByPidCommAndWorkload) {
  auto p = worker();
  AdoptRule r = rule();
  r.parent = config::AdoptParentMatch{};
  r.parent->pid = 4200;
  EXPECT_TRUE(compiled(r).matches(p, ParentFacts{4200, "cron", ""}));
  EXPECT_FALSE(compiled(r).matches(p, ParentFacts{4201, "cron", ""}));

  r.parent = config::AdoptParentMatch{};
  r.parent->comm = "cro*";
  EXPECT_TRUE(compiled(r).matches(p, ParentFacts{4200, "cron", ""}));
  EXPECT_FALSE(compiled(r).matches(p, ParentFacts{4200, "", ""}));  // parent gone: no match

  r.parent = config::AdoptParentMatch{};
  r.parent->workload = "builder";
  auto m = compiled(r);
  EXPECT_TRUE(m.needsParentWorkload());
  EXPECT_TRUE(m.matches(p, ParentFacts{4200, "make", "builder"}));
  EXPECT_FALSE(m.matches(p, ParentFacts{4200, "make", ""}));
  EXPECT_FALSE(m.matches(p, ParentFacts{4200, "make", "builder2"}));
}

TEST(AdoptMatcherTest, AllMatchersMustMatch) {
  auto p = worker();
  AdoptRule r = rule();
  r.comm = "worker-*";
  r.uid = 1000;
  r.cmdline = "bulk";
  EXPECT_TRUE(compiled(r).matches(p, {}));
  r.uid = 1001;
  EXPECT_FALSE(compiled(r).matches(p, {}));
}

TEST(AdoptMatcherTest, DeletedExecutableStillMatches) {
  auto p = worker();
  p.exe = "/usr/bin/python3.11 (deleted)";
  AdoptRule r = rule();
  r.exe = "/usr/bin/python3.11";
  EXPECT_TRUE(compiled(r).matches(p, {}));
}

TEST(AdoptMatcherTest, KernelThreadsWithoutExeOrCmdlineNeverMatchThose) {
  ProcessInfo k;
  k.pid = 2;
  k.comm = "kthreadd";
  AdoptRule e = rule();
  e.exe = "*";
  EXPECT_FALSE(compiled(e).matches(k, {}));
  AdoptRule c = rule();
  c.cmdline = ".*";
  EXPECT_FALSE(compiled(c).matches(k, {}));
}

TEST(AdoptMatcherTest, NeededFields) {
  AdoptRule r = rule();
  r.comm = "x";
  EXPECT_EQ(compiled(r).neededFields(), collectors::kInfoBasic);
  r.exe = "/x";
  r.cmdline = "y";
  EXPECT_EQ(compiled(r).neededFields(), collectors::kInfoExe | collectors::kInfoCmdline);
}

TEST(AdoptMatcherTest, WorkloadNames) {
  auto p = worker();
  AdoptRule fixed = rule("batch");
  fixed.comm = "worker-7";
  auto f = compiled(fixed);
  EXPECT_FALSE(f.perMatch());
  EXPECT_EQ(f.workloadName(p, "alice"), "batch");

  AdoptRule t = rule("py-%u-%p-%c");
  t.comm = "worker-7";
  auto m = compiled(t);
  EXPECT_TRUE(m.perMatch());
  EXPECT_EQ(m.workloadName(p, "alice"), "py-alice-4242-worker-7");
  EXPECT_EQ(m.workloadName(p, ""), "py-1000-4242-worker-7");  // unknown user: the uid
  p.comm = "Web Server/2";
  EXPECT_EQ(m.workloadName(p, "Bob.Smith"), "py-bob.smith-4242-web-server-2");

  AdoptRule pct = rule("a%%b-%p");
  pct.comm = "x";
  EXPECT_EQ(compiled(pct).workloadName(p, ""), "a-b-4242");
}

TEST(AdoptMatcherTest, TemplateExpansionAndSanitising) {
  EXPECT_EQ(expandWorkloadTemplate("u-%u/p-%p/c-%c/%%/%x", "root", 7, "sh"), "u-root/p-7/c-sh/%/%x");
  EXPECT_EQ(sanitizeWorkloadName("Alice/Build Job"), "alice-build-job");
  EXPECT_EQ(sanitizeWorkloadName("..x"), "x");
  EXPECT_EQ(sanitizeWorkloadName("--a!!b"), "a-b");
  EXPECT_EQ(sanitizeWorkloadName("%%%"), "adopted");
  EXPECT_EQ(sanitizeWorkloadName(""), "adopted");
  EXPECT_EQ(sanitizeWorkloadName(std::string(300, 'a')).size(), 100u);
  // The result always satisfies the workload-name pattern.
  for (const char* raw : {"A", "_x", "x y z", "ÄÖÜ", "a/../b", ".hidden"}) {
    std::string n = sanitizeWorkloadName(raw);
    ASSERT_FALSE(n.empty());
    EXPECT_TRUE((n[0] >= 'a' && n[0] <= 'z') || (n[0] >= '0' && n[0] <= '9')) << raw << " -> " << n;
    EXPECT_EQ(n.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_.-"), std::string::npos) << raw << " -> " << n;
  }
}

TEST(AdoptMatcherTest, CompileErrorsNameTheRuleAndWhere) {
  auto check = [](AdoptRule r, const std::string& want) {
    r.location = {"cgwarden.yaml", 12, 5};
    auto m = AdoptMatcher::compile(r);
    ASSERT_FALSE(m.ok()) << "expected: " << want;
    std::string msg = m.error().message();
    EXPECT_NE(msg.find(want), std::string::npos) << msg;
    EXPECT_NE(msg.find("cgwarden.yaml:12:5"), std::string::npos) << msg;
    EXPECT_NE(msg.find("adopt rule \"" + r.name + "\""), std::string::npos) << msg;
  };
  check(rule(), "has no matcher");
  AdoptRule badRe = rule();
  badRe.cmdline = "(unclosed";
  check(badRe, "cmdline \"(unclosed\" is not a valid regex");
  AdoptRule badEsc = rule("x-%q");
  badEsc.comm = "x";
  check(badEsc, "unknown escape %q");
  AdoptRule lone = rule("x-%");
  lone.comm = "x";
  check(lone, "ends with a lone '%'");
  AdoptRule badName = rule("Web Server");
  badName.comm = "x";
  check(badName, "workload \"Web Server\" is not a valid name");
  AdoptRule longComm = rule();
  longComm.comm = "a-very-long-command-name";
  check(longComm, "longer than 15 characters");
  AdoptRule emptyParent = rule();
  emptyParent.parent = config::AdoptParentMatch{};
  check(emptyParent, "parent has none of pid, comm, workload");
  AdoptRule noTarget = rule("");
  noTarget.comm = "x";
  check(noTarget, "has no target workload");
  AdoptRule badRuleName = rule();
  badRuleName.name = "Bad Name";
  badRuleName.comm = "x";
  check(badRuleName, "rule name \"Bad Name\"");
}

}  // namespace
}  // namespace cgwarden::agent
