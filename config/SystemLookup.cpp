#include "config/SystemLookup.h"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "collectors/TextParse.h"
#include "config/YamlReader.h"

namespace cgwarden::config {

namespace {

size_t initialBufferSize(int which) {
  long n = sysconf(which);
  return n > 0 ? static_cast<size_t>(n) : 16384;
}

// getpwnam_r and friends want a caller buffer and return ERANGE when it is too small.
template <class Entry, class Fn>
std::optional<Entry> lookupEntry(int sizeHint, Fn call, int& errOut) {
  std::vector<char> buffer(initialBufferSize(sizeHint));
  for (;;) {
    Entry entry{};
    Entry* result = nullptr;
    int rc = call(&entry, buffer.data(), buffer.size(), &result);
    if (rc == ERANGE && buffer.size() < (1u << 24)) {
      buffer.resize(buffer.size() * 2);
      continue;
    }
    errOut = rc;
    if (rc != 0 || result == nullptr) return std::nullopt;
    return entry;
  }
}

std::optional<uint32_t> parseId(std::string_view text) {
  auto n = parseUint64(text);
  if (!n || *n >= 0xffffffffULL) return std::nullopt;  // (uid_t)-1 means "no change" to setresuid
  return static_cast<uint32_t>(*n);
}

bool allDigits(std::string_view text) {
  return !text.empty() && text.find_first_not_of("0123456789") == std::string_view::npos;
}

}  // namespace

Lookup<UserIds> resolveUser(std::string_view text) {
  std::string name(trim(text));
  int err = 0;
  if (allDigits(name)) {
    auto uid = parseId(name);
    if (!uid) return {std::nullopt, quoted(name) + " is not a valid user id"};
    auto pw = lookupEntry<passwd>(_SC_GETPW_R_SIZE_MAX, [&](passwd* e, char* b, size_t n, passwd** r) {
      return getpwuid_r(*uid, e, b, n, r);
    }, err);
    UserIds ids{*uid, std::nullopt};
    if (pw) ids.primaryGid = pw->pw_gid;
    return {ids, ""};
  }
  if (name.empty()) return {std::nullopt, "a user name cannot be empty"};
  auto pw = lookupEntry<passwd>(_SC_GETPW_R_SIZE_MAX, [&](passwd* e, char* b, size_t n, passwd** r) {
    return getpwnam_r(name.c_str(), e, b, n, r);
  }, err);
  if (!pw) {
    if (err != 0 && err != ENOENT && err != ESRCH)
      return {std::nullopt, "cannot look up user " + quoted(name) + ": " + std::strerror(err)};
    return {std::nullopt, "unknown user " + quoted(name)};
  }
  return {UserIds{pw->pw_uid, pw->pw_gid}, ""};
}

Lookup<uint32_t> resolveGroup(std::string_view text) {
  std::string name(trim(text));
  if (allDigits(name)) {
    auto gid = parseId(name);
    if (!gid) return {std::nullopt, quoted(name) + " is not a valid group id"};
    return {*gid, ""};
  }
  if (name.empty()) return {std::nullopt, "a group name cannot be empty"};
  int err = 0;
  auto gr = lookupEntry<group>(_SC_GETGR_R_SIZE_MAX, [&](group* e, char* b, size_t n, group** r) {
    return getgrnam_r(name.c_str(), e, b, n, r);
  }, err);
  if (!gr) {
    if (err != 0 && err != ENOENT && err != ESRCH)
      return {std::nullopt, "cannot look up group " + quoted(name) + ": " + std::strerror(err)};
    return {std::nullopt, "unknown group " + quoted(name)};
  }
  return {static_cast<uint32_t>(gr->gr_gid), ""};
}

Lookup<DeviceNumber> resolveBlockDevice(std::string_view text) {
  std::string spec(trim(text));
  if (!spec.empty() && spec.front() == '/') {
    struct stat st {};
    if (::stat(spec.c_str(), &st) != 0)
      return {std::nullopt, "cannot stat " + quoted(spec) + ": " + std::strerror(errno)};
    if (!S_ISBLK(st.st_mode)) return {std::nullopt, quoted(spec) + " is not a block device"};
    return {DeviceNumber{major(st.st_rdev), minor(st.st_rdev)}, ""};
  }
  auto colon = spec.find(':');
  if (colon != std::string::npos) {
    auto maj = parseUint64(std::string_view(spec).substr(0, colon));
    auto min = parseUint64(std::string_view(spec).substr(colon + 1));
    if (maj && min && *maj <= 0xfff && *min <= 0xfffff)
      return {DeviceNumber{static_cast<uint32_t>(*maj), static_cast<uint32_t>(*min)}, ""};
  }
  return {std::nullopt, quoted(spec) + " is not a device (a /dev path or MAJOR:MINOR)"};
}

}  // namespace cgwarden::config
