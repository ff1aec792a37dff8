#include "agent/ProcessMover.h"

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "collectors/FileIo.h"
#include "collectors/ProcCgroup.h"

namespace cgwarden::agent {

using collectors::ProcessInfo;
using collectors::ProcStat;

namespace {

uint64_t monotonicNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

pid_t selfOf(const MoveOptions& o) { return o.selfPid > 0 ? o.selfPid : ::getpid(); }

Error refusal(pid_t pid, const std::string& comm, const std::string& why) {
  std::string who = "pid " + std::to_string(pid);
  if (!comm.empty()) who += " (" + comm + ")";
  return Error::invalid("adopt", "", "refusing to adopt " + who + ": " + why);
}

// First segment below "/<root>/" of `path`, "" when the path is not below the root.
std::string workloadInPath(const std::string& path, const std::string& managedRoot) {
  if (managedRoot.empty()) return "";
  std::string prefix = "/" + managedRoot + "/";
  if (path.compare(0, prefix.size(), prefix) != 0) return "";
  std::string rest = path.substr(prefix.size());
  return rest.substr(0, rest.find('/'));
}

// The workload that target path "<root>/<w>[/...]" belongs to, "" when not below the root.
std::string targetWorkload(const std::string& targetPath, const std::string& managedRoot) {
  return workloadInPath("/" + targetPath, managedRoot);
}

// "" when `pid` may be taken, else why not ("in managed workload web (/cgwarden/web)").
Result<std::string> foreignWorkload(pid_t pid, const MoveOptions& o, const std::string& targetPath) {
  if (o.managedRoot.empty()) return std::string();
  auto cg = collectors::readProcCgroup(pid, o.procRoot);
  if (!cg) {
    if (cg.error().errnum == ENOENT) cg.error().errnum = ESRCH;
    return cg.error();
  }
  std::string mine = targetWorkload(targetPath, o.managedRoot);
  for (const auto& e : cg->entries) {
    std::string w = workloadInPath(e.path, o.managedRoot);
    if (w.empty() || w == mine) continue;
    if (std::find(o.allowedSources.begin(), o.allowedSources.end(), w) != o.allowedSources.end()) continue;
    return "it is already in managed workload \"" + w + "\" (" + e.path + ")";
  }
  return std::string();
}

// pid and its ancestors up to init (stat ppid chain).
std::vector<pid_t> ancestryOf(pid_t pid, const std::string& procRoot) {
  std::vector<pid_t> chain;
  for (int guard = 0; pid > 0 && guard < 4096; ++guard) {
    chain.push_back(pid);
    auto st = collectors::readProcStat(pid, procRoot);
    if (!st || st->ppid == pid) break;
    pid = st->ppid;
  }
  return chain;
}

// Every pid listed in <dir>/cgroup.procs, for each target directory; a member is inside
// only when it is in all of them.
Result<std::unordered_set<pid_t>> targetMembers(const Cgroup& target) {
  std::unordered_map<pid_t, size_t> seen;
  auto dirs = target.directories();
  for (const auto& dir : dirs) {
    auto text = readFile(joinPath(dir, "cgroup.procs"));
    if (!text) return text.error();
    for (pid_t p : collectors::parsePidList(*text)) ++seen[p];
  }
  std::unordered_set<pid_t> inside;
  for (auto& [p, n] : seen) {
    if (n == dirs.size()) inside.insert(p);
  }
  return inside;
}

// One process of the tree as last seen.
struct Member {
  uint64_t startTime = 0;
};

class TreeMove {
 public:
  TreeMove(pid_t root, uint64_t rootStart, Cgroup& target, const MoveOptions& o)
      : target_(target), o_(o), self_(selfOf(o)) {
    result_.root = root;
    known_[root] = Member{rootStart};
    order_.push_back(root);
  }

  Result<MoveResult> run() {
    // The root first, before walking its tree: from then on its new children are born inside.
    if (auto inside = targetMembers(target_); !inside) {
      return inside.error();
    } else if (inside->count(result_.root) == 0) {
      std::vector<pid_t> rootOnly{result_.root};
      moveOutsiders(rootOnly, *inside);
    }
    bool children = !o_.alwaysScanPpid && collectors::childrenFilesAvailable(result_.root, o_.procRoot);
    result_.usedChildrenFiles = children;
    for (int pass = 1; pass <= o_.maxPasses; ++pass) {
      result_.passes = pass;
      bool ppidPass = !children || confirming_;
      auto tree = ppidPass ? discoverByPpid() : discoverByChildren();
      if (!tree) return tree.error();
      auto inside = targetMembers(target_);
      if (!inside) return inside.error();
      size_t movedNow = moveOutsiders(*tree, *inside);
      if (movedNow == 0) {
        if (ppidPass) {
          finish(*tree);
          return std::move(result_);
        }
        confirming_ = true;  // nothing to move per the children files: confirm with a PPid scan
      } else {
        confirming_ = false;
      }
    }
    // Out of passes: report what is in the target now.
    auto tree = discoverByPpid();
    if (tree) finish(*tree);
    result_.complete = false;
    return std::move(result_);
  }

 private:
  using StatFn = std::function<Result<ProcStat>(pid_t)>;
  using ChildrenFn = std::function<std::vector<pid_t>(pid_t)>;

  Result<std::vector<pid_t>> discoverByChildren() {
    return discover([this](pid_t p) { return collectors::readProcStat(p, o_.procRoot); },
                    [this](pid_t p) {
                      auto c = collectors::readChildren(p, o_.procRoot);
                      return c ? *c : std::vector<pid_t>{};
                    });
  }

  Result<std::vector<pid_t>> discoverByPpid() {
    auto pids = collectors::listPids(o_.procRoot);
    if (!pids) return pids.error();
    std::unordered_map<pid_t, ProcStat> stats;
    std::unordered_map<pid_t, std::vector<pid_t>> kids;
    for (pid_t p : *pids) {
      auto st = collectors::readProcStat(p, o_.procRoot);
      if (!st) continue;
      kids[st->ppid].push_back(p);
      stats.emplace(p, std::move(*st));
    }
    return discover(
        [&stats](pid_t p) -> Result<ProcStat> {
          auto it = stats.find(p);
          if (it == stats.end()) return Error::fromErrno("read", "/proc/" + std::to_string(p) + "/stat", ESRCH);
          return it->second;
        },
        [&kids](pid_t p) {
          auto it = kids.find(p);
          return it == kids.end() ? std::vector<pid_t>{} : it->second;
        });
  }

  // Breadth-first from every known member (root first): live members, parents before children.
  Result<std::vector<pid_t>> discover(const StatFn& statOf, const ChildrenFn& childrenOf) {
    std::deque<pid_t> queue(order_.begin(), order_.end());
    std::unordered_set<pid_t> visited;
    std::vector<pid_t> live;
    while (!queue.empty()) {
      pid_t p = queue.front();
      queue.pop_front();
      if (!visited.insert(p).second || skippedSet_.count(p) != 0) continue;
      auto st = statOf(p);
      auto known = known_.find(p);
      if (!st) {
        if (known != known_.end()) markVanished(p);
        continue;
      }
      if (known != known_.end() && known->second.startTime != st->startTimeTicks) {
        markVanished(p);  // the pid was recycled: our member is gone
        continue;
      }
      if (st->state == 'Z' || st->state == 'X') {
        if (known != known_.end()) markVanished(p);
        continue;
      }
      if (known == known_.end()) {
        if (auto why = skipReason(p); !why.empty()) {
          skippedSet_.insert(p);
          result_.skipped.push_back(SkippedPid{p, why});
          continue;
        }
        known_[p] = Member{st->startTimeTicks};
        order_.push_back(p);
      }
      live.push_back(p);
      for (pid_t c : childrenOf(p)) queue.push_back(c);
    }
    return live;
  }

  std::string skipReason(pid_t p) {
    if (p == self_) return "it is the agent itself";
    auto foreign = foreignWorkload(p, o_, target_.path());
    if (!foreign) return "";  // gone: the next stat says so
    return *foreign;
  }

  void markVanished(pid_t p) {
    known_.erase(p);
    order_.erase(std::remove(order_.begin(), order_.end(), p), order_.end());
    if (std::find(result_.vanished.begin(), result_.vanished.end(), p) == result_.vanished.end()) {
      result_.vanished.push_back(p);
    }
  }

  size_t moveOutsiders(const std::vector<pid_t>& tree, const std::unordered_set<pid_t>& inside) {
    size_t moved = 0;
    for (pid_t p : tree) {
      if (inside.count(p) != 0) {
        if (everMoved_.count(p) == 0 && firstSeenInside_.insert(p).second) result_.alreadyInside.push_back(p);
        continue;
      }
      if (failed_.count(p) != 0) continue;
      auto st = target_.attach(p);
      if (!st) {
        if (st.error().errnum == ESRCH) {
          markVanished(p);
        } else {
          failed_.insert(p);
          Error e = st.error();
          e.context("move pid " + std::to_string(p));
          result_.failures.push_back(std::move(e));
        }
        continue;
      }
      ++moved;
      if (p == result_.root && result_.rootMovedNs == 0) result_.rootMovedNs = monotonicNs();
      if (everMoved_.insert(p).second) result_.moved.push_back(p);
    }
    return moved;
  }

  void finish(const std::vector<pid_t>& tree) {
    result_.complete = true;
    auto inside = targetMembers(target_);
    for (pid_t p : tree) {
      if (inside && inside->count(p) != 0) result_.members.push_back(p);
    }
    std::sort(result_.members.begin(), result_.members.end());
    // A pid first counted as already inside and later moved (it left in between) is a move.
    auto& ai = result_.alreadyInside;
    ai.erase(std::remove_if(ai.begin(), ai.end(), [this](pid_t p) { return everMoved_.count(p) != 0; }), ai.end());
  }

  Cgroup& target_;
  const MoveOptions& o_;
  pid_t self_;
  MoveResult result_;
  std::map<pid_t, Member> known_;
  std::vector<pid_t> order_;  // known members, discovery order (parents first)
  std::unordered_set<pid_t> skippedSet_, failed_, everMoved_, firstSeenInside_;
  bool confirming_ = false;
};

}  // namespace

Result<ProcessInfo> checkAdoptable(pid_t pid, const MoveOptions& o, const std::string& targetPath) {
  if (pid <= 0) return Error::invalid("adopt", "", "pid " + std::to_string(pid) + " is not a process id");
  if (pid == 1) return refusal(1, "", "it is init (pid 1); moving it would take the whole system");
  auto info = collectors::readProcessInfo(pid, o.procRoot, collectors::kInfoCmdline);
  if (!info) {
    if (info.error().errnum == ESRCH) {
      return Error::fromErrno("adopt", joinPath(o.procRoot, std::to_string(pid)), ESRCH,
                              "no process with that pid");
    }
    return info.error();
  }
  const pid_t self = selfOf(o);
  if (info->pid == 1) return refusal(pid, info->comm, "it is a thread of init (pid 1)");
  if (info->pid == self) {
    return refusal(pid, info->comm,
                   pid == self ? "it is the agent itself" : "it is a thread of the agent (pid " + std::to_string(self) + ")");
  }
  if (info->kernelThread()) return refusal(pid, info->comm, "it is a kernel thread");
  if (info->zombie()) return refusal(pid, info->comm, "it is a zombie (exited, not yet reaped by its parent)");
  for (pid_t a : ancestryOf(self, o.procRoot)) {
    if (a == info->pid) {
      return refusal(pid, info->comm,
                     "it is an ancestor of the agent (pid " + std::to_string(self) + "), which would move with it");
    }
  }
  auto foreign = foreignWorkload(info->pid, o, targetPath);
  if (!foreign) {
    if (foreign.error().errnum == ESRCH) return Error::fromErrno("adopt", joinPath(o.procRoot, std::to_string(pid)), ESRCH);
    return foreign.error();
  }
  if (!foreign->empty()) return refusal(pid, info->comm, *foreign);
  return info;
}

Result<MoveResult> moveTree(const ProcessInfo& checked, Cgroup& target, const MoveOptions& options) {
  TreeMove move(checked.pid, checked.startTimeTicks, target, options);
  auto result = move.run();
  if (!result) result.error().context("adopt pid " + std::to_string(checked.pid) + " into " + target.path());
  return result;
}

Result<MoveResult> moveTree(pid_t pid, Cgroup& target, const MoveOptions& options) {
  auto info = checkAdoptable(pid, options, target.path());
  if (!info) return info.error();
  return moveTree(*info, target, options);
}

Result<std::string> managedWorkloadOf(pid_t pid, const std::string& managedRoot, const std::string& procRoot) {
  auto cg = collectors::readProcCgroup(pid, procRoot);
  if (!cg) return cg.error();
  for (const auto& e : cg->entries) {
    std::string w = workloadInPath(e.path, managedRoot);
    if (!w.empty()) return w;
  }
  return std::string();
}

}  // namespace cgwarden::agent
