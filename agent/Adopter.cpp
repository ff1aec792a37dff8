#include "agent/Adopter.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include <spdlog/spdlog.h>

namespace cgwarden::agent {

using collectors::ProcessInfo;

namespace {

std::string defaultUserName(uint32_t uid) {
  passwd pw{};
  passwd* out = nullptr;
  char buf[4096];
  if (::getpwuid_r(uid, &pw, buf, sizeof(buf), &out) != 0 || out == nullptr) return "";
  return pw.pw_name;
}

Status checkWorkloadName(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 100 &&
            ((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= '0' && name[0] <= '9'));
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-')) ok = false;
  }
  if (!ok) {
    return Error::invalid("adopt", "", "workload name \"" + name + "\" must match [a-z0-9][a-z0-9_.-]* (at most 100 characters)");
  }
  return {};
}

std::string pidList(const std::vector<pid_t>& pids) {
  std::string out;
  for (pid_t p : pids) out += (out.empty() ? "" : ",") + std::to_string(p);
  return out;
}

}  // namespace

Result<std::unique_ptr<Adopter>> Adopter::create(CgroupManager& manager, AdopterOptions options) {
  std::vector<AdoptMatcher> matchers;
  std::vector<std::string> errors;
  std::set<std::string> names;
  for (const auto& rule : options.rules) {
    if (!names.insert(rule.name).second) {
      errors.push_back("adopt rule \"" + rule.name + "\": the name is used by an earlier rule");
      continue;
    }
    auto m = AdoptMatcher::compile(rule);
    if (!m) {
      errors.push_back(m.error().message());
      continue;
    }
    matchers.push_back(std::move(*m));
  }
  if (!errors.empty()) {
    std::string detail;
    for (const auto& e : errors) detail += (detail.empty() ? "" : "\n") + e;
    return Error::invalid("compile adopt rules", "", detail);
  }
  return std::unique_ptr<Adopter>(new Adopter(manager, std::move(options), std::move(matchers)));
}

Adopter::Adopter(CgroupManager& manager, AdopterOptions options, std::vector<AdoptMatcher> matchers)
    : manager_(manager), options_(std::move(options)), matchers_(std::move(matchers)) {
  for (const auto& m : matchers_) neededFields_ |= m.neededFields();
  if (options_.move.selfPid <= 0) options_.move.selfPid = ::getpid();
  options_.move.managedRoot = manager_.root();
  if (!options_.userName) options_.userName = defaultUserName;
}

Adopter::~Adopter() { stop(); }

Status Adopter::start() {
  if (matchers_.empty() || thread_.joinable()) return {};
  if (options_.useNetlink) {
    auto pc = ProcConnector::open({options_.netlinkBufferBytes});
    if (pc) {
      connector_ = std::move(*pc);
    } else {
      spdlog::warn("adopt: no process events ({}); adopting by /proc scan every {} ms only",
                   pc.error().message(), options_.rescanInterval.count());
    }
  }
  {
    std::lock_guard lock(mu_);
    stats_.netlinkActive = connector_ != nullptr;
  }
  // Subscribed first, scanned second: a process exec'ing during the scan is caught by either.
  if (auto n = scan(); !n) spdlog::warn("adopt: start-up scan: {}", n.error().message());
  {
    std::lock_guard lk(wakeMu_);
    stopping_ = false;
  }
  thread_ = std::thread(&Adopter::run, this);
  return {};
}

void Adopter::stop() {
  {
    std::lock_guard lk(wakeMu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (connector_) connector_->stop();
  if (thread_.joinable()) thread_.join();
}

void Adopter::run() {
  using Clock = std::chrono::steady_clock;
  auto nextScan = Clock::now() + options_.rescanInterval;
  auto lastEmptyCheck = Clock::now();
  bool netlink = connector_ != nullptr;
  for (;;) {
    auto now = Clock::now();
    auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(nextScan - now);
    timeout = std::clamp(timeout, std::chrono::milliseconds(0), options_.emptyCheckInterval);
    if (netlink) {
      auto r = connector_->dispatch(
          timeout, [this](const ProcEvent& ev) { handleEvent(ev); }, [this] { overrunPending_ = true; });
      {
        std::lock_guard lock(mu_);
        stats_.netlinkEvents = connector_->events();
        stats_.netlinkOverruns = connector_->overruns();
      }
      if (!r) {
        spdlog::error("adopt: {}; falling back to /proc scans", r.error().message());
        netlink = false;
        std::lock_guard lock(mu_);
        stats_.netlinkActive = false;
      } else if (!*r) {
        break;
      }
    } else {
      std::unique_lock lk(wakeMu_);
      if (wake_.wait_for(lk, timeout, [this] { return stopping_; })) break;
    }
    {
      std::lock_guard lk(wakeMu_);
      if (stopping_) break;
    }
    now = Clock::now();
    if (overrunPending_ || now >= nextScan) {
      if (overrunPending_) spdlog::warn("adopt: netlink overrun (process events lost); rescanning /proc");
      overrunPending_ = false;
      if (auto n = scan(); !n) spdlog::warn("adopt: scan: {}", n.error().message());
      nextScan = Clock::now() + options_.rescanInterval;
      exitSeen_ = false;
      lastEmptyCheck = Clock::now();
    }
    if (exitSeen_ && now - lastEmptyCheck >= options_.emptyCheckInterval) {
      exitSeen_ = false;
      lastEmptyCheck = now;
      removeEmptyWorkloads();
    }
  }
}

void Adopter::handleEvent(const ProcEvent& ev) {
  switch (ev.type) {
    case ProcEventType::Exec:
      consider(ev.tgid, AdoptionEvent::Trigger::Exec, ev.timestampNs);
      break;
    case ProcEventType::Uid:
    case ProcEventType::Gid:
      consider(ev.tgid, AdoptionEvent::Trigger::IdChange, ev.timestampNs);
      break;
    case ProcEventType::Exit:
      if (ev.pid == ev.tgid) exitSeen_ = true;
      break;
    default:
      break;
  }
}

bool Adopter::consider(pid_t pid, AdoptionEvent::Trigger trigger, uint64_t eventNs) {
  if (pid <= 2 || pid == options_.move.selfPid) return false;
  const std::string& procRoot = options_.move.procRoot;
  auto info = collectors::readProcessInfo(pid, procRoot, neededFields_);
  if (!info || info->kernelThread() || info->zombie() || info->pid == options_.move.selfPid) return false;
  {
    std::lock_guard lock(mu_);
    auto it = refused_.find(info->pid);
    if (it != refused_.end()) {
      if (it->second == info->startTimeTicks) return false;
      refused_.erase(it);
    }
  }

  ParentFacts parent;
  bool parentRead = false;
  std::optional<std::string> current;  // managed workload holding the process, read on first match
  for (const auto& m : matchers_) {
    if (m.needsParent() && !parentRead) {
      parentRead = true;
      parent.pid = info->ppid;
      if (auto st = collectors::readProcStat(info->ppid, procRoot)) parent.comm = st->comm;
      if (auto w = managedWorkloadOf(info->ppid, manager_.root(), procRoot)) parent.workload = *w;
    }
    if (!m.matches(*info, parent)) continue;
    if (!current) {
      auto w = managedWorkloadOf(info->pid, manager_.root(), procRoot);
      if (!w) return false;  // gone
      current = *w;
    }
    std::vector<std::string> allowed;
    if (!current->empty()) {
      // Already managed: only a rule naming that workload as the parent may take it out.
      const auto& r = m.rule();
      if (!(r.parent && r.parent->workload && *r.parent->workload == *current)) continue;
      allowed.push_back(*current);
    }
    std::string name = m.workloadName(*info, m.perMatch() ? options_.userName(info->euid) : std::string());
    if (name == *current) return false;
    auto ev = adopt(info->pid, name, m.rule().limits, &m, allowed, true, trigger, eventNs);
    if (!ev) {
      if (ev.error().errnum != ESRCH) spdlog::warn("adopt rule {}: {}", m.name(), ev.error().message());
      return false;
    }
    return true;
  }
  return false;
}

Result<AdoptionEvent> Adopter::adoptPid(pid_t pid, const std::string& workload, const Limits& limits,
                                        bool removeWhenEmpty) {
  return adopt(pid, workload, limits, nullptr, {}, removeWhenEmpty, AdoptionEvent::Trigger::Request, 0);
}

Result<AdoptionEvent> Adopter::adopt(pid_t pid, const std::string& workload, const Limits& limits,
                                     const AdoptMatcher* rule, const std::vector<std::string>& allowedSources,
                                     bool removeWhenEmpty, AdoptionEvent::Trigger trigger, uint64_t eventNs) {
  if (auto st = checkWorkloadName(workload); !st) return st.error();
  std::unique_lock lock(mu_);
  if (options_.reservedName && options_.reservedName(workload)) {
    return Error::invalid("adopt", "", "workload \"" + workload + "\" is a launched workload; adopt into another name");
  }
  MoveOptions mo = options_.move;
  mo.allowedSources = allowedSources;
  const std::string targetPath = manager_.root() + "/" + workload;
  auto check = checkAdoptable(pid, mo, targetPath);
  if (!check) {
    if (check.error().errnum == 0) {
      ++stats_.refusals;
      if (rule) {
        auto st = collectors::readProcStat(pid, mo.procRoot);
        if (st) refused_[pid] = st->startTimeTicks;
      }
    }
    return check.error();
  }

  bool created = false;
  auto it = workloads_.find(workload);
  if (it == workloads_.end()) {
    std::unique_ptr<Cgroup> cg;
    auto existing = manager_.open(workload);
    if (existing) {
      cg = std::move(*existing);
    } else {
      auto made = manager_.create(workload);
      if (!made) {
        ++stats_.failures;
        return made.error().context("adopt into " + workload);
      }
      cg = std::move(*made);
      created = true;
      if (auto st = cg->applyLimits(limits); !st) {
        ++stats_.failures;
        (void)cg->remove(std::chrono::seconds(1));
        return st.error().context("adopt into " + workload);
      }
      ++stats_.workloadsCreated;
    }
    it = workloads_.emplace(workload, Workload{std::move(cg), rule ? rule->name() : "", removeWhenEmpty}).first;
  }
  Cgroup& cgroup = *it->second.cgroup;

  auto moved = moveTree(*check, cgroup, mo);
  auto undoCreate = [&] {
    if (created) {
      (void)cgroup.remove(std::chrono::seconds(1));
      workloads_.erase(it);
      --stats_.workloadsCreated;
    }
  };
  if (!moved) {
    if (moved.error().errnum == 0) ++stats_.refusals;
    else if (moved.error().errnum != ESRCH) ++stats_.failures;
    undoCreate();
    return moved.error();
  }
  if (moved->moved.empty() && moved->members.empty()) {
    undoCreate();
    return Error::fromErrno("adopt", "/proc/" + std::to_string(pid), ESRCH, "it exited before it could be moved");
  }

  AdoptionEvent ev;
  ev.trigger = trigger;
  ev.workload = workload;
  ev.cgroupPath = cgroup.path();
  ev.rule = rule ? rule->name() : "";
  ev.pid = check->pid;
  ev.comm = check->comm;
  ev.moved = moved->moved;
  ev.members = moved->members;
  ev.skipped = moved->skipped;
  ev.createdWorkload = created;
  ev.complete = moved->complete && moved->failures.empty();
  if (eventNs != 0 && moved->rootMovedNs != 0 && moved->rootMovedNs >= eventNs) {
    ev.latency = std::chrono::nanoseconds(moved->rootMovedNs - eventNs);
  }
  if (rule) {
    ++stats_.adoptionsByRule[rule->name()];
    if (ev.latency) stats_.latency.observe(std::chrono::duration<double>(*ev.latency).count());
  } else {
    ++stats_.adoptionsByPid;
  }
  if (!moved->failures.empty()) {
    ++stats_.failures;
    for (const auto& f : moved->failures) spdlog::warn("adopt into {}: {}", workload, f.message());
  }
  if (!moved->complete) {
    spdlog::warn("adopt pid {} into {}: the tree kept growing outside after {} passes", pid, workload, moved->passes);
  }
  lock.unlock();

  spdlog::info("adopted pid={} comm={} into {} rule={} moved=[{}]{}", ev.pid, ev.comm, workload,
               ev.rule.empty() ? "-" : ev.rule, pidList(ev.moved),
               ev.latency ? " latency_us=" + std::to_string(ev.latency->count() / 1000) : std::string());
  if (onAdopted_) onAdopted_(ev);
  return ev;
}

Result<size_t> Adopter::scan() {
  auto pids = collectors::listPids(options_.move.procRoot);
  if (!pids) return pids.error();
  {
    std::lock_guard lock(mu_);
    ++stats_.scans;
    // Forget refusals of processes that are gone.
    for (auto it = refused_.begin(); it != refused_.end();) {
      it = std::binary_search(pids->begin(), pids->end(), it->first) ? std::next(it) : refused_.erase(it);
    }
  }
  size_t adopted = 0;
  for (pid_t p : *pids) {
    if (consider(p, AdoptionEvent::Trigger::Scan, 0)) ++adopted;
  }
  removeEmptyWorkloads();
  return adopted;
}

void Adopter::removeEmptyWorkloads() {
  std::vector<std::string> removed;
  {
    std::lock_guard lock(mu_);
    for (auto it = workloads_.begin(); it != workloads_.end();) {
      Workload& w = it->second;
      if (!w.removeWhenEmpty) {
        ++it;
        continue;
      }
      auto populated = w.cgroup->populated();
      if (populated && *populated) {
        ++it;
        continue;
      }
      if (populated || populated.error().cgroupGone()) {
        if (auto st = w.cgroup->remove(std::chrono::seconds(1)); !st) {
          spdlog::warn("adopt: remove empty workload {}: {}", it->first, st.error().message());
          ++it;
          continue;
        }
        removed.push_back(it->first);
        ++stats_.workloadsRemoved;
        it = workloads_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (const auto& name : removed) {
    spdlog::info("adopt: workload {} is empty; removed its cgroup", name);
    if (onRemoved_) onRemoved_(name);
  }
}

void Adopter::forget(const std::string& workload) {
  std::lock_guard lock(mu_);
  workloads_.erase(workload);
}

AdopterStats Adopter::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

std::map<std::string, std::string> Adopter::workloads() const {
  std::lock_guard lock(mu_);
  std::map<std::string, std::string> out;
  for (const auto& [name, w] : workloads_) out.emplace(name, w.cgroup->path());
  return out;
}

}  // namespace cgwarden::agent
