#include "collectors/Result.h"

#include <cstring>

namespace cgwarden {

Error Error::fromErrno(std::string operation, std::string path, int errnum, std::string hint) {
  return Error{std::move(operation), std::move(path), errnum, {}, std::move(hint)};
}

Error Error::invalid(std::string operation, std::string path, std::string detail) {
  return Error{std::move(operation), std::move(path), 0, std::move(detail), {}};
}

std::string Error::message() const {
  std::string out = operation;
  if (!path.empty()) out += (out.empty() ? "" : " ") + path;
  if (errnum != 0) {
    const char* name = strerrorname_np(errnum);
    out += ": ";
    out += std::strerror(errnum);
    out += " (";
    out += name != nullptr ? name : std::to_string(errnum);
    out += ")";
  }
  if (!detail.empty()) out += ": " + detail;
  if (!hint.empty()) out += " (" + hint + ")";
  return out;
}

Error& Error::context(const std::string& what) {
  operation = operation.empty() ? what : what + ": " + operation;
  return *this;
}

}  // namespace cgwarden
