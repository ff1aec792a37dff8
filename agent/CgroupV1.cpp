// cgroup v1 (and hybrid) backend: one directory per controller mount, plus the
// controller-less cgroup2 twin on hybrid hosts for per-cgroup PSI.

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "agent/CgroupCommon.h"
#include "agent/CgroupBackends.h"
#include "collectors/Conversions.h"
#include "collectors/LimitFiles.h"
#include "collectors/TextParse.h"

namespace cgwarden::agent {

using namespace detail;

namespace {

const std::vector<std::string>& managedControllers() {
  static const std::vector<std::string> kControllers = {"cpu", "cpuacct", "cpuset", "memory",
                                                        "blkio", "pids", "freezer"};
  return kControllers;
}

Result<uint64_t> parseNumber(const Result<std::string>& text, const std::string& path) {
  if (!text) return text.error();
  auto v = parseUint64(*text);
  if (!v) return Error::invalid("parse", path, "expected a number, got \"" + std::string(trim(*text)) + "\"");
  return *v;
}

class V1Cgroup final : public DirCgroup {
 public:
  using DirCgroup::DirCgroup;

  int cloneIntoFd() const override { return -1; }

  Result<bool> populated() const override {
    // The hybrid twin has cgroup.events; plain v1 only has cgroup.procs.
    if (const HierarchyDir* unified = dir("")) {
      auto text = readFileAt(unified->fd.get(), "cgroup.events", unified->path);
      if (text) {
        for (auto& [key, value] : parseFlatKeyed(*text)) {
          if (key == "populated" && value == 1) return true;
        }
      }
    }
    auto members = pids();
    if (!members) return members.error();
    return !members->empty();
  }

  Status applyLimits(const Limits& l) override {
    if (auto st = applyCpu(l.cpu); !st) return st;
    if (auto st = applyMemory(l.memory); !st) return st;
    if (l.pids.max) {
      if (auto st = write("pids", "pids.max", formatMaxOrNumber(*l.pids.max)); !st) return st;
    }
    return applyIo(l.io);
  }

  Result<Limits> readLimits() const override {
    Limits l;
    if (dir("cpu") != nullptr) {
      auto quota = read("cpu", "cpu.cfs_quota_us");
      auto period = read("cpu", "cpu.cfs_period_us");
      auto shares = read("cpu", "cpu.shares");
      if (!quota) return quota.error();
      if (auto q = parseV1SignedLimit(*quota)) l.cpu.quotaUs = *q;
      if (period) l.cpu.periodUs = parseUint64(*period);
      if (shares) {
        if (auto s = parseUint64(*shares)) l.cpu.weight = sharesToWeight(*s);
      }
    }
    if (dir("cpuset") != nullptr) {
      if (auto cpus = read("cpuset", "cpuset.cpus")) l.cpu.cpus = std::string(trim(*cpus));
      if (auto mems = read("cpuset", "cpuset.mems")) l.cpu.mems = std::string(trim(*mems));
    }
    if (const HierarchyDir* mem = dir("memory")) {
      auto max = parseNumber(read("memory", "memory.limit_in_bytes"), mem->path + "/memory.limit_in_bytes");
      if (!max) return max.error();
      l.memory.max = normalizeV1Unlimited(*max);
      if (auto soft = parseUint64(read("memory", "memory.soft_limit_in_bytes").valueOr(""))) {
        l.memory.low = normalizeV1Unlimited(*soft);
      }
      if (auto memsw = parseUint64(read("memory", "memory.memsw.limit_in_bytes").valueOr(""))) {
        if (auto swap = swapFromMemsw(*l.memory.max, normalizeV1Unlimited(*memsw))) l.memory.swapMax = *swap;
      }
    }
    if (dir("pids") != nullptr) {
      auto max = read("pids", "pids.max");
      if (!max) return max.error();
      if (auto v = parseMaxOrNumber(*max)) l.pids.max = *v;
    }
    if (dir("blkio") != nullptr) {
      for (const char* file : {"blkio.weight", "blkio.bfq.weight"}) {
        if (!hasFile("blkio", file)) continue;
        auto text = read("blkio", file);
        if (!text) continue;
        // blkio.bfq.weight reads "default 100"; blkio.weight reads "500".
        auto w = parseUint64(*text);
        if (!w) w = parseIoWeightDefault(*text).valueOr(0);
        if (w && *w != 0) l.io.weight = blkioWeightToIoWeight(*w);
        break;
      }
      readThrottles(l.io);
    }
    return l;
  }

  Status freeze(std::chrono::milliseconds timeout) override {
    if (auto st = write("freezer", "freezer.state", "FROZEN"); !st) return st;
    return waitUntil(
        [this]() -> Result<bool> {
          auto state = read("freezer", "freezer.state");
          if (!state) return state.error();
          return trim(*state) == "FROZEN";
        },
        timeout, "freeze", dir("freezer")->path + "/freezer.state");
  }

  Status thaw() override { return write("freezer", "freezer.state", "THAWED"); }

  Result<bool> frozen() const override {
    auto state = read("freezer", "freezer.state");
    if (!state) return state.error();
    return trim(*state) == "FROZEN";
  }

  Status killAll(std::chrono::milliseconds timeout) override { return killByFreezing(timeout); }

 private:
  Status applyCpu(const CpuLimits& c) {
    // The period goes first: the quota is checked against it.
    if (c.periodUs) {
      if (auto st = write("cpu", "cpu.cfs_period_us", std::to_string(*c.periodUs)); !st) return st;
    }
    if (c.quotaUs) {
      std::string q = *c.quotaUs == kUnlimited ? "-1" : std::to_string(*c.quotaUs);
      if (auto st = write("cpu", "cpu.cfs_quota_us", q); !st) return st;
    }
    if (c.weight) {
      if (auto st = write("cpu", "cpu.shares", std::to_string(weightToShares(*c.weight))); !st) return st;
    }
    if (c.cpus) {
      if (auto st = write("cpuset", "cpuset.cpus", *c.cpus); !st) return st;
    }
    if (c.mems) {
      if (auto st = write("cpuset", "cpuset.mems", *c.mems); !st) return st;
    }
    return {};
  }

  Status applyMemory(const MemoryLimits& m) {
    auto v1Value = [](uint64_t v) { return v == kUnlimited ? std::string("-1") : std::to_string(v); };
    if (m.max || m.swapMax) {
      uint64_t max = m.max.value_or(kUnlimited);
      if (!m.max) {
        auto current = read("memory", "memory.limit_in_bytes");
        if (!current) return current.error();
        max = normalizeV1Unlimited(parseUint64(*current).value_or(kUnlimited));
      }
      std::optional<uint64_t> memsw;
      if (m.swapMax) {
        if (!hasFile("memory", "memory.memsw.limit_in_bytes")) {
          return Error::fromErrno("write", dir("memory")->path + "/memory.memsw.limit_in_bytes", ENOENT,
                                  "swap limits on cgroup v1 need the kernel booted with swapaccount=1");
        }
        memsw = memswFromSwap(max, *m.swapMax);
      }
      // The kernel insists on limit <= memsw at every step, so the order depends on
      // whether the limits go up or down: try limit first, and on EINVAL memsw first.
      auto writeMax = [&]() { return m.max ? write("memory", "memory.limit_in_bytes", v1Value(max)) : Status(); };
      auto writeMemsw = [&]() {
        return memsw ? write("memory", "memory.memsw.limit_in_bytes", v1Value(*memsw)) : Status();
      };
      Status first = writeMax();
      if (!first && first.error().errnum == EINVAL && memsw) {
        if (auto st = writeMemsw(); !st) return st;
        if (auto st = writeMax(); !st) return st;
      } else if (!first) {
        return first;
      } else if (auto st = writeMemsw(); !st) {
        return st;
      }
    }
    if (m.low) {
      if (auto st = write("memory", "memory.soft_limit_in_bytes", v1Value(*m.low)); !st) return st;
    }
    if (m.high && !warnedHigh_) {
      // v1 has no memory.high; the policer's throttle rules are the way to get its effect.
      spdlog::warn("{}: memory.high has no cgroup v1 equivalent; recorded but not enforced by the kernel", path_);
      warnedHigh_ = true;
    }
    return {};
  }

  Status applyIo(const IoLimits& io) {
    if (io.weight) {
      const char* file = hasFile("blkio", "blkio.bfq.weight") ? "blkio.bfq.weight" : "blkio.weight";
      if (dir("blkio") != nullptr && !hasFile("blkio", file)) {
        return Error::fromErrno("write", dir("blkio")->path + "/blkio.weight", ENOENT,
                                "IO weight needs the BFQ or CFQ scheduler on the device; none offers it here");
      }
      if (auto st = write("blkio", file, std::to_string(ioWeightToBlkioWeight(*io.weight))); !st) return st;
    }
    for (const IoDeviceLimit& d : io.devices) {
      const std::pair<const char*, const std::optional<uint64_t>*> files[] = {
          {"blkio.throttle.read_bps_device", &d.readBps},
          {"blkio.throttle.write_bps_device", &d.writeBps},
          {"blkio.throttle.read_iops_device", &d.readIops},
          {"blkio.throttle.write_iops_device", &d.writeIops}};
      for (const auto& [file, value] : files) {
        if (!*value) continue;
        if (auto st = write("blkio", file, formatBlkioThrottleLine(d.major, d.minor, **value)); !st) return st;
      }
    }
    return {};
  }

  void readThrottles(IoLimits& io) const {
    auto device = [&io](uint32_t major, uint32_t minor) -> IoDeviceLimit& {
      for (auto& d : io.devices) {
        if (d.major == major && d.minor == minor) return d;
      }
      io.devices.push_back(IoDeviceLimit{major, minor, {}, {}, {}, {}});
      return io.devices.back();
    };
    const std::pair<const char*, std::optional<uint64_t> IoDeviceLimit::*> files[] = {
        {"blkio.throttle.read_bps_device", &IoDeviceLimit::readBps},
        {"blkio.throttle.write_bps_device", &IoDeviceLimit::writeBps},
        {"blkio.throttle.read_iops_device", &IoDeviceLimit::readIops},
        {"blkio.throttle.write_iops_device", &IoDeviceLimit::writeIops}};
    for (const auto& [file, member] : files) {
      auto text = read("blkio", file);
      if (!text) continue;
      auto values = parseBlkioThrottle(*text);
      if (!values) continue;
      for (const auto& v : *values) device(v.major, v.minor).*member = v.value;
    }
  }

  bool warnedHigh_ = false;
};

class V1Manager final : public CgroupManager {
 public:
  V1Manager(CgroupLayout layout, std::string root) : layout_(std::move(layout)), root_(std::move(root)) {
    for (const auto& c : managedControllers()) {
      if (layout_.hasV1Controller(c)) mounts_.emplace_back(c, layout_.v1Mounts.at(c));
    }
  }

  CgroupMode mode() const override { return layout_.mode; }
  const CgroupLayout& layout() const override { return layout_; }
  const std::string& root() const override { return root_; }

  std::vector<std::string> controllers() const override {
    std::vector<std::string> out;
    for (const auto& [c, mount] : mounts_) out.push_back(c == "blkio" ? "io" : c);
    return out;
  }

  Status prepareRoot() override {
    for (const char* needed : {"cpu", "memory", "pids", "freezer"}) {
      if (!layout_.hasV1Controller(needed)) {
        return Error::invalid("prepare cgroup root", "/proc/self/mountinfo",
                              std::string("the v1 \"") + needed + "\" controller is not mounted; mount it (e.g. "
                              "mount -t cgroup -o " + needed + " cgroup /sys/fs/cgroup/" + needed + ")");
      }
    }
    return makeEverywhere(root_);
  }

  Result<std::unique_ptr<Cgroup>> create(std::string_view name) override {
    if (auto st = validateCgroupName(name); !st) return st.error();
    std::string rel = root_ + "/" + std::string(name);
    if (auto st = makeEverywhere(rel); !st) return st.error();
    return open(name);
  }

  Result<std::unique_ptr<Cgroup>> open(std::string_view name) override {
    if (auto st = validateCgroupName(name); !st) return st.error();
    std::string rel = root_ + "/" + std::string(name);
    std::vector<HierarchyDir> dirs;
    std::map<std::string, size_t, std::less<>> index;
    std::map<std::string, size_t> byMount;
    for (const auto& [controller, mount] : mounts_) {
      auto it = byMount.find(mount);
      if (it != byMount.end()) {
        index[controller] = it->second;
        continue;
      }
      auto d = openHierarchyDir(mount, rel);
      if (!d) return d.error();
      byMount[mount] = dirs.size();
      index[controller] = dirs.size();
      dirs.push_back(std::move(*d));
    }
    if (!layout_.unifiedMount.empty()) {
      auto d = openHierarchyDir(layout_.unifiedMount, rel);
      if (!d) return d.error();
      index[""] = dirs.size();
      dirs.push_back(std::move(*d));
    }
    return std::unique_ptr<Cgroup>(std::make_unique<V1Cgroup>(rel, std::move(dirs), std::move(index)));
  }

  Result<std::vector<std::string>> children() const override {
    return listSubdirs(joinPath(mounts_.front().second, root_));
  }

  Status destroyTree(std::chrono::milliseconds timeout) override {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    // Freeze nothing here: each leaf is emptied with SIGKILL, deepest first, per hierarchy.
    // The freezer hierarchy goes last so frozen tasks elsewhere are thawed before.
    std::vector<std::string> mounts = layout_.v1MountPoints();
    std::string freezerMount = layout_.hasV1Controller("freezer") ? layout_.v1Mounts.at("freezer") : "";
    if (!freezerMount.empty()) writeToTree(joinPath(freezerMount, root_), "freezer.state", "THAWED");
    if (!layout_.unifiedMount.empty()) mounts.push_back(layout_.unifiedMount);
    Status result;
    for (const auto& mount : mounts) {
      if (!isManaged(mount)) continue;
      if (auto st = removeTreeDeepestFirst(joinPath(mount, root_), deadline); !st && result) result = st;
    }
    return result;
  }

 private:
  bool isManaged(const std::string& mount) const {
    if (mount == layout_.unifiedMount) return true;
    return std::any_of(mounts_.begin(), mounts_.end(), [&](const auto& m) { return m.second == mount; });
  }


  Status makeEverywhere(const std::string& rel) {
    std::set<std::string> done;
    for (const auto& [controller, mount] : mounts_) {
      if (!done.insert(mount).second) continue;
      auto created = makeDirs(mount, rel);
      if (!created) return created.error();
      if (layout_.hasV1Controller("cpuset") && mount == layout_.v1Mounts.at("cpuset")) {
        // A fresh v1 cpuset has empty cpus/mems and refuses tasks; inherit the parent's.
        for (const auto& path : *created) {
          std::string parent = path.substr(0, path.rfind('/'));
          for (const char* file : {"cpuset.cpus", "cpuset.mems"}) {
            auto value = readFile(joinPath(parent, file));
            if (!value) return value.error();
            if (auto st = writeFile(joinPath(path, file), trim(*value)); !st) return st;
          }
        }
      }
    }
    if (!layout_.unifiedMount.empty()) {
      if (auto created = makeDirs(layout_.unifiedMount, rel); !created) return created.error();
    }
    return {};
  }

  CgroupLayout layout_;
  std::string root_;
  std::vector<std::pair<std::string, std::string>> mounts_;  // controller -> mount, managed ones only
};

}  // namespace

std::unique_ptr<CgroupManager> makeV1Manager(const CgroupLayout& layout, std::string root) {
  return std::make_unique<V1Manager>(layout, std::move(root));
}

}  // namespace cgwarden::agent
