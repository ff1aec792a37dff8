#include "agent/CgroupCommon.h"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "collectors/TextParse.h"

namespace cgwarden::agent {

Status validateCgroupName(std::string_view name) {
  if (name.empty()) return Error::invalid("check name", "", "name is empty");
  if (name.size() > 200) return Error::invalid("check name", "", "name is longer than 200 characters");
  for (std::string_view seg : splitOn(name, '/')) {
    if (seg.empty() || seg == "." || seg == "..") {
      return Error::invalid("check name", "", "\"" + std::string(name) + "\" has an empty, \".\" or \"..\" segment");
    }
    auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
    if (!alnum(seg.front())) {
      return Error::invalid("check name", "", "\"" + std::string(name) + "\" must start each segment with a letter or digit");
    }
    for (char c : seg) {
      if (!alnum(c) && c != '_' && c != '.' && c != '-') {
        return Error::invalid("check name", "", "\"" + std::string(name) + "\" may only hold letters, digits, '_', '.', '-' and '/'");
      }
    }
  }
  return {};
}

namespace detail {

Result<std::vector<std::string>> makeDirs(const std::string& mount, const std::string& relPath) {
  std::vector<std::string> created;
  std::string current = mount;
  for (std::string_view seg : splitOn(relPath, '/')) {
    if (seg.empty()) continue;
    current = joinPath(current, seg);
    if (::mkdir(current.c_str(), 0755) == 0) {
      created.push_back(current);
    } else if (errno != EEXIST) {
      return Error::fromErrno("mkdir", current, errno);
    }
  }
  return created;
}

Result<HierarchyDir> openHierarchyDir(const std::string& mount, const std::string& relPath) {
  std::string path = joinPath(mount, relPath);
  auto fd = openDirectory(path);
  if (!fd) return fd.error();
  return HierarchyDir{path, std::move(*fd)};
}

Result<std::vector<pid_t>> readProcs(const HierarchyDir& dir) {
  auto text = readFileAt(dir.fd.get(), "cgroup.procs", dir.path);
  if (!text) return text.error();
  std::vector<pid_t> pids;
  for (std::string_view line : splitLines(*text)) {
    if (auto v = parseUint64(line)) pids.push_back(static_cast<pid_t>(*v));
  }
  return pids;
}

Status removeDir(const std::string& path, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    if (::rmdir(path.c_str()) == 0 || errno == ENOENT) return {};
    int err = errno;
    if (err != EBUSY || std::chrono::steady_clock::now() >= deadline) {
      return Error::fromErrno("rmdir", path, err,
                              err == EBUSY ? "processes or child cgroups are still inside" : std::string());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

Result<std::vector<std::string>> listSubdirs(const std::string& path) {
  DIR* d = ::opendir(path.c_str());
  if (d == nullptr) return Error::fromErrno("opendir", path, errno);
  std::vector<std::string> out;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    if (e->d_type == DT_DIR) out.push_back(name);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

Status waitUntil(const std::function<Result<bool>()>& check, std::chrono::milliseconds timeout,
                 const std::string& what, const std::string& path) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::milliseconds(1);
  for (;;) {
    auto done = check();
    if (!done) return done.error();
    if (*done) return {};
    if (std::chrono::steady_clock::now() >= deadline) {
      return Error::fromErrno(what, path, ETIMEDOUT,
                              "not done after " + std::to_string(timeout.count()) + " ms");
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(20));
  }
}

void writeToTree(const std::string& path, const char* file, const char* value) {
  (void)writeFile(joinPath(path, file), value);
  if (auto subdirs = listSubdirs(path)) {
    for (const auto& s : *subdirs) writeToTree(joinPath(path, s), file, value);
  }
}

void killPids(const std::vector<pid_t>& pids) {
  for (pid_t pid : pids) {
    if (pid > 1) ::kill(pid, SIGKILL);
  }
}

Status removeTreeDeepestFirst(const std::string& path, std::chrono::steady_clock::time_point deadline) {
  auto subdirs = listSubdirs(path);
  if (!subdirs) return subdirs.error().cgroupGone() ? Status() : Status(subdirs.error());
  for (const auto& name : *subdirs) {
    if (auto st = removeTreeDeepestFirst(joinPath(path, name), deadline); !st) return st;
  }
  // Whatever is still inside gets SIGKILL; then the directory can go.
  for (;;) {
    auto fd = openDirectory(path);
    if (!fd) return fd.error().cgroupGone() ? Status() : Status(fd.error());
    HierarchyDir dir{path, std::move(*fd)};
    auto pids = readProcs(dir);
    if (!pids || pids->empty()) break;
    killPids(*pids);
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return removeDir(path, deadline);
}

DirCgroup::DirCgroup(std::string relPath, std::vector<HierarchyDir> dirs,
                     std::map<std::string, size_t, std::less<>> index)
    : path_(std::move(relPath)), dirs_(std::move(dirs)), index_(std::move(index)) {}

std::vector<std::string> DirCgroup::directories() const {
  std::vector<std::string> out;
  for (const auto& d : dirs_) out.push_back(d.path);
  return out;
}

const HierarchyDir* DirCgroup::dir(std::string_view key) const {
  auto it = index_.find(key);
  return it == index_.end() ? nullptr : &dirs_[it->second];
}

std::optional<std::string> DirCgroup::directoryFor(std::string_view controller) const {
  const HierarchyDir* d = dir(controller);
  if (d == nullptr) return std::nullopt;
  return d->path;
}

const HierarchyDir& DirCgroup::primary() const {
  for (const char* key : {"", "pids", "memory"}) {
    if (const HierarchyDir* d = dir(key)) return *d;
  }
  return dirs_.front();
}

Status DirCgroup::write(std::string_view key, std::string_view file, std::string_view value) {
  const HierarchyDir* d = dir(key);
  if (d == nullptr) {
    return Error::invalid("write", path_ + "/" + std::string(file),
                          "the " + std::string(key) + " controller is not available on this host");
  }
  return writeFileAt(d->fd.get(), file, value, d->path);
}

Result<std::string> DirCgroup::read(std::string_view key, std::string_view file) const {
  const HierarchyDir* d = dir(key);
  if (d == nullptr) {
    return Error::invalid("read", path_ + "/" + std::string(file),
                          "the " + std::string(key) + " controller is not available on this host");
  }
  return readFileAt(d->fd.get(), file, d->path);
}

bool DirCgroup::hasFile(std::string_view key, std::string_view file) const {
  const HierarchyDir* d = dir(key);
  if (d == nullptr) return false;
  struct stat st {};
  return ::fstatat(d->fd.get(), std::string(file).c_str(), &st, 0) == 0;
}

Status DirCgroup::attach(pid_t pid) {
  std::string value = std::to_string(pid);
  // Join every hierarchy; the one holding pids goes first so a pid limit applies at once.
  std::vector<const HierarchyDir*> order;
  if (const HierarchyDir* p = dir("pids")) order.push_back(p);
  for (const auto& d : dirs_) {
    if (std::find(order.begin(), order.end(), &d) == order.end()) order.push_back(&d);
  }
  for (const HierarchyDir* d : order) {
    if (auto st = writeFileAt(d->fd.get(), "cgroup.procs", value, d->path); !st) return st;
  }
  return {};
}

Result<std::vector<pid_t>> DirCgroup::pids() const { return readProcs(primary()); }

Status DirCgroup::remove(std::chrono::milliseconds timeout) {
  if (removed_) return {};
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto empty = waitUntil(
      [this]() -> Result<bool> {
        auto p = populated();
        if (!p) return p.error().cgroupGone() ? Result<bool>(true) : Result<bool>(p.error());
        return !*p;
      },
      timeout, "wait for empty cgroup", primary().path);
  if (!empty) return empty;
  for (auto& d : dirs_) {
    d.fd.reset();
    if (auto st = removeDir(d.path, deadline); !st) return st;
  }
  removed_ = true;
  return {};
}

Status DirCgroup::killByFreezing(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto members = pids();
    if (!members) return members.error().cgroupGone() ? Status() : Status(members.error());
    if (members->empty()) return {};
    // Frozen tasks cannot fork between our read of cgroup.procs and the kill.
    bool froze = static_cast<bool>(freeze(std::chrono::milliseconds(200)));
    if (froze) {
      if (auto again = pids(); again) members = std::move(again);
    }
    killPids(*members);
    if (auto st = thaw(); !st && !st.error().cgroupGone()) return st;
    if (std::chrono::steady_clock::now() >= deadline) {
      return Error::fromErrno("kill", primary().path, ETIMEDOUT, "processes survived SIGKILL");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

}  // namespace detail
}  // namespace cgwarden::agent
