#include "agent/WorkloadTable.h"

#include <algorithm>
#include <cstdio>

#include "agent/ApiJson.h"

namespace cgwarden::agent {

namespace {

using nlohmann::json;

const json& field(const json& j, const char* key) {
  static const json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

std::optional<double> number(const json& j) {
  if (j.is_number()) return j.get<double>();
  return std::nullopt;
}

std::optional<double> usageNumber(const json& w, const char* key) { return number(field(field(w, "usage"), key)); }

// The memory limit: the kernel's effective one, else the configured one.
std::optional<double> memoryLimit(const json& w) {
  if (auto l = usageNumber(w, "memory_limit_bytes")) return l;
  return number(field(field(field(w, "limits"), "memory"), "max"));
}

std::string percent(std::optional<double> v) {
  if (!v) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", *v);
  return buf;
}

std::string orDash(std::optional<double> v, std::string (*fmt)(double)) { return v ? fmt(*v) : "-"; }

std::string rate(double bytesPerSecond) { return formatBytes(bytesPerSecond) + "/s"; }

std::string integer(const json& j) {
  if (j.is_number_integer() || j.is_number_unsigned()) return std::to_string(j.get<long long>());
  return "-";
}

std::string tasks(const json& w) {
  if (auto t = usageNumber(w, "tasks")) return std::to_string(static_cast<long long>(*t));
  const json& pids = field(w, "pids");
  if (pids.is_array() && !pids.empty()) return std::to_string(pids.size());
  return "-";
}

}  // namespace

std::string TextTable::render(size_t maxWidth) const {
  std::vector<size_t> widths(header.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  };
  measure(header);
  for (const auto& r : rows) measure(r);
  std::string out;
  auto line = [&](const std::vector<std::string>& row) {
    std::string l;
    for (size_t i = 0; i < widths.size(); ++i) {
      std::string cell = i < row.size() ? row[i] : "";
      bool right = i < rightAligned.size() && rightAligned[i];
      std::string pad(widths[i] - std::min(widths[i], cell.size()), ' ');
      bool last = i + 1 == widths.size();
      l += right ? pad + cell : (last ? cell : cell + pad);
      if (!last) l += "  ";
    }
    while (!l.empty() && l.back() == ' ') l.pop_back();
    if (maxWidth > 0 && l.size() > maxWidth) l.resize(maxWidth);
    out += l + "\n";
  };
  line(header);
  for (const auto& r : rows) line(r);
  return out;
}

std::string cpuCell(const json& w) { return percent(usageNumber(w, "cpu_percent")); }

std::string memoryCell(const json& w) {
  auto used = usageNumber(w, "memory_bytes");
  auto limit = memoryLimit(w);
  if (!used && !limit) return "-";
  return orDash(used, formatBytes) + " / " + orDash(limit, formatBytes);
}

std::string stateCell(const json& w) {
  const json& s = field(w, "state");
  std::string state = s.is_string() ? s.get<std::string>() : "?";
  if (field(w, "frozen") == true) state += ",frozen";
  return state;
}

// "launched" or "adopted"; an agent from before adoption sends no kind: all were launched.
std::string kindCell(const json& w) {
  const json& k = field(w, "kind");
  return k.is_string() ? k.get<std::string>() : "launched";
}

TextTable psTable(const json& workloads) {
  TextTable t;
  t.header = {"NAME", "STATE", "KIND", "PID", "CPU", "MEM/LIMIT", "PIDS", "RESTARTS", "UPTIME"};
  t.rightAligned = {false, false, false, true, true, true, true, true, true};
  if (!workloads.is_array()) return t;
  for (const auto& w : workloads) {
    const json& name = field(w, "name");
    t.rows.push_back({name.is_string() ? name.get<std::string>() : "?", stateCell(w), kindCell(w), integer(field(w, "pid")), cpuCell(w),
                      memoryCell(w), tasks(w), integer(field(w, "restarts")),
                      orDash(number(field(w, "uptime_seconds")), formatDuration)});
  }
  return t;
}

TextTable topTable(const json& workloads, TopSort sort) {
  TextTable t;
  t.header = {"NAME", "STATE", "CPU%", "MEM", "MEM%", "LIMIT", "IO-R/s", "IO-W/s", "PIDS", "RESTARTS"};
  t.rightAligned = {false, false, true, true, true, true, true, true, true, true};
  if (!workloads.is_array()) return t;
  std::vector<const json*> order;
  for (const auto& w : workloads) order.push_back(&w);
  auto key = [sort](const json* w) -> double {
    std::optional<double> v = sort == TopSort::Cpu ? usageNumber(*w, "cpu_percent") : usageNumber(*w, "memory_bytes");
    return v.value_or(-1);
  };
  auto nameOf = [](const json* w) {
    const json& n = field(*w, "name");
    return n.is_string() ? n.get<std::string>() : std::string();
  };
  std::stable_sort(order.begin(), order.end(), [&](const json* a, const json* b) {
    if (sort != TopSort::Name) {
      double ka = key(a), kb = key(b);
      if (ka != kb) return ka > kb;
    }
    return nameOf(a) < nameOf(b);
  });
  for (const json* w : order) {
    auto used = usageNumber(*w, "memory_bytes");
    auto limit = memoryLimit(*w);
    std::optional<double> memPct;
    if (used && limit && *limit > 0) memPct = *used / *limit * 100;
    t.rows.push_back({nameOf(w), stateCell(*w), cpuCell(*w), orDash(used, formatBytes), percent(memPct),
                      orDash(limit, formatBytes), orDash(usageNumber(*w, "io_read_bytes_per_second"), rate),
                      orDash(usageNumber(*w, "io_write_bytes_per_second"), rate), tasks(*w),
                      integer(field(*w, "restarts"))});
  }
  return t;
}

}  // namespace cgwarden::agent
