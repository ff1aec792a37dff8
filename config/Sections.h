#pragma once
// The top-level sections of a config file and the parsers behind them.
//
// Adding a section (e.g. `policies:`): write `parsePoliciesSection` (and, if it needs to see
// the whole config, e.g. to check workload names, `finishPoliciesSection`) in its own file,
// declare them here and add one line to the table in Sections.cpp. Unknown top-level keys
// are errors, with a did-you-mean hint drawn from this table.

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "config/Config.h"
#include "config/YamlReader.h"

namespace cgwarden::config {

struct Section {
  const char* key;  // "workloads"
  // Called with the value under `key` when the key is present (`path` is the key itself).
  void (*parse)(const YAML::Node& node, const std::string& path, ParseContext& ctx, Config& out);
  // Called once after every section was parsed (present or not); may be null. Cross-section
  // checks and defaults that depend on other sections go here.
  void (*finish)(ParseContext& ctx, Config& out);
};

const std::vector<Section>& configSections();

// agent:      (AgentSection.cpp)
void parseAgentSection(const YAML::Node& node, const std::string& path, ParseContext& ctx, Config& out);
// workloads:  (WorkloadSection.cpp)
void parseWorkloadsSection(const YAML::Node& node, const std::string& path, ParseContext& ctx, Config& out);
void finishWorkloadsSection(ParseContext& ctx, Config& out);

// adopt:      (AdoptSection.cpp) rules as in config/AdoptRule.h; finish checks that a rule's
// workload is not a launched one and that parent.workload names a known workload.
void parseAdoptSection(const YAML::Node& node, const std::string& path, ParseContext& ctx, Config& out);
void finishAdoptSection(ParseContext& ctx, Config& out);

// One workload mapping (an element of `workloads:` or an API body). Checks everything that
// does not depend on the rest of the file; `path` is "workloads[2]" or "" for a lone body.
WorkloadSpec parseWorkload(const YAML::Node& node, const std::string& path, ParseContext& ctx);
// Defaults that depend on the agent section (log file paths under state_dir, hostname).
void completeWorkload(WorkloadSpec& workload, const AgentSpec& agent);

// Names of workloads (and of other named things: adopt rules, policies): [a-z0-9][a-z0-9_.-]*,
// at most 64 characters. invalidNameMessage completes "<key path>: ...".
bool isWorkloadName(std::string_view name);
std::string invalidNameMessage(std::string_view name);

// A `limits:` mapping (LimitsSection.cpp). Only keys present are set. Shorthands:
// `cpu: 0.5` = cpu.cores, `memory: 64Mi` = memory.max, `pids: 32` = pids.max.
Limits parseLimits(const YAML::Node& node, const std::string& path, ParseContext& ctx);

}  // namespace cgwarden::config
