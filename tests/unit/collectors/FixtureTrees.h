#pragma once
// Temp trees laid out like a hybrid host (v1 controllers apart + the cgroup2 twin, with
// the files captured on this machine, tests/fixtures/cgroup-v1-hybrid) and like a pure v2
// host (tests/fixtures/cgroup-v2), for the Sampler and exporter tests.

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "collectors/CgroupLayout.h"
#include "collectors/SampleTarget.h"
#include "collectors/Sampler.h"
#include "unit/TempTree.h"

namespace cgwarden::testing {

using collectors::CgroupLayout;
using collectors::CgroupMode;
using collectors::SampleTarget;
using collectors::SamplerOptions;

inline std::string fixture(const std::string& rel) {
  std::ifstream in(std::string(CGWARDEN_SOURCE_DIR) + "/tests/fixtures/" + rel);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Builds <root>/{cpu,cpuacct,memory,blkio,pids,unified}/<cg>/ from the v1 captures.
struct HybridTree {
  TempTree tree;
  CgroupLayout layout;

  HybridTree() {
    layout.mode = CgroupMode::Hybrid;
    for (const char* c : {"cpu", "cpuacct", "memory", "blkio", "pids"}) layout.v1Mounts[c] = tree.path(c);
    layout.unifiedMount = tree.path("unified");
    tree.write("sys/dev/block/254:0/uevent", "MAJOR=254\nMINOR=0\nDEVNAME=vda\nDEVTYPE=disk\n");
  }

  SampleTarget addCgroup(const std::string& cg, bool withBlkio = true) {
    const std::map<std::string, std::vector<std::string>> files = {
        {"cpu", {"cpu.stat", "cpu.cfs_quota_us", "cpu.cfs_period_us", "cpu.shares"}},
        {"cpuacct", {"cpuacct.usage", "cpuacct.stat", "cpuacct.usage_percpu"}},
        {"memory",
         {"memory.stat", "memory.usage_in_bytes", "memory.max_usage_in_bytes", "memory.failcnt", "memory.oom_control",
          "memory.limit_in_bytes", "memory.soft_limit_in_bytes", "memory.memsw.limit_in_bytes"}},
        {"blkio", {"blkio.throttle.io_service_bytes_recursive", "blkio.throttle.io_serviced_recursive"}},
        {"pids", {"pids.current", "pids.max"}},
        {"unified", {"unified/cpu.pressure", "unified/memory.pressure", "unified/io.pressure", "unified/cpu.stat"}},
    };
    SampleTarget t;
    t.id = "/" + cg;
    t.name = cg;
    for (const auto& [dir, names] : files) {
      if (dir == "blkio" && !withBlkio) continue;
      std::string base = dir + "/" + cg + "/";
      for (const auto& n : names) {
        std::string leaf = std::filesystem::path(n).filename().string();
        tree.write(base + leaf, fixture("cgroup-v1-hybrid/" + n));
      }
      tree.write(base + "cgroup.procs", dir == "pids" ? "4242\n4243\n" : "");
      t.dirs.set(dir == "unified" ? "" : dir, tree.path(dir + "/" + cg));
    }
    return t;
  }
};

struct V2Tree {
  TempTree tree;
  CgroupLayout layout;

  V2Tree() {
    layout.mode = CgroupMode::V2;
    layout.unifiedMount = tree.path("cg2");
    tree.write("sys/dev/block/8:0/uevent", "MAJOR=8\nMINOR=0\nDEVNAME=sda\n");
    tree.write("sys/dev/block/8:16/uevent", "MAJOR=8\nMINOR=16\nDEVNAME=sdb\n");
  }

  SampleTarget addCgroup(const std::string& cg) {
    for (const char* n : {"cpu.stat", "memory.stat", "memory.events", "io.stat", "cpu.pressure", "memory.pressure",
                          "io.pressure", "memory.current", "memory.peak", "memory.swap.current", "pids.current",
                          "pids.max", "cpu.max", "cpu.weight", "memory.max", "memory.swap.max", "memory.min",
                          "cgroup.procs"}) {
      tree.write("cg2/" + cg + "/" + n, fixture(std::string("cgroup-v2/") + n));
    }
    SampleTarget t;
    t.id = "/" + cg;
    t.name = cg;
    t.dirs.set("", tree.path("cg2/" + cg));
    return t;
  }
};

inline SamplerOptions optionsFor(const TempTree& tree) {
  SamplerOptions o;
  o.sysRoot = tree.path("sys");
  o.userHz = 100;
  return o;
}

}  // namespace cgwarden::testing
