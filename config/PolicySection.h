#pragma once
// The `policies:` section (PolicySection.cpp), registered in config/Sections.cpp.
//
// Messages (after "file:line:col: <key path>: "), e.g.
//   policies[0].condition.all[1]: unknown metric "memroy.usage" (did you mean "memory.usage"?)
//   policies[0].condition: "memory.usage > 80% over 5s": memory.usage takes no window ("over ...")
//   policies[0].actions[1].throttle: nothing to throttle (set cpu and/or memory_high)
//   policies[1].name: duplicate policy name "guard" (first at line 3)
//   policies[0].target[0]: no workload named "wbe" (did you mean "web"?)

#include <yaml-cpp/yaml.h>

#include <optional>
#include <string>
#include <string_view>

#include "config/Config.h"
#include "config/PolicyRule.h"
#include "config/YamlReader.h"

namespace cgwarden::config {

void parsePoliciesSection(const YAML::Node& node, const std::string& path, ParseContext& ctx, Config& out);
// Cross-checks against `workloads:`: target names (without glob characters, '=' or '/')
// must name a configured workload.
void finishPoliciesSection(ParseContext& ctx, Config& out);

// Pure: one leaf condition "<metric> <op> <value> [over <window>]". On failure returns
// nullopt and sets `error` to a message that completes "<key path>: ".
std::optional<PolicyCondition> parsePolicyCondition(std::string_view text, std::string& error);

}  // namespace cgwarden::config
