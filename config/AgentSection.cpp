#include <algorithm>

#include "collectors/Sampler.h"
#include "collectors/TextParse.h"
#include "config/Sections.h"

namespace cgwarden::config {

namespace {

// "127.0.0.1:9839", "[::1]:9839", ":9839", "localhost:9839". The host is not resolved here.
bool isListenAddress(std::string_view text) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return false;
  std::string_view host = text.substr(0, colon);
  auto port = parseUint64(text.substr(colon + 1));
  if (!port || *port > 65535) return false;
  if (!host.empty() && host.front() == '[') return host.size() > 2 && host.back() == ']';
  return host.find(':') == std::string_view::npos &&
         std::all_of(host.begin(), host.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                  c == '-' || c == '*';
         });
}

bool isRelativeCgroupPath(std::string_view text) {
  if (text.empty() || text.front() == '/' || text.back() == '/') return false;
  for (auto part : splitOn(text, '/')) {
    if (part.empty() || part == "." || part == "..") return false;
  }
  return text.find('\n') == std::string_view::npos;
}

}  // namespace

void parseAgentSection(const YAML::Node& node, const std::string& path, ParseContext& ctx, Config& out) {
  MapReader map(ctx, node, path);
  if (!map.isMap()) return;
  AgentSpec& agent = out.agent;
  if (auto v = map.string("cgroup_root")) {
    if (isRelativeCgroupPath(*v)) agent.cgroupRoot = *v;
    else
      ctx.error(*map.get("cgroup_root"), map.pathOf("cgroup_root"),
                quoted(*v) + " is not a relative cgroup path (e.g. cgwarden or system.slice/cgwarden)");
  }
  if (auto v = map.duration("sample_interval")) {
    if (*v >= std::chrono::milliseconds(10)) agent.sampleInterval = *v;
    else ctx.error(*map.get("sample_interval"), map.pathOf("sample_interval"), "must be at least 10ms");
  }
  if (auto v = map.duration("detail_interval")) {
    if (*v >= std::chrono::milliseconds(10)) agent.detailInterval = *v;
    else ctx.error(*map.get("detail_interval"), map.pathOf("detail_interval"), "must be at least 10ms");
  }
  if (auto v = map.stringList("sample_every_tick")) {
    std::vector<std::string> names = {"all"};
    for (uint32_t bit = 1; bit & collectors::kAllDetailSections; bit <<= 1)
      names.emplace_back(collectors::sampleSectionName(static_cast<collectors::SampleSection>(bit)));
    uint32_t mask = 0;
    for (size_t i = 0; i < v->size(); ++i) {
      const std::string& name = (*v)[i];
      uint32_t section = name == "all" ? uint32_t{collectors::kAllDetailSections} : collectors::sampleSectionByName(name);
      if (section == 0) {
        ctx.error((*map.get("sample_every_tick"))[i], indexPath(map.pathOf("sample_every_tick"), i),
                  quoted(name) + " is not a sampling section" + didYouMean(name, names) + "; expected " +
                      listChoices(names));
      }
      mask |= section;
    }
    agent.sampleEveryTick = mask;
  }
  if (auto v = map.string("listen")) {
    if (isListenAddress(*v)) agent.listen = *v;
    else
      ctx.error(*map.get("listen"), map.pathOf("listen"),
                quoted(*v) + " is not a listen address (e.g. 127.0.0.1:9839, [::1]:9839, :9839)");
  }
  if (auto v = map.choice("log_level", {"trace", "debug", "info", "warn", "error", "critical", "off"}, "log level"))
    agent.logLevel = *v;
  if (auto v = map.choice("log_format", {"text", "json"}, "log format")) agent.logFormat = *v;
  if (auto v = map.string("state_dir")) {
    if (!v->empty() && v->front() == '/') agent.stateDir = *v;
    else ctx.error(*map.get("state_dir"), map.pathOf("state_dir"), quoted(*v) + " is not an absolute path");
  }
  if (auto v = map.boolean("leave_running")) agent.leaveRunning = *v;
  if (auto v = map.stringList("observe")) {
    bool ok = true;
    for (size_t i = 0; i < v->size(); ++i) {
      if ((*v)[i].empty()) {
        ctx.error((*map.get("observe"))[i], indexPath(map.pathOf("observe"), i), "an empty glob matches nothing");
        ok = false;
      }
    }
    if (ok) agent.observe = *v;
  }
  map.finish();
}

}  // namespace cgwarden::config
