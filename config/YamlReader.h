#pragma once
// Shared machinery for reading config sections out of a yaml-cpp tree, with every problem
// collected (not thrown) as a ConfigIssue carrying file:line:col and a key path.
//
// A section parser looks like:
//   void parseThingSection(const YAML::Node& node, const std::string& path, ParseContext& ctx,
//                          Config& out) {
//     MapReader map(ctx, node, path);          // reports "expected a mapping" if it is not one
//     if (auto v = map.duration("interval")) out.thing.interval = *v;
//     if (auto v = map.choice("mode", {"fast", "slow"}, "mode")) ...;
//     map.finish();                            // every key not asked for: "unknown key (did you mean ...)"
//   }
// and is registered in the table in config/Sections.cpp.
//
// Key paths: childPath("workloads[0]", "limits") = "workloads[0].limits",
// indexPath("workloads", 2) = "workloads[2]"; keys that are not plain identifiers are
// bracketed: childPath("labels", "app.kubernetes.io") = "labels[\"app.kubernetes.io\"]".
//
// Nothing here throws: yaml-cpp is only used through calls that cannot throw on a valid node.

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/Loader.h"

namespace cgwarden::config {

class ParseContext {
 public:
  explicit ParseContext(std::string file) : file_(std::move(file)) {}

  const std::string& file() const { return file_; }
  // 1-based line and column of the node; 0:0 when yaml-cpp has no mark for it.
  SourceLocation locate(const YAML::Node& node) const;

  void error(const YAML::Node& node, std::string keyPath, std::string message);
  void error(SourceLocation where, std::string keyPath, std::string message);

  bool hasErrors() const { return !errors_.empty(); }
  size_t errorCount() const { return errors_.size(); }
  const std::vector<ConfigIssue>& errors() const { return errors_; }
  std::vector<ConfigIssue> takeErrors() { return std::move(errors_); }

 private:
  std::string file_;
  std::vector<ConfigIssue> errors_;
};

// --- key paths and wording ---------------------------------------------------------------
std::string childPath(std::string_view parent, std::string_view key);
std::string indexPath(std::string_view parent, size_t index);
std::string quoted(std::string_view text);        // "\"64Q\"", with \" \\ and control chars escaped
std::string describeNode(const YAML::Node& node);  // "a mapping", "a list", "a string", "nothing"

// Optimal-string-alignment distance (Levenshtein plus adjacent transpositions), case-insensitive.
size_t editDistance(std::string_view a, std::string_view b);
// The candidate closest to `word` if it is close enough to be a plausible typo
// (distance <= 1 for words up to 4 letters, <= 2 up to 8, <= 3 beyond).
std::optional<std::string> closestMatch(std::string_view word, const std::vector<std::string>& candidates);
// " (did you mean \"limits\"?)" or "".
std::string didYouMean(std::string_view word, const std::vector<std::string>& candidates);
// "never, on-failure or always"
std::string listChoices(const std::vector<std::string>& choices);

// A section that is a list of named entries (workloads, policies, adopt rules): each item goes
// through `parseItem(itemNode, itemPath, ctx)`, which returns a T with a `name`; a name used
// again is reported at its second use ("duplicate policy name "x" (first at line 3)") and that
// entry dropped. `plural`/`singular` word the messages ("expected a list of policies").
template <typename T, typename ParseItem>
void parseNamedList(const YAML::Node& node, const std::string& path, ParseContext& ctx, std::string_view plural,
                    std::string_view singular, ParseItem parseItem, std::vector<T>& out) {
  if (node.IsNull()) return;
  if (!node.IsSequence()) {
    ctx.error(node, path, "expected a list of " + std::string(plural) + ", got " + describeNode(node));
    return;
  }
  std::map<std::string, int> firstLine;
  for (size_t i = 0; i < node.size(); ++i) {
    std::string itemPath = indexPath(path, i);
    T item = parseItem(node[i], itemPath, ctx);
    if (!item.name.empty()) {
      const YAML::Node nameNode = node[i]["name"];
      auto [it, inserted] = firstLine.emplace(item.name, ctx.locate(nameNode).line);
      if (!inserted) {
        ctx.error(nameNode, childPath(itemPath, "name"),
                  "duplicate " + std::string(singular) + " name " + quoted(item.name) + " (first at line " +
                      std::to_string(it->second) + ")");
        continue;
      }
    }
    out.push_back(std::move(item));
  }
}

// --- typed scalar readers: report the problem at the node and return nullopt -----------
// Messages (after "keyPath: "):
//   expected a string, got a mapping
//   "64Q" is not a size (e.g. 64Mi, 1.5G)
//   "fast" is not a rate (e.g. 10M/s, 500/s)
//   "5x" is not a duration (e.g. 250ms, 30s, 1m30s)
//   "lots" is not a number of cores (e.g. 0.5, 2, 150%)
//   "maybe" is not a boolean (true or false)
//   "1.5" is not a whole number
//   20000 is out of range (1 to 10000)
//   "sometimes" is not a restart policy (expected never, on-failure or always; did you mean ...)
std::optional<std::string> readString(ParseContext& ctx, const YAML::Node& node, const std::string& path);
std::optional<bool> readBool(ParseContext& ctx, const YAML::Node& node, const std::string& path);
std::optional<uint64_t> readUint(ParseContext& ctx, const YAML::Node& node, const std::string& path,
                                 uint64_t min = 0, uint64_t max = UINT64_MAX);
std::optional<uint64_t> readSize(ParseContext& ctx, const YAML::Node& node, const std::string& path);  // "max" ok
std::optional<uint64_t> readRate(ParseContext& ctx, const YAML::Node& node, const std::string& path);  // "max" ok
std::optional<std::chrono::milliseconds> readDuration(ParseContext& ctx, const YAML::Node& node,
                                                      const std::string& path);
std::optional<double> readCores(ParseContext& ctx, const YAML::Node& node, const std::string& path);
// One of `choices`; `what` names the kind of value in the message ("restart policy").
std::optional<std::string> readChoice(ParseContext& ctx, const YAML::Node& node, const std::string& path,
                                      const std::vector<std::string>& choices, std::string_view what);
// A list of strings; a single string is NOT accepted (use readString for that case).
std::optional<std::vector<std::string>> readStringList(ParseContext& ctx, const YAML::Node& node,
                                                       const std::string& path);
// A mapping of string -> string (scalar values; numbers and booleans are kept as written).
// `keyCheck`, when given, returns an error message for a key that is not acceptable; it is
// reported at the key.
using KeyCheck = std::optional<std::string> (*)(std::string_view key);
std::optional<std::map<std::string, std::string>> readStringMap(ParseContext& ctx, const YAML::Node& node,
                                                                const std::string& path, KeyCheck keyCheck = nullptr);

// --- mappings ---------------------------------------------------------------------------
// Reads one mapping. Each key the parser asks about (get/has/typed getters/declare) becomes
// "known"; finish() reports every other key as unknown, with a did-you-mean hint drawn from
// the known ones. Duplicate keys are reported at the second occurrence. A null node (`key:`
// with nothing after it) reads as an empty mapping. YAML merge keys (`<<: *defaults`, or a
// list of aliases) are expanded: keys written in the mapping win over merged ones.
class MapReader {
 public:
  MapReader(ParseContext& ctx, const YAML::Node& node, std::string path);
  MapReader(const MapReader&) = delete;
  MapReader& operator=(const MapReader&) = delete;

  bool isMap() const { return isMap_; }
  const std::string& path() const { return path_; }
  ParseContext& context() { return ctx_; }

  // The value under `key`, or nullptr when absent. Declares `key` known.
  const YAML::Node* get(std::string_view key);
  bool has(std::string_view key) { return get(key) != nullptr; }
  void declare(std::initializer_list<std::string_view> keys);
  // Accepts `key` without reading it and without offering it as a did-you-mean hint
  // (e.g. top-level `x-*` extension keys that only hold YAML anchors).
  void ignore(std::string_view key);
  std::string pathOf(std::string_view key) const { return childPath(path_, key); }
  // Where the KEY is written (for errors about the key itself); the mapping's location if absent.
  SourceLocation keyLocation(std::string_view key) const;
  SourceLocation location() const;

  // Every entry in document order (for free-form maps such as env and labels).
  struct Entry {
    std::string key;
    YAML::Node keyNode;
    YAML::Node value;
  };
  const std::vector<Entry>& entries() const { return entries_; }

  std::optional<std::string> string(std::string_view key);
  std::optional<bool> boolean(std::string_view key);
  std::optional<uint64_t> uint(std::string_view key, uint64_t min = 0, uint64_t max = UINT64_MAX);
  std::optional<uint64_t> size(std::string_view key);
  std::optional<uint64_t> rate(std::string_view key);
  std::optional<std::chrono::milliseconds> duration(std::string_view key);
  std::optional<double> cores(std::string_view key);
  std::optional<std::string> choice(std::string_view key, const std::vector<std::string>& choices,
                                    std::string_view what);
  std::optional<std::vector<std::string>> stringList(std::string_view key);
  std::optional<std::map<std::string, std::string>> stringMap(std::string_view key);

  // Reports unknown keys. Call once, after every get().
  void finish();

 private:
  void mergeFrom(const YAML::Node& source, int depth);

  ParseContext& ctx_;
  YAML::Node node_;
  std::string path_;
  bool isMap_ = false;
  std::vector<Entry> entries_;
  std::vector<std::string> known_;
  std::vector<std::string> ignored_;
  bool finished_ = false;
};

}  // namespace cgwarden::config
