#include "config/Loader.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "config/Sections.h"
#include "config/YamlReader.h"

namespace cgwarden::config {

std::string ConfigIssue::render() const {
  std::string out = where.file;
  if (where.line > 0) out += ":" + std::to_string(where.line) + ":" + std::to_string(where.column);
  out += ": ";
  if (!keyPath.empty()) out += keyPath + ": ";
  out += message;
  return out;
}

template <class T>
std::string Loaded<T>::renderErrors() const {
  std::string out;
  for (const auto& e : errors) out += e.render() + "\n";
  return out;
}

template struct Loaded<Config>;
template struct Loaded<WorkloadSpec>;
template struct Loaded<Limits>;

namespace {

// Parses the YAML text itself; a syntax error becomes the only issue.
std::optional<YAML::Node> loadYaml(std::string_view text, ParseContext& ctx) {
  try {
    return YAML::Load(std::string(text));
  } catch (const YAML::ParserException& e) {
    SourceLocation where{ctx.file(), e.mark.line >= 0 ? e.mark.line + 1 : 0,
                         e.mark.column >= 0 ? e.mark.column + 1 : 0};
    ctx.error(where, "", "YAML syntax error: " + e.msg);
  } catch (const YAML::Exception& e) {
    ctx.error(SourceLocation{ctx.file(), 0, 0}, "", std::string("YAML error: ") + e.what());
  }
  return std::nullopt;
}

template <class T, class Fn>
Loaded<T> run(std::string_view text, const std::string& displayName, Fn parse) {
  ParseContext ctx(displayName);
  Loaded<T> out;
  if (auto root = loadYaml(text, ctx)) {
    try {
      T value = parse(*root, ctx);
      if (!ctx.hasErrors()) out.value = std::move(value);
    } catch (const YAML::Exception& e) {  // a yaml-cpp corner we did not guard: still no crash
      ctx.error(SourceLocation{displayName, 0, 0}, "", std::string("internal error reading YAML: ") + e.what());
    }
  }
  out.errors = ctx.takeErrors();
  // Sections are read in table order; the reader wants the file's order.
  std::stable_sort(out.errors.begin(), out.errors.end(), [](const ConfigIssue& a, const ConfigIssue& b) {
    return std::pair(a.where.line, a.where.column) < std::pair(b.where.line, b.where.column);
  });
  return out;
}

}  // namespace

Loaded<Config> parseConfigText(std::string_view text, const std::string& displayName) {
  return run<Config>(text, displayName, [&](const YAML::Node& root, ParseContext& ctx) {
    Config config;
    config.path = displayName;
    MapReader top(ctx, root, "");
    if (!top.isMap()) return config;
    for (const auto& section : configSections()) {
      if (auto* node = top.get(section.key)) section.parse(*node, section.key, ctx, config);
    }
    for (const auto& e : top.entries()) {
      if (e.key.rfind("x-", 0) == 0) top.ignore(e.key);  // extension keys: anchors for `<<: *name`
    }
    top.finish();
    for (const auto& section : configSections()) {
      if (section.finish) section.finish(ctx, config);
    }
    return config;
  });
}

Loaded<Config> loadConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    Loaded<Config> out;
    out.errors.push_back(ConfigIssue{SourceLocation{path, 0, 0}, "",
                                     std::string("cannot read the config file: ") + std::strerror(err)});
    return out;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    Loaded<Config> out;
    out.errors.push_back(ConfigIssue{SourceLocation{path, 0, 0}, "", "cannot read the config file: I/O error"});
    return out;
  }
  return parseConfigText(text.str(), path);
}

Loaded<WorkloadSpec> parseWorkloadText(std::string_view text, const std::string& displayName,
                                       const AgentSpec& agent) {
  return run<WorkloadSpec>(text, displayName, [&](const YAML::Node& root, ParseContext& ctx) {
    WorkloadSpec w = parseWorkload(root, "", ctx);
    completeWorkload(w, agent);
    return w;
  });
}

Loaded<WorkloadSpec> parseWorkloadText(std::string_view text, const std::string& displayName) {
  return parseWorkloadText(text, displayName, AgentSpec{});
}

Loaded<Limits> parseLimitsText(std::string_view text, const std::string& displayName) {
  return run<Limits>(text, displayName,
                     [&](const YAML::Node& root, ParseContext& ctx) { return parseLimits(root, "", ctx); });
}

}  // namespace cgwarden::config
