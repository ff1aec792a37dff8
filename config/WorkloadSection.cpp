#include <sys/resource.h>

#include <algorithm>
#include <map>

#include "collectors/Limits.h"
#include "collectors/TextParse.h"
#include "config/Sections.h"
#include "config/SystemLookup.h"
#include "config/Units.h"

namespace cgwarden::config {

namespace {

bool isEnvName(std::string_view name) {
  if (name.empty() || (name.front() >= '0' && name.front() <= '9')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// Appended to "container_label_", so any [a-zA-Z0-9_]+ makes a valid Prometheus label name.
bool isLabelSuffix(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

std::optional<std::string> checkEnvName(std::string_view key) {
  if (isEnvName(key)) return std::nullopt;
  return quoted(key) + " is not a valid environment variable name (letters, digits, '_')";
}

std::optional<std::string> checkLabelName(std::string_view key) {
  if (isLabelSuffix(key)) return std::nullopt;
  return quoted(key) + " is not a valid label name (letters, digits, '_'; exported as container_label_<name>)";
}

// RFC 1123 host name, at most HOST_NAME_MAX (64) bytes.
bool isHostname(std::string_view name) {
  if (name.empty() || name.size() > 64 || name.front() == '-' || name.front() == '.') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
  });
}

enum class RlimitUnit { Count, Bytes, Seconds, Microseconds };

struct RlimitInfo {
  const char* name;
  int resource;
  RlimitUnit unit;
};

constexpr RlimitInfo kRlimits[] = {
    {"as", RLIMIT_AS, RlimitUnit::Bytes},           {"core", RLIMIT_CORE, RlimitUnit::Bytes},
    {"cpu", RLIMIT_CPU, RlimitUnit::Seconds},       {"data", RLIMIT_DATA, RlimitUnit::Bytes},
    {"fsize", RLIMIT_FSIZE, RlimitUnit::Bytes},     {"locks", RLIMIT_LOCKS, RlimitUnit::Count},
    {"memlock", RLIMIT_MEMLOCK, RlimitUnit::Bytes}, {"msgqueue", RLIMIT_MSGQUEUE, RlimitUnit::Bytes},
    {"nice", RLIMIT_NICE, RlimitUnit::Count},       {"nofile", RLIMIT_NOFILE, RlimitUnit::Count},
    {"nproc", RLIMIT_NPROC, RlimitUnit::Count},     {"rss", RLIMIT_RSS, RlimitUnit::Bytes},
    {"rtprio", RLIMIT_RTPRIO, RlimitUnit::Count},   {"rttime", RLIMIT_RTTIME, RlimitUnit::Microseconds},
    {"sigpending", RLIMIT_SIGPENDING, RlimitUnit::Count}, {"stack", RLIMIT_STACK, RlimitUnit::Bytes},
};

std::optional<uint64_t> readRlimitValue(ParseContext& ctx, const YAML::Node& node, const std::string& path,
                                        RlimitUnit unit) {
  auto text = readString(ctx, node, path);
  if (!text) return std::nullopt;
  std::string_view t = trim(*text);
  if (t == "unlimited" || t == "infinity" || t == "max") return static_cast<uint64_t>(RLIM_INFINITY);
  switch (unit) {
    case RlimitUnit::Count:
      if (auto n = parseUint64(t)) return n;
      ctx.error(node, path, quoted(*text) + " is not a whole number or \"unlimited\"");
      return std::nullopt;
    case RlimitUnit::Bytes:
      if (auto n = parseSize(t)) return n;
      ctx.error(node, path, quoted(*text) + " is not a size (e.g. 64Mi, 1.5G) or \"unlimited\"");
      return std::nullopt;
    case RlimitUnit::Seconds:
      if (auto d = parseDuration(t); d && d->count() % 1000 == 0) return static_cast<uint64_t>(d->count() / 1000);
      ctx.error(node, path, quoted(*text) + " is not a whole number of seconds (e.g. 60, 10m) or \"unlimited\"");
      return std::nullopt;
    case RlimitUnit::Microseconds:
      if (auto us = parseMicroseconds(t)) return us;
      ctx.error(node, path, quoted(*text) + " is not a time in microseconds (e.g. 500000, 500ms) or \"unlimited\"");
      return std::nullopt;
  }
  return std::nullopt;
}

void parseRlimits(const YAML::Node& node, const std::string& path, ParseContext& ctx, WorkloadSpec& out) {
  MapReader map(ctx, node, path);
  if (!map.isMap()) return;
  for (const auto& r : kRlimits) map.declare({r.name});
  for (const auto& e : map.entries()) {
    const RlimitInfo* info = nullptr;
    for (const auto& r : kRlimits) {
      if (e.key == r.name) info = &r;
    }
    if (!info) continue;  // reported by finish()
    std::string keyPath = childPath(path, e.key);
    RlimitSpec spec;
    spec.resource = info->resource;
    if (e.value.IsScalar()) {
      auto v = readRlimitValue(ctx, e.value, keyPath, info->unit);
      if (!v) continue;
      spec.soft = spec.hard = *v;
    } else {
      MapReader pair(ctx, e.value, keyPath);
      if (!pair.isMap()) continue;
      auto* soft = pair.get("soft");
      auto* hard = pair.get("hard");
      pair.finish();
      if (!soft || !hard) {
        ctx.error(pair.location(), keyPath, std::string("missing key \"") + (soft ? "hard" : "soft") + "\"");
        continue;
      }
      auto s = readRlimitValue(ctx, *soft, childPath(keyPath, "soft"), info->unit);
      auto h = readRlimitValue(ctx, *hard, childPath(keyPath, "hard"), info->unit);
      if (!s || !h) continue;
      if (*s > *h) {
        ctx.error(*soft, childPath(keyPath, "soft"), "soft limit is above the hard limit");
        continue;
      }
      spec.soft = *s;
      spec.hard = *h;
    }
    out.rlimits.push_back(spec);
  }
  map.finish();
}

void parseNamespaces(const YAML::Node& node, const std::string& path, ParseContext& ctx, NamespaceSpec& out) {
  MapReader map(ctx, node, path);
  if (!map.isMap()) return;
  if (auto v = map.boolean("pid")) out.pid = *v;
  if (auto v = map.boolean("mount")) out.mount = *v;
  if (auto v = map.boolean("uts")) out.uts = *v;
  if (auto v = map.boolean("ipc")) out.ipc = *v;
  if (auto v = map.boolean("cgroup")) out.cgroup = *v;
  if (auto* net = map.get("net")) {
    static const std::vector<std::string> kBoolWords = {"true", "false", "yes", "no", "on", "off"};
    const std::string text = net->IsScalar() ? net->Scalar() : "";
    if (text == "host" || text == "private") {
      out.net = text == "private";
    } else if (net->IsScalar() && std::find(kBoolWords.begin(), kBoolWords.end(), text) != kBoolWords.end()) {
      if (auto v = readBool(ctx, *net, map.pathOf("net"))) out.net = *v;
    } else if (net->IsScalar()) {
      ctx.error(*net, map.pathOf("net"),
                quoted(text) + " is not a network mode (expected true, false, private or host)");
    } else {
      ctx.error(*net, map.pathOf("net"), "expected true, false, private or host, got " + describeNode(*net));
    }
  }
  map.finish();
}

void parseRestart(const YAML::Node& node, const std::string& path, ParseContext& ctx, RestartSpec& out) {
  static const std::vector<std::string> kPolicies = {"never", "on-failure", "always"};
  auto toPolicy = [](const std::string& s) {
    return s == "never" ? RestartPolicy::Never : s == "always" ? RestartPolicy::Always : RestartPolicy::OnFailure;
  };
  if (node.IsScalar()) {  // restart: always
    if (auto v = readChoice(ctx, node, path, kPolicies, "restart policy")) out.policy = toPolicy(*v);
    return;
  }
  MapReader map(ctx, node, path);
  if (!map.isMap()) return;
  if (auto v = map.choice("policy", kPolicies, "restart policy")) out.policy = toPolicy(*v);
  if (auto v = map.uint("max_restarts", 0, UINT32_MAX)) out.maxRestarts = static_cast<uint32_t>(*v);
  if (auto v = map.duration("reset_after")) out.resetAfter = *v;
  if (auto* backoff = map.get("backoff")) {
    MapReader b(ctx, *backoff, map.pathOf("backoff"));
    if (b.isMap()) {
      if (auto v = b.duration("initial")) out.initialBackoff = *v;
      if (auto v = b.duration("max")) out.maxBackoff = *v;
      if (out.initialBackoff > out.maxBackoff) {
        const YAML::Node* at = b.get("initial") ? b.get("initial") : b.get("max");
        ctx.error(at ? ctx.locate(*at) : b.location(), b.path(),
                  "initial (" + formatDuration(out.initialBackoff) + ") is above max (" +
                      formatDuration(out.maxBackoff) + ")");
      }
      b.finish();
    }
  }
  map.finish();
}

void parseOutput(const YAML::Node& node, const std::string& path, ParseContext& ctx, OutputSpec& out) {
  auto setPath = [&](const YAML::Node& at, const std::string& atPath, const std::string& text) {
    if (text == "inherit") out.mode = OutputSpec::Mode::Inherit;
    else if (text == "null") out.mode = OutputSpec::Mode::Null;
    else if (text == "file") out.mode = OutputSpec::Mode::File;
    else if (!text.empty() && text.front() == '/') {
      out.mode = OutputSpec::Mode::File;
      out.path = text;
    } else {
      ctx.error(at, atPath, quoted(text) + " is not inherit, null, file or an absolute path" +
                                didYouMean(text, {"inherit", "null", "file"}));
    }
  };
  if (node.IsNull()) {  // `stdout: null` is a YAML null, not the string "null"
    out.mode = OutputSpec::Mode::Null;
    return;
  }
  if (node.IsScalar()) {
    setPath(node, path, node.Scalar());
    return;
  }
  MapReader map(ctx, node, path);
  if (!map.isMap()) return;
  out.mode = OutputSpec::Mode::File;
  if (auto v = map.string("file")) {
    if (!v->empty() && v->front() == '/') out.path = *v;
    else ctx.error(*map.get("file"), map.pathOf("file"), quoted(*v) + " is not an absolute path");
  }
  if (auto v = map.size("rotate_size")) {
    if (*v >= 4096) out.rotateBytes = *v;
    else ctx.error(*map.get("rotate_size"), map.pathOf("rotate_size"), "must be at least 4Ki (or max)");
  }
  if (auto v = map.uint("keep", 0, 1000)) out.keep = static_cast<uint32_t>(*v);
  map.finish();
}

}  // namespace

bool isWorkloadName(std::string_view name) {
  constexpr size_t kMaxNameLength = 64;
  if (name.empty() || name.size() > kMaxNameLength) return false;
  auto lowerOrDigit = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!lowerOrDigit(name.front())) return false;
  return std::all_of(name.begin(), name.end(),
                     [&](char c) { return lowerOrDigit(c) || c == '_' || c == '.' || c == '-'; });
}

std::string invalidNameMessage(std::string_view name) {
  return quoted(name) +
         " is not a valid name (lowercase letters, digits, '_', '.', '-', starting with a letter or digit, at most 64 "
         "characters)";
}

WorkloadSpec parseWorkload(const YAML::Node& node, const std::string& path, ParseContext& ctx) {
  WorkloadSpec w;
  w.location = ctx.locate(node);
  MapReader map(ctx, node, path);
  if (!map.isMap()) return w;
  if (node.IsNull()) {
    ctx.error(node, path, "expected a workload (a mapping with name and command), got nothing");
    return w;
  }

  if (auto* name = map.get("name")) {
    if (auto v = readString(ctx, *name, map.pathOf("name"))) {
      if (isWorkloadName(*v)) w.name = *v;
      else
        ctx.error(*name, map.pathOf("name"), invalidNameMessage(*v));
    }
  } else {
    ctx.error(map.location(), path, "missing key \"name\"");
  }

  if (auto* command = map.get("command")) {
    std::string cpath = map.pathOf("command");
    if (command->IsScalar()) {
      if (trim(command->Scalar()).empty()) ctx.error(*command, cpath, "the command is empty");
      else w.command = {"/bin/sh", "-c", command->Scalar()};
    } else if (command->IsSequence()) {
      if (auto argv = readStringList(ctx, *command, cpath)) {
        if (argv->empty()) ctx.error(*command, cpath, "the command is empty");
        else if ((*argv)[0].empty()) ctx.error((*command)[0], indexPath(cpath, 0), "the program name is empty");
        else w.command = *argv;
      }
    } else {
      ctx.error(*command, cpath, "expected a list (argv) or a string (run by /bin/sh -c), got " +
                                     describeNode(*command));
    }
  } else {
    ctx.error(map.location(), path, "missing key \"command\"");
  }

  if (auto* env = map.get("env")) {
    if (auto vars = readStringMap(ctx, *env, map.pathOf("env"), checkEnvName)) w.env = *vars;
  }
  if (auto v = map.string("working_dir")) {
    if (!v->empty() && v->front() == '/') w.workingDir = *v;
    else ctx.error(*map.get("working_dir"), map.pathOf("working_dir"), quoted(*v) + " is not an absolute path");
  }
  if (auto v = map.string("user")) {
    auto ids = resolveUser(*v);
    if (ids.value) {
      w.user = *v;
      w.uid = ids.value->uid;
      w.gid = ids.value->primaryGid ? *ids.value->primaryGid : ids.value->uid;
    } else {
      ctx.error(*map.get("user"), map.pathOf("user"), ids.error);
    }
  }
  if (auto v = map.string("group")) {
    auto gid = resolveGroup(*v);
    if (gid.value) {
      w.group = *v;
      w.gid = *gid.value;
    } else {
      ctx.error(*map.get("group"), map.pathOf("group"), gid.error);
    }
  }
  if (auto* labels = map.get("labels")) {
    if (auto values = readStringMap(ctx, *labels, map.pathOf("labels"), checkLabelName)) w.labels = *values;
  }
  if (auto v = map.string("image")) w.image = *v;
  if (auto* ns = map.get("namespaces")) parseNamespaces(*ns, map.pathOf("namespaces"), ctx, w.namespaces);
  if (auto v = map.string("hostname")) {
    if (!isHostname(*v))
      ctx.error(*map.get("hostname"), map.pathOf("hostname"),
                quoted(*v) + " is not a valid host name (letters, digits, '-', '.', at most 64 characters)");
    else if (!w.namespaces.uts)
      ctx.error(*map.get("hostname"), map.pathOf("hostname"),
                "needs namespaces.uts (without it the workload shares the host's name)");
    else
      w.hostname = *v;
  }
  if (auto* rl = map.get("rlimits")) parseRlimits(*rl, map.pathOf("rlimits"), ctx, w);
  if (auto* limits = map.get("limits")) w.limits = parseLimits(*limits, map.pathOf("limits"), ctx);
  if (auto* restart = map.get("restart")) parseRestart(*restart, map.pathOf("restart"), ctx, w.restart);
  if (auto v = map.string("stop_signal")) {
    if (auto sig = parseSignal(*v)) w.stopSignal = *sig;
    else
      ctx.error(*map.get("stop_signal"), map.pathOf("stop_signal"),
                quoted(*v) + " is not a signal (e.g. SIGTERM, INT, 15)");
  }
  if (auto v = map.duration("stop_grace")) w.stopGrace = *v;
  if (auto* o = map.get("stdout")) parseOutput(*o, map.pathOf("stdout"), ctx, w.stdoutSpec);
  if (auto* o = map.get("stderr")) parseOutput(*o, map.pathOf("stderr"), ctx, w.stderrSpec);
  if (w.stdoutSpec.mode == OutputSpec::Mode::File && w.stderrSpec.mode == OutputSpec::Mode::File &&
      w.stdoutSpec.path == w.stderrSpec.path &&
      (w.stdoutSpec.rotateBytes != w.stderrSpec.rotateBytes || w.stdoutSpec.keep != w.stderrSpec.keep)) {
    ctx.error(*map.get("stderr"), map.pathOf("stderr"),
              "shares its file with stdout but sets different rotate_size or keep");
  }
  map.finish();
  return w;
}

void completeWorkload(WorkloadSpec& workload, const AgentSpec& agent) {
  if (workload.hostname.empty() && workload.namespaces.uts) workload.hostname = workload.name;
  for (OutputSpec* out : {&workload.stdoutSpec, &workload.stderrSpec}) {
    if (out->mode == OutputSpec::Mode::File && out->path.empty())
      out->path = agent.stateDir + "/logs/" + workload.name + ".log";
  }
}

void parseWorkloadsSection(const YAML::Node& node, const std::string& path, ParseContext& ctx, Config& out) {
  parseNamedList<WorkloadSpec>(node, path, ctx, "workloads", "workload", parseWorkload, out.workloads);
}

void finishWorkloadsSection(ParseContext&, Config& out) {
  for (auto& w : out.workloads) completeWorkload(w, out.agent);
}

}  // namespace cgwarden::config
