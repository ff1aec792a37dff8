#include "collectors/CgroupLayout.h"

#include <algorithm>
#include <set>

#include "collectors/FileIo.h"
#include "collectors/TextParse.h"

namespace cgwarden::collectors {

const char* cgroupModeName(CgroupMode mode) {
  switch (mode) {
    case CgroupMode::V1: return "v1";
    case CgroupMode::V2: return "v2";
    case CgroupMode::Hybrid: return "hybrid";
  }
  return "?";
}

const std::vector<std::string>& knownV1Controllers() {
  static const std::vector<std::string> kControllers = {
      "cpu", "cpuacct", "cpuset", "memory", "blkio", "pids", "freezer", "devices",
      "net_cls", "net_prio", "perf_event", "hugetlb", "rdma", "misc"};
  return kControllers;
}

namespace {

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescapeOctal(std::string_view s) {
  auto isOct = [](char c) { return c >= '0' && c <= '7'; };
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && isOct(s[i + 1]) && isOct(s[i + 2]) && isOct(s[i + 3])) {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

Result<std::vector<MountEntry>> parseMountinfo(std::string_view text) {
  std::vector<MountEntry> out;
  size_t lineNo = 0;
  for (std::string_view line : splitLines(text)) {
    ++lineNo;
    if (line.empty()) continue;
    std::vector<std::string_view> f = splitFields(line);
    // id parent maj:min root mountpoint options [optional...] - fstype source superoptions
    auto dash = std::find(f.begin(), f.end(), std::string_view("-"));
    if (f.size() < 10 || dash == f.end() || dash - f.begin() < 6 || f.end() - dash < 4) {
      return Error::invalid("parse", "mountinfo",
                            "line " + std::to_string(lineNo) + ": expected \"id parent maj:min root mountpoint "
                                                              "options ... - fstype source superoptions\", got \"" +
                                std::string(line) + "\"");
    }
    MountEntry e;
    e.root = unescapeOctal(f[3]);
    e.mountPoint = unescapeOctal(f[4]);
    e.fsType = std::string(dash[1]);
    e.source = unescapeOctal(dash[2]);
    e.superOptions = std::string(dash[3]);
    out.push_back(std::move(e));
  }
  return out;
}

Result<CgroupLayout> CgroupLayout::fromMounts(const std::vector<MountEntry>& mounts) {
  CgroupLayout layout;
  const auto& known = knownV1Controllers();
  for (const MountEntry& m : mounts) {
    if (m.fsType == "cgroup2") {
      // Prefer the shortest mount point if cgroup2 is mounted more than once.
      if (layout.unifiedMount.empty() || m.mountPoint.size() < layout.unifiedMount.size()) {
        layout.unifiedMount = m.mountPoint;
      }
    } else if (m.fsType == "cgroup") {
      for (std::string_view opt : splitOn(m.superOptions, ',')) {
        std::string o(opt);
        if (std::find(known.begin(), known.end(), o) != known.end() && !layout.v1Mounts.count(o)) {
          layout.v1Mounts[o] = m.mountPoint;
        }
      }
    }
  }
  if (layout.v1Mounts.empty() && layout.unifiedMount.empty()) {
    return Error::invalid("detect cgroups", "/proc/self/mountinfo", "no cgroup or cgroup2 filesystem is mounted");
  }
  if (layout.v1Mounts.empty()) {
    layout.mode = CgroupMode::V2;
  } else {
    layout.mode = layout.unifiedMount.empty() ? CgroupMode::V1 : CgroupMode::Hybrid;
  }
  return layout;
}

Result<CgroupLayout> CgroupLayout::detect(const std::string& mountinfoPath) {
  auto text = readFile(mountinfoPath);
  if (!text) return text.error();
  auto mounts = parseMountinfo(*text);
  if (!mounts) {
    Error e = mounts.error();
    e.path = mountinfoPath;
    return e;
  }
  auto layout = fromMounts(*mounts);
  if (!layout) layout.error().path = mountinfoPath;
  return layout;
}

std::vector<std::string> CgroupLayout::v1MountPoints() const {
  std::set<std::string> points;
  for (const auto& [controller, mount] : v1Mounts) points.insert(mount);
  return {points.begin(), points.end()};
}

std::string CgroupLayout::describe() const {
  std::string out = std::string("cgroup ") + cgroupModeName(mode);
  if (!v1Mounts.empty()) {
    out += ", v1 controllers:";
    for (const auto& [controller, mount] : v1Mounts) out += " " + controller + "=" + mount;
  }
  if (!unifiedMount.empty()) out += ", cgroup2 at " + unifiedMount;
  return out;
}

}  // namespace cgwarden::collectors
