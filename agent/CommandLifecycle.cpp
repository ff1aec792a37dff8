// `cgwarden stop|restart|freeze|thaw|rm NAME...`: one workload call each
// (POST /api/v1/workloads/NAME/ACTION, DELETE for rm). stop, restart and rm wait until the
// agent reports the outcome unless --no-wait.
#include <chrono>
#include <cstdio>
#include <thread>

#include "agent/ApiClient.h"
#include "agent/Commands.h"
#include "config/Units.h"

namespace cgwarden::agent {

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Verb {
  const char* name;
  const char* method;
  const char* action;  // "" for DELETE on the workload itself
  const char* usage;
  const char* done;    // "stopped", ...
};

const Verb kStop{"stop", "POST", "stop",
                 "usage: cgwarden stop NAME... [--no-wait] [--wait D]\n\n"
                 "Stops each workload: its stop signal, then SIGKILL to the whole cgroup after its grace\n"
                 "period; the cgroup is removed, the workload stays listed as `stopped` (`rm` forgets it).\n"
                 "Waits until it has stopped (at most --wait, default 60s) unless --no-wait.\n",
                 "stopped"};
const Verb kRestart{"restart", "POST", "restart",
                    "usage: cgwarden restart NAME... [--no-wait] [--wait D]\n\n"
                    "Restarts each workload: a running one is stopped (with its grace period) and started\n"
                    "again; one that is not running is started. Waits until it runs again (at most --wait,\n"
                    "default 60s) unless --no-wait.\n",
                    "running"};
const Verb kFreeze{"freeze", "POST", "freeze",
                   "usage: cgwarden freeze NAME...\n\n"
                   "Freezes every process of each workload (cgroup freezer); `thaw` resumes them.\n",
                   "frozen"};
const Verb kThaw{"thaw", "POST", "thaw", "usage: cgwarden thaw NAME...\n\nResumes frozen workloads.\n", "thawed"};
const Verb kRm{"rm", "DELETE", "",
               "usage: cgwarden rm NAME... [--no-wait] [--wait D]\n\n"
               "Stops each workload (as `stop`) and forgets it, so its name can be launched again.\n",
               "removed"};

bool settled(const Verb& verb, const json& w, long long oldPid) {
  std::string state = w.value("state", std::string());
  if (&verb == &kStop) return state == "stopped" || state == "exited" || state == "failed" || state == "oom_killed";
  if (&verb == &kRestart) {
    if (state == "failed") return true;
    return state == "running" && w["pid"].is_number() && w["pid"].get<long long>() != oldPid;
  }
  return true;
}

int run(const Verb& verb, const std::vector<std::string>& args) {
  int code = kExitOk;
  auto flags = beginVerb(args, verb.name, verb.usage, code);
  if (!flags) return code;
  bool waits = &verb == &kStop || &verb == &kRestart || &verb == &kRm;
  bool wait = waits;
  std::chrono::milliseconds waitFor{60000};
  std::vector<std::string> names;
  const auto& rest = flags->rest;
  for (size_t i = 0; i < rest.size(); ++i) {
    const std::string& a = rest[i];
    if (waits && a == "--no-wait") {
      wait = false;
    } else if (waits && (a == "--wait" || a.rfind("--wait=", 0) == 0)) {
      std::string value = a == "--wait" ? (i + 1 < rest.size() ? rest[++i] : "") : a.substr(7);
      auto d = config::parseDuration(value);
      if (!d) return usageError(verb.name, "--wait: \"" + value + "\" is not a duration (e.g. 30s)");
      waitFor = *d;
    } else if (a.rfind("-", 0) == 0) {
      return usageError(verb.name, "unknown option \"" + a + "\"");
    } else {
      names.push_back(a);
    }
  }
  if (names.empty()) return usageError(verb.name, "missing NAME");
  auto session = ApiSession::open(*flags, verb.name, code);
  if (!session) return code;

  int result = kExitOk;
  for (const auto& name : names) {
    long long oldPid = -1;
    if (&verb == &kRestart) {
      int ignored = 0;
      if (auto before = session->call("GET", workloadTarget(name), "", ignored, true);
          before && before->status == 200 && before->body["pid"].is_number()) {
        oldPid = before->body["pid"].get<long long>();
      }
    }
    std::string target = *verb.action != '\0' ? workloadTarget(name, verb.action) : workloadTarget(name);
    auto reply = session->call(verb.method, target, "", code);
    if (!reply) return code;
    if (reply->status >= 300) {
      int c = session->report(*reply);
      if (result == kExitOk) result = c;
      continue;
    }
    json last = reply->body;
    if (wait) {
      auto deadline = Clock::now() + waitFor;
      bool done = false;
      while (!done && Clock::now() < deadline) {
        auto r = session->call("GET", workloadTarget(name), "", code);
        if (!r) return code;
        if (r->status == 404 && &verb == &kRm) {
          last = json{{"name", name}, {"state", "removed"}};
          done = true;
          break;
        }
        if (r->status != 200) {
          int c = session->report(*r);
          if (result == kExitOk) result = c;
          break;
        }
        last = r->body;
        done = &verb != &kRm && settled(verb, last, oldPid);
        if (!done) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      if (!done) {
        std::fprintf(stderr, "cgwarden %s: %s: still %s after %lld ms\n", verb.name, name.c_str(),
                     last.value("state", std::string("?")).c_str(), static_cast<long long>(waitFor.count()));
        if (result == kExitOk) result = kExitFailure;
        continue;
      }
      if (&verb == &kRestart && last.value("state", std::string()) == "failed") {
        std::fprintf(stderr, "cgwarden restart: %s: failed: %s\n", name.c_str(),
                     last.value("last_error", std::string()).c_str());
        if (result == kExitOk) result = kExitFailure;
        continue;
      }
    }
    if (flags->json) {
      std::printf("%s\n", last.dump().c_str());
    } else if (wait || !waits) {
      std::string state = verb.done;
      if (&verb == &kStop) state = last.value("state", state);
      std::printf("%s: %s\n", name.c_str(), state.c_str());
    } else {
      std::printf("%s: %s requested\n", name.c_str(), verb.name);
    }
  }
  return result;
}

}  // namespace

int commandStop(const std::vector<std::string>& args) { return run(kStop, args); }
int commandRestart(const std::vector<std::string>& args) { return run(kRestart, args); }
int commandFreeze(const std::vector<std::string>& args) { return run(kFreeze, args); }
int commandThaw(const std::vector<std::string>& args) { return run(kThaw, args); }
int commandRm(const std::vector<std::string>& args) { return run(kRm, args); }

}  // namespace cgwarden::agent
