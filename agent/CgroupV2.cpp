// cgroup v2 backend: one directory per cgroup, controllers enabled top-down.

#include <unistd.h>

#include <algorithm>

#include "agent/CgroupBackends.h"
#include "agent/CgroupCommon.h"
#include "collectors/LimitFiles.h"
#include "collectors/ProcCgroup.h"
#include "collectors/TextParse.h"

namespace cgwarden::agent {

using namespace detail;

namespace {

const std::vector<std::string>& wantedControllers() {
  static const std::vector<std::string> kControllers = {"cpu", "cpuset", "memory", "io", "pids"};
  return kControllers;
}

Result<std::vector<std::string>> readControllerList(const std::string& dir, const char* file) {
  auto text = readFile(joinPath(dir, file));
  if (!text) return text.error();
  std::vector<std::string> out;
  for (auto f : splitFields(trim(*text))) out.emplace_back(f);
  return out;
}

class V2Cgroup final : public DirCgroup {
 public:
  using DirCgroup::DirCgroup;

  int cloneIntoFd() const override { return dir("")->fd.get(); }

  Result<bool> populated() const override {
    auto events = readEvents();
    if (!events) return events.error();
    return events->populated;
  }

  Status applyLimits(const Limits& l) override {
    if (l.cpu.quotaUs || l.cpu.periodUs) {
      CpuMax value;
      if (!l.cpu.quotaUs || !l.cpu.periodUs) {
        auto current = read("", "cpu.max");
        if (!current) return missingController(current.error(), "cpu");
        auto parsed = parseCpuMax(*current);
        if (parsed) value = *parsed;
      }
      if (l.cpu.quotaUs) value.quotaUs = *l.cpu.quotaUs;
      if (l.cpu.periodUs) value.periodUs = *l.cpu.periodUs;
      if (auto st = put("cpu", "cpu.max", formatCpuMax(value)); !st) return st;
    }
    if (l.cpu.weight) {
      if (auto st = put("cpu", "cpu.weight", std::to_string(*l.cpu.weight)); !st) return st;
    }
    if (l.cpu.cpus) {
      if (auto st = put("cpuset", "cpuset.cpus", *l.cpu.cpus); !st) return st;
    }
    if (l.cpu.mems) {
      if (auto st = put("cpuset", "cpuset.mems", *l.cpu.mems); !st) return st;
    }
    const std::pair<const char*, const std::optional<uint64_t>*> memoryFiles[] = {
        {"memory.max", &l.memory.max},
        {"memory.high", &l.memory.high},
        {"memory.low", &l.memory.low},
        {"memory.swap.max", &l.memory.swapMax}};
    for (const auto& [file, value] : memoryFiles) {
      if (!*value) continue;
      if (auto st = put("memory", file, formatMaxOrNumber(**value)); !st) return st;
    }
    if (l.pids.max) {
      if (auto st = put("pids", "pids.max", formatMaxOrNumber(*l.pids.max)); !st) return st;
    }
    if (l.io.weight) {
      // BFQ keeps its own weight file; io.weight is for the io.cost controller.
      bool bfq = hasFile("", "io.bfq.weight");
      std::string value = bfq ? std::to_string(std::clamp<uint64_t>(*l.io.weight, 1, 1000))
                              : "default " + std::to_string(*l.io.weight);
      if (auto st = put("io", bfq ? "io.bfq.weight" : "io.weight", value); !st) return st;
    }
    for (const IoDeviceLimit& d : l.io.devices) {
      if (auto st = put("io", "io.max", formatIoMaxLine(d)); !st) return st;
    }
    return {};
  }

  Result<Limits> readLimits() const override {
    Limits l;
    if (auto text = read("", "cpu.max")) {
      if (auto v = parseCpuMax(*text)) {
        l.cpu.quotaUs = v->quotaUs;
        l.cpu.periodUs = v->periodUs;
      }
    }
    if (auto text = read("", "cpu.weight")) l.cpu.weight = parseUint64(*text);
    if (auto text = read("", "cpuset.cpus")) l.cpu.cpus = std::string(trim(*text));
    if (auto text = read("", "cpuset.mems")) l.cpu.mems = std::string(trim(*text));
    const std::pair<const char*, std::optional<uint64_t> MemoryLimits::*> memoryFiles[] = {
        {"memory.max", &MemoryLimits::max},
        {"memory.high", &MemoryLimits::high},
        {"memory.low", &MemoryLimits::low},
        {"memory.swap.max", &MemoryLimits::swapMax}};
    for (const auto& [file, member] : memoryFiles) {
      if (auto text = read("", file)) {
        if (auto v = parseMaxOrNumber(*text)) l.memory.*member = *v;
      }
    }
    if (auto text = read("", "pids.max")) {
      if (auto v = parseMaxOrNumber(*text)) l.pids.max = *v;
    }
    if (auto text = read("", "io.bfq.weight")) {
      auto w = parseIoWeightDefault(*text);
      if (w) l.io.weight = *w;
    } else if (auto weight = read("", "io.weight")) {
      if (auto w = parseIoWeightDefault(*weight)) l.io.weight = *w;
    }
    if (auto text = read("", "io.max")) {
      if (auto devices = parseIoMax(*text)) l.io.devices = std::move(*devices);
    }
    return l;
  }

  Status freeze(std::chrono::milliseconds timeout) override {
    if (auto st = write("", "cgroup.freeze", "1"); !st) return st;
    return waitUntil(
        [this]() -> Result<bool> {
          auto events = readEvents();
          if (!events) return events.error();
          return events->frozen;
        },
        timeout, "freeze", dir("")->path + "/cgroup.events");
  }

  Status thaw() override { return write("", "cgroup.freeze", "0"); }

  Result<bool> frozen() const override {
    auto events = readEvents();
    if (!events) return events.error();
    return events->frozen;
  }

  Status killAll(std::chrono::milliseconds timeout) override {
    if (!hasFile("", "cgroup.kill")) return killByFreezing(timeout);  // kernels before 5.14
    if (auto st = write("", "cgroup.kill", "1"); !st) return st.error().cgroupGone() ? Status() : st;
    return waitUntil(
        [this]() -> Result<bool> {
          auto p = populated();
          if (!p) return p.error().cgroupGone() ? Result<bool>(true) : Result<bool>(p.error());
          return !*p;
        },
        timeout, "kill", dir("")->path + "/cgroup.kill");
  }

 private:
  struct Events {
    bool populated = false;
    bool frozen = false;
  };

  Result<Events> readEvents() const {
    auto text = read("", "cgroup.events");
    if (!text) return text.error();
    Events e;
    for (auto& [key, value] : parseFlatKeyed(*text)) {
      if (key == "populated") e.populated = value != 0;
      if (key == "frozen") e.frozen = value != 0;
    }
    return e;
  }

  // Writes a controller's file; a missing file means the controller is not enabled here.
  Status put(const char* controller, const char* file, const std::string& value) {
    Status st = write("", file, value);
    if (!st) return missingController(st.error(), controller);
    return st;
  }

  static Error missingController(Error e, const char* controller) {
    if (e.errnum == ENOENT) {
      e.hint = std::string("the ") + controller +
               " controller is not enabled for this cgroup; is it listed in the root's cgroup.controllers?";
    }
    return e;
  }
};

class V2Manager final : public CgroupManager {
 public:
  V2Manager(CgroupLayout layout, std::string root) : layout_(std::move(layout)), root_(std::move(root)) {
    if (auto available = readControllerList(layout_.unifiedMount, "cgroup.controllers")) {
      for (const auto& c : wantedControllers()) {
        if (std::find(available->begin(), available->end(), c) != available->end()) controllers_.push_back(c);
      }
    }
  }

  CgroupMode mode() const override { return CgroupMode::V2; }
  const CgroupLayout& layout() const override { return layout_; }
  const std::string& root() const override { return root_; }
  std::vector<std::string> controllers() const override {
    auto out = controllers_;
    out.emplace_back("freezer");  // cgroup.freeze is core on v2 (>= 5.2)
    return out;
  }

  Status prepareRoot() override {
    for (const char* needed : {"cpu", "memory", "pids"}) {
      if (std::find(controllers_.begin(), controllers_.end(), needed) == controllers_.end()) {
        return Error::invalid("prepare cgroup root", joinPath(layout_.unifiedMount, "cgroup.controllers"),
                              std::string("the \"") + needed + "\" controller is not available; "
                              "it may be bound to a v1 hierarchy or not delegated to us");
      }
    }
    auto created = makeDirs(layout_.unifiedMount, root_);
    if (!created) return created.error();
    if (auto st = moveSelfOutOfRoot(); !st) return st;
    return enableControllersDownTo(root_);
  }

  Result<std::unique_ptr<Cgroup>> create(std::string_view name) override {
    if (auto st = validateCgroupName(name); !st) return st.error();
    std::string rel = root_ + "/" + std::string(name);
    // Intermediate levels of a nested name need controllers too.
    std::string parent = rel.substr(0, rel.rfind('/'));
    if (parent != root_) {
      if (auto created = makeDirs(layout_.unifiedMount, parent); !created) return created.error();
      if (auto st = enableControllersDownTo(parent); !st) return st.error();
    }
    if (auto created = makeDirs(layout_.unifiedMount, rel); !created) return created.error();
    return open(name);
  }

  Result<std::unique_ptr<Cgroup>> open(std::string_view name) override {
    if (auto st = validateCgroupName(name); !st) return st.error();
    std::string rel = root_ + "/" + std::string(name);
    auto d = openHierarchyDir(layout_.unifiedMount, rel);
    if (!d) return d.error();
    std::vector<HierarchyDir> dirs;
    dirs.push_back(std::move(*d));
    std::map<std::string, size_t, std::less<>> index{{"", 0}};
    for (const auto& c : controllers_) index[c] = 0;
    return std::unique_ptr<Cgroup>(std::make_unique<V2Cgroup>(rel, std::move(dirs), std::move(index)));
  }

  Result<std::vector<std::string>> children() const override {
    auto all = listSubdirs(joinPath(layout_.unifiedMount, root_));
    if (!all) return all;
    // The agent's own leaf is not a workload.
    all->erase(std::remove(all->begin(), all->end(), kAgentLeaf), all->end());
    return all;
  }

  Status destroyTree(std::chrono::milliseconds timeout) override {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string top = joinPath(layout_.unifiedMount, root_);
    // Thaw first: a frozen task cannot die.
    writeToTree(top, "cgroup.freeze", "0");
    return removeTreeDeepestFirst(top, deadline);
  }

 private:
  static constexpr const char* kAgentLeaf = "agent";


  // No internal processes: a non-root cgroup that passes controllers to its children
  // cannot hold processes (writing cgroup.subtree_control fails with EBUSY). So if the
  // agent lives in the root (a delegated subtree) or in any cgroup above it, e.g.
  // "/<service>" with root "<service>/cgwarden", it moves into "<root>/agent" before
  // controllers are enabled on the way down. The mount's root cgroup is exempt.
  Status moveSelfOutOfRoot() {
    auto self = collectors::readProcCgroup(::getpid());
    if (!self) return self.error();
    const std::string* current = self->unifiedPath();
    if (current == nullptr || *current == "/") return {};
    const std::string target = "/" + root_;
    bool inRootOrAbove = *current == target || target.rfind(*current + "/", 0) == 0;
    if (!inRootOrAbove) return {};
    std::string leaf = root_ + "/" + kAgentLeaf;
    if (auto created = makeDirs(layout_.unifiedMount, leaf); !created) return created.error();
    return writeFile(joinPath(joinPath(layout_.unifiedMount, leaf), "cgroup.procs"), std::to_string(::getpid()));
  }

  // Enables our controllers in cgroup.subtree_control of every level from the mount
  // root down to `rel` (each parent must offer a controller before a child can).
  // Only missing controllers are written, so ancestors we do not own are left alone
  // when they already delegate what we need.
  Status enableControllersDownTo(const std::string& rel) {
    std::string dir = layout_.unifiedMount;
    std::vector<std::string_view> segments = splitOn(rel, '/');
    for (size_t i = 0; i <= segments.size(); ++i) {
      auto enabled = readControllerList(dir, "cgroup.subtree_control");
      if (!enabled) return enabled.error();
      std::string add;
      for (const auto& c : controllers_) {
        if (std::find(enabled->begin(), enabled->end(), c) == enabled->end()) add += (add.empty() ? "+" : " +") + c;
      }
      if (!add.empty()) {
        Status st = writeFile(joinPath(dir, "cgroup.subtree_control"), add);
        if (!st) {
          if (st.error().errnum == EBUSY) {
            st.error().hint = "the cgroup holds processes itself (no internal processes on v2); "
                              "run the agent outside it or delegate a subtree";
          }
          return st;
        }
      }
      if (i < segments.size()) dir = joinPath(dir, segments[i]);
    }
    return {};
  }

  CgroupLayout layout_;
  std::string root_;
  std::vector<std::string> controllers_;
};

}  // namespace

std::unique_ptr<CgroupManager> makeV2Manager(const CgroupLayout& layout, std::string root) {
  return std::make_unique<V2Manager>(layout, std::move(root));
}

Result<std::unique_ptr<CgroupManager>> CgroupManager::create(const CgroupLayout& layout, std::string root) {
  while (!root.empty() && root.front() == '/') root.erase(0, 1);
  while (!root.empty() && root.back() == '/') root.pop_back();
  if (auto st = validateCgroupName(root); !st) return st.error().context("cgroup root");
  if (layout.mode == CgroupMode::V2) return makeV2Manager(layout, std::move(root));
  return makeV1Manager(layout, std::move(root));
}

}  // namespace cgwarden::agent
