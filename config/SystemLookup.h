#pragma once
// Resolving names in a config against this host: users and groups (NSS via getpwnam_r /
// getgrnam_r, so LDAP/sssd users work too) and block devices (stat() st_rdev).
// Each returns the value or a message that completes "<key path>: ...".

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cgwarden::config {

template <class T>
struct Lookup {
  std::optional<T> value;
  std::string error;  // set when value is empty: "unknown user \"nobodyx\""
};

struct UserIds {
  uint32_t uid = 0;
  std::optional<uint32_t> primaryGid;  // from the passwd entry; unset for a numeric uid with no entry
};

// "root", "daemon", "1000" (a number need not exist in the passwd database).
Lookup<UserIds> resolveUser(std::string_view text);
// "adm", "4".
Lookup<uint32_t> resolveGroup(std::string_view text);

struct DeviceNumber {
  uint32_t major = 0;
  uint32_t minor = 0;
};
// "/dev/vda" (stat; must be a block device) or "254:0" (taken as written).
// Errors: "\"/etc/hosts\" is not a block device", "cannot stat \"/dev/nope\": No such file or directory",
// "\"8\" is not a device (a /dev path or MAJOR:MINOR)".
Lookup<DeviceNumber> resolveBlockDevice(std::string_view text);

}  // namespace cgwarden::config
