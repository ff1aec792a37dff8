#pragma once
// Parses the Prometheus text exposition format (what /metrics serves) for assertions:
// samples with their labels, and the # TYPE of each family.

#include <cmath>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace cgwarden::testing {

struct PromSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
  bool hasTimestamp = false;
};

struct PromText {
  std::vector<PromSample> samples;
  std::map<std::string, std::string> types;  // family -> counter|gauge|...
  std::vector<std::string> errors;           // lines that did not parse

  // Samples of `name` whose labels include all of `want`.
  std::vector<const PromSample*> find(const std::string& name, const std::map<std::string, std::string>& want = {}) const {
    std::vector<const PromSample*> out;
    for (const auto& s : samples) {
      if (s.name != name) continue;
      bool ok = true;
      for (const auto& [k, v] : want) {
        auto it = s.labels.find(k);
        ok = ok && it != s.labels.end() && it->second == v;
      }
      if (ok) out.push_back(&s);
    }
    return out;
  }
  // The value of the single matching sample; nullopt when none or several match.
  std::optional<double> value(const std::string& name, const std::map<std::string, std::string>& want = {}) const {
    auto found = find(name, want);
    if (found.size() != 1) return std::nullopt;
    return found[0]->value;
  }
  // Like value(), but NaN when missing or ambiguous: every comparison with it fails.
  double at(const std::string& name, const std::map<std::string, std::string>& want = {}) const {
    auto v = value(name, want);
    return v ? *v : std::nan("");
  }
  bool mentions(const std::string& labelName, const std::string& labelValue) const {
    for (const auto& s : samples) {
      auto it = s.labels.find(labelName);
      if (it != s.labels.end() && it->second == labelValue) return true;
    }
    return false;
  }
};

inline PromText parsePromText(const std::string& text) {
  PromText out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty()) continue;
    if (line.rfind("# TYPE ", 0) == 0) {
      size_t sp = line.find(' ', 7);
      if (sp != std::string::npos) out.types[line.substr(7, sp - 7)] = line.substr(sp + 1);
      continue;
    }
    if (line[0] == '#') continue;
    PromSample s;
    size_t i = line.find_first_of("{ ");
    if (i == std::string::npos) {
      out.errors.push_back(line);
      continue;
    }
    s.name = line.substr(0, i);
    if (line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        size_t eq = line.find('=', i);
        if (eq == std::string::npos || eq + 1 >= line.size() || line[eq + 1] != '"') break;
        std::string key = line.substr(i, eq - i);
        std::string val;
        size_t j = eq + 2;
        for (; j < line.size() && line[j] != '"'; ++j) {
          if (line[j] == '\\' && j + 1 < line.size()) {
            ++j;
            val += line[j] == 'n' ? '\n' : line[j];
          } else {
            val += line[j];
          }
        }
        s.labels[key] = val;
        i = j + 1;
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (i >= line.size() || line[i] != '}') {
        out.errors.push_back(line);
        continue;
      }
      ++i;
    }
    std::string rest = line.substr(i);
    char* endp = nullptr;
    s.value = std::strtod(rest.c_str(), &endp);
    if (endp == rest.c_str()) {
      out.errors.push_back(line);
      continue;
    }
    while (*endp == ' ') ++endp;
    s.hasTimestamp = *endp != '\0';
    out.samples.push_back(std::move(s));
  }
  return out;
}

}  // namespace cgwarden::testing
