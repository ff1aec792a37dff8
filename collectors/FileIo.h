#pragma once
// Thin I/O helpers: every failure comes back as an Error naming the path and errno.
// Cgroup files are read and written relative to a directory fd held per cgroup
// (openat), so a cgroup removed and recreated under the same name is never misread.

#include <string>
#include <string_view>

#include "collectors/Result.h"

namespace cgwarden {

// Owns a file descriptor; closes it on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release();
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// open(path, O_DIRECTORY|O_PATH-less O_RDONLY|O_CLOEXEC).
Result<UniqueFd> openDirectory(const std::string& path);

// Reads a whole (small, virtual) file. `dirFd` may be AT_FDCWD with an absolute name.
// `displayDir` is only used to build error messages ("<displayDir>/<name>").
Result<std::string> readFileAt(int dirFd, std::string_view name, std::string_view displayDir);
Result<std::string> readFile(const std::string& path);

// Writes `value` in one write(2), as the kernel's cgroup files expect.
Status writeFileAt(int dirFd, std::string_view name, std::string_view value, std::string_view displayDir);
Status writeFile(const std::string& path, std::string_view value);

// Creates a file atomically: write to a temp file beside it, fsync, rename.
Status writeFileAtomic(const std::string& path, std::string_view contents, unsigned mode = 0644);

bool pathExists(const std::string& path);

std::string joinPath(std::string_view dir, std::string_view name);

}  // namespace cgwarden
