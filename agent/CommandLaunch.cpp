// `cgwarden launch NAME [options] -- CMD ARGS`: an ad-hoc workload in the running agent
// (POST /api/v1/workloads). The options are `cgwarden exec`'s (ExecOptions.h) plus
// --restart, --label and --output; the workload is then supervised like a configured one.
#include <cstdio>

#include "agent/ApiClient.h"
#include "agent/ApiJson.h"
#include "agent/Commands.h"
#include "agent/ExecOptions.h"
#include "config/Sections.h"

namespace cgwarden::agent {

namespace {

const char* kLaunchUsage =
    "usage: cgwarden launch NAME [options] -- CMD [ARGS...]\n"
    "\n"
    "Starts CMD as the workload NAME in the running agent: its own cgroup with the limits below,\n"
    "namespaces, restart policy; then `cgwarden ps` lists it and `cgwarden stop NAME` / `rm NAME`\n"
    "end it. NAME: lowercase letters, digits, '_', '.', '-'. It is not written to the config file.\n"
    "\n"
    "  --restart POLICY     never, on-failure (default) or always\n"
    "  --label KEY=VALUE    exported as container_label_KEY (repeatable)\n"
    "  --output WHERE       stdout and stderr: file (default: <state_dir>/logs/NAME.log), null,\n"
    "                       inherit (the agent's own), or an absolute path\n"
    "  --memory SIZE  --memory-high SIZE  --memory-low SIZE  --memory-swap SIZE\n"
    "  --cpus CORES  --cpu-weight N  --cpuset LIST  --pids N  --io-weight N\n"
    "                       limits, as for `cgwarden exec` (see cgwarden exec --help)\n"
    "  --hostname NAME  --net host|none  --no-ns  --user U  --group G  --workdir DIR\n"
    "  --env KEY=VALUE  --rlimit NAME=SOFT[:HARD]\n"
    "                       as for `cgwarden exec`\n";

}  // namespace

int commandLaunch(const std::vector<std::string>& args) {
  int code = kExitOk;
  auto flags = beginVerb(args, "launch", kLaunchUsage, code);
  if (!flags) return code;
  std::vector<std::string> rest = flags->rest;
  if (rest.empty() || rest[0] == "--") return usageError("launch", "missing NAME: cgwarden launch NAME [options] -- CMD");
  std::string name = rest[0];
  if (!config::isWorkloadName(name)) return usageError("launch", "NAME \"" + name + "\": " + config::invalidNameMessage(name));

  // Our flags out; the exec parser gets the rest (it stops at the command).
  std::string restart = "on-failure";
  std::string output = "file";
  std::map<std::string, std::string> labels;
  std::vector<std::string> execArgs;
  size_t i = 1;
  for (; i < rest.size(); ++i) {
    const std::string& a = rest[i];
    if (a == "--" || a.rfind("--", 0) != 0) break;
    std::string flag = a.substr(0, a.find('='));
    bool inlineValue = a.find('=') != std::string::npos;
    if (flag == "--name" || flag == "--cgroup-root") {
      return usageError("launch", flag + " is not for launch: the name is the first argument, the root the agent's");
    }
    if (flag == "--restart" || flag == "--label" || flag == "--output") {
      std::string value;
      if (inlineValue) {
        value = a.substr(a.find('=') + 1);
      } else if (i + 1 < rest.size()) {
        value = rest[++i];
      } else {
        return usageError("launch", flag + " needs a value");
      }
      if (flag == "--restart") {
        if (value != "never" && value != "on-failure" && value != "always") {
          return usageError("launch", "--restart: \"" + value + "\" is not never, on-failure or always");
        }
        restart = value;
      } else if (flag == "--label") {
        auto eq = value.find('=');
        if (eq == std::string::npos || eq == 0) return usageError("launch", "--label: \"" + value + "\" is not KEY=VALUE");
        labels[value.substr(0, eq)] = value.substr(eq + 1);
      } else {
        if (value != "file" && value != "null" && value != "inherit" && value.rfind('/', 0) != 0) {
          return usageError("launch", "--output: \"" + value + "\" is not file, null, inherit or an absolute path");
        }
        output = value;
      }
      continue;
    }
    execArgs.push_back(a);
    if (!inlineValue && flag != "--no-ns" && i + 1 < rest.size()) execArgs.push_back(rest[++i]);
  }
  execArgs.insert(execArgs.end(), rest.begin() + static_cast<long>(i), rest.end());
  auto parsed = parseExecArgs(execArgs);
  if (!parsed) return usageError("launch", parsed.error().message());

  config::WorkloadSpec& spec = parsed->spec;
  spec.name = name;
  spec.labels = labels;
  nlohmann::json body = workloadSpecToJson(spec);
  // Only what was asked for: the agent's loader fills the defaults (and resolves users).
  body.erase("stdout");
  body.erase("stderr");
  body["restart"] = restart;
  body.erase("stop_signal");
  body.erase("stop_grace");
  nlohmann::json out = output == "null" ? nlohmann::json(nullptr) : nlohmann::json(output);
  body["stdout"] = out;
  body["stderr"] = out;

  auto session = ApiSession::open(*flags, "launch", code);
  if (!session) return code;
  auto reply = session->call("POST", "/api/v1/workloads", body.dump(), code);
  if (!reply) return code;
  if (reply->status != 201) return session->report(*reply);
  if (flags->json) {
    std::printf("%s\n", reply->body.dump(2).c_str());
    return kExitOk;
  }
  const auto& w = reply->body;
  std::printf("%s: %s, pid %s, cgroup %s\n", name.c_str(), w.value("state", std::string("?")).c_str(),
              w["pid"].is_number() ? std::to_string(w["pid"].get<long long>()).c_str() : "-",
              w["cgroup"].is_string() ? w["cgroup"].get<std::string>().c_str() : "-");
  return kExitOk;
}

}  // namespace cgwarden::agent
