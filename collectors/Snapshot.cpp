#include "collectors/Snapshot.h"

#include <algorithm>

namespace cgwarden::collectors {

std::string Snapshot::deviceName(uint32_t major, uint32_t minor) const {
  if (deviceNames) {
    auto it = deviceNames->find({major, minor});
    if (it != deviceNames->end()) return it->second;
  }
  return std::to_string(major) + ":" + std::to_string(minor);
}

const TargetSample* Snapshot::find(std::string_view id) const {
  auto it = std::lower_bound(targets.begin(), targets.end(), id,
                             [](const TargetSample& t, std::string_view key) { return t.target->id < key; });
  if (it == targets.end() || it->target->id != id) return nullptr;
  return &*it;
}

}  // namespace cgwarden::collectors
