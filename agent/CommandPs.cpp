// `cgwarden ps`: the agent's workloads as a table (GET /api/v1/workloads).
#include <cstdio>

#include "agent/ApiClient.h"
#include "agent/Commands.h"
#include "agent/WorkloadTable.h"

namespace cgwarden::agent {

namespace {

const char* kPsUsage =
    "usage: cgwarden ps [options]\n"
    "\n"
    "Lists the running agent's workloads, one line each:\n"
    "  NAME  STATE  KIND  PID  CPU  MEM/LIMIT  PIDS  RESTARTS  UPTIME\n"
    "KIND is launched (started by cgwarden) or adopted (taken over; never restarted). CPU is the share of one core over the last sampling interval (100% = one core), MEM the\n"
    "cgroup's memory usage against its limit, PIDS its tasks (pids.current). With --json, the\n"
    "API's answer as is: {\"workloads\": [...]} (docs/api.md).\n";

}  // namespace

int commandPs(const std::vector<std::string>& args) {
  int code = kExitOk;
  auto flags = beginVerb(args, "ps", kPsUsage, code);
  if (!flags) return code;
  if (!flags->rest.empty()) return usageError("ps", "unexpected argument \"" + flags->rest[0] + "\"");
  auto session = ApiSession::open(*flags, "ps", code);
  if (!session) return code;
  auto reply = session->call("GET", "/api/v1/workloads", "", code);
  if (!reply) return code;
  if (reply->status != 200) return session->report(*reply);
  if (flags->json) {
    std::printf("%s\n", reply->body.dump(2).c_str());
    return kExitOk;
  }
  std::printf("%s", psTable(reply->body.value("workloads", nlohmann::json::array())).render().c_str());
  return kExitOk;
}

}  // namespace cgwarden::agent
