#include "config/YamlReader.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

#include "collectors/Limits.h"
#include "collectors/TextParse.h"
#include "config/Units.h"

namespace cgwarden::config {

SourceLocation ParseContext::locate(const YAML::Node& node) const {
  SourceLocation where{file_, 0, 0};
  if (!node.IsDefined()) return where;
  YAML::Mark mark = node.Mark();
  if (mark.is_null() || mark.line < 0) return where;
  where.line = mark.line + 1;
  where.column = mark.column + 1;
  return where;
}

void ParseContext::error(const YAML::Node& node, std::string keyPath, std::string message) {
  error(locate(node), std::move(keyPath), std::move(message));
}

void ParseContext::error(SourceLocation where, std::string keyPath, std::string message) {
  if (where.file.empty()) where.file = file_;
  errors_.push_back(ConfigIssue{std::move(where), std::move(keyPath), std::move(message)});
}

namespace {

bool isIdentifier(std::string_view key) {
  if (key.empty()) return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

}  // namespace

std::string childPath(std::string_view parent, std::string_view key) {
  std::string out(parent);
  if (isIdentifier(key)) {
    if (!out.empty()) out += '.';
    out += key;
  } else {
    out += '[';
    out += quoted(key);
    out += ']';
  }
  return out;
}

std::string indexPath(std::string_view parent, size_t index) {
  return std::string(parent) + "[" + std::to_string(index) + "]";
}

std::string quoted(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(static_cast<unsigned char>(c)));
      out += buf;
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

std::string describeNode(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "nothing";
  if (node.IsMap()) return "a mapping";
  if (node.IsSequence()) return "a list";
  return "a string";
}

size_t editDistance(std::string_view a, std::string_view b) {
  const size_t n = a.size(), m = b.size();
  std::vector<std::vector<size_t>> d(n + 1, std::vector<size_t>(m + 1, 0));
  for (size_t i = 0; i <= n; ++i) d[i][0] = i;
  for (size_t j = 0; j <= m; ++j) d[0][j] = j;
  for (size_t i = 1; i <= n; ++i) {
    for (size_t j = 1; j <= m; ++j) {
      size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) && lower(a[i - 2]) == lower(b[j - 1]))
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[n][m];
}

std::optional<std::string> closestMatch(std::string_view word, const std::vector<std::string>& candidates) {
  std::optional<std::string> best;
  size_t bestDistance = SIZE_MAX;
  for (const auto& c : candidates) {
    size_t dist = editDistance(word, c);
    size_t len = std::max(word.size(), c.size());
    size_t allowed = len <= 4 ? 1 : len <= 8 ? 2 : 3;
    if (dist <= allowed && dist < bestDistance) {
      best = c;
      bestDistance = dist;
    }
  }
  return best;
}

std::string didYouMean(std::string_view word, const std::vector<std::string>& candidates) {
  auto match = closestMatch(word, candidates);
  return match ? " (did you mean " + quoted(*match) + "?)" : "";
}

std::string listChoices(const std::vector<std::string>& choices) {
  std::string out;
  for (size_t i = 0; i < choices.size(); ++i) {
    if (i > 0) out += i + 1 == choices.size() ? " or " : ", ";
    out += choices[i];
  }
  return out;
}

namespace {

// The scalar text of `node`, or an error "expected <what>, got <kind>".
std::optional<std::string> scalarOf(ParseContext& ctx, const YAML::Node& node, const std::string& path,
                                    std::string_view what) {
  if (node.IsDefined() && node.IsScalar()) return node.Scalar();
  ctx.error(node, path, "expected " + std::string(what) + ", got " + describeNode(node));
  return std::nullopt;
}

}  // namespace

std::optional<std::string> readString(ParseContext& ctx, const YAML::Node& node, const std::string& path) {
  return scalarOf(ctx, node, path, "a string");
}

std::optional<bool> readBool(ParseContext& ctx, const YAML::Node& node, const std::string& path) {
  auto text = scalarOf(ctx, node, path, "a boolean (true or false)");
  if (!text) return std::nullopt;
  std::string s;
  for (char c : *text) s += lower(c);
  if (s == "true" || s == "yes" || s == "on") return true;
  if (s == "false" || s == "no" || s == "off") return false;
  ctx.error(node, path, quoted(*text) + " is not a boolean (true or false)");
  return std::nullopt;
}

std::optional<uint64_t> readUint(ParseContext& ctx, const YAML::Node& node, const std::string& path,
                                 uint64_t min, uint64_t max) {
  auto text = scalarOf(ctx, node, path, "a whole number");
  if (!text) return std::nullopt;
  auto value = parseUint64(trim(*text));
  if (!value) {
    ctx.error(node, path, quoted(*text) + " is not a whole number");
    return std::nullopt;
  }
  if (*value < min || *value > max) {
    std::string range = max == UINT64_MAX ? "at least " + std::to_string(min)
                                          : std::to_string(min) + " to " + std::to_string(max);
    ctx.error(node, path, std::to_string(*value) + " is out of range (" + range + ")");
    return std::nullopt;
  }
  return value;
}

std::optional<uint64_t> readSize(ParseContext& ctx, const YAML::Node& node, const std::string& path) {
  auto text = scalarOf(ctx, node, path, "a size (e.g. 64Mi, 1.5G)");
  if (!text) return std::nullopt;
  auto value = parseSize(*text);
  if (!value) ctx.error(node, path, quoted(*text) + " is not a size (e.g. 64Mi, 1.5G)");
  return value;
}

std::optional<uint64_t> readRate(ParseContext& ctx, const YAML::Node& node, const std::string& path) {
  auto text = scalarOf(ctx, node, path, "a rate (e.g. 10M/s, 500/s)");
  if (!text) return std::nullopt;
  auto value = parseRate(*text);
  if (!value) ctx.error(node, path, quoted(*text) + " is not a rate (e.g. 10M/s, 500/s)");
  return value;
}

std::optional<std::chrono::milliseconds> readDuration(ParseContext& ctx, const YAML::Node& node,
                                                      const std::string& path) {
  auto text = scalarOf(ctx, node, path, "a duration (e.g. 250ms, 30s, 1m30s)");
  if (!text) return std::nullopt;
  auto value = parseDuration(*text);
  if (!value) ctx.error(node, path, quoted(*text) + " is not a duration (e.g. 250ms, 30s, 1m30s)");
  return value;
}

std::optional<double> readCores(ParseContext& ctx, const YAML::Node& node, const std::string& path) {
  auto text = scalarOf(ctx, node, path, "a number of cores (e.g. 0.5, 2, 150%)");
  if (!text) return std::nullopt;
  auto value = parseCores(*text);
  if (!value) ctx.error(node, path, quoted(*text) + " is not a number of cores (e.g. 0.5, 2, 150%)");
  return value;
}

std::optional<std::string> readChoice(ParseContext& ctx, const YAML::Node& node, const std::string& path,
                                      const std::vector<std::string>& choices, std::string_view what) {
  auto text = scalarOf(ctx, node, path, std::string("a ") + std::string(what));
  if (!text) return std::nullopt;
  if (std::find(choices.begin(), choices.end(), *text) != choices.end()) return text;
  std::string hint;
  if (auto match = closestMatch(*text, choices)) hint = "; did you mean " + quoted(*match) + "?";
  ctx.error(node, path,
            quoted(*text) + " is not a " + std::string(what) + " (expected " + listChoices(choices) + hint + ")");
  return std::nullopt;
}

std::optional<std::vector<std::string>> readStringList(ParseContext& ctx, const YAML::Node& node,
                                                       const std::string& path) {
  if (node.IsDefined() && node.IsNull()) return std::vector<std::string>{};
  if (!node.IsDefined() || !node.IsSequence()) {
    ctx.error(node, path, "expected a list of strings, got " + describeNode(node));
    return std::nullopt;
  }
  std::vector<std::string> out;
  bool ok = true;
  for (size_t i = 0; i < node.size(); ++i) {
    auto item = readString(ctx, node[i], indexPath(path, i));
    if (item) out.push_back(*item);
    else ok = false;
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<std::map<std::string, std::string>> readStringMap(ParseContext& ctx, const YAML::Node& node,
                                                                const std::string& path, KeyCheck keyCheck) {
  MapReader map(ctx, node, path);
  if (!map.isMap()) return std::nullopt;
  std::map<std::string, std::string> out;
  bool ok = true;
  for (const auto& e : map.entries()) {
    map.declare({e.key});
    if (keyCheck) {
      if (auto problem = keyCheck(e.key)) {
        ctx.error(e.keyNode, childPath(path, e.key), *problem);
        ok = false;
        continue;
      }
    }
    auto value = readString(ctx, e.value, childPath(path, e.key));
    if (value) out[e.key] = *value;
    else ok = false;
  }
  map.finish();
  if (!ok) return std::nullopt;
  return out;
}

MapReader::MapReader(ParseContext& ctx, const YAML::Node& node, std::string path)
    : ctx_(ctx), node_(node), path_(std::move(path)) {
  if (node.IsDefined() && node.IsNull()) {
    isMap_ = true;
    return;
  }
  if (!node.IsDefined() || !node.IsMap()) {
    ctx_.error(node, path_, "expected a mapping, got " + describeNode(node));
    return;
  }
  isMap_ = true;
  std::vector<YAML::Node> merges;
  for (auto it = node.begin(); it != node.end(); ++it) {
    const YAML::Node keyNode = it->first;
    if (!keyNode.IsScalar()) {
      ctx_.error(keyNode, path_, "a key must be a string, got " + describeNode(keyNode));
      continue;
    }
    std::string key = keyNode.Scalar();
    if (key == "<<" && keyNode.Tag() != "tag:yaml.org,2002:str") {
      merges.push_back(it->second);
      continue;
    }
    auto dup = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.key == key; });
    if (dup != entries_.end()) {
      SourceLocation first = ctx_.locate(dup->keyNode);
      ctx_.error(keyNode, childPath(path_, key),
                 "duplicate key (first at line " + std::to_string(first.line) + ")");
      continue;
    }
    entries_.push_back(Entry{std::move(key), keyNode, it->second});
  }
  for (const auto& merge : merges) {
    if (merge.IsMap()) {
      mergeFrom(merge, 0);
    } else if (merge.IsSequence()) {
      for (size_t i = 0; i < merge.size(); ++i) {
        if (merge[i].IsMap()) mergeFrom(merge[i], 0);
        else ctx_.error(merge[i], childPath(path_, "<<"), "a merge key takes mappings, got " + describeNode(merge[i]));
      }
    } else {
      ctx_.error(merge, childPath(path_, "<<"), "a merge key takes a mapping or a list of mappings, got " +
                                                     describeNode(merge));
    }
  }
}

// YAML merge keys (`<<: *defaults`): keys written in the mapping win, then earlier sources.
void MapReader::mergeFrom(const YAML::Node& source, int depth) {
  if (depth > 16) return;  // an alias cycle; yaml-cpp already refuses most of them
  std::vector<YAML::Node> nested;
  for (auto it = source.begin(); it != source.end(); ++it) {
    if (!it->first.IsScalar()) continue;
    std::string key = it->first.Scalar();
    if (key == "<<") {
      nested.push_back(it->second);
      continue;
    }
    bool present = std::any_of(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.key == key; });
    if (!present) entries_.push_back(Entry{std::move(key), it->first, it->second});
  }
  for (const auto& n : nested) {
    if (n.IsMap()) mergeFrom(n, depth + 1);
    if (n.IsSequence()) {
      for (size_t i = 0; i < n.size(); ++i) {
        if (n[i].IsMap()) mergeFrom(n[i], depth + 1);
      }
    }
  }
}

const YAML::Node* MapReader::get(std::string_view key) {
  if (std::find(known_.begin(), known_.end(), key) == known_.end()) known_.emplace_back(key);
  for (const auto& e : entries_) {
    if (e.key == key) return &e.value;
  }
  return nullptr;
}

void MapReader::declare(std::initializer_list<std::string_view> keys) {
  for (auto k : keys) get(k);
}

void MapReader::ignore(std::string_view key) { ignored_.emplace_back(key); }

SourceLocation MapReader::keyLocation(std::string_view key) const {
  for (const auto& e : entries_) {
    if (e.key == key) return ctx_.locate(e.keyNode);
  }
  return location();
}

SourceLocation MapReader::location() const { return ctx_.locate(node_); }

std::optional<std::string> MapReader::string(std::string_view key) {
  auto* v = get(key);
  return v ? readString(ctx_, *v, pathOf(key)) : std::nullopt;
}
std::optional<bool> MapReader::boolean(std::string_view key) {
  auto* v = get(key);
  return v ? readBool(ctx_, *v, pathOf(key)) : std::nullopt;
}
std::optional<uint64_t> MapReader::uint(std::string_view key, uint64_t min, uint64_t max) {
  auto* v = get(key);
  return v ? readUint(ctx_, *v, pathOf(key), min, max) : std::nullopt;
}
std::optional<uint64_t> MapReader::size(std::string_view key) {
  auto* v = get(key);
  return v ? readSize(ctx_, *v, pathOf(key)) : std::nullopt;
}
std::optional<uint64_t> MapReader::rate(std::string_view key) {
  auto* v = get(key);
  return v ? readRate(ctx_, *v, pathOf(key)) : std::nullopt;
}
std::optional<std::chrono::milliseconds> MapReader::duration(std::string_view key) {
  auto* v = get(key);
  return v ? readDuration(ctx_, *v, pathOf(key)) : std::nullopt;
}
std::optional<double> MapReader::cores(std::string_view key) {
  auto* v = get(key);
  return v ? readCores(ctx_, *v, pathOf(key)) : std::nullopt;
}
std::optional<std::string> MapReader::choice(std::string_view key, const std::vector<std::string>& choices,
                                             std::string_view what) {
  auto* v = get(key);
  return v ? readChoice(ctx_, *v, pathOf(key), choices, what) : std::nullopt;
}
std::optional<std::vector<std::string>> MapReader::stringList(std::string_view key) {
  auto* v = get(key);
  return v ? readStringList(ctx_, *v, pathOf(key)) : std::nullopt;
}
std::optional<std::map<std::string, std::string>> MapReader::stringMap(std::string_view key) {
  auto* v = get(key);
  return v ? readStringMap(ctx_, *v, pathOf(key)) : std::nullopt;
}

void MapReader::finish() {
  if (finished_) return;
  finished_ = true;
  for (const auto& e : entries_) {
    if (std::find(known_.begin(), known_.end(), e.key) != known_.end()) continue;
    if (std::find(ignored_.begin(), ignored_.end(), e.key) != ignored_.end()) continue;
    ctx_.error(e.keyNode, childPath(path_, e.key), "unknown key" + didYouMean(e.key, known_));
  }
}

}  // namespace cgwarden::config
