#include "agent/PolicyWatches.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "agent/PolicyEngine.h"
#include "collectors/Limits.h"

namespace cgwarden::agent {

namespace {

using config::PolicyConditionTree;
using config::PolicyMetric;
using collectors::CgroupMode;

const char* kindName(WatchSpec::Kind kind) {
  switch (kind) {
    case WatchSpec::Kind::V1Threshold: return "threshold";
    case WatchSpec::Kind::V1Oom: return "oom";
    case WatchSpec::Kind::MemoryEvents: return "memory.events";
    case WatchSpec::Kind::Psi: return "psi";
    case WatchSpec::Kind::FastPoll: return "poll";
  }
  return "";
}

// PSI trigger window: a multiple of 2 s within 2..10 s (see the header).
uint64_t psiWindowUs(const config::PolicyCondition& leaf) {
  double seconds = 2;
  if (leaf.pressureStat == config::PressureStat::Avg60) seconds = 10;
  else if (leaf.pressureStat == config::PressureStat::Rate)
    seconds = std::clamp(2 * std::ceil(static_cast<double>(leaf.window.count()) / 2000.0), 2.0, 10.0);
  return static_cast<uint64_t>(seconds * 1e6);
}

void collectLeaves(const PolicyConditionTree& tree, std::vector<const config::PolicyCondition*>& out) {
  if (tree.kind == PolicyConditionTree::Kind::Leaf) {
    out.push_back(&tree.leaf);
    return;
  }
  for (const auto& c : tree.children) collectLeaves(c, out);
}

void add(std::map<std::string, WatchSpec>& out, WatchSpec spec) {
  std::string key = spec.key();
  out.emplace(std::move(key), std::move(spec));
}

void watchesForLeaf(const config::PolicyCondition& leaf, const collectors::TargetSample& s, CgroupMode mode,
                    std::map<std::string, WatchSpec>& out) {
  const collectors::SampleTarget& t = *s.target;
  const bool managed = t.managed;
  const std::string_view unified = t.dirs.find("");
  const std::string_view v1Memory = mode == CgroupMode::V2 ? "" : t.dirs.find("memory");
  auto memoryEvents = [&] {
    if (mode != CgroupMode::V2) return;
    const std::string_view dir = !unified.empty() ? unified : t.dirs.find("memory");
    if (!dir.empty()) add(out, WatchSpec{WatchSpec::Kind::MemoryEvents, t.id, std::string(dir), "memory.events", 0, ""});
  };
  switch (leaf.metric) {
    case PolicyMetric::MemoryUsage:
    case PolicyMetric::MemoryWorkingSet: {
      if (mode == CgroupMode::V2) {
        memoryEvents();
        add(out, WatchSpec{WatchSpec::Kind::FastPoll, t.id, "", "", 0, ""});
        return;
      }
      if (v1Memory.empty() || !managed) return;
      double bytes = leaf.threshold;
      if (leaf.ofLimit) {
        if (!s.hasSpec || !s.spec.hasMemory || s.spec.memoryLimit == kUnlimited) return;
        bytes = leaf.threshold * static_cast<double>(s.spec.memoryLimit);
      }
      // The kernel signals when usage reaches the registered value (usage >= value going up,
      // usage < value going down); a strict '>' (or a '<=') needs one byte more, else a usage
      // of exactly the threshold wakes the policer, does not satisfy the leaf, and no second
      // crossing follows.
      uint64_t value = static_cast<uint64_t>(std::ceil(bytes));
      if (leaf.op == config::CompareOp::Greater || leaf.op == config::CompareOp::LessEqual) {
        value = static_cast<uint64_t>(std::floor(bytes)) + 1;
      }
      add(out, WatchSpec{WatchSpec::Kind::V1Threshold, t.id, std::string(v1Memory), "memory.usage_in_bytes", value, ""});
      // The threshold is on usage; the working set (usage - inactive_file) may cross later,
      // with no second notification: poll those targets as on v2.
      if (leaf.metric == PolicyMetric::MemoryWorkingSet) add(out, WatchSpec{WatchSpec::Kind::FastPoll, t.id, "", "", 0, ""});
      return;
    }
    case PolicyMetric::OomKills:
      if (mode == CgroupMode::V2) memoryEvents();
      else if (!v1Memory.empty() && managed) add(out, WatchSpec{WatchSpec::Kind::V1Oom, t.id, std::string(v1Memory), "memory.oom_control", 0, ""});
      return;
    case PolicyMetric::Pressure: {
      if (unified.empty() || !managed) return;
      const char* file = leaf.pressureResource == config::PressureResource::Cpu      ? "cpu.pressure"
                         : leaf.pressureResource == config::PressureResource::Memory ? "memory.pressure"
                                                                                    : "io.pressure";
      const uint64_t window = psiWindowUs(leaf);
      const uint64_t stall = std::clamp<uint64_t>(
          static_cast<uint64_t>(leaf.threshold * static_cast<double>(window)), 1, window - 1);
      std::string trigger = std::string(leaf.pressureKind == config::PressureKind::Full ? "full " : "some ") +
                            std::to_string(stall) + " " + std::to_string(window);
      add(out, WatchSpec{WatchSpec::Kind::Psi, t.id, std::string(unified), file, 0, std::move(trigger)});
      return;
    }
    default:
      return;  // CPU, IO and restart rates need whole ticks; pids has no cheap notification
  }
}

}  // namespace

std::string WatchSpec::key() const {
  return std::string(kindName(kind)) + "|" + targetId + "|" + dir + "/" + file + "|" + std::to_string(bytes) + "|" + trigger;
}

PolicyTrigger triggerOf(WatchSpec::Kind kind) {
  switch (kind) {
    case WatchSpec::Kind::V1Threshold: return PolicyTrigger::Threshold;
    case WatchSpec::Kind::V1Oom: return PolicyTrigger::Oom;
    case WatchSpec::Kind::MemoryEvents: return PolicyTrigger::MemoryEvents;
    case WatchSpec::Kind::Psi: return PolicyTrigger::Psi;
    case WatchSpec::Kind::FastPoll: return PolicyTrigger::Poll;
  }
  return PolicyTrigger::Tick;
}

std::vector<WatchSpec> desiredWatches(const std::vector<config::PolicyRule>& rules, const collectors::Snapshot& snapshot) {
  std::map<std::string, WatchSpec> out;
  for (const auto& s : snapshot.targets) {
    if (!s.target) continue;
    for (const auto& rule : rules) {
      if (!PolicyEngine::matches(rule, *s.target)) continue;
      std::vector<const config::PolicyCondition*> leaves;
      collectLeaves(rule.condition, leaves);
      for (const auto* leaf : leaves) watchesForLeaf(*leaf, s, snapshot.mode, out);
    }
  }
  std::vector<WatchSpec> result;
  for (auto& [key, spec] : out) result.push_back(std::move(spec));
  return result;
}

WatchSet::WatchSet() = default;
WatchSet::~WatchSet() = default;

Status WatchSet::open(Open& w) {
  const WatchSpec& s = w.spec;
  const std::string path = joinPath(s.dir, s.file);
  switch (s.kind) {
    case WatchSpec::Kind::FastPoll:
      return {};
    case WatchSpec::Kind::MemoryEvents: {
      if (!inotify_.valid()) {
        inotify_.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
        if (!inotify_.valid()) return Error::fromErrno("inotify_init1", "", errno);
      }
      int wd = ::inotify_add_watch(inotify_.get(), path.c_str(), IN_MODIFY);
      if (wd < 0) return Error::fromErrno("inotify_add_watch", path, errno);
      w.wd = wd;
      byWd_[wd] = s.targetId;
      return {};
    }
    case WatchSpec::Kind::Psi: {
      UniqueFd fd(::open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC));
      if (!fd.valid()) return Error::fromErrno("open", path, errno);
      // The kernel copies the write into a buffer and overwrites its last byte with NUL
      // (psi_write), so the terminating NUL must be part of the write.
      const std::string text = s.trigger;
      if (::write(fd.get(), text.c_str(), text.size() + 1) < 0)
        return Error::fromErrno("write", path, errno, "PSI trigger \"" + s.trigger + "\"");
      w.fd = std::move(fd);
      return {};
    }
    case WatchSpec::Kind::V1Threshold:
    case WatchSpec::Kind::V1Oom: {
      UniqueFd efd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
      if (!efd.valid()) return Error::fromErrno("eventfd", "", errno);
      UniqueFd watched(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
      if (!watched.valid()) return Error::fromErrno("open", path, errno);
      const std::string control = joinPath(s.dir, "cgroup.event_control");
      std::string line = std::to_string(efd.get()) + " " + std::to_string(watched.get());
      if (s.kind == WatchSpec::Kind::V1Threshold) line += " " + std::to_string(s.bytes);
      if (auto st = writeFile(control, line); !st) return st;
      w.fd = std::move(efd);
      w.aux = std::move(watched);
      return {};
    }
  }
  return {};
}

void WatchSet::reconcile(const std::vector<WatchSpec>& desired) {
  std::set<std::string> wanted;
  for (const auto& spec : desired) wanted.insert(spec.key());
  for (auto it = open_.begin(); it != open_.end();) {
    if (wanted.count(it->first)) {
      ++it;
      continue;
    }
    if (it->second.wd >= 0 && inotify_.valid()) {
      ::inotify_rm_watch(inotify_.get(), it->second.wd);
      byWd_.erase(it->second.wd);
    }
    it = open_.erase(it);  // closing the eventfd unregisters a v1 event; closing the PSI fd drops the trigger
  }
  for (const auto& spec : desired) {
    std::string key = spec.key();
    if (open_.count(key)) continue;
    Open w;
    w.spec = spec;
    Status st = open(w);
    if (!st) {
      if (failedOnce_.insert(key).second) spdlog::warn("policer: cannot watch {}: {}", spec.targetId, st.error().message());
      else spdlog::debug("policer: cannot watch {}: {}", spec.targetId, st.error().message());
      continue;
    }
    open_.emplace(std::move(key), std::move(w));
  }
}

void WatchSet::pollFds(std::vector<struct pollfd>& out) const {
  if (inotify_.valid()) out.push_back({inotify_.get(), POLLIN, 0});
  for (const auto& [key, w] : open_) {
    if (!w.fd.valid()) continue;
    short events = w.spec.kind == WatchSpec::Kind::Psi ? POLLPRI : POLLIN;
    out.push_back({w.fd.get(), events, 0});
  }
}

std::vector<WatchSet::Fired> WatchSet::collect(const std::vector<struct pollfd>& fds, size_t offset) {
  std::vector<Fired> fired;
  size_t i = offset;
  if (inotify_.valid()) {
    if (i < fds.size() && (fds[i].revents & POLLIN)) {
      alignas(struct inotify_event) char buf[4096];
      for (;;) {
        ssize_t n = ::read(inotify_.get(), buf, sizeof buf);
        if (n <= 0) break;
        for (ssize_t off = 0; off < n;) {
          auto* ev = reinterpret_cast<struct inotify_event*>(buf + off);
          auto it = byWd_.find(ev->wd);
          if (it != byWd_.end() && (ev->mask & IN_MODIFY)) fired.push_back({it->second, PolicyTrigger::MemoryEvents});
          off += static_cast<ssize_t>(sizeof(struct inotify_event) + ev->len);
        }
      }
    }
    ++i;
  }
  std::vector<std::string> broken;
  for (auto& [key, w] : open_) {
    if (!w.fd.valid()) continue;
    if (i >= fds.size()) break;
    const short revents = fds[i++].revents;
    if (revents == 0) continue;
    if (w.spec.kind == WatchSpec::Kind::Psi) {
      if (revents & (POLLERR | POLLNVAL)) {
        broken.push_back(key);
        continue;
      }
      if (revents & POLLPRI) fired.push_back({w.spec.targetId, PolicyTrigger::Psi});
      continue;
    }
    uint64_t count = 0;
    if (::read(w.fd.get(), &count, sizeof count) == static_cast<ssize_t>(sizeof count)) {
      fired.push_back({w.spec.targetId, triggerOf(w.spec.kind)});
    }
  }
  for (const auto& key : broken) open_.erase(key);
  return fired;
}

std::vector<std::string> WatchSet::fastPollTargets() const {
  std::vector<std::string> out;
  for (const auto& [key, w] : open_) {
    if (w.spec.kind == WatchSpec::Kind::FastPoll) out.push_back(w.spec.targetId);
  }
  return out;
}

}  // namespace cgwarden::agent
