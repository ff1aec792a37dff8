// The `adopt:` section (config/AdoptRule.h holds the IR and a commented example).
#include <algorithm>
#include <map>
#include <regex>

#include "config/AdoptRule.h"
#include "config/Sections.h"
#include "config/SystemLookup.h"

namespace cgwarden::config {

namespace {

// "" when every %-escape of `tmpl` is %u %p %c or %%; else the offending escape ("%x", "%" at the end).
std::string badTemplateEscape(std::string_view tmpl) {
  for (size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] != '%') continue;
    if (i + 1 >= tmpl.size()) return "%";
    char c = tmpl[i + 1];
    if (c != 'u' && c != 'p' && c != 'c' && c != '%') return std::string("%") + c;
    ++i;
  }
  return "";
}

bool isTemplate(std::string_view workload) {
  for (size_t i = 0; i + 1 < workload.size(); ++i) {
    if (workload[i] == '%' && (workload[i + 1] == 'u' || workload[i + 1] == 'p' || workload[i + 1] == 'c')) return true;
  }
  return false;
}

// A glob or exact string matcher: must not be empty.
std::optional<std::string> readPattern(MapReader& map, std::string_view key, ParseContext& ctx) {
  auto v = map.string(key);
  if (!v) return std::nullopt;
  if (v->empty()) {
    ctx.error(*map.get(key), map.pathOf(key), "the pattern is empty");
    return std::nullopt;
  }
  return v;
}

void parseParent(const YAML::Node& node, const std::string& path, ParseContext& ctx, AdoptRule& rule) {
  MapReader map(ctx, node, path);
  if (!map.isMap()) return;
  AdoptParentMatch parent;
  if (auto v = map.uint("pid", 1, 4194304)) parent.pid = static_cast<pid_t>(*v);
  parent.comm = readPattern(map, "comm", ctx);
  if (auto v = map.string("workload")) {
    if (isWorkloadName(*v)) parent.workload = *v;
    else ctx.error(*map.get("workload"), map.pathOf("workload"), invalidNameMessage(*v));
  }
  bool any = map.has("pid") || map.has("comm") || map.has("workload");
  map.finish();
  if (!any) {
    ctx.error(map.location(), path, "expected one of pid, comm or workload");
    return;
  }
  rule.parent = parent;
}

AdoptRule parseRule(const YAML::Node& node, const std::string& path, ParseContext& ctx) {
  AdoptRule rule;
  rule.location = ctx.locate(node);
  MapReader map(ctx, node, path);
  if (!map.isMap()) return rule;
  if (auto* name = map.get("name")) {
    if (auto v = readString(ctx, *name, map.pathOf("name"))) {
      if (isWorkloadName(*v)) rule.name = *v;
      else ctx.error(*name, map.pathOf("name"), invalidNameMessage(*v));
    }
  } else {
    ctx.error(map.location(), path, "missing key \"name\"");
  }
  rule.exe = readPattern(map, "exe", ctx);
  rule.comm = readPattern(map, "comm", ctx);
  if (auto v = map.string("cmdline")) {
    try {
      std::regex compiled(*v, std::regex::ECMAScript);
      rule.cmdline = *v;
    } catch (const std::regex_error& e) {
      ctx.error(*map.get("cmdline"), map.pathOf("cmdline"), quoted(*v) + " is not a regular expression: " + e.what());
    }
  }
  if (auto v = map.string("user")) {
    auto ids = resolveUser(*v);
    if (ids.value) {
      rule.user = *v;
      rule.uid = ids.value->uid;
    } else {
      ctx.error(*map.get("user"), map.pathOf("user"), ids.error);
    }
  }
  if (auto v = map.string("group")) {
    auto gid = resolveGroup(*v);
    if (gid.value) {
      rule.group = *v;
      rule.gid = *gid.value;
    } else {
      ctx.error(*map.get("group"), map.pathOf("group"), gid.error);
    }
  }
  if (auto* parent = map.get("parent")) parseParent(*parent, map.pathOf("parent"), ctx, rule);
  if (auto* workload = map.get("workload")) {
    if (auto v = readString(ctx, *workload, map.pathOf("workload"))) {
      std::string bad = badTemplateEscape(*v);
      if (!bad.empty()) {
        ctx.error(*workload, map.pathOf("workload"),
                  quoted(*v) + ": unknown escape " + quoted(bad) + " (use %u user, %p pid, %c comm, %% a '%')");
      } else if (!isTemplate(*v) && !isWorkloadName(*v)) {
        ctx.error(*workload, map.pathOf("workload"), invalidNameMessage(*v));
      } else if (v->empty()) {
        ctx.error(*workload, map.pathOf("workload"), "the workload name is empty");
      } else {
        rule.workload = *v;
      }
    }
  } else {
    rule.workload = rule.name;  // default: a workload named after the rule
  }
  if (auto* limits = map.get("limits")) rule.limits = parseLimits(*limits, map.pathOf("limits"), ctx);
  // Tried in every position: "every matcher that is set must match" needs at least one.
  bool anyMatcher = map.has("exe") || map.has("comm") || map.has("cmdline") || map.has("user") ||
                    map.has("group") || map.has("parent");
  map.finish();
  if (!anyMatcher) {
    ctx.error(map.location(), path,
              "a rule needs at least one matcher (exe, comm, cmdline, user, group or parent); it would adopt every "
              "process");
  }
  return rule;
}

}  // namespace

void parseAdoptSection(const YAML::Node& node, const std::string& path, ParseContext& ctx, Config& out) {
  parseNamedList<AdoptRule>(node, path, ctx, "adopt rules", "adopt rule", parseRule, out.adoptRules);
}

void finishAdoptSection(ParseContext& ctx, Config& out) {
  std::vector<std::string> launched;
  for (const auto& w : out.workloads) launched.push_back(w.name);
  std::vector<std::string> known = launched;
  for (const auto& r : out.adoptRules) {
    if (!isTemplate(r.workload)) known.push_back(r.workload);
  }
  for (size_t i = 0; i < out.adoptRules.size(); ++i) {
    const AdoptRule& r = out.adoptRules[i];
    std::string rulePath = indexPath("adopt", i);
    if (!r.workload.empty() && std::find(launched.begin(), launched.end(), r.workload) != launched.end()) {
      ctx.error(r.location, childPath(rulePath, "workload"),
                quoted(r.workload) + " is a launched workload (workloads:); adopt into another name");
    }
    if (r.parent && r.parent->workload &&
        std::find(known.begin(), known.end(), *r.parent->workload) == known.end()) {
      ctx.error(r.location, childPath(childPath(rulePath, "parent"), "workload"),
                "no workload named " + quoted(*r.parent->workload) + didYouMean(*r.parent->workload, known));
    }
  }
}

}  // namespace cgwarden::config
