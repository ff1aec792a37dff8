#include "collectors/ObservedCgroups.h"

#include <dirent.h>
#include <fnmatch.h>
#include <sys/stat.h>

#include <set>

#include "collectors/FileIo.h"
#include "collectors/TextParse.h"

namespace cgwarden::collectors {

namespace {

std::vector<std::string_view> segmentsOf(std::string_view pattern) {
  while (!pattern.empty() && pattern.front() == '/') pattern.remove_prefix(1);
  while (!pattern.empty() && pattern.back() == '/') pattern.remove_suffix(1);
  return splitOn(pattern, '/');
}

bool matchSegments(const std::vector<std::string_view>& pat, size_t pi, const std::vector<std::string_view>& path,
                   size_t si) {
  if (pi == pat.size()) return si == path.size();
  if (pat[pi] == "**") {
    for (size_t k = si; k <= path.size(); ++k) {
      if (matchSegments(pat, pi + 1, path, k)) return true;
    }
    return false;
  }
  if (si == path.size()) return false;
  std::string p(pat[pi]);
  std::string s(path[si]);
  if (::fnmatch(p.c_str(), s.c_str(), 0) != 0) return false;
  return matchSegments(pat, pi + 1, path, si + 1);
}

std::vector<std::string> childDirs(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    bool isDir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN) {
      struct stat st {};
      isDir = ::stat(joinPath(dir, name).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    }
    if (isDir) out.emplace_back(name);
  }
  ::closedir(d);
  return out;
}

// Walks `root` following the pattern segments from `pi`; `rel` is the path so far.
void expand(const std::string& root, const std::string& rel, const std::vector<std::string_view>& pat, size_t pi,
            std::set<std::string>& out) {
  if (pi == pat.size()) {
    if (!rel.empty()) out.insert(rel);
    return;
  }
  std::string here = rel.empty() ? root : joinPath(root, rel);
  std::string_view seg = pat[pi];
  if (seg == "**") {
    expand(root, rel, pat, pi + 1, out);  // zero segments
    for (const auto& child : childDirs(here)) {
      expand(root, rel.empty() ? child : rel + "/" + child, pat, pi, out);
    }
    return;
  }
  bool literal = seg.find_first_of("*?[\\") == std::string_view::npos;
  if (literal) {
    std::string next = rel.empty() ? std::string(seg) : rel + "/" + std::string(seg);
    struct stat st {};
    if (::stat(joinPath(root, next).c_str(), &st) == 0 && S_ISDIR(st.st_mode)) expand(root, next, pat, pi + 1, out);
    return;
  }
  std::string glob(seg);
  for (const auto& child : childDirs(here)) {
    if (::fnmatch(glob.c_str(), child.c_str(), 0) == 0) {
      expand(root, rel.empty() ? child : rel + "/" + child, pat, pi + 1, out);
    }
  }
}

const char* const kSampledControllers[] = {"cpu", "cpuacct", "memory", "blkio", "pids"};

}  // namespace

ObservedCgroups::ObservedCgroups(CgroupLayout layout, std::vector<std::string> patterns,
                                 std::chrono::milliseconds rescanInterval)
    : layout_(std::move(layout)), patterns_(std::move(patterns)), rescanInterval_(rescanInterval) {}

Status ObservedCgroups::validatePattern(std::string_view pattern) {
  auto segs = segmentsOf(pattern);
  if (segs.empty()) return Error::invalid("observe", std::string(pattern), "empty pattern");
  for (auto seg : segs) {
    if (seg.empty()) return Error::invalid("observe", std::string(pattern), "empty path segment (\"//\")");
    if (seg == "." || seg == "..") {
      return Error::invalid("observe", std::string(pattern), "\".\" and \"..\" are not allowed");
    }
  }
  return {};
}

bool ObservedCgroups::matches(std::string_view pattern, std::string_view path) {
  auto pat = segmentsOf(pattern);
  auto p = segmentsOf(path);
  return !pat.empty() && matchSegments(pat, 0, p, 0);
}

std::vector<SampleTarget> ObservedCgroups::scan() const {
  std::vector<std::pair<std::string, std::string>> roots;  // key ("" = cgroup2), mount
  if (!layout_.unifiedMount.empty()) roots.emplace_back("", layout_.unifiedMount);
  for (const char* c : kSampledControllers) {
    auto it = layout_.v1Mounts.find(c);
    if (it != layout_.v1Mounts.end()) roots.emplace_back(c, it->second);
  }
  std::set<std::string> paths;
  for (const auto& pattern : patterns_) {
    if (!validatePattern(pattern)) continue;
    auto pat = segmentsOf(pattern);
    std::set<std::string> seenMounts;
    for (const auto& [key, mount] : roots) {
      if (!seenMounts.insert(mount).second) continue;
      expand(mount, "", pat, 0, paths);
    }
  }
  std::vector<SampleTarget> out;
  out.reserve(paths.size());
  for (const auto& rel : paths) {
    SampleTarget t;
    t.id = "/" + rel;
    t.name = rel;
    t.managed = false;
    for (const auto& [key, mount] : roots) {
      std::string dir = joinPath(mount, rel);
      struct stat st {};
      if (::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) t.dirs.set(key, dir);
    }
    if (!t.dirs.empty()) out.push_back(std::move(t));
  }
  return out;
}

std::vector<std::shared_ptr<const SampleTarget>> ObservedCgroups::targets() {
  std::lock_guard<std::mutex> lock(mutex_);
  auto now = std::chrono::steady_clock::now();
  if (!scanned_ || now - lastScan_ >= rescanInterval_) {
    std::vector<SampleTarget> fresh = scan();
    // Keep the previous shared target where nothing changed (sorted by id, both).
    std::vector<std::shared_ptr<const SampleTarget>> next;
    next.reserve(fresh.size());
    size_t j = 0;
    for (auto& t : fresh) {
      while (j < cached_.size() && cached_[j]->id < t.id) ++j;
      if (j < cached_.size() && *cached_[j] == t) {
        next.push_back(cached_[j]);
      } else {
        next.push_back(std::make_shared<const SampleTarget>(std::move(t)));
      }
    }
    cached_ = std::move(next);
    lastScan_ = now;
    scanned_ = true;
  }
  return cached_;
}

}  // namespace cgwarden::collectors
