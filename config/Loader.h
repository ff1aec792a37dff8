#pragma once
// Loading configuration: YAML text -> plain structs (parse) -> validated Config (compile).
//
// Every problem is reported, all at once, with file, line, column and key path:
//   demo.yaml:14:16: workloads[2].limits.memory.max: "64Q" is not a size (e.g. 64Mi, 1.5G)
//   demo.yaml:9:5: workloads[0].limts: unknown key (did you mean "limits"?)
// JSON is YAML, so API request bodies go through the same code.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/Config.h"

namespace cgwarden::config {

struct ConfigIssue {
  SourceLocation where;
  std::string keyPath;  // "workloads[2].limits.memory.max"; "" for the document itself
  std::string message;  // "\"64Q\" is not a size (e.g. 64Mi, 1.5G)"
  std::string render() const;  // "file:line:col: keyPath: message"
};

template <class T>
struct Loaded {
  std::optional<T> value;            // set only when `errors` is empty
  std::vector<ConfigIssue> errors;
  bool ok() const { return value.has_value() && errors.empty(); }
  std::string renderErrors() const;  // one rendered issue per line
};

// A whole config file. `path` is used in messages and stored in Config::path.
Loaded<Config> loadConfigFile(const std::string& path);
Loaded<Config> parseConfigText(std::string_view text, const std::string& displayName);

// One workload entry (the same schema as an element of `workloads:`), e.g. an API body.
// Defaults that depend on the agent (log paths under state_dir) come from `agent`; the
// two-argument form uses the built-in AgentSpec defaults.
Loaded<WorkloadSpec> parseWorkloadText(std::string_view text, const std::string& displayName);
Loaded<WorkloadSpec> parseWorkloadText(std::string_view text, const std::string& displayName,
                                       const AgentSpec& agent);

// A `limits:` mapping on its own, for live changes (API `set`, CLI flags). Only the keys
// present are set in the result.
Loaded<Limits> parseLimitsText(std::string_view text, const std::string& displayName);

}  // namespace cgwarden::config
