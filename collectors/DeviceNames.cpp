#include "collectors/DeviceNames.h"

#include "collectors/FileIo.h"
#include "collectors/StatScan.h"

namespace cgwarden::collectors {

Result<std::string> parseUeventDevname(std::string_view text) {
  std::string_view found;
  scan::forEachLine(text, [&](std::string_view line, int) {
    line = scan::trimBlank(line);
    if (line.substr(0, 8) == "DEVNAME=") {
      found = line.substr(8);
      return false;
    }
    return true;
  });
  if (found.empty()) return Error::invalid("parse", "", "no DEVNAME= line");
  return std::string(found);
}

const std::string& DeviceNames::nameFor(uint32_t major, uint32_t minor) {
  auto key = std::make_pair(major, minor);
  auto it = names_.find(key);
  if (it != names_.end()) return it->second;
  std::string majMin = std::to_string(major) + ":" + std::to_string(minor);
  std::string name = majMin;
  if (auto text = readFile(sysRoot_ + "/dev/block/" + majMin + "/uevent")) {
    if (auto devname = parseUeventDevname(*text)) name = "/dev/" + *devname;
  }
  return names_.emplace(key, std::move(name)).first->second;
}

}  // namespace cgwarden::collectors
