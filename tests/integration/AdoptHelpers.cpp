#include "integration/AdoptHelpers.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "collectors/FileIo.h"
#include "collectors/ProcCgroup.h"
#include "collectors/ProcessInfo.h"

namespace cgwarden::testing {

pid_t forkInto(agent::Cgroup& cg, const std::function<int()>& body) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return -1;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[1]);
    char c;
    ssize_t n;
    do {
      n = ::read(fds[0], &c, 1);
    } while (n < 0 && errno == EINTR);
    ::_exit(n == 1 ? body() : 120);
  }
  ::close(fds[0]);
  if (pid < 0 || !cg.attach(pid)) {
    ::close(fds[1]);
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    return -1;
  }
  char go = 'g';
  (void)!::write(fds[1], &go, 1);
  ::close(fds[1]);
  return pid;
}

std::string membersAnywhere(const agent::Cgroup& cg) {
  std::string out;
  for (const auto& dir : cg.directories()) {
    auto text = readFile(joinPath(dir, "cgroup.procs"));
    if (!text) continue;
    auto pids = collectors::parsePidList(*text);
    if (pids.empty()) continue;
    out += (out.empty() ? "" : "; ") + dir + ":";
    for (pid_t p : pids) {
      auto st = collectors::readProcStat(p);
      out += " " + std::to_string(p) + (st ? "(" + st->comm + ", ppid " + std::to_string(st->ppid) + ")" : "");
    }
  }
  return out;
}

pid_t spawn(const std::string& path, const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::execv(path.c_str(), args.data());
    ::_exit(127);
  }
  return pid;
}

std::vector<pid_t> liveTree(pid_t root) {
  std::map<pid_t, std::vector<pid_t>> kids;
  std::set<pid_t> zombies;
  auto pids = collectors::listPids();
  if (!pids) return {};
  for (pid_t p : *pids) {
    auto st = collectors::readProcStat(p);
    if (!st) continue;
    kids[st->ppid].push_back(p);
    if (st->state == 'Z' || st->state == 'X') zombies.insert(p);
  }
  std::vector<pid_t> out;
  std::vector<pid_t> stack{root};
  while (!stack.empty()) {
    pid_t p = stack.back();
    stack.pop_back();
    if (!zombies.count(p) && (p != root || ::kill(root, 0) == 0)) out.push_back(p);
    for (pid_t c : kids[p]) stack.push_back(c);
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool inCgroup(pid_t pid, const agent::Cgroup& cg, const collectors::CgroupLayout& layout, std::string* why) {
  auto pc = collectors::readProcCgroup(pid);
  if (!pc) {
    if (why) *why = "gone";
    return true;
  }
  const std::string want = "/" + cg.path();
  for (const auto& [controller, mount] : layout.v1Mounts) {
    if (!cg.directoryFor(controller)) continue;
    const std::string* path = pc->pathFor(controller);
    if (path == nullptr || *path != want) {
      if (why) *why = controller + ":" + (path ? *path : "<none>");
      return false;
    }
  }
  if (!layout.unifiedMount.empty() && cg.directoryFor("")) {
    const std::string* path = pc->unifiedPath();
    if (path == nullptr || *path != want) {
      if (why) *why = "cgroup2:" + (path ? *path : "<none>");
      return false;
    }
  }
  return true;
}

void killAndReap(const std::vector<pid_t>& roots) {
  for (int round = 0; round < 50; ++round) {
    std::set<pid_t> all;
    for (pid_t r : roots) {
      for (pid_t p : liveTree(r)) all.insert(p);
    }
    for (pid_t p : all) ::kill(p, SIGKILL);
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    if (all.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }
}

void becomeSubreaper() { ::prctl(PR_SET_CHILD_SUBREAPER, 1); }

std::string copyBinary(const std::string& src, const std::string& name) {
  std::string dir = (std::filesystem::temp_directory_path() / ("cgwarden-adopt-" + std::to_string(::getpid()))).string();
  std::filesystem::create_directories(dir);
  std::string dst = dir + "/" + name;
  std::filesystem::copy_file(src, dst, std::filesystem::copy_options::overwrite_existing);
  std::filesystem::permissions(dst, std::filesystem::perms(0755));
  return dst;
}

void removeCopy(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove(path, ec);
  std::filesystem::remove(std::filesystem::path(path).parent_path(), ec);  // only when empty
}

}  // namespace cgwarden::testing
