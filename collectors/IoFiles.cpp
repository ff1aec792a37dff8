#include "collectors/IoFiles.h"

#include "collectors/StatScan.h"

namespace cgwarden::collectors {

namespace {

IoDeviceUsage& deviceEntry(std::vector<IoDeviceUsage>& devices, uint32_t major, uint32_t minor) {
  for (auto& d : devices) {
    if (d.major == major && d.minor == minor) return d;
  }
  IoDeviceUsage fresh;
  fresh.major = major;
  fresh.minor = minor;
  devices.push_back(fresh);
  return devices.back();
}

}  // namespace

Status parseBlkioRecursive(std::string_view text, BlkioKind kind, std::vector<IoDeviceUsage>& devices) {
  int badLine = 0;
  std::string_view bad;
  const char* expected = "\"MAJ:MIN <Read|Write|Sync|Async|Discard|Total> <number>\" or \"Total <number>\"";
  scan::forEachLine(text, [&](std::string_view line, int number) {
    std::string_view rest = line;
    std::string_view first = scan::nextField(rest);
    if (first.empty()) return true;
    auto fail = [&] {
      badLine = number;
      bad = line;
      return false;
    };
    uint64_t value = 0;
    if (first == "Total") {
      // The grand total over all devices.
      if (!scan::toU64(scan::nextField(rest), value) || !scan::nextField(rest).empty()) return fail();
      return true;
    }
    uint32_t major = 0, minor = 0;
    if (!scan::majorMinor(first, major, minor)) return fail();
    std::string_view op = scan::nextField(rest);
    if (!scan::toU64(scan::nextField(rest), value) || !scan::nextField(rest).empty()) return fail();
    uint64_t IoDeviceUsage::*member = nullptr;
    if (op == "Read") {
      member = kind == BlkioKind::Bytes ? &IoDeviceUsage::readBytes : &IoDeviceUsage::readOps;
    } else if (op == "Write") {
      member = kind == BlkioKind::Bytes ? &IoDeviceUsage::writeBytes : &IoDeviceUsage::writeOps;
    } else if (op == "Discard") {
      member = kind == BlkioKind::Bytes ? &IoDeviceUsage::discardBytes : &IoDeviceUsage::discardOps;
    } else if (op != "Sync" && op != "Async" && op != "Total") {
      return fail();
    }
    IoDeviceUsage& dev = deviceEntry(devices, major, minor);
    if (member != nullptr) dev.*member = value;
    return true;
  });
  if (badLine != 0) return scan::lineError(badLine, expected, bad);
  return {};
}

Status parseIoStat(std::string_view text, std::vector<IoDeviceUsage>& devices) {
  struct Key {
    std::string_view name;
    uint64_t IoDeviceUsage::*member;
  };
  static constexpr Key kKeys[] = {{"rbytes", &IoDeviceUsage::readBytes},     {"wbytes", &IoDeviceUsage::writeBytes},
                                  {"rios", &IoDeviceUsage::readOps},         {"wios", &IoDeviceUsage::writeOps},
                                  {"dbytes", &IoDeviceUsage::discardBytes},  {"dios", &IoDeviceUsage::discardOps},
                                  {"cost.usage", &IoDeviceUsage::costUsageUs}, {"cost.wait", &IoDeviceUsage::costWaitUs},
                                  {"cost.indebt", &IoDeviceUsage::costIndebtUs},
                                  {"cost.indelay", &IoDeviceUsage::costIndelayUs}};
  int badLine = 0;
  std::string_view bad;
  const char* expected = "\"MAJ:MIN key=value ...\"";
  scan::forEachLine(text, [&](std::string_view line, int number) {
    std::string_view rest = line;
    std::string_view first = scan::nextField(rest);
    if (first.empty()) return true;
    uint32_t major = 0, minor = 0;
    if (!scan::majorMinor(first, major, minor)) {
      badLine = number;
      bad = line;
      return false;
    }
    IoDeviceUsage& dev = deviceEntry(devices, major, minor);
    for (std::string_view field = scan::nextField(rest); !field.empty(); field = scan::nextField(rest)) {
      size_t eq = field.find('=');
      if (eq == std::string_view::npos) {
        badLine = number;
        bad = line;
        return false;
      }
      std::string_view key = field.substr(0, eq);
      for (const Key& k : kKeys) {
        if (k.name != key) continue;
        uint64_t value = 0;
        if (!scan::toU64(field.substr(eq + 1), value)) {
          badLine = number;
          bad = line;
          return false;
        }
        dev.*(k.member) = value;
        if (key.substr(0, 5) == "cost.") dev.hasCost = true;
        break;
      }
    }
    return true;
  });
  if (badLine != 0) return scan::lineError(badLine, expected, bad);
  return {};
}

}  // namespace cgwarden::collectors
