#include <algorithm>

#include "collectors/Conversions.h"
#include "collectors/Limits.h"
#include "collectors/TextParse.h"
#include "config/Sections.h"
#include "config/SystemLookup.h"
#include "config/Units.h"

namespace cgwarden::config {

namespace {

constexpr uint64_t kDefaultPeriodUs = 100000;

std::optional<uint64_t> readMicroseconds(ParseContext& ctx, const YAML::Node& node, const std::string& path,
                                         uint64_t min, uint64_t max, bool allowMax) {
  auto text = readString(ctx, node, path);
  if (!text) return std::nullopt;
  auto us = parseMicroseconds(*text);
  if (!us || (*us == kUnlimited && !allowMax)) {
    ctx.error(node, path, quoted(*text) + " is not a time in microseconds (e.g. 50000, 50ms)");
    return std::nullopt;
  }
  if (*us != kUnlimited && (*us < min || *us > max)) {
    ctx.error(node, path, std::to_string(*us) + "us is out of range (" + std::to_string(min) + "us to " +
                              std::to_string(max) + "us)");
    return std::nullopt;
  }
  return us;
}

// A whole number or "max".
std::optional<uint64_t> readCountOrMax(ParseContext& ctx, const YAML::Node& node, const std::string& path,
                                       uint64_t min) {
  if (node.IsScalar() && node.Scalar() == "max") return kUnlimited;
  if (node.IsScalar() && !parseUint64(node.Scalar())) {
    ctx.error(node, path, quoted(node.Scalar()) + " is not a whole number or \"max\"");
    return std::nullopt;
  }
  return readUint(ctx, node, path, min);
}

void applyCores(double cores, std::optional<uint64_t> period, CpuLimits& out) {
  uint64_t periodUs = period.value_or(kDefaultPeriodUs);
  out.periodUs = periodUs;
  out.quotaUs = quotaForCores(cores, periodUs);
}

void parseCpu(const YAML::Node& node, const std::string& path, ParseContext& ctx, CpuLimits& out) {
  if (node.IsScalar()) {  // cpu: 0.5
    if (auto cores = readCores(ctx, node, path)) applyCores(*cores, std::nullopt, out);
    return;
  }
  MapReader map(ctx, node, path);
  if (!map.isMap()) return;
  auto period = map.get("period") ? readMicroseconds(ctx, *map.get("period"), map.pathOf("period"), 1000,
                                                     1000000, false)
                                  : std::nullopt;
  auto cores = map.cores("cores");
  std::optional<uint64_t> quota;
  if (auto* q = map.get("quota")) {
    if (map.has("cores")) {
      ctx.error(*q, map.pathOf("quota"), "cores and quota are exclusive (cores = quota / period)");
    } else {
      quota = readMicroseconds(ctx, *q, map.pathOf("quota"), 1000, kUnlimited - 1, true);
    }
  }
  if (cores) applyCores(*cores, period, out);
  if (quota) {
    out.quotaUs = *quota;
    out.periodUs = period.value_or(kDefaultPeriodUs);
  }
  if (period && !cores && !quota) out.periodUs = *period;

  auto weight = map.uint("weight", 1, 10000);
  if (auto* s = map.get("shares")) {
    if (map.has("weight")) {
      ctx.error(*s, map.pathOf("shares"), "weight and shares are exclusive (shares are converted to a weight)");
    } else if (auto shares = readUint(ctx, *s, map.pathOf("shares"), 2, 262144)) {
      weight = sharesToWeight(*shares);
    }
  }
  if (weight) out.weight = *weight;
  for (const char* key : {"cpus", "mems"}) {
    if (auto v = map.string(key)) {
      if (isCpuList(*v)) (std::string_view(key) == "cpus" ? out.cpus : out.mems) = std::string(trim(*v));
      else ctx.error(*map.get(key), map.pathOf(key), quoted(*v) + " is not a list of ids (e.g. 0-3,6)");
    }
  }
  map.finish();
}

void parseMemory(const YAML::Node& node, const std::string& path, ParseContext& ctx, MemoryLimits& out) {
  if (node.IsScalar()) {  // memory: 64Mi
    if (auto v = readSize(ctx, node, path)) out.max = *v;
    return;
  }
  MapReader map(ctx, node, path);
  if (!map.isMap()) return;
  if (auto v = map.size("max")) out.max = *v;
  if (auto v = map.size("high")) out.high = *v;
  if (auto v = map.size("low")) out.low = *v;
  if (auto v = map.size("swap")) out.swapMax = *v;
  if (out.low && out.max && *out.max != kUnlimited && *out.low != kUnlimited && *out.low > *out.max)
    ctx.error(*map.get("low"), map.pathOf("low"),
              "low (" + formatSize(*out.low) + ") is above max (" + formatSize(*out.max) + ")");
  map.finish();
}

void parsePids(const YAML::Node& node, const std::string& path, ParseContext& ctx, PidsLimits& out) {
  if (node.IsScalar()) {  // pids: 32
    if (auto v = readCountOrMax(ctx, node, path, 1)) out.max = *v;
    return;
  }
  MapReader map(ctx, node, path);
  if (!map.isMap()) return;
  if (auto* v = map.get("max")) {
    if (auto n = readCountOrMax(ctx, *v, map.pathOf("max"), 1)) out.max = *n;
  }
  map.finish();
}

void parseIoDevice(const YAML::Node& node, const std::string& path, ParseContext& ctx, IoLimits& out,
                   std::vector<SourceLocation>& seen) {
  MapReader map(ctx, node, path);
  if (!map.isMap()) return;
  IoDeviceLimit limit;
  bool ok = true;
  auto* device = map.get("device");
  if (!device) {
    ctx.error(map.location(), path, "missing key \"device\" (a /dev path or MAJOR:MINOR)");
    ok = false;
  } else if (auto text = readString(ctx, *device, map.pathOf("device"))) {
    auto resolved = resolveBlockDevice(*text);
    if (!resolved.value) {
      ctx.error(*device, map.pathOf("device"), resolved.error);
      ok = false;
    } else {
      limit.major = resolved.value->major;
      limit.minor = resolved.value->minor;
    }
  } else {
    ok = false;
  }
  limit.readBps = map.rate("rbps");
  limit.writeBps = map.rate("wbps");
  limit.readIops = map.rate("riops");
  limit.writeIops = map.rate("wiops");
  bool any = map.has("rbps") || map.has("wbps") || map.has("riops") || map.has("wiops");
  if (!any) {
    ctx.error(map.location(), path, "sets none of rbps, wbps, riops, wiops");
    ok = false;
  }
  map.finish();
  if (!ok) return;
  for (size_t i = 0; i < out.devices.size(); ++i) {
    if (out.devices[i].major == limit.major && out.devices[i].minor == limit.minor) {
      ctx.error(*device, map.pathOf("device"),
                "device " + std::to_string(limit.major) + ":" + std::to_string(limit.minor) +
                    " is already limited (line " + std::to_string(seen[i].line) + ")");
      return;
    }
  }
  out.devices.push_back(limit);
  seen.push_back(ctx.locate(*device));
}

void parseIo(const YAML::Node& node, const std::string& path, ParseContext& ctx, IoLimits& out) {
  MapReader map(ctx, node, path);
  if (!map.isMap()) return;
  if (auto v = map.uint("weight", 1, 10000)) out.weight = *v;
  if (auto* devices = map.get("devices")) {
    std::string devicesPath = map.pathOf("devices");
    if (devices->IsSequence()) {
      std::vector<SourceLocation> seen;
      for (size_t i = 0; i < devices->size(); ++i)
        parseIoDevice((*devices)[i], indexPath(devicesPath, i), ctx, out, seen);
    } else if (!devices->IsNull()) {
      ctx.error(*devices, devicesPath, "expected a list of devices, got " + describeNode(*devices));
    }
  }
  map.finish();
}

}  // namespace

Limits parseLimits(const YAML::Node& node, const std::string& path, ParseContext& ctx) {
  Limits out;
  MapReader map(ctx, node, path);
  if (!map.isMap()) return out;
  if (auto* v = map.get("cpu")) parseCpu(*v, map.pathOf("cpu"), ctx, out.cpu);
  if (auto* v = map.get("memory")) parseMemory(*v, map.pathOf("memory"), ctx, out.memory);
  if (auto* v = map.get("pids")) parsePids(*v, map.pathOf("pids"), ctx, out.pids);
  if (auto* v = map.get("io")) parseIo(*v, map.pathOf("io"), ctx, out.io);
  map.finish();
  return out;
}

}  // namespace cgwarden::config
