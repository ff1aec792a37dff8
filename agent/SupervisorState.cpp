#include "agent/SupervisorState.h"

#include <filesystem>

#include <nlohmann/json.hpp>

#include "collectors/FileIo.h"
#include "collectors/ProcessInfo.h"

namespace cgwarden::agent {

using nlohmann::json;

const char* workloadKindName(WorkloadKind kind) { return kind == WorkloadKind::Adopted ? "adopted" : "launched"; }

namespace {

// Thrown only inside this file, caught in stateFromJson: the key path that is wrong.
struct BadField {
  std::string where;
  std::string what;
};

template <class T>
void putOpt(json& j, const char* key, const std::optional<T>& v) {
  if (v) j[key] = *v;
}

json limitsToJson(const Limits& l) {
  json j = json::object();
  json cpu = json::object(), mem = json::object(), pids = json::object(), io = json::object();
  putOpt(cpu, "quota_us", l.cpu.quotaUs);
  putOpt(cpu, "period_us", l.cpu.periodUs);
  putOpt(cpu, "weight", l.cpu.weight);
  putOpt(cpu, "cpus", l.cpu.cpus);
  putOpt(cpu, "mems", l.cpu.mems);
  putOpt(mem, "max", l.memory.max);
  putOpt(mem, "high", l.memory.high);
  putOpt(mem, "low", l.memory.low);
  putOpt(mem, "swap_max", l.memory.swapMax);
  putOpt(pids, "max", l.pids.max);
  putOpt(io, "weight", l.io.weight);
  if (!l.io.devices.empty()) {
    json devs = json::array();
    for (const auto& d : l.io.devices) {
      json dj = {{"major", d.major}, {"minor", d.minor}};
      putOpt(dj, "read_bps", d.readBps);
      putOpt(dj, "write_bps", d.writeBps);
      putOpt(dj, "read_iops", d.readIops);
      putOpt(dj, "write_iops", d.writeIops);
      devs.push_back(dj);
    }
    io["devices"] = devs;
  }
  if (!cpu.empty()) j["cpu"] = cpu;
  if (!mem.empty()) j["memory"] = mem;
  if (!pids.empty()) j["pids"] = pids;
  if (!io.empty()) j["io"] = io;
  return j;
}

const char* restartPolicyName(config::RestartPolicy p) {
  switch (p) {
    case config::RestartPolicy::Never: return "never";
    case config::RestartPolicy::OnFailure: return "on_failure";
    case config::RestartPolicy::Always: return "always";
  }
  return "on_failure";
}

const char* outputModeName(config::OutputSpec::Mode m) {
  switch (m) {
    case config::OutputSpec::Mode::Inherit: return "inherit";
    case config::OutputSpec::Mode::File: return "file";
    case config::OutputSpec::Mode::Null: return "null";
  }
  return "inherit";
}

json outputToJson(const config::OutputSpec& o) {
  return {{"mode", outputModeName(o.mode)}, {"path", o.path}, {"rotate_bytes", o.rotateBytes}, {"keep", o.keep}};
}

json specToJson(const config::WorkloadSpec& s) {
  json j;
  j["name"] = s.name;
  j["command"] = s.command;
  j["env"] = s.env;
  j["working_dir"] = s.workingDir;
  putOpt(j, "uid", s.uid);
  putOpt(j, "gid", s.gid);
  j["user"] = s.user;
  j["group"] = s.group;
  j["labels"] = s.labels;
  j["image"] = s.image;
  j["namespaces"] = {{"pid", s.namespaces.pid},   {"mount", s.namespaces.mount}, {"uts", s.namespaces.uts},
                     {"ipc", s.namespaces.ipc},   {"net", s.namespaces.net},     {"cgroup", s.namespaces.cgroup}};
  j["hostname"] = s.hostname;
  json rl = json::array();
  for (const auto& r : s.rlimits) rl.push_back({{"resource", r.resource}, {"soft", r.soft}, {"hard", r.hard}});
  j["rlimits"] = rl;
  j["limits"] = limitsToJson(s.limits);
  j["restart"] = {{"policy", restartPolicyName(s.restart.policy)},
                  {"max_restarts", s.restart.maxRestarts},
                  {"initial_backoff_ms", s.restart.initialBackoff.count()},
                  {"max_backoff_ms", s.restart.maxBackoff.count()},
                  {"reset_after_ms", s.restart.resetAfter.count()}};
  j["stop_signal"] = s.stopSignal;
  j["stop_grace_ms"] = s.stopGrace.count();
  j["stdout"] = outputToJson(s.stdoutSpec);
  j["stderr"] = outputToJson(s.stderrSpec);
  return j;
}

// ---- reading: every getter names the key path on a type mismatch ----

const json* member(const json& j, const char* key, const std::string& where) {
  if (!j.is_object()) throw BadField{where, "not an object"};
  auto it = j.find(key);
  return it == j.end() || it->is_null() ? nullptr : &*it;
}

template <class T>
void get(const json& j, const char* key, const std::string& where, T& out) {
  const json* v = member(j, key, where);
  if (v == nullptr) return;
  std::string at = where + "." + key;
  if constexpr (std::is_same_v<T, bool>) {
    if (!v->is_boolean()) throw BadField{at, "not a boolean"};
  } else if constexpr (std::is_integral_v<T>) {
    if (!v->is_number_integer()) throw BadField{at, "not an integer"};
    if constexpr (std::is_unsigned_v<T>) {
      if (v->is_number_unsigned() == false && v->get<int64_t>() < 0) throw BadField{at, "negative"};
    }
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!v->is_string()) throw BadField{at, "not a string"};
  }
  try {
    out = v->get<T>();
  } catch (const json::exception& e) {
    throw BadField{at, e.what()};
  }
}

template <class T>
void getOpt(const json& j, const char* key, const std::string& where, std::optional<T>& out) {
  if (member(j, key, where) == nullptr) return;
  T v{};
  get(j, key, where, v);
  out = v;
}

void getMs(const json& j, const char* key, const std::string& where, std::chrono::milliseconds& out) {
  int64_t ms = out.count();
  get(j, key, where, ms);
  out = std::chrono::milliseconds(ms);
}

Limits limitsFromJson(const json& j, const std::string& where) {
  Limits l;
  if (const json* cpu = member(j, "cpu", where)) {
    std::string w = where + ".cpu";
    getOpt(*cpu, "quota_us", w, l.cpu.quotaUs);
    getOpt(*cpu, "period_us", w, l.cpu.periodUs);
    getOpt(*cpu, "weight", w, l.cpu.weight);
    getOpt(*cpu, "cpus", w, l.cpu.cpus);
    getOpt(*cpu, "mems", w, l.cpu.mems);
  }
  if (const json* mem = member(j, "memory", where)) {
    std::string w = where + ".memory";
    getOpt(*mem, "max", w, l.memory.max);
    getOpt(*mem, "high", w, l.memory.high);
    getOpt(*mem, "low", w, l.memory.low);
    getOpt(*mem, "swap_max", w, l.memory.swapMax);
  }
  if (const json* pids = member(j, "pids", where)) getOpt(*pids, "max", where + ".pids", l.pids.max);
  if (const json* io = member(j, "io", where)) {
    std::string w = where + ".io";
    getOpt(*io, "weight", w, l.io.weight);
    if (const json* devs = member(*io, "devices", w)) {
      if (!devs->is_array()) throw BadField{w + ".devices", "not an array"};
      for (size_t i = 0; i < devs->size(); ++i) {
        std::string dw = w + ".devices[" + std::to_string(i) + "]";
        IoDeviceLimit d;
        get((*devs)[i], "major", dw, d.major);
        get((*devs)[i], "minor", dw, d.minor);
        getOpt((*devs)[i], "read_bps", dw, d.readBps);
        getOpt((*devs)[i], "write_bps", dw, d.writeBps);
        getOpt((*devs)[i], "read_iops", dw, d.readIops);
        getOpt((*devs)[i], "write_iops", dw, d.writeIops);
        l.io.devices.push_back(d);
      }
    }
  }
  return l;
}

config::OutputSpec outputFromJson(const json& j, const std::string& where) {
  config::OutputSpec o;
  std::string mode = outputModeName(o.mode);
  get(j, "mode", where, mode);
  if (mode == "inherit") {
    o.mode = config::OutputSpec::Mode::Inherit;
  } else if (mode == "file") {
    o.mode = config::OutputSpec::Mode::File;
  } else if (mode == "null") {
    o.mode = config::OutputSpec::Mode::Null;
  } else {
    throw BadField{where + ".mode", "unknown output mode \"" + mode + "\""};
  }
  get(j, "path", where, o.path);
  get(j, "rotate_bytes", where, o.rotateBytes);
  get(j, "keep", where, o.keep);
  return o;
}

config::WorkloadSpec specFromJson(const json& j, const std::string& where) {
  config::WorkloadSpec s;
  get(j, "name", where, s.name);
  get(j, "command", where, s.command);
  get(j, "env", where, s.env);
  get(j, "working_dir", where, s.workingDir);
  getOpt(j, "uid", where, s.uid);
  getOpt(j, "gid", where, s.gid);
  get(j, "user", where, s.user);
  get(j, "group", where, s.group);
  get(j, "labels", where, s.labels);
  get(j, "image", where, s.image);
  if (const json* ns = member(j, "namespaces", where)) {
    std::string w = where + ".namespaces";
    get(*ns, "pid", w, s.namespaces.pid);
    get(*ns, "mount", w, s.namespaces.mount);
    get(*ns, "uts", w, s.namespaces.uts);
    get(*ns, "ipc", w, s.namespaces.ipc);
    get(*ns, "net", w, s.namespaces.net);
    get(*ns, "cgroup", w, s.namespaces.cgroup);
  }
  get(j, "hostname", where, s.hostname);
  if (const json* rl = member(j, "rlimits", where)) {
    if (!rl->is_array()) throw BadField{where + ".rlimits", "not an array"};
    for (size_t i = 0; i < rl->size(); ++i) {
      std::string w = where + ".rlimits[" + std::to_string(i) + "]";
      config::RlimitSpec r;
      get((*rl)[i], "resource", w, r.resource);
      get((*rl)[i], "soft", w, r.soft);
      get((*rl)[i], "hard", w, r.hard);
      s.rlimits.push_back(r);
    }
  }
  if (const json* l = member(j, "limits", where)) s.limits = limitsFromJson(*l, where + ".limits");
  if (const json* r = member(j, "restart", where)) {
    std::string w = where + ".restart";
    std::string policy = restartPolicyName(s.restart.policy);
    get(*r, "policy", w, policy);
    if (policy == "never") {
      s.restart.policy = config::RestartPolicy::Never;
    } else if (policy == "on_failure") {
      s.restart.policy = config::RestartPolicy::OnFailure;
    } else if (policy == "always") {
      s.restart.policy = config::RestartPolicy::Always;
    } else {
      throw BadField{w + ".policy", "unknown restart policy \"" + policy + "\""};
    }
    get(*r, "max_restarts", w, s.restart.maxRestarts);
    getMs(*r, "initial_backoff_ms", w, s.restart.initialBackoff);
    getMs(*r, "max_backoff_ms", w, s.restart.maxBackoff);
    getMs(*r, "reset_after_ms", w, s.restart.resetAfter);
  }
  get(j, "stop_signal", where, s.stopSignal);
  getMs(j, "stop_grace_ms", where, s.stopGrace);
  if (const json* o = member(j, "stdout", where)) s.stdoutSpec = outputFromJson(*o, where + ".stdout");
  if (const json* o = member(j, "stderr", where)) s.stderrSpec = outputFromJson(*o, where + ".stderr");
  return s;
}

json entryToJson(const StateEntry& e) {
  return {{"name", e.spec.name},     {"kind", workloadKindName(e.kind)}, {"state", e.state},
          {"pid", e.pid},            {"start_ticks", e.startTicks},      {"restarts", e.restarts},
          {"oom_kills", e.oomKills}, {"oom_counter_at_start", e.oomCounterAtStart},
          {"started_at_ms", e.startedAtMs},
          {"spec", specToJson(e.spec)}};
}

}  // namespace

bool StateEntry::operator==(const StateEntry& other) const { return entryToJson(*this) == entryToJson(other); }

std::string stateToJson(const AgentState& state) {
  json j;
  j["version"] = 1;
  j["workloads"] = json::array();
  for (const auto& e : state.workloads) j["workloads"].push_back(entryToJson(e));
  return j.dump(2) + "\n";
}

Result<AgentState> stateFromJson(std::string_view text, const std::string& path) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Error::invalid("read state", path, "not valid JSON");
  AgentState state;
  try {
    int version = 0;
    get(j, "version", "", version);
    if (version != 1) throw BadField{".version", "unsupported state version " + std::to_string(version)};
    const json* ws = member(j, "workloads", "");
    if (ws == nullptr) return state;
    if (!ws->is_array()) throw BadField{".workloads", "not an array"};
    for (size_t i = 0; i < ws->size(); ++i) {
      const json& wj = (*ws)[i];
      std::string w = "workloads[" + std::to_string(i) + "]";
      StateEntry e;
      std::string kind = "launched";
      get(wj, "kind", w, kind);
      if (kind == "launched") {
        e.kind = WorkloadKind::Launched;
      } else if (kind == "adopted") {
        e.kind = WorkloadKind::Adopted;
      } else {
        throw BadField{w + ".kind", "unknown kind \"" + kind + "\""};
      }
      get(wj, "state", w, e.state);
      get(wj, "pid", w, e.pid);
      get(wj, "start_ticks", w, e.startTicks);
      get(wj, "restarts", w, e.restarts);
      get(wj, "oom_kills", w, e.oomKills);
      get(wj, "oom_counter_at_start", w, e.oomCounterAtStart);
      get(wj, "started_at_ms", w, e.startedAtMs);
      const json* spec = member(wj, "spec", w);
      if (spec == nullptr) throw BadField{w + ".spec", "missing"};
      e.spec = specFromJson(*spec, w + ".spec");
      std::string name;
      get(wj, "name", w, name);
      if (!name.empty() && name != e.spec.name) throw BadField{w + ".name", "differs from spec.name"};
      if (e.spec.name.empty()) throw BadField{w + ".spec.name", "missing"};
      state.workloads.push_back(std::move(e));
    }
  } catch (const BadField& b) {
    std::string where = b.where;
    if (!where.empty() && where[0] == '.') where.erase(0, 1);
    return Error::invalid("read state", path, where + ": " + b.what);
  }
  return state;
}

Result<AgentState> readStateFile(const std::string& path) {
  auto text = readFile(path);
  if (!text) {
    if (text.error().errnum == ENOENT) return AgentState{};
    return text.error();
  }
  return stateFromJson(*text, path);
}

Status writeStateFile(const std::string& path, const AgentState& state) {
  auto slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    std::error_code ec;
    std::filesystem::create_directories(path.substr(0, slash), ec);
    if (ec) return Error::fromErrno("create state directory", path.substr(0, slash), ec.value());
  }
  return writeFileAtomic(path, stateToJson(state), 0600);
}

std::optional<uint64_t> processStartTicks(pid_t pid, const std::string& procRoot) {
  if (pid <= 0) return std::nullopt;
  auto stat = collectors::readProcStat(pid, procRoot);
  if (!stat || stat->state == 'Z' || stat->state == 'X') return std::nullopt;
  return stat->startTimeTicks;
}

bool sameProcessAlive(pid_t pid, uint64_t startTicks, const std::string& procRoot) {
  auto ticks = processStartTicks(pid, procRoot);
  return ticks && *ticks == startTicks;
}

}  // namespace cgwarden::agent
