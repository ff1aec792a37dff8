#include "agent/SupervisorActionTarget.h"

#include <signal.h>

#include <thread>

#include "collectors/FileIo.h"
#include "collectors/LimitFiles.h"
#include "collectors/TextParse.h"

namespace cgwarden::agent {

namespace {

using Clock = std::chrono::steady_clock;

// Where cgroup.procs of a sampled target is read: v1 pids (else memory, else any), v2 "".
std::string_view procsDir(const ActionSubject& s) {
  for (const char* key : {"pids", "memory", "", "cpu", "cpuacct", "blkio", "io"}) {
    if (std::string_view dir = s.dirs.find(key); !dir.empty()) return dir;
  }
  return "";
}

Result<std::vector<pid_t>> procsOf(const ActionSubject& s) {
  std::string_view dir = procsDir(s);
  if (dir.empty()) return Error::invalid("read", s.id, "no directory to read cgroup.procs from");
  auto text = readFile(joinPath(dir, "cgroup.procs"));
  if (!text) return text.error();
  std::vector<pid_t> out;
  for (auto line : splitLines(*text)) {
    if (auto pid = parseUint64(trim(line))) out.push_back(static_cast<pid_t>(*pid));
  }
  return out;
}

Status signalAll(const std::vector<pid_t>& pids, int signal) {
  for (pid_t pid : pids) {
    if (pid <= 1) continue;
    if (::kill(pid, signal) != 0 && errno != ESRCH) return Error::fromErrno("kill", "pid " + std::to_string(pid), errno);
  }
  return {};
}

Status killObserved(const ActionSubject& s, collectors::CgroupMode mode, std::chrono::milliseconds timeout) {
  std::string_view unified = s.dirs.find("");
  if (mode == collectors::CgroupMode::V2 && !unified.empty() && pathExists(joinPath(unified, "cgroup.kill"))) {
    if (auto st = writeFile(joinPath(unified, "cgroup.kill"), "1"); !st) return st;
  }
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    auto pids = procsOf(s);
    if (!pids) return pids.error().cgroupGone() ? Status() : Status(pids.error());
    if (pids->empty()) return {};
    if (auto st = signalAll(*pids, SIGKILL); !st) return st;
    if (Clock::now() >= deadline) return Error::invalid("kill", s.id, "processes left after " + std::to_string(timeout.count()) + " ms");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

Status freezeObserved(const ActionSubject& s, const collectors::CgroupLayout& layout, bool freeze,
                      std::chrono::milliseconds timeout) {
  std::string file, value, done;
  if (layout.mode == collectors::CgroupMode::V2) {
    std::string_view unified = s.dirs.find("");
    if (unified.empty()) return Error::invalid(freeze ? "freeze" : "thaw", s.id, "no cgroup2 directory");
    file = joinPath(unified, "cgroup.freeze");
    value = freeze ? "1" : "0";
  } else {
    if (!layout.hasV1Controller("freezer"))
      return Error::invalid(freeze ? "freeze" : "thaw", s.id, "the v1 freezer controller is not mounted");
    file = layout.v1Mounts.at("freezer") + s.id + "/freezer.state";
    value = freeze ? "FROZEN" : "THAWED";
  }
  if (auto st = writeFile(file, value); !st) return st;
  if (!freeze || layout.mode == collectors::CgroupMode::V2) return {};
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    auto state = readFile(file);
    if (!state) return state.error();
    if (trim(*state) == "FROZEN") return {};
    if (Clock::now() >= deadline) return Error::invalid("freeze", file, "not FROZEN in time");
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

Status throttleObserved(const ActionSubject& s, collectors::CgroupMode mode, const Limits& l) {
  Limits rest = l;
  rest.cpu.quotaUs.reset();
  rest.memory.high.reset();
  rest.memory.low.reset();
  if (!(rest == Limits{})) return Error::invalid("throttle", s.id, "observed cgroups take only a CPU quota and memory.high");
  const bool v2 = mode == collectors::CgroupMode::V2;
  if (l.cpu.quotaUs) {
    std::string_view cpu = s.dirs.find(v2 ? "" : "cpu");
    if (cpu.empty()) return Error::invalid("throttle", s.id, "no cpu controller directory");
    if (v2) {
      auto current = readFile(joinPath(cpu, "cpu.max"));
      if (!current) return current.error();
      auto fields = splitFields(*current);
      std::string period = fields.size() == 2 ? std::string(fields[1]) : "100000";
      std::string quota = *l.cpu.quotaUs == kUnlimited ? "max" : std::to_string(*l.cpu.quotaUs);
      if (auto st = writeFile(joinPath(cpu, "cpu.max"), quota + " " + period); !st) return st;
    } else {
      std::string quota = *l.cpu.quotaUs == kUnlimited ? "-1" : std::to_string(*l.cpu.quotaUs);
      if (auto st = writeFile(joinPath(cpu, "cpu.cfs_quota_us"), quota); !st) return st;
    }
  }
  if (l.memory.high || l.memory.low) {
    std::string_view mem = s.dirs.find(v2 ? "" : "memory");
    if (mem.empty()) return Error::invalid("throttle", s.id, "no memory controller directory");
    if (l.memory.high) {
      if (auto st = writeFile(joinPath(mem, "memory.high"), formatMaxOrNumber(*l.memory.high)); !st) return st;
    }
    if (l.memory.low) {
      std::string v = *l.memory.low == kUnlimited ? "-1" : std::to_string(*l.memory.low);
      const char* file = v2 ? "memory.low" : "memory.soft_limit_in_bytes";
      if (v2) v = formatMaxOrNumber(*l.memory.low);
      if (auto st = writeFile(joinPath(mem, file), v); !st) return st;
    }
  }
  return {};
}

Error managedOnly(const char* what, const ActionSubject& s) {
  return Error::invalid(what, s.id, "only managed workloads can be " + std::string(what) + "ed");
}

}  // namespace

SupervisorActionTarget::SupervisorActionTarget(Supervisor& supervisor, collectors::CgroupLayout layout,
                                               std::chrono::milliseconds timeout)
    : supervisor_(supervisor), layout_(std::move(layout)), timeout_(timeout) {}

Status SupervisorActionTarget::signalMain(const ActionSubject& s, int signal) {
  if (!s.managed) return Error::invalid("signal", s.id, "an observed cgroup has no main process");
  return supervisor_.signal(s.name, signal);
}

Status SupervisorActionTarget::signalCgroup(const ActionSubject& s, int signal) {
  if (!s.managed) {
    auto pids = procsOf(s);
    if (!pids) return pids.error();
    return signalAll(*pids, signal);
  }
  auto cg = supervisor_.cgroups().open(s.name);
  if (!cg) return cg.error();
  auto pids = (*cg)->pids();
  if (!pids) return pids.error();
  return signalAll(*pids, signal);
}

Status SupervisorActionTarget::stop(const ActionSubject& s) {
  if (!s.managed) return Error::invalid("stop", s.id, "only managed workloads can be stopped this way");
  return supervisor_.stop(s.name);
}

Status SupervisorActionTarget::freeze(const ActionSubject& s) {
  if (!s.managed) return freezeObserved(s, layout_, true, timeout_);
  return supervisor_.freeze(s.name);
}

Status SupervisorActionTarget::thaw(const ActionSubject& s) {
  if (!s.managed) return freezeObserved(s, layout_, false, timeout_);
  return supervisor_.thaw(s.name);
}

Status SupervisorActionTarget::applyLimits(const ActionSubject& s, const Limits& limits) {
  if (!s.managed) return throttleObserved(s, layout_.mode, limits);
  return supervisor_.applyLimits(s.name, limits);
}

Status SupervisorActionTarget::killAll(const ActionSubject& s) {
  if (!s.managed) return killObserved(s, layout_.mode, timeout_);
  auto cg = supervisor_.cgroups().open(s.name);
  if (!cg) return cg.error();
  return (*cg)->killAll(timeout_);
}

Status SupervisorActionTarget::restart(const ActionSubject& s) {
  if (!s.managed) return managedOnly("restart", s);
  return supervisor_.restart(s.name);
}

}  // namespace cgwarden::agent
