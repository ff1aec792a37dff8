#pragma once
// Block device names for the `device` label, from /sys/dev/block/MAJ:MIN/uevent:
//   MAJOR=254
//   MINOR=0
//   DEVNAME=vda
//   DEVTYPE=disk
// Labels read "/dev/vda" as cAdvisor's do; a device without a readable uevent is
// labelled "MAJ:MIN".

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "collectors/Result.h"

namespace cgwarden::collectors {

// DEVNAME from a uevent file's text; an Error when there is none.
Result<std::string> parseUeventDevname(std::string_view text);

// Caches names per MAJ:MIN (devices rarely change; a cache miss costs one small read).
// Not thread-safe: the sampler owns one.
class DeviceNames {
 public:
  explicit DeviceNames(std::string sysRoot = "/sys") : sysRoot_(std::move(sysRoot)) {}
  const std::string& nameFor(uint32_t major, uint32_t minor);

 private:
  std::string sysRoot_;
  std::map<std::pair<uint32_t, uint32_t>, std::string> names_;
};

}  // namespace cgwarden::collectors
