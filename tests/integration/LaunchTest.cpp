// The Launcher against this host's real cgroups and namespaces.
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <set>

#include "agent/Launcher.h"
#include "collectors/ProcCgroup.h"
#include "integration/CgroupFixture.h"
#include "integration/LaunchHelpers.h"

namespace cgwarden::testing {
namespace {

using agent::LaunchOptions;

class LaunchTest : public CgroupTest {
 protected:
  std::unique_ptr<agent::Cgroup> makeCgroup(const std::string& name) {
    auto cg = manager_->create(name);
    EXPECT_TRUE(cg.ok()) << cg.error().message();
    return cg ? std::move(*cg) : nullptr;
  }

  // Controllers cgwarden places workloads under (v1), plus "" for the cgroup2 line.
  static bool managedLine(const collectors::ProcCgroupEntry& e) {
    static const std::set<std::string> kManaged = {"cpu", "cpuacct", "cpuset", "memory", "blkio", "pids", "freezer"};
    if (e.controllers.empty()) return true;
    return std::any_of(e.controllers.begin(), e.controllers.end(), [](const std::string& c) { return kManaged.count(c) != 0; });
  }
};

// The three ways of getting the child into its cgroup before the workload runs.
struct AttachVariant {
  const char* name;
  LaunchOptions options;
};
void PrintTo(const AttachVariant& v, std::ostream* os) { *os << v.name; }

std::vector<AttachVariant> attachVariants() {
  LaunchOptions automatic;
  LaunchOptions parent;
  parent.attach = LaunchOptions::AttachMode::Parent;
  LaunchOptions legacy;
  legacy.useClone3 = false;
  return {{"SelfOrCloneInto", automatic}, {"ParentAttach", parent}, {"LegacyClone", legacy}};
}

class LaunchAttachTest : public LaunchTest, public ::testing::WithParamInterface<AttachVariant> {};

// The workload's very first act (cat is exec'd directly) reads /proc/self/cgroup: every
// hierarchy already shows its cgroup.
TEST_P(LaunchAttachTest, WorkloadIsInItsCgroupFromItsFirstInstruction) {
  auto cg = makeCgroup("first");
  ASSERT_NE(cg, nullptr);
  auto spec = outputSpec("first", {"cat", "/proc/self/cgroup"});
  spec.namespaces.cgroup = false;
  Ran ran = runToExit(*cg, spec, GetParam().options);
  ASSERT_EQ(ran.exit.shellCode(), 0) << ran.output;
  auto parsed = collectors::parseProcCgroup(ran.output);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message() << "\n" << ran.output;
  int checked = 0;
  for (const auto& e : parsed->entries) {
    if (!managedLine(e)) continue;
    if (e.controllers.empty() && layout_.unifiedMount.empty()) continue;
    EXPECT_EQ(e.path, "/" + cg->path()) << "hierarchy " << e.hierarchyId << " in\n" << ran.output;
    ++checked;
  }
  EXPECT_GE(checked, layout_.mode == collectors::CgroupMode::V2 ? 1 : 5) << ran.output;
}

INSTANTIATE_TEST_SUITE_P(Attach, LaunchAttachTest, ::testing::ValuesIn(attachVariants()),
                         [](const auto& param) { return std::string(param.param.name); });

// With a cgroup namespace the workload sees its own cgroup as "/", while the host sees it in
// the workload's cgroup.
TEST_F(LaunchTest, CgroupNamespaceShowsTheWorkloadCgroupAsRoot) {
  auto cg = makeCgroup("cgns");
  ASSERT_NE(cg, nullptr);
  auto spec = outputSpec("cgns", {"sh", "-c", "cat /proc/self/cgroup; echo ready; exec sleep 30"});
  auto launched = agent::Launcher::launch(spec, *cg);
  ASSERT_TRUE(launched.ok()) << launched.error().message();
  for (int i = 0; i < 500 && logOf(spec).find("ready") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::string inside = logOf(spec);
  auto host = collectors::readProcCgroup(launched->pid);
  ::kill(launched->pid, SIGKILL);
  (void)waitExit(*launched);
  ASSERT_NE(inside.find("ready"), std::string::npos) << inside;
  auto parsed = collectors::parseProcCgroup(inside.substr(0, inside.find("ready")));
  ASSERT_TRUE(parsed.ok()) << inside;
  for (const auto& e : parsed->entries) {
    if (managedLine(e)) {
      EXPECT_EQ(e.path, "/") << inside;
    }
  }
  ASSERT_TRUE(host.ok()) << host.error().message();
  for (const auto& e : host->entries) {
    if (!managedLine(e) || (e.controllers.empty() && layout_.unifiedMount.empty())) continue;
    EXPECT_EQ(e.path, "/" + cg->path());
  }
}

TEST_F(LaunchTest, WorkloadIsTheChildOfPidOneInItsPidNamespace) {
  auto cg = makeCgroup("pidns");
  ASSERT_NE(cg, nullptr);
  // /proc/self/stat: "pid (comm) state ppid ..."
  Ran ran = runToExit(*cg, outputSpec("pidns", {"cat", "/proc/self/stat"}));
  ASSERT_EQ(ran.exit.shellCode(), 0) << ran.output;
  auto fields = splitFields(ran.output);
  ASSERT_GE(fields.size(), 4u) << ran.output;
  EXPECT_EQ(fields[0], "2") << "pid 1 is cgwarden's init, the workload is its first child";
  EXPECT_EQ(fields[3], "1") << ran.output;
}

TEST_F(LaunchTest, NetworkNamespaceHasOnlyLoopbackAndItIsUp) {
  auto cg = makeCgroup("netns");
  ASSERT_NE(cg, nullptr);
  // /proc/net/dev lists the namespace's interfaces; fib_trie has 127.0.0.1 only once lo is up.
  Ran ran = runToExit(*cg, outputSpec("netns", {"sh", "-c", "cat /proc/net/dev; echo ==; cat /proc/net/fib_trie"}));
  ASSERT_EQ(ran.exit.shellCode(), 0) << ran.output;
  std::string dev = ran.output.substr(0, ran.output.find("=="));
  std::vector<std::string> interfaces;
  for (auto line : splitLines(dev)) {
    auto colon = line.find(':');
    if (colon == std::string_view::npos || line.find('|') != std::string_view::npos) continue;
    interfaces.emplace_back(trim(line.substr(0, colon)));
  }
  EXPECT_EQ(interfaces, std::vector<std::string>{"lo"}) << dev;
  EXPECT_NE(ran.output.find("127.0.0.1"), std::string::npos) << "lo is not up:\n" << ran.output;
}

TEST_F(LaunchTest, UtsNamespaceHasTheConfiguredHostname) {
  auto cg = makeCgroup("uts");
  ASSERT_NE(cg, nullptr);
  auto spec = outputSpec("uts", {"cat", "/proc/sys/kernel/hostname"});
  spec.hostname = "box-7";
  Ran ran = runToExit(*cg, spec);
  EXPECT_EQ(ran.output, "box-7\n");
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  EXPECT_NE(std::string(host), "box-7") << "the host's name must not change";
}

TEST_F(LaunchTest, InitReapsOrphanedZombies) {
  auto cg = makeCgroup("zombies");
  ASSERT_NE(cg, nullptr);
  // The subshell exits at once; its background sleep is orphaned to pid 1 and exits 0.2 s
  // later. If pid 1 did not reap it, it would still be listed, in state Z.
  Ran ran = runToExit(*cg, outputSpec("zombies", {"sh", "-c",
                                                   "(sleep 0.2 & echo orphan $!); sleep 1.5; "
                                                   "for f in /proc/[0-9]*/stat; do cat $f; echo; done"}));
  ASSERT_EQ(ran.exit.shellCode(), 0) << ran.output;
  auto lines = splitLines(ran.output);
  ASSERT_FALSE(lines.empty());
  auto first = splitFields(lines[0]);
  ASSERT_EQ(first.size(), 2u) << ran.output;
  std::string orphan(first[1]);
  for (auto line : lines) {
    auto f = splitFields(line);
    if (f.size() < 3 || f[0] == "orphan") continue;
    EXPECT_NE(f[2], "Z") << "zombie left: " << line;
    EXPECT_NE(f[0], orphan) << "the orphan is still there: " << line;
  }
}

TEST_F(LaunchTest, ForkBombStopsAtPidsMax) {
  auto cg = makeCgroup("forkbomb");
  ASSERT_NE(cg, nullptr);
  Limits l;
  l.pids.max = 12;
  ASSERT_TRUE(cg->applyLimits(l).ok());
  Ran ran = runToExit(*cg, outputSpec("forkbomb", {cgwardenBinary(), "stress", "--fork", "200", "--duration", "300ms"}));
  EXPECT_EQ(ran.exit.shellCode(), 0) << ran.output;
  // init + stress + children <= 12
  EXPECT_NE(ran.output.find("forked 10 of 200: Resource temporarily unavailable"), std::string::npos) << ran.output;
  if (auto dir = cg->directoryFor("pids")) {
    auto events = readFile(joinPath(*dir, "pids.events"));
    ASSERT_TRUE(events.ok());
    bool hit = false;
    for (auto& [k, v] : parseFlatKeyed(*events)) hit = hit || (k == "max" && v > 0);
    EXPECT_TRUE(hit) << *events;
  }
}

TEST_F(LaunchTest, IdentityDirectoryEnvironmentAndRlimits) {
  auto cg = makeCgroup("ids");
  ASSERT_NE(cg, nullptr);
  auto spec = outputSpec("ids", {"sh", "-c", "id -u; id -g; id -G; pwd; ulimit -n; echo $FOO; echo $PATH; ls /proc/self/fd"});
  std::string log = spec.stdoutSpec.path;
  ::chmod(launchTempDir().c_str(), 0755);
  ::chown(log.c_str(), 65534, 65534);
  spec.uid = 65534;
  spec.gid = 65534;
  spec.workingDir = "/tmp";
  spec.env["FOO"] = "bar baz";
  spec.rlimits.push_back(config::RlimitSpec{RLIMIT_NOFILE, 100, 200});
  Ran ran = runToExit(*cg, spec);
  ASSERT_EQ(ran.exit.shellCode(), 0) << ran.output;
  auto lines = splitLines(ran.output);
  ASSERT_GE(lines.size(), 8u) << ran.output;
  EXPECT_EQ(lines[0], "65534");
  EXPECT_EQ(lines[1], "65534");
  EXPECT_EQ(lines[2], "65534") << "supplementary groups must be cleared";
  EXPECT_EQ(lines[3], "/tmp");
  EXPECT_EQ(lines[4], "100");
  EXPECT_EQ(lines[5], "bar baz");
  EXPECT_EQ(lines[6], agent::Launcher::kDefaultPath);
  // Only stdin/stdout/stderr (plus the fd ls itself opens) are inherited.
  std::set<std::string> fds;
  for (size_t i = 7; i < lines.size(); ++i) fds.emplace(lines[i]);
  EXPECT_LE(fds.size(), 4u) << ran.output;
  for (const char* fd : {"0", "1", "2"}) EXPECT_EQ(fds.count(fd), 1u) << ran.output;
}

TEST_F(LaunchTest, InitExitsWithTheWorkloadsStatus) {
  auto cg = makeCgroup("status");
  ASSERT_NE(cg, nullptr);
  EXPECT_EQ(runToExit(*cg, outputSpec("status", {"sh", "-c", "exit 7"})).exit.shellCode(), 7);
  Ran killed = runToExit(*cg, outputSpec("status", {"sh", "-c", "kill -KILL $$"}));
  EXPECT_FALSE(killed.exit.signaled) << "the init reports 128+signal as its exit code";
  EXPECT_EQ(killed.exit.shellCode(), 128 + SIGKILL);
}

TEST_F(LaunchTest, InitForwardsSignalsToTheWorkload) {
  auto cg = makeCgroup("forward");
  ASSERT_NE(cg, nullptr);
  auto spec = outputSpec("forward", {"sh", "-c", "trap 'echo got-usr1; exit 5' USR1; echo ready; while :; do sleep 0.05; done"});
  auto launched = agent::Launcher::launch(spec, *cg);
  ASSERT_TRUE(launched.ok()) << launched.error().message();
  for (int i = 0; i < 500 && logOf(spec).find("ready") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(::kill(launched->pid, SIGUSR1), 0);
  auto exit = waitExit(*launched);
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->shellCode(), 5);
  EXPECT_NE(logOf(spec).find("got-usr1"), std::string::npos) << logOf(spec);
}

TEST_F(LaunchTest, LogFileIsRotatedBySize) {
  auto cg = makeCgroup("rotate");
  ASSERT_NE(cg, nullptr);
  auto spec = outputSpec("rotate", {"sh", "-c", "i=0; while [ $i -lt 3000 ]; do echo line $i; i=$((i+1)); done"});
  spec.stdoutSpec.rotateBytes = 8192;
  spec.stdoutSpec.keep = 2;
  spec.stderrSpec = spec.stdoutSpec;
  const std::string& path = spec.stdoutSpec.path;
  for (const char* suffix : {".1", ".2", ".3"}) ::unlink((path + suffix).c_str());
  Ran ran = runToExit(*cg, spec);
  ASSERT_EQ(ran.exit.shellCode(), 0);
  ASSERT_TRUE(pathExists(path + ".1"));
  ASSERT_TRUE(pathExists(path + ".2"));
  EXPECT_FALSE(pathExists(path + ".3")) << "keep: 2";
  // The kept files, oldest first, are one contiguous run of lines ending with the last one.
  std::string all = readFile(path + ".2").valueOr("") + readFile(path + ".1").valueOr("") + ran.output;
  auto lines = splitLines(all);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back(), "line 2999");
  int first = std::atoi(std::string(lines.front().substr(5)).c_str());
  for (size_t i = 0; i < lines.size(); ++i) {
    ASSERT_EQ(lines[i], "line " + std::to_string(first + static_cast<int>(i)));
  }
  struct stat st {};
  ::stat((path + ".1").c_str(), &st);
  EXPECT_GE(st.st_size, 8192);
}

TEST_F(LaunchTest, MissingOrNonExecutableBinaryIsALaunchFailure) {
  auto cg = makeCgroup("missing");
  ASSERT_NE(cg, nullptr);
  auto missing = agent::Launcher::launch(outputSpec("missing", {"/nonexistent/bin/tool", "--flag"}), *cg);
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(agent::Launcher::isExecFailure(missing.error()));
  EXPECT_NE(missing.error().message().find("launch missing: exec /nonexistent/bin/tool: No such file or directory (ENOENT)"),
            std::string::npos)
      << missing.error().message();

  std::string script = joinPath(launchTempDir(), "not-executable.sh");
  std::ofstream(script) << "#!/bin/sh\necho hi\n";
  ::chmod(script.c_str(), 0644);
  auto denied = agent::Launcher::launch(outputSpec("missing", {script}), *cg);
  ASSERT_FALSE(denied.ok());
  EXPECT_NE(denied.error().message().find("exec " + script + ": Permission denied (EACCES)"), std::string::npos)
      << denied.error().message();

  auto notInPath = agent::Launcher::launch(outputSpec("missing", {"no-such-command-xyz"}), *cg);
  ASSERT_FALSE(notInPath.ok());
  EXPECT_NE(notInPath.error().message().find("not found in PATH"), std::string::npos) << notInPath.error().message();

  auto badDir = outputSpec("missing", {"true"});
  badDir.workingDir = "/nonexistent-dir";
  auto chdirFailed = agent::Launcher::launch(badDir, *cg);
  ASSERT_FALSE(chdirFailed.ok());
  EXPECT_NE(chdirFailed.error().message().find("chdir /nonexistent-dir: No such file or directory"), std::string::npos)
      << chdirFailed.error().message();
  // Nothing is left running in the cgroup after failed launches.
  auto members = cg->pids();
  ASSERT_TRUE(members.ok());
  EXPECT_TRUE(members->empty());
}

TEST_F(LaunchTest, WithoutNamespacesTheWorkloadRunsDirectly) {
  auto cg = makeCgroup("nons");
  ASSERT_NE(cg, nullptr);
  auto spec = outputSpec("nons", {"sh", "-c", "echo $$ $PPID"});
  spec.namespaces = config::NamespaceSpec{false, false, false, false, false, false};
  spec.stdoutSpec.mode = config::OutputSpec::Mode::Null;
  spec.stderrSpec.mode = config::OutputSpec::Mode::Null;
  auto launched = agent::Launcher::launch(spec, *cg);
  ASSERT_TRUE(launched.ok()) << launched.error().message();
  EXPECT_FALSE(launched->hasInit);
  auto exit = waitExit(*launched);
  ASSERT_TRUE(exit.has_value());
  EXPECT_EQ(exit->shellCode(), 0);
}

}  // namespace
}  // namespace cgwarden::testing
