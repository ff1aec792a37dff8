// /proc/<pid>/{stat,status,cmdline,children} parsers and readers on temp trees.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "collectors/ProcessInfo.h"
#include "unit/TempTree.h"

namespace cgwarden::collectors {
namespace {

using testing::TempTree;

// A stat line with the given fields; the rest are plausible zeros.
std::string statLine(pid_t pid, const std::string& comm, char state, pid_t ppid, uint32_t flags, uint64_t start) {
  return std::to_string(pid) + " (" + comm + ") " + state + " " + std::to_string(ppid) + " " + std::to_string(pid) +
         " " + std::to_string(ppid) + " 0 -1 " + std::to_string(flags) + " 120 0 0 0 3 1 0 0 20 0 1 0 " +
         std::to_string(start) + " 2273280 214 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
}

TEST(ProcStatTest, ParsesTheFieldsTheMoverNeeds) {
  auto st = parseProcStat(statLine(4242, "sleep", 'S', 4200, 4194560, 987654));
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(st->pid, 4242);
  EXPECT_EQ(st->comm, "sleep");
  EXPECT_EQ(st->state, 'S');
  EXPECT_EQ(st->ppid, 4200);
  EXPECT_EQ(st->flags, 4194560u);
  EXPECT_EQ(st->startTimeTicks, 987654u);
}

TEST(ProcStatTest, CommWithSpacesAndParenthesesEndsAtTheLastParenthesis) {
  auto st = parseProcStat(statLine(7, "a) (b c", 'Z', 1, 0, 5));
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(st->comm, "a) (b c");
  EXPECT_EQ(st->state, 'Z');
  EXPECT_EQ(st->ppid, 1);
}

TEST(ProcStatTest, KernelThreadFlagIsKept) {
  // kthreadd on a 6.x kernel: flags 0x00208040 include PF_KTHREAD.
  auto st = parseProcStat(statLine(2, "kthreadd", 'S', 0, 0x00208040, 1));
  ASSERT_TRUE(st.ok());
  EXPECT_NE(st->flags & kPfKthread, 0u);
}

TEST(ProcStatTest, MalformedLinesNameTheField) {
  auto noParen = parseProcStat("12 sleep S 1");
  ASSERT_FALSE(noParen.ok());
  EXPECT_NE(noParen.error().message().find("no \"(comm)\" field"), std::string::npos);
  auto shortLine = parseProcStat("12 (x) S 1 2 3");
  ASSERT_FALSE(shortLine.ok());
  EXPECT_NE(shortLine.error().message().find("fewer than 22 fields"), std::string::npos);
  std::string badPpid = statLine(12, "x", 'S', 1, 0, 1);
  badPpid.replace(badPpid.find(") S 1 ") + 4, 1, "q");
  auto bad = parseProcStat(badPpid);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("field 4 (ppid)"), std::string::npos);
}

TEST(ProcStatusTest, ParsesIdsAndTgid) {
  auto st = parseProcStatus(
      "Name:\tmy prog\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t4242\nNgid:\t0\nPid:\t4243\nPPid:\t4200\n"
      "TracerPid:\t0\nUid:\t1000\t1001\t1002\t1003\nGid:\t50\t51\t52\t53\nFDSize:\t64\n");
  ASSERT_TRUE(st.ok()) << st.error().message();
  EXPECT_EQ(st->name, "my prog");
  EXPECT_EQ(st->tgid, 4242);
  EXPECT_EQ(st->ppid, 4200);
  EXPECT_EQ(st->uid[0], 1000u);
  EXPECT_EQ(st->uid[1], 1001u);
  EXPECT_EQ(st->gid[0], 50u);
  EXPECT_EQ(st->gid[1], 51u);
}

TEST(ProcStatusTest, MissingOrBadLinesAreErrors) {
  EXPECT_FALSE(parseProcStatus("Name:\tx\nUid:\t0 0 0 0\nGid:\t0 0 0 0\n").ok());  // no Tgid
  auto bad = parseProcStatus("Tgid:\t1\nUid:\t0 0 0\nGid:\t0 0 0 0\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("Uid has fewer than 4 ids"), std::string::npos);
}

TEST(CmdlineTest, SplitsOnNul) {
  using namespace std::string_literals;
  EXPECT_EQ(parseCmdline("sleep\0"s "30\0"s), (std::vector<std::string>{"sleep", "30"}));
  EXPECT_EQ(parseCmdline("a\0\0b"s), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_TRUE(parseCmdline("").empty());
  ProcessInfo p;
  p.cmdline = {"python3", "-m", "worker"};
  EXPECT_EQ(p.commandLine(), "python3 -m worker");
}

TEST(PidListTest, ChildrenAndProcsFormats) {
  EXPECT_EQ(parsePidList("4243 4250 \n"), (std::vector<pid_t>{4243, 4250}));
  EXPECT_EQ(parsePidList("1\n22\n333\n"), (std::vector<pid_t>{1, 22, 333}));
  EXPECT_EQ(parsePidList("x 5 -3 0\n"), (std::vector<pid_t>{5}));
  EXPECT_TRUE(parsePidList("").empty());
}

void fakeProcess(const TempTree& t, pid_t pid, const std::string& comm, pid_t ppid, uint32_t uid,
                 const std::string& cmdline, const std::string& children) {
  std::string d = std::to_string(pid);
  t.write(d + "/stat", statLine(pid, comm, 'S', ppid, 0x400100, 100 + pid));
  t.write(d + "/status", "Name:\t" + comm + "\nTgid:\t" + d + "\nPPid:\t" + std::to_string(ppid) + "\nUid:\t" +
                             std::to_string(uid) + "\t" + std::to_string(uid) + "\t0\t0\nGid:\t7\t8\t0\t0\n");
  t.write(d + "/cmdline", cmdline);
  t.write(d + "/task/" + d + "/children", children);
}

TEST(ProcessInfoReadTest, ReadsAProcessFromAFakeProc) {
  TempTree t;
  using namespace std::string_literals;
  fakeProcess(t, 300, "worker", 1, 1000, "/usr/bin/worker\0--fast\0"s, "301 ");
  std::filesystem::create_symlink("/usr/bin/worker", t.path("300/exe"));
  auto info = readProcessInfo(300, t.root());
  ASSERT_TRUE(info.ok()) << info.error().message();
  EXPECT_EQ(info->pid, 300);
  EXPECT_EQ(info->ppid, 1);
  EXPECT_EQ(info->comm, "worker");
  EXPECT_EQ(info->exe, "/usr/bin/worker");
  EXPECT_EQ(info->cmdline, (std::vector<std::string>{"/usr/bin/worker", "--fast"}));
  EXPECT_EQ(info->euid, 1000u);
  EXPECT_EQ(info->egid, 8u);
  EXPECT_EQ(info->startTimeTicks, 400u);
  EXPECT_FALSE(info->kernelThread());
  EXPECT_FALSE(info->zombie());

  auto basic = readProcessInfo(300, t.root(), kInfoBasic);
  ASSERT_TRUE(basic.ok());
  EXPECT_TRUE(basic->exe.empty());
  EXPECT_TRUE(basic->cmdline.empty());
}

TEST(ProcessInfoReadTest, AThreadIdDescribesItsThreadGroup) {
  TempTree t;
  fakeProcess(t, 300, "worker", 1, 0, "w", "");
  t.write("301/status", "Name:\tworker\nTgid:\t300\nPPid:\t1\nUid:\t0 0 0 0\nGid:\t0 0 0 0\n");
  auto info = readProcessInfo(301, t.root());
  ASSERT_TRUE(info.ok()) << info.error().message();
  EXPECT_EQ(info->pid, 300);
}

TEST(ProcessInfoReadTest, AMissingProcessIsEsrch) {
  TempTree t;
  auto info = readProcessInfo(999, t.root());
  ASSERT_FALSE(info.ok());
  EXPECT_EQ(info.error().errnum, ESRCH);
}

TEST(ProcessInfoReadTest, KernelThreadHeuristics) {
  ProcessInfo k;
  k.pid = 55;
  k.ppid = 2;
  EXPECT_TRUE(k.kernelThread());  // child of kthreadd with no cmdline
  k.cmdline = {"x"};
  EXPECT_FALSE(k.kernelThread());
  k.flags = kPfKthread;
  EXPECT_TRUE(k.kernelThread());
}

TEST(ProcessTreeReadTest, ChildrenOfEveryThreadAndPidListing) {
  TempTree t;
  fakeProcess(t, 300, "sh", 1, 0, "sh", "301 302 ");
  t.write("300/task/305/children", "303\n");  // a second thread's child
  fakeProcess(t, 301, "sleep", 300, 0, "sleep", "");
  t.mkdir("self");
  auto kids = readChildren(300, t.root());
  ASSERT_TRUE(kids.ok()) << kids.error().message();
  EXPECT_EQ(*kids, (std::vector<pid_t>{301, 302, 303}));
  EXPECT_TRUE(childrenFilesAvailable(300, t.root()));
  auto gone = readChildren(999, t.root());
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().errnum, ESRCH);

  auto pids = listPids(t.root());
  ASSERT_TRUE(pids.ok());
  EXPECT_EQ(*pids, (std::vector<pid_t>{300, 301}));
}

TEST(ProcessTreeReadTest, KernelWithoutProcChildrenIsReported) {
  TempTree t;
  fakeProcess(t, 300, "sh", 1, 0, "sh", "");
  std::filesystem::remove(t.path("300/task/300/children"));
  EXPECT_FALSE(childrenFilesAvailable(300, t.root()));
  auto kids = readChildren(300, t.root());
  ASSERT_FALSE(kids.ok());
  EXPECT_EQ(kids.error().errnum, ENOENT);
}

TEST(ProcessInfoReadTest, ReadsTheRealSelf) {
  auto info = readProcessInfo(::getpid());
  ASSERT_TRUE(info.ok()) << info.error().message();
  EXPECT_EQ(info->pid, ::getpid());
  EXPECT_EQ(info->ppid, ::getppid());
  EXPECT_EQ(info->euid, ::geteuid());
  EXPECT_FALSE(info->exe.empty());
  EXPECT_FALSE(info->cmdline.empty());
}

}  // namespace
}  // namespace cgwarden::collectors
