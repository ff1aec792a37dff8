#pragma once
// Result<T>: a value or an Error that names the operation, the path and errno.
//
//   write /sys/fs/cgroup/memory/cgwarden/web/memory.limit_in_bytes: Device or resource busy (EBUSY)
//
// ENOENT/ENODEV on a cgroup file means "the cgroup is gone" (Error::cgroupGone()):
// callers on the sampling and scrape paths treat that as a vanished cgroup, not a failure.

#include <cerrno>
#include <string>
#include <utility>
#include <variant>

namespace cgwarden {

struct Error {
  std::string operation;  // "open", "read", "write", "mkdir", "rmdir", "parse", ...
  std::string path;       // the file or directory concerned; may be empty
  int errnum = 0;         // errno, or 0 for errors that are not system errors
  std::string detail;     // what was wrong when errnum is 0 (e.g. a parse error)
  std::string hint;       // what the operator should do, where we know

  static Error fromErrno(std::string operation, std::string path, int errnum, std::string hint = {});
  static Error invalid(std::string operation, std::string path, std::string detail);

  // "operation path: strerror (ENAME)[: detail][ (hint)]"
  std::string message() const;
  bool cgroupGone() const { return errnum == ENOENT || errnum == ENODEV; }
  // Prepends context: "launch web: " + message.
  Error& context(const std::string& what);
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}            // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}        // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }
  Error& error() { return std::get<1>(v_); }
  T valueOr(T fallback) const { return ok() ? value() : std::move(fallback); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }
  Error& error() { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace cgwarden
