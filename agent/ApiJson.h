#pragma once
// JSON renderings shared by the control API (server) and the CLI (client), in the config
// file's schema (docs/config.md) so that what the API returns can be sent back as is:
//
//   limitsToJson(l) -> {"cpu":{"quota":50000,"period":100000},"memory":{"max":67108864},"pids":{"max":32}}
//
// Sizes are bytes, CPU quota and period microseconds (bare numbers in the config's units),
// kUnlimited is "max"; unset fields are omitted, so an empty Limits is {}.

#include <nlohmann/json.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "collectors/Limits.h"
#include "config/Config.h"

namespace cgwarden::agent {

nlohmann::json limitsToJson(const Limits& limits);

// A workload entry (every field the loader fills, in config keys): name, command, env,
// working_dir, user, group, labels, image, namespaces, hostname, rlimits, limits, restart,
// stop_signal, stop_grace, stdout, stderr. Durations as "<n>ms"; users/groups as written
// (or the numeric id when only that is known).
nlohmann::json workloadSpecToJson(const config::WorkloadSpec& spec);

// RLIMIT_NOFILE -> "nofile"; nullptr for a resource the config has no name for.
const char* rlimitName(int resource);

// "2026-11-28T04:17:17.123Z"
std::string isoTime(std::chrono::system_clock::time_point t);
std::string isoTime(double unixSeconds);

// Deepest nesting of arrays and objects in a JSON text (strings skipped): "[[1]]" -> 2.
// For texts nlohmann already accepted; used to bound what reaches the recursive YAML parser.
size_t jsonNestingDepth(std::string_view text);

// 1-based line and column of a byte offset in `text` (for JSON syntax errors).
std::pair<int, int> lineColumnOf(std::string_view text, size_t offset);

// Human-readable sizes and durations for the CLI: 134217728 -> "128Mi", 1536 -> "1.5Ki",
// 90061 s -> "1d1h".
std::string formatBytes(double bytes);
std::string formatDuration(double seconds);

}  // namespace cgwarden::agent
