#include "collectors/FileIo.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>

namespace cgwarden {

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) reset(other.release());
  return *this;
}

int UniqueFd::release() {
  int fd = fd_;
  fd_ = -1;
  return fd;
}

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

std::string joinPath(std::string_view dir, std::string_view name) {
  if (dir.empty()) return std::string(name);
  if (name.empty()) return std::string(dir);
  std::string out(dir);
  if (out.back() != '/') out += '/';
  out += name.front() == '/' ? name.substr(1) : name;
  return out;
}

Result<UniqueFd> openDirectory(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Error::fromErrno("open", path, errno);
  return UniqueFd(fd);
}

Result<std::string> readFileAt(int dirFd, std::string_view name, std::string_view displayDir) {
  std::string nameStr(name);
  int fd = ::openat(dirFd, nameStr.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error::fromErrno("open", joinPath(displayDir, name), errno);
  UniqueFd guard(fd);
  std::string out;
  std::array<char, 8192> buf{};
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::fromErrno("read", joinPath(displayDir, name), errno);
    }
    if (n == 0) break;
    out.append(buf.data(), static_cast<size_t>(n));
  }
  return out;
}

Result<std::string> readFile(const std::string& path) { return readFileAt(AT_FDCWD, path, ""); }

Status writeFileAt(int dirFd, std::string_view name, std::string_view value, std::string_view displayDir) {
  std::string nameStr(name);
  int fd = ::openat(dirFd, nameStr.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return Error::fromErrno("open", joinPath(displayDir, name), errno);
  UniqueFd guard(fd);
  ssize_t n;
  do {
    n = ::write(fd, value.data(), value.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    Error e = Error::fromErrno("write", joinPath(displayDir, name), errno);
    e.detail = "value \"" + std::string(value.substr(0, value.find('\n'))) + "\"";
    return e;
  }
  return {};
}

Status writeFile(const std::string& path, std::string_view value) { return writeFileAt(AT_FDCWD, path, value, ""); }

Status writeFileAtomic(const std::string& path, std::string_view contents, unsigned mode) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Error::fromErrno("create", tmp, errno);
  UniqueFd guard(fd);
  size_t off = 0;
  while (off < contents.size()) {
    ssize_t n = ::write(fd, contents.data() + off, contents.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::unlink(tmp.c_str());
      return Error::fromErrno("write", tmp, err);
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Error::fromErrno("fsync", tmp, err);
  }
  guard.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Error::fromErrno("rename", tmp + " -> " + path, err);
  }
  return {};
}

bool pathExists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace cgwarden
