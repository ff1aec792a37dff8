#include "collectors/ProcessInfo.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "collectors/FileIo.h"
#include "collectors/TextParse.h"

namespace cgwarden::collectors {

namespace {

std::string pidDir(const std::string& procRoot, pid_t pid) { return joinPath(procRoot, std::to_string(pid)); }

// A /proc file of a process that has exited: ENOENT (directory gone) or ESRCH (reaped
// while open). Both mean "no such process" to callers.
Error goneOr(Error e) {
  if (e.errnum == ENOENT || e.errnum == ESRCH) e.errnum = ESRCH;
  return e;
}

template <class Int>
std::optional<Int> parseIntAs(std::string_view s) {
  auto v = parseInt64(s);
  if (!v) return std::nullopt;
  return static_cast<Int>(*v);
}

}  // namespace

Result<ProcStat> parseProcStat(std::string_view text) {
  const std::string where = "/proc/<pid>/stat";
  size_t open = text.find('(');
  size_t close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
    return Error::invalid("parse", where, "no \"(comm)\" field");
  }
  ProcStat st;
  auto pid = parseIntAs<pid_t>(trim(text.substr(0, open)));
  if (!pid) return Error::invalid("parse", where, "field 1 (pid) is not a number");
  st.pid = *pid;
  st.comm = std::string(text.substr(open + 1, close - open - 1));
  // Fields after the comm, numbered from 3 (state).
  std::vector<std::string_view> rest = splitFields(text.substr(close + 1));
  if (rest.size() < 20) return Error::invalid("parse", where, "fewer than 22 fields");
  if (rest[0].size() != 1) return Error::invalid("parse", where, "field 3 (state) is not one letter");
  st.state = rest[0][0];
  auto ppid = parseIntAs<pid_t>(rest[1]);
  auto flags = parseUint64(rest[6]);
  auto start = parseUint64(rest[19]);
  if (!ppid) return Error::invalid("parse", where, "field 4 (ppid) is not a number");
  if (!flags) return Error::invalid("parse", where, "field 9 (flags) is not a number");
  if (!start) return Error::invalid("parse", where, "field 22 (starttime) is not a number");
  st.ppid = *ppid;
  st.flags = static_cast<uint32_t>(*flags);
  st.startTimeTicks = *start;
  return st;
}

Result<ProcStatus> parseProcStatus(std::string_view text) {
  const std::string where = "/proc/<pid>/status";
  ProcStatus st;
  bool haveTgid = false, haveUid = false, haveGid = false;
  for (std::string_view line : splitLines(text)) {
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view key = line.substr(0, colon);
    std::string_view value = line.substr(colon + 1);
    if (key == "Name") {
      // Name is the only value with a single leading tab; keep inner spaces.
      st.name = std::string(trim(value));
    } else if (key == "Tgid") {
      auto v = parseIntAs<pid_t>(trim(value));
      if (!v) return Error::invalid("parse", where, "Tgid is not a number");
      st.tgid = *v;
      haveTgid = true;
    } else if (key == "PPid") {
      auto v = parseIntAs<pid_t>(trim(value));
      if (!v) return Error::invalid("parse", where, "PPid is not a number");
      st.ppid = *v;
    } else if (key == "Uid" || key == "Gid") {
      auto fields = splitFields(value);
      if (fields.size() < 4) return Error::invalid("parse", where, std::string(key) + " has fewer than 4 ids");
      uint32_t* out = key == "Uid" ? st.uid : st.gid;
      for (size_t i = 0; i < 4; ++i) {
        auto v = parseUint64(fields[i]);
        if (!v) return Error::invalid("parse", where, std::string(key) + " holds a non-number");
        out[i] = static_cast<uint32_t>(*v);
      }
      (key == "Uid" ? haveUid : haveGid) = true;
    }
  }
  if (!haveTgid) return Error::invalid("parse", where, "no Tgid line");
  if (!haveUid) return Error::invalid("parse", where, "no Uid line");
  if (!haveGid) return Error::invalid("parse", where, "no Gid line");
  return st;
}

std::vector<std::string> parseCmdline(std::string_view text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\0', pos);
    if (end == std::string_view::npos) end = text.size();
    out.emplace_back(text.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

std::vector<pid_t> parsePidList(std::string_view text) {
  std::vector<pid_t> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find_first_of(" \t\n", pos);
    if (end == std::string_view::npos) end = text.size();
    if (end > pos) {
      if (auto v = parseInt64(text.substr(pos, end - pos)); v && *v > 0) out.push_back(static_cast<pid_t>(*v));
    }
    pos = end + 1;
  }
  return out;
}

std::string ProcessInfo::commandLine() const {
  std::string out;
  for (const auto& arg : cmdline) {
    if (!out.empty()) out += ' ';
    out += arg;
  }
  return out;
}

Result<ProcStat> readProcStat(pid_t pid, const std::string& procRoot) {
  std::string dir = pidDir(procRoot, pid);
  auto text = readFile(joinPath(dir, "stat"));
  if (!text) return goneOr(text.error());
  auto st = parseProcStat(*text);
  if (!st) {
    st.error().path = joinPath(dir, "stat");
    return st.error();
  }
  return st;
}

Result<ProcessInfo> readProcessInfo(pid_t pid, const std::string& procRoot, unsigned fields) {
  std::string dir = pidDir(procRoot, pid);
  auto statusText = readFile(joinPath(dir, "status"));
  if (!statusText) return goneOr(statusText.error());
  auto status = parseProcStatus(*statusText);
  if (!status) {
    status.error().path = joinPath(dir, "status");
    return status.error();
  }
  if (status->tgid != pid && status->tgid > 0) {
    // A thread id: describe its thread group instead.
    return readProcessInfo(status->tgid, procRoot, fields);
  }
  auto stat = readProcStat(pid, procRoot);
  if (!stat) return stat.error();

  ProcessInfo info;
  info.pid = pid;
  info.ppid = stat->ppid;
  info.state = stat->state;
  info.flags = stat->flags;
  info.startTimeTicks = stat->startTimeTicks;
  info.comm = stat->comm;
  info.uid = status->uid[0];
  info.euid = status->uid[1];
  info.gid = status->gid[0];
  info.egid = status->gid[1];

  if (fields & kInfoExe) {
    std::string link = joinPath(dir, "exe");
    char buf[4096];
    ssize_t n = ::readlink(link.c_str(), buf, sizeof(buf) - 1);
    if (n >= 0) info.exe.assign(buf, static_cast<size_t>(n));
    // ENOENT for kernel threads and zombies, EACCES without ptrace rights: exe stays "".
  }
  if (fields & kInfoCmdline) {
    auto text = readFile(joinPath(dir, "cmdline"));
    if (text) info.cmdline = parseCmdline(*text);
    else if (text.error().errnum == ENOENT || text.error().errnum == ESRCH) return goneOr(text.error());
  }
  return info;
}

Result<std::vector<pid_t>> listPids(const std::string& procRoot) {
  DIR* d = ::opendir(procRoot.c_str());
  if (d == nullptr) return Error::fromErrno("opendir", procRoot, errno);
  std::vector<pid_t> out;
  while (struct dirent* e = ::readdir(d)) {
    const char* n = e->d_name;
    if (*n < '1' || *n > '9') continue;
    if (auto v = parseInt64(n); v && *v > 0) out.push_back(static_cast<pid_t>(*v));
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

Result<std::vector<pid_t>> readChildren(pid_t pid, const std::string& procRoot) {
  std::string taskDir = joinPath(pidDir(procRoot, pid), "task");
  DIR* d = ::opendir(taskDir.c_str());
  if (d == nullptr) {
    int err = errno;
    return Error::fromErrno("opendir", taskDir, err == ENOENT ? ESRCH : err);
  }
  std::vector<pid_t> tids;
  while (struct dirent* e = ::readdir(d)) {
    if (auto v = parseInt64(e->d_name); v && *v > 0) tids.push_back(static_cast<pid_t>(*v));
  }
  ::closedir(d);
  std::vector<pid_t> out;
  for (pid_t tid : tids) {
    std::string path = joinPath(joinPath(taskDir, std::to_string(tid)), "children");
    auto text = readFile(path);
    if (!text) {
      // A thread that exited between readdir and open: its children moved to another thread.
      if (text.error().errnum == ESRCH) continue;
      if (text.error().errnum == ENOENT && pathExists(joinPath(taskDir, std::to_string(tid)))) {
        return text.error();  // the directory is there but has no children file: no CONFIG_PROC_CHILDREN
      }
      continue;
    }
    for (pid_t c : parsePidList(*text)) out.push_back(c);
  }
  if (tids.empty()) return Error::fromErrno("read", taskDir, ESRCH);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

bool childrenFilesAvailable(pid_t pid, const std::string& procRoot) {
  return pathExists(joinPath(joinPath(joinPath(pidDir(procRoot, pid), "task"), std::to_string(pid)), "children"));
}

}  // namespace cgwarden::collectors
