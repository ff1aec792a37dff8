// `cgwarden set NAME --memory 128Mi --cpus 1 ...`: live limits
// (PATCH /api/v1/workloads/NAME/limits); the workload keeps running.
#include <cstdio>
#include <string>

#include "agent/ApiClient.h"
#include "agent/ApiJson.h"
#include "agent/Commands.h"

namespace cgwarden::agent {

namespace {

std::string setUsage() {
  return std::string(
             "usage: cgwarden set NAME LIMIT-FLAGS...\n"
             "\n"
             "Changes limits of a running workload without restarting it: each flag given is written to\n"
             "the workload's cgroup at once and kept for its next runs; limits not given stay as they are.\n"
             "Example: cgwarden set web --memory 256Mi --cpus 1.5\n"
             "\n") +
         limitFlagsUsage();
}

}  // namespace

int commandSet(const std::vector<std::string>& args) {
  static const std::string usage = setUsage();
  int code = kExitOk;
  auto flags = beginVerb(args, "set", usage.c_str(), code);
  if (!flags) return code;
  const auto& rest = flags->rest;
  if (rest.empty() || rest[0].rfind("-", 0) == 0) return usageError("set", "missing NAME: cgwarden set NAME --memory 128Mi ...");
  std::string name = rest[0];
  std::vector<std::string> limitArgs(rest.begin() + 1, rest.end());
  if (limitArgs.empty()) return usageError("set", "no limit given (e.g. --memory 128Mi)");
  auto limits = parseLimitFlags(limitArgs);
  if (!limits) return usageError("set", limits.error().message());

  auto session = ApiSession::open(*flags, "set", code);
  if (!session) return code;
  auto reply = session->call("PATCH", workloadTarget(name, "limits"), limitsToJson(*limits).dump(), code);
  if (!reply) return code;
  if (reply->status != 200) return session->report(*reply);
  if (flags->json) {
    std::printf("%s\n", reply->body.dump(2).c_str());
  } else {
    std::printf("%s: %s\n", name.c_str(), describeLimits(*limits).c_str());
  }
  return kExitOk;
}

}  // namespace cgwarden::agent
