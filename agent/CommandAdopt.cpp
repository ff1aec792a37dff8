// `cgwarden adopt PID --name NAME [limit flags]`: moves a running process and all its
// descendants into a new managed workload (POST /api/v1/adopt).
#include <cstdio>
#include <string>

#include "agent/ApiClient.h"
#include "agent/ApiJson.h"
#include "agent/Commands.h"
#include "collectors/TextParse.h"

namespace cgwarden::agent {

namespace {

std::string adoptUsage() {
  return std::string(
             "usage: cgwarden adopt PID --name NAME [LIMIT-FLAGS...]\n"
             "\n"
             "Moves process PID, its threads and all its descendants (children forked during the move\n"
             "included) into the new workload NAME, with the limits given. The agent refuses pid 1,\n"
             "itself, kernel threads and processes of other managed workloads. An adopted workload\n"
             "cannot be restarted: the agent does not know how to start it.\n"
             "\n") +
         limitFlagsUsage();
}

}  // namespace

int commandAdopt(const std::vector<std::string>& args) {
  static const std::string usage = adoptUsage();
  int code = kExitOk;
  auto flags = beginVerb(args, "adopt", usage.c_str(), code);
  if (!flags) return code;
  std::optional<uint64_t> pid;
  std::string name;
  std::vector<std::string> limitArgs;
  const auto& rest = flags->rest;
  for (size_t i = 0; i < rest.size(); ++i) {
    const std::string& a = rest[i];
    if (a == "--name" || a.rfind("--name=", 0) == 0) {
      if (a == "--name" && i + 1 >= rest.size()) return usageError("adopt", "--name needs a value");
      name = a == "--name" ? rest[++i] : a.substr(7);
    } else if (a.rfind("--", 0) == 0) {
      limitArgs.push_back(a);
      if (a.find('=') == std::string::npos && i + 1 < rest.size()) limitArgs.push_back(rest[++i]);
    } else if (!pid) {
      pid = parseUint64(a);
      if (!pid || *pid == 0 || *pid > 4194304) return usageError("adopt", "\"" + a + "\" is not a process id");
    } else {
      return usageError("adopt", "unexpected argument \"" + a + "\"");
    }
  }
  if (!pid) return usageError("adopt", "missing PID");
  if (name.empty()) return usageError("adopt", "missing --name NAME");
  Limits limits;
  if (!limitArgs.empty()) {
    auto parsed = parseLimitFlags(limitArgs);
    if (!parsed) return usageError("adopt", parsed.error().message());
    limits = *parsed;
  }
  nlohmann::json body = {{"pid", *pid}, {"name", name}, {"limits", limitsToJson(limits)}};

  auto session = ApiSession::open(*flags, "adopt", code);
  if (!session) return code;
  auto reply = session->call("POST", "/api/v1/adopt", body.dump(), code);
  if (!reply) return code;
  if (reply->status != 200 && reply->status != 201) return session->report(*reply);
  const auto& r = reply->body;
  bool complete = r.value("complete", false);
  if (flags->json) {
    std::printf("%s\n", r.dump(2).c_str());
  } else {
    std::string moved;
    for (const auto& p : r["moved"]) moved += " " + std::to_string(p.get<long long>());
    std::printf("adopted pid %llu into %s (%s): moved %zu process(es):%s\n", static_cast<unsigned long long>(*pid),
                name.c_str(), r.value("cgroup", std::string("?")).c_str(), r["moved"].size(), moved.c_str());
    for (const auto& s : r["skipped"]) {
      std::printf("  left pid %lld where it is: %s\n", s.value("pid", 0LL), s.value("reason", std::string()).c_str());
    }
  }
  if (!complete) {
    std::fprintf(stderr, "cgwarden adopt: the move did not complete: processes of the tree may be left outside\n");
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace cgwarden::agent
