#include "agent/ControlApi.h"

#include <strings.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <mutex>

#include "Version.h"
#include "agent/Adopter.h"
#include "agent/ApiJson.h"
#include "agent/ApiToken.h"
#include "agent/Sha256.h"
#include "collectors/FileIo.h"
#include "collectors/TextParse.h"
#include "config/Sections.h"
#include "config/YamlReader.h"

namespace cgwarden::agent {

namespace {

using nlohmann::json;
using collectors::Snapshot;
using collectors::TargetSample;

constexpr const char* kBodyName = "request";

HttpResponse reply(int status, const json& body) {
  return HttpResponse::json(status, body.dump(-1, ' ', false, json::error_handler_t::replace));
}

HttpResponse fail(int status, const std::string& message, const std::string& field = "") {
  json body = {{"error", message}};
  if (!field.empty()) body["field"] = field;
  return reply(status, body);
}

json issueJson(const config::ConfigIssue& issue) {
  json j = {{"field", issue.keyPath}, {"message", issue.message}};
  if (!issue.where.file.empty() && issue.where.file != kBodyName) j["file"] = issue.where.file;
  if (issue.where.line > 0) {
    j["line"] = issue.where.line;
    j["column"] = issue.where.column;
  }
  return j;
}

// 400 (or `status`) for config-loader issues: the first one in front, all of them in "issues".
HttpResponse failIssues(const std::vector<config::ConfigIssue>& issues, int status = 400) {
  json body = json::object();
  const auto& first = issues.front();
  std::string head = first.keyPath.empty() ? first.message : first.keyPath + ": " + first.message;
  if (issues.size() > 1) head += " (and " + std::to_string(issues.size() - 1) + " more)";
  body["error"] = head;
  body["field"] = first.keyPath;
  if (first.where.line > 0) {
    body["line"] = first.where.line;
    body["column"] = first.where.column;
  }
  json all = json::array();
  for (const auto& i : issues) all.push_back(issueJson(i));
  body["issues"] = std::move(all);
  return reply(status, body);
}

HttpResponse failError(int status, const Error& e) {
  json body = {{"error", e.message()}};
  if (e.errnum != 0) body["errno"] = e.errnum;
  return reply(status, body);
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(::tolower(static_cast<unsigned char>(c)));
  return out;
}

// For lifecycle calls: what the supervisor's errors mean to a client.
int lifecycleStatus(const Error& e) {
  if (e.operation == "find workload" && e.errnum == ENOENT) return 404;
  switch (e.errnum) {
    case 0: return 409;  // refused in the current state: "not running", "it has no cgroup"
    case EEXIST:
    case EBUSY:
    case ETIMEDOUT: return 409;
    default: return 500;
  }
}

// For live limits: the kernel's EINVAL/ERANGE and our own checks are bad values.
int limitsStatus(const Error& e) {
  if (e.operation == "find workload" && e.errnum == ENOENT) return 404;
  switch (e.errnum) {
    case 0:
    case EINVAL:
    case ERANGE: return 400;
    case EBUSY: return 409;  // v1: memory limit below the current usage
    default: return 500;
  }
}

int adoptStatus(const Error& e) {
  if (e.errnum == ESRCH) return 404;
  if (e.errnum == EEXIST) return 409;
  if (e.errnum == 0 && e.operation == "adopt") return 403;
  if (e.errnum == 0 && e.operation == "parse") return 400;
  return 500;
}

std::optional<YAML::Node> loadYaml(std::string_view text, config::ParseContext& ctx) {
  try {
    return YAML::Load(std::string(text));
  } catch (const YAML::ParserException& e) {
    ctx.error(config::SourceLocation{ctx.file(), e.mark.line + 1, e.mark.column + 1}, "", "syntax error: " + e.msg);
  } catch (const YAML::Exception& e) {
    ctx.error(config::SourceLocation{ctx.file(), 0, 0}, "", std::string("syntax error: ") + e.what());
  }
  return std::nullopt;
}

}  // namespace

struct ControlApi::State {
  Supervisor& supervisor;
  collectors::CgroupLayout layout;
  ControlApiOptions options;
  ApiToken token;

  std::mutex mu;  // everything below
  SnapshotFn snapshotsFn;
  EventsFn eventsFn;
  AdoptFn adoptFn;
  ReloadFn reloadFn;
  std::string configPath;
  std::string configHash;

  State(Supervisor& s, collectors::CgroupLayout l, ControlApiOptions o)
      : supervisor(s), layout(std::move(l)), options(std::move(o)) {}

  // --- plumbing ---------------------------------------------------------------------
  // One line per call: control characters and non-ASCII bytes from the request are escaped
  // (\x0a), so a crafted path cannot forge or split audit lines.
  static std::string printable(std::string_view s, size_t max = 256) {
    std::string out;
    for (char c : s.substr(0, max)) {
      auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u >= 0x7f || c == '\\') {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\x%02x", u);
        out += buf;
      } else {
        out += c;
      }
    }
    if (s.size() > max) out += "...";
    return out;
  }

  void audit(const HttpRequest& req, const std::string& workload, int status, const std::string& result) const {
    std::string line = "audit: " + printable(req.method, 16) + " " + printable(req.path);
    if (!workload.empty()) line += " workload=" + printable(workload);
    line += " status=" + std::to_string(status) + " remote=" + req.remoteAddress;
    if (!result.empty()) line += " (" + printable(result, 512) + ")";
    if (status >= 400) {
      spdlog::warn("{}", line);
    } else {
      spdlog::info("{}", line);
    }
  }

  bool authorized(const HttpRequest& req) const {
    auto header = req.header("Authorization");
    if (!header) return false;
    auto presented = bearerToken(*header);
    return presented && tokensEqual(*presented, token.value);
  }

  // Checks a write body: media type, JSON syntax, nesting. Empty bodies pass unless required.
  std::optional<HttpResponse> checkJson(const HttpRequest& req, bool required) const {
    if (trim(req.body).empty()) {
      if (required) return fail(400, "a JSON body is required");
      return std::nullopt;
    }
    auto type = req.header("Content-Type");
    std::string media = type ? lower(trim(type->substr(0, type->find(';')))) : "";
    if (media != "application/json") {
      return fail(415, type ? "Content-Type \"" + std::string(*type) + "\" is not supported; send application/json"
                            : "Content-Type is missing; send application/json");
    }
    if (size_t depth = jsonNestingDepth(req.body); depth > options.maxJsonDepth) {
      return fail(400, "JSON nested " + std::to_string(depth) + " levels deep; at most " +
                           std::to_string(options.maxJsonDepth) + " are accepted");
    }
    try {
      json parsed = json::parse(req.body);
      if (!parsed.is_object()) return fail(400, std::string("expected a JSON object, got ") + parsed.type_name());
    } catch (const json::parse_error& e) {
      auto [line, column] = lineColumnOf(req.body, e.byte > 0 ? e.byte - 1 : 0);
      std::string what = e.what();
      if (auto p = what.find("syntax error"); p != std::string::npos) what = what.substr(p);
      json body = {{"error", "invalid JSON: " + what}, {"line", line}, {"column", column}};
      return reply(400, body);
    }
    return std::nullopt;
  }

  // A body that may only be empty or {} (stop, restart, ...).
  std::optional<HttpResponse> checkNoFields(const HttpRequest& req) const {
    if (auto bad = checkJson(req, false)) return bad;
    if (trim(req.body).empty()) return std::nullopt;
    json parsed = json::parse(req.body, nullptr, false);
    if (!parsed.empty()) return fail(400, "unknown field \"" + parsed.begin().key() + "\": this call takes no fields", parsed.begin().key());
    return std::nullopt;
  }

  std::shared_ptr<const Snapshot> snapshot() {
    SnapshotFn fn;
    {
      std::lock_guard lock(mu);
      fn = snapshotsFn;
    }
    return fn ? fn() : nullptr;
  }

  // --- views --------------------------------------------------------------------------
  json usageJson(const Snapshot& snap, const TargetSample& t) const {
    json u = json::object();
    u["sampled_at"] = isoTime(t.sampleTime);
    u["cpu_seconds"] = t.hasCpu ? json(static_cast<double>(t.cpu.usageNs) / 1e9) : json(nullptr);
    auto [readBytes, writeBytes] = snap.ioTotals(t);
    json cpuPercent = nullptr, readRate = nullptr, writeRate = nullptr, window = nullptr, ioWindow = nullptr;
    const collectors::RateBase& p = t.previous;
    if (p.time > 0 && t.sampleTime > p.time) {
      double dt = t.sampleTime - p.time;
      window = dt;
      if (t.hasCpu && p.hasCpu && t.cpu.usageNs >= p.cpuUsageNs) {
        cpuPercent = static_cast<double>(t.cpu.usageNs - p.cpuUsageNs) / 1e9 / dt * 100.0;
      }
    }
    // IO is read every detail interval unless a policy needs it every tick: its rate spans
    // the last two IO reads.
    if (t.hasIo && p.hasIo && p.ioTime > 0 && t.ioTime > p.ioTime) {
      double dt = t.ioTime - p.ioTime;
      ioWindow = dt;
      const uint64_t pr = p.ioReadBytes, pw = p.ioWriteBytes;
      if (readBytes >= pr && writeBytes >= pw) {
        readRate = static_cast<double>(readBytes - pr) / dt;
        writeRate = static_cast<double>(writeBytes - pw) / dt;
      }
    }
    u["cpu_percent"] = cpuPercent;  // 100 = one core
    u["rate_window_seconds"] = window;
    u["io_rate_window_seconds"] = ioWindow;
    if (t.hasCpu && t.cpu.hasBandwidth) {
      u["cpu_periods"] = t.cpu.periods;
      u["cpu_throttled_periods"] = t.cpu.throttledPeriods;
    }
    if (t.hasMemory) {
      u["memory_bytes"] = t.memory.usageBytes;
      u["working_set_bytes"] = t.memory.workingSetBytes();
      u["rss_bytes"] = t.memory.rssBytes;
      u["cache_bytes"] = t.memory.cacheBytes;
      if (t.memory.hasSwap) u["swap_bytes"] = t.memory.swapBytes;
      if (t.memory.hasOomKills) u["oom_kills"] = t.memory.oomKills;
    }
    json limit = nullptr;
    if (t.hasSpec && t.spec.hasMemory && t.spec.memoryLimit != kUnlimited) limit = t.spec.memoryLimit;
    u["memory_limit_bytes"] = limit;
    if (t.hasSpec && t.spec.hasCpu && t.spec.cpuQuotaUs != kUnlimited && t.spec.cpuPeriodUs > 0) {
      u["cpu_limit_cores"] = static_cast<double>(t.spec.cpuQuotaUs) / static_cast<double>(t.spec.cpuPeriodUs);
    } else {
      u["cpu_limit_cores"] = nullptr;
    }
    if (t.hasPids) u["tasks"] = t.pidsCurrent;
    if (t.hasSpec && t.spec.hasPids) u["tasks_limit"] = t.spec.pidsMax == kUnlimited ? json(nullptr) : json(t.spec.pidsMax);
    if (t.hasProcesses) u["processes"] = t.processes;
    if (t.hasIo) {
      u["io_read_bytes"] = readBytes;
      u["io_write_bytes"] = writeBytes;
      u["io_read_bytes_per_second"] = readRate;
      u["io_write_bytes_per_second"] = writeRate;
    }
    return u;
  }

  json workloadJson(const WorkloadStatus& s, const collectors::SampleTarget* target,
                    const std::shared_ptr<const Snapshot>& snap) {
    json w = json::object();
    w["name"] = s.name;
    w["state"] = workloadStateName(s.state);
    w["kind"] = workloadKindName(s.kind);
    w["restartable"] = s.kind == WorkloadKind::Launched;
    w["pid"] = s.pid > 0 ? json(s.pid) : json(nullptr);
    w["cgroup"] = s.cgroupPath.empty() ? json(nullptr) : json("/" + s.cgroupPath);
    json pids = json::array();
    json frozen = nullptr;
    if (!s.cgroupPath.empty()) {
      if (auto cg = supervisor.cgroups().open(s.name)) {
        if (auto members = (*cg)->pids()) {
          std::vector<pid_t> sorted = *members;
          std::sort(sorted.begin(), sorted.end());
          pids = sorted;
        }
        if (auto f = (*cg)->frozen()) frozen = *f;
      }
    }
    w["pids"] = std::move(pids);
    w["frozen"] = frozen;
    w["restarts"] = s.restarts;
    w["oom_kills"] = s.oomKills;
    bool started = s.startedAt.time_since_epoch().count() > 0;
    w["started_at"] = started ? json(isoTime(s.startedAt)) : json(nullptr);
    if (started && (s.state == WorkloadState::Running || s.state == WorkloadState::Stopping)) {
      w["uptime_seconds"] = std::chrono::duration<double>(std::chrono::system_clock::now() - s.startedAt).count();
    } else {
      w["uptime_seconds"] = nullptr;
    }
    if (s.lastExit) {
      w["last_exit"] = {{"code", s.lastExit->shellCode()},
                        {"signal", s.lastExit->signaled ? json(signalName(s.lastExit->signal)) : json(nullptr)},
                        {"oom", s.lastExitWasOom},
                        {"description", s.lastExit->describe()}};
    } else {
      w["last_exit"] = nullptr;
    }
    w["last_error"] = s.lastError;
    if (s.state == WorkloadState::Restarting) w["restart_in_seconds"] = static_cast<double>(s.restartIn.count()) / 1000.0;
    w["labels"] = target != nullptr ? json(target->labels) : json::object();
    w["image"] = target != nullptr ? target->image : "";
    w["limits"] = limitsToJson(s.limits);
    json usage = nullptr;
    if (snap && !s.cgroupPath.empty()) {
      if (const TargetSample* t = snap->find("/" + s.cgroupPath)) usage = usageJson(*snap, *t);
    }
    w["usage"] = std::move(usage);
    return w;
  }

  json viewOf(const std::string& name) {
    auto st = supervisor.status(name);
    if (!st) return nullptr;
    auto targets = supervisor.sampleTargets();
    const collectors::SampleTarget* target = nullptr;
    for (const auto& t : targets) {
      if (t.name == name) target = &t;
    }
    return workloadJson(*st, target, snapshot());
  }

  // --- endpoints ----------------------------------------------------------------------
  HttpResponse info() {
    json j = json::object();
    j["version"] = kVersion;
    j["pid"] = ::getpid();
    j["started_at"] = isoTime(options.startedAt);
    j["uptime_seconds"] = std::chrono::duration<double>(std::chrono::system_clock::now() - options.startedAt).count();
    j["cgroup"] = {{"mode", collectors::cgroupModeName(layout.mode)},
                   {"root", supervisor.cgroups().root()},
                   {"controllers", supervisor.cgroups().controllers()},
                   {"layout", layout.describe()},
                   // Left by a previous agent, in no saved state, not empty: never touched.
                   {"unclaimed", supervisor.unclaimedCgroups()}};
    std::string path, hash;
    {
      std::lock_guard lock(mu);
      path = configPath;
      hash = configHash;
    }
    json cfg = {{"path", path.empty() ? json(nullptr) : json(path)}, {"sha256", hash.empty() ? json(nullptr) : json(hash)}};
    if (!path.empty()) {
      auto now = sha256File(path);
      cfg["sha256_on_disk"] = now ? json(*now) : json(nullptr);
      cfg["changed_on_disk"] = now ? json(*now != hash) : json(nullptr);
    }
    j["config"] = std::move(cfg);
    j["listen"] = options.agent.listen;
    j["state_dir"] = options.agent.stateDir;
    j["workloads"] = supervisor.list().size();
    j["api"] = {{"auth", "bearer"}, {"token_file", token.path}};
    return reply(200, j);
  }

  HttpResponse listWorkloads() {
    auto snap = snapshot();
    auto targets = supervisor.sampleTargets();
    json list = json::array();
    for (const auto& s : supervisor.list()) {
      const collectors::SampleTarget* target = nullptr;
      for (const auto& t : targets) {
        if (t.name == s.name) target = &t;
      }
      list.push_back(workloadJson(s, target, snap));
    }
    json body = {{"workloads", std::move(list)}};
    body["sampled_at"] = snap && snap->time > 0 ? json(isoTime(snap->time)) : json(nullptr);
    return reply(200, body);
  }

  HttpResponse getWorkload(const std::string& name) {
    json view = viewOf(name);
    if (view.is_null()) return fail(404, "no workload named \"" + name + "\"");
    return reply(200, view);
  }

  HttpResponse launch(const HttpRequest& req, std::string& workload, std::string& result) {
    if (auto bad = checkJson(req, true)) return *bad;
    auto loaded = config::parseWorkloadText(req.body, kBodyName, options.agent);
    if (!loaded.ok()) {
      result = loaded.errors.front().render();
      return failIssues(loaded.errors);
    }
    config::WorkloadSpec spec = std::move(*loaded.value);
    spec.location = config::SourceLocation{"api " + req.remoteAddress, 0, 0};
    workload = spec.name;
    if (supervisor.status(spec.name)) {
      result = "name in use";
      return fail(409, "a workload named \"" + spec.name + "\" already exists (DELETE it first, or pick another name)",
                  "name");
    }
    Status st = supervisor.launch(spec);
    if (!st) {
      result = st.error().message();
      if (supervisor.status(spec.name)) {
        json body = {{"error", st.error().message()}, {"workload", viewOf(spec.name)}};
        return reply(422, body);
      }
      if (st.error().errnum == EEXIST) return fail(409, st.error().message(), "name");
      return failError(st.error().errnum == 0 ? 400 : 500, st.error());
    }
    result = "launched";
    return reply(201, viewOf(spec.name));
  }

  HttpResponse setLimits(const HttpRequest& req, const std::string& name, std::string& result) {
    if (auto bad = checkJson(req, true)) return *bad;
    auto loaded = config::parseLimitsText(req.body, kBodyName);
    if (!loaded.ok()) {
      result = loaded.errors.front().render();
      return failIssues(loaded.errors);
    }
    if (*loaded.value == Limits{}) {
      result = "no limits given";
      return fail(400, "the body sets no limit (e.g. {\"memory\": {\"max\": \"128Mi\"}})");
    }
    Status st = supervisor.applyLimits(name, *loaded.value);
    if (!st) {
      result = st.error().message();
      return failError(limitsStatus(st.error()), st.error());
    }
    result = describeLimits(*loaded.value);
    return reply(200, viewOf(name));
  }

  HttpResponse getLimits(const std::string& name) {
    auto st = supervisor.status(name);
    if (!st) return fail(404, "no workload named \"" + name + "\"");
    json body = {{"configured", limitsToJson(st->limits)}, {"effective", nullptr}};
    if (!st->cgroupPath.empty()) {
      if (auto cg = supervisor.cgroups().open(name)) {
        if (auto eff = (*cg)->readLimits()) body["effective"] = limitsToJson(*eff);
      }
    }
    return reply(200, body);
  }

  HttpResponse lifecycle(const HttpRequest& req, const std::string& name, const std::string& action,
                         std::string& result) {
    if (auto bad = checkNoFields(req)) return *bad;
    Status st;
    int okStatus = 200;
    if (action == "stop") {
      st = supervisor.stop(name);
      okStatus = 202;
    } else if (action == "restart") {
      st = supervisor.restart(name);
      okStatus = 202;
    } else if (action == "freeze") {
      st = supervisor.freeze(name);
    } else if (action == "thaw") {
      st = supervisor.thaw(name);
    } else if (action == "delete") {
      st = supervisor.remove(name);
      okStatus = 202;
    }
    if (!st) {
      result = st.error().message();
      // restart of a workload that is not running launches it; a failed launch is a 422.
      if (action == "restart" && st.error().operation != "find workload") {
        auto s = supervisor.status(name);
        if (s && s->state == WorkloadState::Failed) {
          return reply(422, json{{"error", st.error().message()}, {"workload", viewOf(name)}});
        }
      }
      return failError(lifecycleStatus(st.error()), st.error());
    }
    result = action + " requested";
    json view = viewOf(name);
    if (view.is_null()) return reply(okStatus, json{{"name", name}, {"state", "removed"}});
    return reply(okStatus, view);
  }

  HttpResponse events(const HttpRequest& req) {
    EventsQuery q;
    if (auto v = req.queryParam("limit")) {
      auto n = parseUint64(*v);
      if (!n || *n == 0 || *n > 100000) return fail(400, "limit: \"" + *v + "\" is not a number from 1 to 100000", "limit");
      q.limit = static_cast<size_t>(*n);
    }
    if (auto v = req.queryParam("after")) {
      auto n = parseUint64(*v);
      if (!n) return fail(400, "after: \"" + *v + "\" is not a sequence number", "after");
      q.after = *n;
    }
    if (auto v = req.queryParam("rule")) q.rule = *v;
    if (auto v = req.queryParam("workload")) q.workload = *v;
    EventsFn fn;
    {
      std::lock_guard lock(mu);
      fn = eventsFn;
    }
    EventsPage page = fn ? fn(q) : EventsPage{};
    return reply(200, json{{"events", page.events}, {"last_seq", page.lastSeq}});
  }

  HttpResponse adoptPid(const HttpRequest& req, std::string& workload, std::string& result) {
    if (auto bad = checkJson(req, true)) return *bad;
    config::ParseContext ctx(kBodyName);
    AdoptRequest request;
    bool hasPid = false, hasName = false;
    if (auto root = loadYaml(req.body, ctx)) {
      config::MapReader map(ctx, *root, "");
      if (auto pid = map.uint("pid", 1, 4194304)) {
        request.pid = static_cast<pid_t>(*pid);
        hasPid = true;
      } else if (!map.has("pid")) {
        ctx.error(map.location(), "pid", "missing key \"pid\"");
      }
      if (const YAML::Node* node = map.get("name")) {
        if (auto name = config::readString(ctx, *node, "name")) {
          if (config::isWorkloadName(*name)) {
            request.name = *name;
            hasName = true;
          } else {
            ctx.error(*node, "name", config::invalidNameMessage(*name));
          }
        }
      } else {
        ctx.error(map.location(), "name", "missing key \"name\"");
      }
      if (const YAML::Node* node = map.get("limits")) request.limits = config::parseLimits(*node, "limits", ctx);
      map.finish();
    }
    if (ctx.hasErrors() || !hasPid || !hasName) {
      auto issues = ctx.takeErrors();
      result = issues.empty() ? "bad request" : issues.front().render();
      if (issues.empty()) return fail(400, "pid and name are required");
      return failIssues(issues);
    }
    workload = request.name;
    if (auto existing = supervisor.status(request.name)) {
      result = "name in use";
      return fail(409, "\"" + request.name + "\" is " +
                           (existing->kind == WorkloadKind::Launched ? "a launched" : "an adopted") +
                           " workload; adopt into another name",
                  "name");
    }
    AdoptFn fn;
    {
      std::lock_guard lock(mu);
      fn = adoptFn;
    }
    if (!fn) {
      result = "adoption not available";
      return fail(501, "adoption is not available in this agent (no adopter is wired)");
    }
    auto outcome = fn(request);
    if (!outcome) {
      result = outcome.error().message();
      return failError(adoptStatus(outcome.error()), outcome.error());
    }
    json skipped = json::array();
    for (const auto& [pid, why] : outcome->skipped) skipped.push_back({{"pid", pid}, {"reason", why}});
    json body = {{"workload", outcome->workload},     {"cgroup", "/" + outcome->cgroupPath},
                 {"pid", request.pid},                {"moved", outcome->moved},
                 {"members", outcome->members},       {"skipped", std::move(skipped)},
                 {"created", outcome->createdWorkload}, {"complete", outcome->complete},
                 {"limits", limitsToJson(request.limits)}};
    result = "moved " + std::to_string(outcome->moved.size()) + " process(es)" +
             (outcome->complete ? "" : ", INCOMPLETE");
    return reply(outcome->createdWorkload ? 201 : 200, body);
  }

  HttpResponse reloadConfig(const HttpRequest& req, std::string& result) {
    if (auto bad = checkNoFields(req)) return *bad;
    ReloadFn fn;
    {
      std::lock_guard lock(mu);
      fn = reloadFn;
    }
    if (!fn) {
      result = "reload not available";
      return fail(501, "reloading is not available in this agent (no reloader is wired); restart the agent");
    }
    auto outcome = fn();
    if (!outcome) {
      result = outcome.error().message();
      return failError(500, outcome.error());
    }
    if (!outcome->errors.empty()) {
      result = std::to_string(outcome->errors.size()) + " config error(s); nothing changed";
      HttpResponse r = failIssues(outcome->errors, 422);
      json body = json::parse(r.body);
      body["error"] = "the config has " + std::to_string(outcome->errors.size()) +
                      " error(s); the running config stays in force: " + body["error"].get<std::string>();
      return reply(422, body);
    }
    std::string path;
    {
      std::lock_guard lock(mu);
      path = configPath;
    }
    if (!path.empty()) {
      auto hash = sha256File(path);
      std::lock_guard lock(mu);
      configHash = hash ? *hash : "";
    }
    result = std::to_string(outcome->changes.size()) + " change(s)";
    return reply(200, json{{"changes", outcome->changes}});
  }

  // --- routing ------------------------------------------------------------------------
  HttpResponse handle(const HttpRequest& req) {
    const std::string& method = req.method;
    bool read = method == "GET" || method == "HEAD";
    if (!authorized(req)) {
      audit(req, "", 401, req.header("Authorization") ? "wrong token" : "no token");
      HttpResponse r = fail(401, req.header("Authorization") ? "invalid bearer token"
                                                              : "missing \"Authorization: Bearer <token>\" header "
                                                                "(the token is in the agent's api-token file)");
      r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"cgwarden\"");
      return r;
    }
    std::string_view rest = std::string_view(req.path).substr(std::min(req.path.size(), options.prefix.size()));
    std::vector<std::string_view> parts;
    for (std::string_view p : splitOn(rest, '/')) {
      if (!p.empty()) parts.push_back(p);
    }
    auto allow = [&](std::initializer_list<const char*> methods) -> std::optional<HttpResponse> {
      for (const char* m : methods) {
        if (method == m || (method == "HEAD" && std::string_view(m) == "GET")) return std::nullopt;
      }
      std::string list;
      for (const char* m : methods) list += (list.empty() ? "" : ", ") + std::string(m);
      HttpResponse r = fail(405, "method " + method + " is not allowed on " + req.path + " (allowed: " + list + ")");
      r.headers.emplace_back("Allow", list);
      return r;
    };
    std::string workload, result;
    auto done = [&](HttpResponse r) {
      if (!read) audit(req, workload, r.status, result);
      return r;
    };

    if (parts.size() == 1 && parts[0] == "info") {
      if (auto bad = allow({"GET"})) return done(*bad);
      return info();
    }
    if (parts.size() == 1 && parts[0] == "events") {
      if (auto bad = allow({"GET"})) return done(*bad);
      return events(req);
    }
    if (parts.size() == 1 && parts[0] == "adopt") {
      if (auto bad = allow({"POST"})) return done(*bad);
      return done(adoptPid(req, workload, result));
    }
    if (parts.size() == 1 && parts[0] == "reload") {
      if (auto bad = allow({"POST"})) return done(*bad);
      return done(reloadConfig(req, result));
    }
    if (!parts.empty() && parts[0] == "workloads" && parts.size() <= 3) {
      if (parts.size() == 1) {
        if (auto bad = allow({"GET", "POST"})) return done(*bad);
        if (read) return listWorkloads();
        return done(launch(req, workload, result));
      }
      std::string name(parts[1]);
      if (!config::isWorkloadName(name)) {
        result = "invalid name";
        return done(fail(400, "workload name " + config::quoted(name) + ": " + config::invalidNameMessage(name), "name"));
      }
      workload = name;
      if (parts.size() == 2) {
        if (auto bad = allow({"GET", "DELETE"})) return done(*bad);
        if (read) return getWorkload(name);
        return done(lifecycle(req, name, "delete", result));
      }
      std::string sub(parts[2]);
      if (sub == "limits") {
        if (auto bad = allow({"GET", "PATCH", "PUT"})) return done(*bad);
        if (read) return getLimits(name);
        return done(setLimits(req, name, result));
      }
      if (sub == "stop" || sub == "restart" || sub == "freeze" || sub == "thaw") {
        if (auto bad = allow({"POST"})) return done(*bad);
        return done(lifecycle(req, name, sub, result));
      }
    }
    result = "no such endpoint";
    return done(fail(404, "no API endpoint " + req.path + " (see docs/api.md)"));
  }
};

AdoptOutcome adoptOutcomeOf(const AdoptionEvent& event) {
  AdoptOutcome out;
  out.workload = event.workload;
  out.cgroupPath = event.cgroupPath;
  out.moved = event.moved;
  out.members = event.members;
  for (const auto& s : event.skipped) out.skipped.emplace_back(s.pid, s.reason);
  out.createdWorkload = event.createdWorkload;
  out.complete = event.complete;
  return out;
}

AdoptFn adoptFnFor(Adopter& adopter) {
  return [&adopter](const AdoptRequest& r) -> Result<AdoptOutcome> {
    auto ev = adopter.adoptPid(r.pid, r.name, r.limits);
    if (!ev) return ev.error();
    return adoptOutcomeOf(*ev);
  };
}

Result<std::unique_ptr<ControlApi>> ControlApi::create(Supervisor& supervisor, collectors::CgroupLayout layout,
                                                       ControlApiOptions options) {
  std::string tokenPath = options.tokenFile.empty() ? defaultTokenPath(options.agent.stateDir) : options.tokenFile;
  auto token = loadOrCreateApiToken(tokenPath);
  if (!token) {
    Error e = token.error();
    e.context("control API token");
    return e;
  }
  auto state = std::make_shared<State>(supervisor, std::move(layout), std::move(options));
  state->token = std::move(*token);
  if (state->token.created) spdlog::info("control API: created the token file {} (mode 0600)", state->token.path);
  state->configPath = state->options.configPath;
  if (!state->configPath.empty()) {
    auto hash = sha256File(state->configPath);
    if (hash) {
      state->configHash = *hash;
    } else {
      spdlog::warn("control API: cannot hash the config: {}", hash.error().message());
    }
  }
  return std::unique_ptr<ControlApi>(new ControlApi(std::move(state)));
}

ControlApi::ControlApi(std::shared_ptr<State> state) : state_(std::move(state)) {}
ControlApi::~ControlApi() = default;

void ControlApi::setSnapshotProvider(SnapshotFn fn) {
  std::lock_guard lock(state_->mu);
  state_->snapshotsFn = std::move(fn);
}
void ControlApi::setEventsProvider(EventsFn fn) {
  std::lock_guard lock(state_->mu);
  state_->eventsFn = std::move(fn);
}
void ControlApi::setAdopter(AdoptFn fn) {
  std::lock_guard lock(state_->mu);
  state_->adoptFn = std::move(fn);
}
void ControlApi::setReloader(ReloadFn fn) {
  std::lock_guard lock(state_->mu);
  state_->reloadFn = std::move(fn);
}
void ControlApi::setConfigPath(const std::string& path) {
  auto hash = path.empty() ? Result<std::string>(std::string()) : sha256File(path);
  std::lock_guard lock(state_->mu);
  state_->configPath = path;
  state_->configHash = hash ? *hash : "";
}

HttpResponse ControlApi::handle(const HttpRequest& request) { return state_->handle(request); }

void ControlApi::registerHandlers(HttpServer& server) {
  std::shared_ptr<State> state = state_;
  server.addHandler(state_->options.prefix, [state](const HttpRequest& r) { return state->handle(r); });
}

void ControlApi::unregisterHandlers(HttpServer& server) { server.removeHandler(state_->options.prefix); }

const std::string& ControlApi::tokenPath() const { return state_->token.path; }
bool ControlApi::tokenCreated() const { return state_->token.created; }

}  // namespace cgwarden::agent
