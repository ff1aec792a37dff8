#include "config/PolicySection.h"

#include <fnmatch.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <map>

#include "collectors/Limits.h"
#include "collectors/TextParse.h"
#include "config/Sections.h"
#include "config/Units.h"

namespace cgwarden::config {

namespace {

using std::chrono::milliseconds;

// How a leaf's value is written.
enum class ValueKind {
  SizeOrFraction,   // memory.*: "512Mi" or "80%" of the memory limit
  CoresOrFraction,  // cpu.usage: "1.5" cores or "90%" of the CPU quota
  Ratio,            // cpu.throttled, pressure: "20%" or "0.2"
  CountOrFraction,  // pids: "900" or "90%" of pids.max
  Count,            // oom_kills, restarts
  Rate,             // io.*: "50M/s"
};

// Whether a leaf takes "over <window>", and its default.
enum class WindowKind { None, Rate, Count };
constexpr milliseconds kDefaultRateWindow{10000};
constexpr milliseconds kDefaultCountWindow{300000};
constexpr milliseconds kMinWindow{100};
constexpr milliseconds kMaxWindow{3600000};

struct MetricInfo {
  std::string name;
  PolicyMetric metric;
  ValueKind value;
  WindowKind window;
  PressureResource resource = PressureResource::Memory;
  PressureKind kind = PressureKind::Some;
  PressureStat stat = PressureStat::Rate;
};

const std::vector<MetricInfo>& metrics() {
  static const std::vector<MetricInfo> kMetrics = [] {
    std::vector<MetricInfo> m = {
        {"memory.usage", PolicyMetric::MemoryUsage, ValueKind::SizeOrFraction, WindowKind::None},
        {"memory.working_set", PolicyMetric::MemoryWorkingSet, ValueKind::SizeOrFraction, WindowKind::None},
        {"cpu.usage", PolicyMetric::CpuUsage, ValueKind::CoresOrFraction, WindowKind::Rate},
        {"cpu.throttled", PolicyMetric::CpuThrottled, ValueKind::Ratio, WindowKind::Rate},
        {"pids", PolicyMetric::Pids, ValueKind::CountOrFraction, WindowKind::None},
        {"memory.oom_kills", PolicyMetric::OomKills, ValueKind::Count, WindowKind::Count},
        {"restarts", PolicyMetric::Restarts, ValueKind::Count, WindowKind::Count},
        {"io.read", PolicyMetric::IoRead, ValueKind::Rate, WindowKind::Rate},
        {"io.write", PolicyMetric::IoWrite, ValueKind::Rate, WindowKind::Rate},
        {"io.total", PolicyMetric::Io, ValueKind::Rate, WindowKind::Rate},
    };
    const std::pair<const char*, PressureResource> resources[] = {
        {"cpu", PressureResource::Cpu}, {"memory", PressureResource::Memory}, {"io", PressureResource::Io}};
    const std::pair<const char*, PressureKind> kinds[] = {{"some", PressureKind::Some}, {"full", PressureKind::Full}};
    const std::pair<const char*, PressureStat> stats[] = {
        {"", PressureStat::Rate}, {".avg10", PressureStat::Avg10}, {".avg60", PressureStat::Avg60}};
    for (const auto& [r, resource] : resources) {
      for (const auto& [k, kind] : kinds) {
        for (const auto& [s, stat] : stats) {
          m.push_back(MetricInfo{std::string(r) + ".pressure." + k + s, PolicyMetric::Pressure, ValueKind::Ratio,
                                 stat == PressureStat::Rate ? WindowKind::Rate : WindowKind::None, resource, kind,
                                 stat});
        }
      }
    }
    return m;
  }();
  return kMetrics;
}

std::vector<std::string> metricNames() {
  std::vector<std::string> names;
  for (const auto& m : metrics()) names.push_back(m.name);
  return names;
}

bool isMetricChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
}

// "80%" -> 0.8; nullopt when `text` does not end in '%' or the number is bad.
std::optional<double> parsePercent(std::string_view text) {
  if (text.size() < 2 || text.back() != '%') return std::nullopt;
  auto n = parseDouble(text.substr(0, text.size() - 1));
  if (!n || !std::isfinite(*n) || *n < 0) return std::nullopt;
  return *n / 100.0;
}

// Fills threshold/ofLimit from `value`; returns the problem, or "" when fine.
std::string parseValue(const MetricInfo& info, std::string_view value, PolicyCondition& out) {
  const bool percent = !value.empty() && value.back() == '%';
  auto fraction = [&](const char* limitName) -> std::string {
    auto f = parsePercent(value);
    if (!f) return quoted(value) + " is not a percentage (e.g. 80%)";
    if (*f <= 0 || *f > 1) return quoted(value) + " is out of range (a fraction of " + limitName + ": above 0%, at most 100%)";
    out.threshold = *f;
    out.ofLimit = true;
    return "";
  };
  switch (info.value) {
    case ValueKind::SizeOrFraction: {
      if (percent) return fraction("the memory limit");
      auto v = parseSize(value);
      if (!v || *v == kUnlimited) return quoted(value) + " is not a size (e.g. 512Mi) or a percentage of the memory limit (e.g. 80%)";
      out.threshold = static_cast<double>(*v);
      return "";
    }
    case ValueKind::CoresOrFraction: {
      if (percent) return fraction("the CPU quota");
      auto v = parseCores(value);
      if (!v) return quoted(value) + " is not a number of cores (e.g. 0.5, 2) or a percentage of the CPU quota (e.g. 90%)";
      out.threshold = *v;
      return "";
    }
    case ValueKind::Ratio: {
      std::optional<double> v = percent ? parsePercent(value) : parseDouble(value);
      if (!v || !std::isfinite(*v) || *v < 0) return quoted(value) + " is not a ratio (e.g. 20% or 0.2)";
      if (*v > 1) return quoted(value) + " is above 1 (write a percentage as e.g. 20%)";
      out.threshold = *v;
      return "";
    }
    case ValueKind::CountOrFraction: {
      if (percent) return fraction("pids.max");
      auto v = parseUint64(value);
      if (!v) return quoted(value) + " is not a whole number or a percentage of pids.max (e.g. 90%)";
      out.threshold = static_cast<double>(*v);
      return "";
    }
    case ValueKind::Count: {
      auto v = parseUint64(value);
      if (!v) return quoted(value) + " is not a whole number";
      out.threshold = static_cast<double>(*v);
      return "";
    }
    case ValueKind::Rate: {
      auto v = parseRate(value);
      if (!v || *v == kUnlimited) return quoted(value) + " is not a rate (e.g. 10M/s)";
      out.threshold = static_cast<double>(*v);
      return "";
    }
  }
  return "";
}

const std::vector<std::string>& actionNames() {
  static const std::vector<std::string> kNames = {"log", "signal", "stop", "freeze", "throttle", "kill", "restart", "exec"};
  return kNames;
}

PolicyAction::Kind actionKind(std::string_view name) {
  using K = PolicyAction::Kind;
  if (name == "signal") return K::Signal;
  if (name == "stop") return K::Stop;
  if (name == "freeze") return K::Freeze;
  if (name == "throttle") return K::Throttle;
  if (name == "kill") return K::Kill;
  if (name == "restart") return K::Restart;
  if (name == "exec") return K::Exec;
  return K::Log;
}

void setLocation(ParseContext& ctx, const YAML::Node& node, int& line, int& column) {
  SourceLocation where = ctx.locate(node);
  line = where.line;
  column = where.column;
}

// --- condition tree -----------------------------------------------------------------------

std::optional<PolicyConditionTree> parseConditionTree(const YAML::Node& node, const std::string& path,
                                                      ParseContext& ctx) {
  PolicyConditionTree tree;
  if (node.IsDefined() && node.IsScalar()) {
    std::string error;
    auto leaf = parsePolicyCondition(node.Scalar(), error);
    if (!leaf) {
      ctx.error(node, path, error);
      return std::nullopt;
    }
    setLocation(ctx, node, leaf->line, leaf->column);
    tree.leaf = std::move(*leaf);
    return tree;
  }
  if (!node.IsDefined() || !node.IsMap()) {
    ctx.error(node, path,
              "expected a condition (e.g. \"memory.working_set > 80%\") or a mapping with all: or any:, got " +
                  describeNode(node));
    return std::nullopt;
  }
  MapReader map(ctx, node, path);
  const YAML::Node* all = map.get("all");
  const YAML::Node* any = map.get("any");
  map.finish();
  if ((all != nullptr) == (any != nullptr)) {
    ctx.error(map.location(), path,
              all ? "use either all: or any:, not both (nest them to combine)" : "expected all: or any: with a list of conditions");
    return std::nullopt;
  }
  const YAML::Node& list = all ? *all : *any;
  const std::string listPath = map.pathOf(all ? "all" : "any");
  tree.kind = all ? PolicyConditionTree::Kind::All : PolicyConditionTree::Kind::Any;
  if (!list.IsSequence() || list.size() == 0) {
    ctx.error(list, listPath, "expected a non-empty list of conditions, got " + describeNode(list));
    return std::nullopt;
  }
  bool ok = true;
  for (size_t i = 0; i < list.size(); ++i) {
    auto child = parseConditionTree(list[i], indexPath(listPath, i), ctx);
    if (child) tree.children.push_back(std::move(*child));
    else ok = false;
  }
  if (!ok) return std::nullopt;
  return tree;
}

// --- targets ------------------------------------------------------------------------------

std::optional<PolicyTarget> parseTarget(const YAML::Node& node, const std::string& path, ParseContext& ctx) {
  auto text = readString(ctx, node, path);
  if (!text) return std::nullopt;
  PolicyTarget t;
  t.text = *text;
  t.keyPath = path;
  setLocation(ctx, node, t.line, t.column);
  std::string_view s = trim(*text);
  if (s.empty()) {
    ctx.error(node, path, "an empty target matches nothing");
    return std::nullopt;
  }
  if (s.find('=') != std::string_view::npos) {
    t.kind = PolicyTarget::Kind::Labels;
    for (auto part : splitOn(s, ',')) {
      part = trim(part);
      size_t eq = part.find('=');
      std::string_view key = eq == std::string_view::npos ? part : trim(part.substr(0, eq));
      if (eq == std::string_view::npos || key.empty()) {
        ctx.error(node, path, quoted(*text) + " is not a label selector (key=value, comma-separated: team=ml,tier=web)");
        return std::nullopt;
      }
      t.labels[std::string(key)] = std::string(trim(part.substr(eq + 1)));
    }
    return t;
  }
  t.pattern = std::string(s);
  t.kind = s.find_first_of("*?[") != std::string_view::npos ? PolicyTarget::Kind::Glob : PolicyTarget::Kind::Name;
  return t;
}

// --- actions ------------------------------------------------------------------------------

// A value that must be empty: `kill`, `kill:`, `kill: {}`.
bool expectNoOptions(const YAML::Node& value, const std::string& path, ParseContext& ctx, std::string_view name) {
  if (value.IsNull() || (value.IsMap() && value.size() == 0)) return true;
  ctx.error(value, path, std::string(name) + " takes no options, got " + describeNode(value));
  return false;
}

std::optional<std::chrono::milliseconds> readPositiveDuration(ParseContext& ctx, const YAML::Node& node,
                                                              const std::string& path) {
  auto d = readDuration(ctx, node, path);
  if (d && d->count() <= 0) {
    ctx.error(node, path, "must be above 0s");
    return std::nullopt;
  }
  return d;
}

bool parseActionOptions(PolicyAction& a, const YAML::Node& value, const std::string& path, ParseContext& ctx) {
  using K = PolicyAction::Kind;
  const std::string name = policyActionName(a.kind);
  switch (a.kind) {
    case K::Log:
    case K::Stop:
    case K::Kill:
    case K::Restart:
      return expectNoOptions(value, path, ctx, name);
    case K::Signal: {
      const YAML::Node* sig = &value;
      std::optional<MapReader> map;
      if (value.IsMap()) {
        map.emplace(ctx, value, path);
        sig = map->get("signal");
        if (auto to = map->choice("to", {"main", "cgroup"}, "signal destination"))
          a.to = *to == "cgroup" ? PolicyAction::SignalTo::Cgroup : PolicyAction::SignalTo::Main;
        else if (map->get("to")) return false;
        map->finish();
        if (!sig) {
          ctx.error(value, path, "missing key \"signal\"");
          return false;
        }
      } else if (value.IsNull()) {
        ctx.error(value, path, "signal needs a signal name (e.g. {signal: SIGUSR1} or signal: USR1)");
        return false;
      }
      const std::string sigPath = map ? map->pathOf("signal") : path;
      auto text = readString(ctx, *sig, sigPath);
      if (!text) return false;
      auto number = parseSignal(*text);
      if (!number) {
        ctx.error(*sig, sigPath, quoted(*text) + " is not a signal (e.g. SIGTERM, INT, 15)");
        return false;
      }
      a.signal = *number;
      return true;
    }
    case K::Freeze: {
      if (value.IsNull()) return true;  // stays frozen
      if (value.IsScalar()) {
        auto d = readPositiveDuration(ctx, value, path);
        if (d) a.duration = *d;
        return d.has_value();
      }
      MapReader map(ctx, value, path);
      if (!map.isMap()) return false;
      bool ok = true;
      if (auto* d = map.get("duration")) {
        auto v = readPositiveDuration(ctx, *d, map.pathOf("duration"));
        if (v) a.duration = *v;
        else ok = false;
      }
      size_t before = ctx.errorCount();
      map.finish();
      return ok && ctx.errorCount() == before;
    }
    case K::Throttle: {
      MapReader map(ctx, value, path);
      if (!map.isMap()) return false;
      size_t before = ctx.errorCount();
      if (auto* cpu = map.get("cpu")) {
        if (auto cores = readCores(ctx, *cpu, map.pathOf("cpu"))) {
          if (*cores < 0.01) ctx.error(*cpu, map.pathOf("cpu"), quoted(cpu->Scalar()) + " is below the minimum of 0.01 cores");
          else a.cpuCores = *cores;
        }
      }
      if (auto* high = map.get("memory_high")) {
        const std::string highPath = map.pathOf("memory_high");
        if (high->IsScalar() && !high->Scalar().empty() && high->Scalar().back() == '%') {
          auto f = parsePercent(trim(high->Scalar()));
          if (!f || *f <= 0 || *f > 1)
            ctx.error(*high, highPath, quoted(high->Scalar()) + " is not a percentage of the memory limit (above 0%, at most 100%)");
          else a.memoryHighFraction = *f;
        } else if (auto bytes = readSize(ctx, *high, highPath)) {
          a.memoryHigh = *bytes;
        }
      }
      if (auto* restore = map.get("restore_after")) {
        if (auto d = readPositiveDuration(ctx, *restore, map.pathOf("restore_after"))) a.duration = *d;
      }
      map.finish();
      if (ctx.errorCount() != before) return false;
      if (!a.cpuCores && !a.memoryHigh && !a.memoryHighFraction) {
        ctx.error(map.location(), path, "nothing to throttle (set cpu and/or memory_high)");
        return false;
      }
      return true;
    }
    case K::Exec: {
      size_t before = ctx.errorCount();
      const YAML::Node* command = &value;
      std::string commandPath = path;
      std::optional<MapReader> map;
      if (value.IsMap()) {
        map.emplace(ctx, value, path);
        command = map->get("command");
        commandPath = map->pathOf("command");
        if (auto t = map->duration("timeout")) {
          if (t->count() <= 0) ctx.error(*map->get("timeout"), map->pathOf("timeout"), "must be above 0s");
          else a.timeout = *t;
        }
        map->finish();
        if (!command) {
          ctx.error(value, path, "missing key \"command\"");
          return false;
        }
      }
      auto argv = readStringList(ctx, *command, commandPath);
      if (argv && argv->empty()) ctx.error(*command, commandPath, "an empty command runs nothing");
      else if (argv && (*argv)[0].empty()) ctx.error((*command)[0], indexPath(commandPath, 0), "an empty program name");
      else if (argv) a.command = *argv;
      return ctx.errorCount() == before;
    }
  }
  return false;
}

std::optional<PolicyAction> parseAction(const YAML::Node& node, const std::string& path, ParseContext& ctx) {
  PolicyAction a;
  setLocation(ctx, node, a.line, a.column);
  if (node.IsDefined() && node.IsScalar()) {  // "- kill"
    auto name = readChoice(ctx, node, path, actionNames(), "policy action");
    if (!name) return std::nullopt;
    a.kind = actionKind(*name);
    switch (a.kind) {
      case PolicyAction::Kind::Signal:
        ctx.error(node, path, "signal needs a signal name (e.g. {signal: SIGUSR1} or signal: USR1)");
        return std::nullopt;
      case PolicyAction::Kind::Throttle:
        ctx.error(node, path, "throttle needs what to throttle (e.g. {throttle: {cpu: 0.1}})");
        return std::nullopt;
      case PolicyAction::Kind::Exec:
        ctx.error(node, path, "exec needs a command (e.g. {exec: [/usr/local/bin/dump-heap]})");
        return std::nullopt;
      default:
        return a;  // log, stop, kill, restart; freeze without a duration
    }
  }
  if (!node.IsDefined() || !node.IsMap()) {
    ctx.error(node, path, "expected an action (e.g. kill or {freeze: 30s}), got " + describeNode(node));
    return std::nullopt;
  }
  MapReader map(ctx, node, path);
  for (const auto& n : actionNames()) map.declare({n});
  size_t before = ctx.errorCount();
  map.finish();  // unknown action names, with a did-you-mean
  if (ctx.errorCount() != before) return std::nullopt;
  const auto& entries = map.entries();
  if (entries.empty()) {
    ctx.error(node, path, "expected an action (e.g. kill or {freeze: 30s}), got an empty mapping");
    return std::nullopt;
  }
  if (entries.size() > 1) {
    ctx.error(entries[1].keyNode, childPath(path, entries[1].key),
              "one action per list entry (" + quoted(entries[0].key) + " is already here); give " +
                  quoted(entries[1].key) + " its own entry");
    return std::nullopt;
  }
  a.kind = actionKind(entries[0].key);
  if (!parseActionOptions(a, entries[0].value, childPath(path, entries[0].key), ctx)) return std::nullopt;
  return a;
}

// --- one rule -----------------------------------------------------------------------------

PolicyRule parseRule(const YAML::Node& node, const std::string& path, ParseContext& ctx) {
  PolicyRule rule;
  setLocation(ctx, node, rule.line, rule.column);
  MapReader map(ctx, node, path);
  if (!map.isMap()) return rule;
  if (const YAML::Node* name = map.get("name")) {
    if (auto v = readString(ctx, *name, map.pathOf("name"))) {
      if (isWorkloadName(*v)) rule.name = *v;
      else ctx.error(*name, map.pathOf("name"), invalidNameMessage(*v));
    }
  } else {
    ctx.error(map.location(), path, "missing key \"name\"");
  }

  if (const YAML::Node* target = map.get("target")) {
    const std::string targetPath = map.pathOf("target");
    if (target->IsSequence()) {
      if (target->size() == 0) ctx.error(*target, targetPath, "an empty target list matches nothing");
      for (size_t i = 0; i < target->size(); ++i) {
        if (auto t = parseTarget((*target)[i], indexPath(targetPath, i), ctx)) rule.targets.push_back(std::move(*t));
      }
    } else if (auto t = parseTarget(*target, targetPath, ctx)) {
      rule.targets.push_back(std::move(*t));
    }
  } else {
    ctx.error(map.location(), path, "missing key \"target\" (workload names, globs such as \"*\", or labels such as team=ml)");
  }

  if (const YAML::Node* condition = map.get("condition")) {
    if (auto tree = parseConditionTree(*condition, map.pathOf("condition"), ctx)) rule.condition = std::move(*tree);
  } else {
    ctx.error(map.location(), path, "missing key \"condition\"");
  }

  if (auto v = map.duration("for")) rule.forDuration = *v;
  if (auto v = map.duration("cooldown")) rule.cooldown = *v;
  if (auto v = map.boolean("dry_run")) rule.dryRun = *v;
  if (auto v = map.boolean("allow_actions_on_observed")) rule.allowActionsOnObserved = *v;

  if (const YAML::Node* actions = map.get("actions")) {
    const std::string actionsPath = map.pathOf("actions");
    if (actions->IsSequence() && actions->size() == 0) {
      ctx.error(*actions, actionsPath, "an empty action list does nothing (use [log] to only record events)");
    } else if (!actions->IsSequence()) {
      ctx.error(*actions, actionsPath, "expected a non-empty list of actions (e.g. [log, kill]), got " + describeNode(*actions));
    } else {
      for (size_t i = 0; i < actions->size(); ++i) {
        if (auto a = parseAction((*actions)[i], indexPath(actionsPath, i), ctx)) rule.actions.push_back(std::move(*a));
      }
    }
  } else {
    ctx.error(map.location(), path, "missing key \"actions\" (e.g. [log] to only record events)");
  }
  map.finish();
  return rule;
}

}  // namespace

std::optional<PolicyCondition> parsePolicyCondition(std::string_view text, std::string& error) {
  const std::string whole = quoted(trim(text));
  std::string_view t = trim(text);
  size_t i = 0;
  while (i < t.size() && isMetricChar(t[i])) ++i;
  std::string_view metricName = t.substr(0, i);
  if (metricName.empty()) {
    error = whole + ": expected \"<metric> <op> <value>\" (e.g. \"memory.working_set > 80%\")";
    return std::nullopt;
  }
  const MetricInfo* info = nullptr;
  for (const auto& m : metrics()) {
    if (m.name == metricName) info = &m;
  }
  if (!info) {
    error = whole + ": unknown metric " + quoted(metricName) + didYouMean(metricName, metricNames());
    return std::nullopt;
  }
  PolicyCondition c;
  c.metric = info->metric;
  c.pressureResource = info->resource;
  c.pressureKind = info->kind;
  c.pressureStat = info->stat;
  c.text = std::string(trim(text));

  std::string_view rest = trim(t.substr(i));
  static const std::pair<std::string_view, CompareOp> kOps[] = {{">=", CompareOp::GreaterEqual},
                                                                {"<=", CompareOp::LessEqual},
                                                                {">", CompareOp::Greater},
                                                                {"<", CompareOp::Less}};
  bool haveOp = false;
  for (const auto& [op, value] : kOps) {
    if (rest.substr(0, op.size()) == op) {
      c.op = value;
      rest = trim(rest.substr(op.size()));
      haveOp = true;
      break;
    }
  }
  if (!haveOp) {
    error = whole + ": expected a comparison (>, >=, <, <=) after " + quoted(metricName);
    return std::nullopt;
  }
  auto fields = splitFields(rest);
  if (fields.empty()) {
    error = whole + ": expected a value after the comparison";
    return std::nullopt;
  }
  if (std::string problem = parseValue(*info, fields[0], c); !problem.empty()) {
    error = whole + ": " + problem;
    return std::nullopt;
  }
  if (fields.size() == 1) {
    c.window = info->window == WindowKind::Rate    ? kDefaultRateWindow
               : info->window == WindowKind::Count ? kDefaultCountWindow
                                                   : milliseconds(0);
    return c;
  }
  if (fields[1] != "over" || fields.size() != 3) {
    error = whole + ": unexpected " + quoted(fields[1]) + " after the value (expected \"over <duration>\" or nothing)";
    return std::nullopt;
  }
  if (info->window == WindowKind::None) {
    error = whole + ": " + info->name + " takes no window (\"over ...\"); it is read as it is now";
    return std::nullopt;
  }
  auto window = parseDuration(fields[2]);
  if (!window) {
    error = whole + ": " + quoted(fields[2]) + " is not a duration (e.g. 250ms, 30s, 1m30s)";
    return std::nullopt;
  }
  if (*window < kMinWindow || *window > kMaxWindow) {
    error = whole + ": the window " + formatDuration(*window) + " is out of range (100ms to 1h)";
    return std::nullopt;
  }
  c.window = *window;
  return c;
}

void parsePoliciesSection(const YAML::Node& node, const std::string& path, ParseContext& ctx, Config& out) {
  parseNamedList<PolicyRule>(node, path, ctx, "policies", "policy", parseRule, out.policies);
}

void finishPoliciesSection(ParseContext& ctx, Config& out) {
  std::vector<std::string> workloadNames;
  for (const auto& w : out.workloads) workloadNames.push_back(w.name);
  // The fixed workloads of adopt: rules are policed too (templates are matched by globs).
  for (const auto& r : out.adoptRules) {
    if (r.workload.find('%') == std::string::npos) workloadNames.push_back(r.workload);
  }
  for (const auto& rule : out.policies) {
    for (const auto& t : rule.targets) {
      if (t.kind != PolicyTarget::Kind::Name || t.pattern.find('/') != std::string::npos) continue;
      if (std::find(workloadNames.begin(), workloadNames.end(), t.pattern) != workloadNames.end()) continue;
      bool observed = std::any_of(out.agent.observe.begin(), out.agent.observe.end(), [&](const std::string& p) {
        return ::fnmatch(p.c_str(), t.pattern.c_str(), 0) == 0;
      });
      if (observed) continue;
      ctx.error(SourceLocation{ctx.file(), t.line, t.column}, t.keyPath,
                "no workload named " + quoted(t.pattern) + didYouMean(t.pattern, workloadNames));
    }
  }
}

}  // namespace cgwarden::config
