// `cgwarden reload`: asks the running agent to re-read its config file (POST /api/v1/reload),
// like SIGHUP but with the outcome: what changed, or every error of a rejected file.
#include <cstdio>

#include "agent/ApiClient.h"
#include "agent/Commands.h"

namespace cgwarden::agent {

namespace {

const char* kReloadUsage =
    "usage: cgwarden reload [options]\n"
    "\n"
    "Makes the running agent re-read its config file: changed limits are applied to running\n"
    "workloads without restarting them, added workloads start, removed ones stop. A file with\n"
    "errors is rejected as a whole (each error printed as file:line:col: key: message, exit 1) and\n"
    "the running config stays in force. `cgwarden check FILE` validates a file beforehand.\n";

}  // namespace

int commandReload(const std::vector<std::string>& args) {
  int code = kExitOk;
  auto flags = beginVerb(args, "reload", kReloadUsage, code);
  if (!flags) return code;
  if (!flags->rest.empty()) return usageError("reload", "unexpected argument \"" + flags->rest[0] + "\"");
  auto session = ApiSession::open(*flags, "reload", code);
  if (!session) return code;
  auto reply = session->call("POST", "/api/v1/reload", "", code);
  if (!reply) return code;
  if (flags->json) std::printf("%s\n", reply->body.dump(2).c_str());
  if (reply->status == 422 && reply->body.contains("issues")) {
    for (const auto& i : reply->body["issues"]) {
      std::fprintf(stderr, "%s:%d:%d: %s: %s\n", i.value("file", std::string("config")).c_str(), i.value("line", 0),
                   i.value("column", 0), i.value("field", std::string()).c_str(), i.value("message", std::string()).c_str());
    }
    std::fprintf(stderr, "cgwarden reload: the config was rejected; the running config stays in force\n");
    return kExitFailure;
  }
  if (reply->status != 200) return session->report(*reply);
  if (!flags->json) {
    const auto& changes = reply->body["changes"];
    if (changes.empty()) std::printf("reloaded: no changes\n");
    for (const auto& c : changes) std::printf("%s\n", c.get<std::string>().c_str());
  }
  return kExitOk;
}

}  // namespace cgwarden::agent
