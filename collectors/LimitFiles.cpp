#include "collectors/LimitFiles.h"

#include "collectors/TextParse.h"

namespace cgwarden {

namespace {
Error bad(std::string what, std::string_view text) {
  return Error::invalid("parse", "", std::move(what) + ", got \"" + std::string(trim(text)) + "\"");
}
}  // namespace

Result<uint64_t> parseMaxOrNumber(std::string_view text) {
  std::string_view t = trim(text);
  if (t == "max") return kUnlimited;
  if (auto v = parseUint64(t)) return *v;
  return bad("expected \"max\" or a non-negative integer", text);
}

std::string formatMaxOrNumber(uint64_t value) { return value == kUnlimited ? "max" : std::to_string(value); }

Result<uint64_t> parseV1SignedLimit(std::string_view text) {
  auto v = parseInt64(text);
  if (!v) return bad("expected an integer", text);
  if (*v < 0) return kUnlimited;
  return static_cast<uint64_t>(*v);
}

Result<CpuMax> parseCpuMax(std::string_view text) {
  auto f = splitFields(trim(text));
  if (f.size() != 2) return bad("expected \"<quota|max> <period>\"", text);
  CpuMax out;
  if (f[0] != "max") {
    auto q = parseUint64(f[0]);
    if (!q) return bad("quota is neither \"max\" nor an integer", text);
    out.quotaUs = *q;
  }
  auto p = parseUint64(f[1]);
  if (!p || *p == 0) return bad("period is not a positive integer", text);
  out.periodUs = *p;
  return out;
}

std::string formatCpuMax(const CpuMax& value) {
  return formatMaxOrNumber(value.quotaUs) + " " + std::to_string(value.periodUs);
}

Result<uint64_t> parseIoWeightDefault(std::string_view text) {
  for (std::string_view line : splitLines(text)) {
    auto f = splitFields(line);
    if (f.size() == 2 && f[0] == "default") {
      if (auto v = parseUint64(f[1])) return *v;
      return bad("default weight is not an integer", line);
    }
  }
  return bad("no \"default N\" line", text);
}

Result<std::pair<uint32_t, uint32_t>> parseMajorMinor(std::string_view text) {
  auto parts = splitOn(trim(text), ':');
  if (parts.size() != 2) return bad("expected MAJ:MIN", text);
  auto maj = parseUint64(parts[0]);
  auto min = parseUint64(parts[1]);
  if (!maj || !min || *maj > 0xfffff || *min > 0xfffff) return bad("expected MAJ:MIN", text);
  return std::pair<uint32_t, uint32_t>(static_cast<uint32_t>(*maj), static_cast<uint32_t>(*min));
}

Result<std::vector<IoDeviceLimit>> parseIoMax(std::string_view text) {
  std::vector<IoDeviceLimit> out;
  for (std::string_view line : splitLines(text)) {
    auto f = splitFields(line);
    if (f.empty()) continue;
    auto dev = parseMajorMinor(f[0]);
    if (!dev) return bad("io.max line does not start with MAJ:MIN", line);
    IoDeviceLimit lim;
    lim.major = dev->first;
    lim.minor = dev->second;
    for (size_t i = 1; i < f.size(); ++i) {
      size_t eq = f[i].find('=');
      if (eq == std::string_view::npos) return bad("io.max field is not key=value", line);
      std::string_view key = f[i].substr(0, eq);
      auto value = parseMaxOrNumber(f[i].substr(eq + 1));
      if (!value) return bad("io.max value is neither \"max\" nor an integer", line);
      if (key == "rbps") lim.readBps = *value;
      else if (key == "wbps") lim.writeBps = *value;
      else if (key == "riops") lim.readIops = *value;
      else if (key == "wiops") lim.writeIops = *value;
      else return bad("unknown io.max key \"" + std::string(key) + "\"", line);
    }
    out.push_back(lim);
  }
  return out;
}

std::string formatIoMaxLine(const IoDeviceLimit& limit) {
  std::string out = std::to_string(limit.major) + ":" + std::to_string(limit.minor);
  auto add = [&](const char* key, const std::optional<uint64_t>& v) {
    if (v) out += std::string(" ") + key + "=" + formatMaxOrNumber(*v);
  };
  add("rbps", limit.readBps);
  add("wbps", limit.writeBps);
  add("riops", limit.readIops);
  add("wiops", limit.writeIops);
  return out;
}

Result<std::vector<DeviceValue>> parseBlkioThrottle(std::string_view text) {
  std::vector<DeviceValue> out;
  for (std::string_view line : splitLines(text)) {
    auto f = splitFields(line);
    if (f.empty()) continue;
    if (f.size() != 2) return bad("expected \"MAJ:MIN value\"", line);
    auto dev = parseMajorMinor(f[0]);
    auto value = parseUint64(f[1]);
    if (!dev || !value) return bad("expected \"MAJ:MIN value\"", line);
    out.push_back({dev->first, dev->second, *value});
  }
  return out;
}

std::string formatBlkioThrottleLine(uint32_t major, uint32_t minor, uint64_t value) {
  return std::to_string(major) + ":" + std::to_string(minor) + " " +
         std::to_string(value == kUnlimited ? 0 : value);
}

Result<std::vector<uint32_t>> parseCpuList(std::string_view text) {
  std::vector<uint32_t> cpus;
  std::string_view t = trim(text);
  if (t.empty()) return cpus;
  for (std::string_view piece : splitOn(t, ',')) {
    auto range = splitOn(piece, '-');
    if (range.size() == 1) {
      auto v = parseUint64(range[0]);
      if (!v || *v > 65535) return bad("expected a list like \"0-3,6\"", text);
      cpus.push_back(static_cast<uint32_t>(*v));
    } else if (range.size() == 2) {
      auto lo = parseUint64(range[0]);
      auto hi = parseUint64(range[1]);
      if (!lo || !hi || *lo > *hi || *hi > 65535) return bad("expected a list like \"0-3,6\"", text);
      for (uint64_t c = *lo; c <= *hi; ++c) cpus.push_back(static_cast<uint32_t>(c));
    } else {
      return bad("expected a list like \"0-3,6\"", text);
    }
  }
  return cpus;
}

}  // namespace cgwarden
