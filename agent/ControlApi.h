#pragma once
// The control API under /api/v1 on the agent's HttpServer: see and steer the workloads.
// JSON in and out; the full reference (bodies, statuses, curl examples) is docs/api.md.
//
//   GET    /api/v1/info                          version, cgroup mode, uptime, config path + SHA-256
//   GET    /api/v1/workloads                     every workload: state, pids, cgroup, limits, usage
//   POST   /api/v1/workloads                     launch: a workload entry as in the config (201)
//   GET    /api/v1/workloads/{name}
//   DELETE /api/v1/workloads/{name}              stop, then forget it (202)
//   POST   /api/v1/workloads/{name}/stop         (202) | restart (202) | freeze | thaw
//   PATCH  /api/v1/workloads/{name}/limits       any subset of a `limits:` mapping, applied live
//   PUT    /api/v1/workloads/{name}/limits       the same (fields not given are left as they are)
//   GET    /api/v1/events?limit=&after=&rule=&workload=   recent policing events (EventsFn)
//   POST   /api/v1/adopt                         {"pid":1234,"name":"db","limits":{...}} (AdoptFn)
//   POST   /api/v1/reload                        re-read the config file (ReloadFn)
//
// Security: every request under /api/v1, reads included (workloads reveal commands and
// environment), needs "Authorization: Bearer <token>" (token file: ApiToken.h), else 401
// before anything else is looked at. Write bodies must be application/json (else 415),
// valid JSON (400 with line and column), at most 64 levels deep, and pass the config
// loader's checks (400 with the key path, line and column; unknown fields are errors).
// Workload names in paths must be config names ([a-z0-9][a-z0-9_.-]*, no '/', no "..",
// no control characters). The body size limit is the server's (413, central). Every
// mutating request, and every refused authentication, is logged as one audit line:
//   audit: POST /api/v1/workloads/web/stop workload=web status=202 remote=127.0.0.1:51234 (stop requested)
//
// Errors: {"error":"...","field":"limits.memory.max","line":3,"column":17,"issues":[...]}
// (field/line/column only where they apply). Statuses: 400 bad input, 401 no or wrong token,
// 403 refused target (adopting pid 1, the agent, a kernel thread, ...), 404 unknown workload,
// process or path, 405 wrong method (Allow header), 409 name in use or state conflict (e.g.
// EBUSY lowering memory below usage on v1), 413 body too large, 415 not JSON, 422 launch
// failed after registering (the workload stays `failed`) or reload with an invalid config,
// 500 agent-side failure, 501 feature not wired (adopt/reload without a function).
//
// Usage (cpu_percent, IO rates) is computed from the sampler's latest snapshot, whose targets
// carry their previous tick's counters (TargetSample::previous), so one call sees rates over
// the last tick; null before a target's second sample.
//
// Threading: handle() runs on the server's worker threads, several at once; the
// providers may be set or replaced at any time. The registered handler keeps the API's
// state alive, so unregistering while a request runs is safe.

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/HttpServer.h"
#include "agent/Supervisor.h"
#include "collectors/CgroupLayout.h"
#include "collectors/Limits.h"
#include "collectors/Result.h"
#include "collectors/Snapshot.h"
#include "config/Config.h"
#include "config/Loader.h"

namespace cgwarden::agent {

class Adopter;
struct AdoptionEvent;

// The latest published snapshot (MetricsService::latest); may return null.
using SnapshotFn = std::function<std::shared_ptr<const collectors::Snapshot>()>;

struct EventsQuery {
  size_t limit = 100;     // newest `limit` matching events
  uint64_t after = 0;     // only seq > after
  std::string rule;       // "" = any
  std::string workload;   // "" = any
};
struct EventsPage {
  nlohmann::json events = nlohmann::json::array();  // oldest first, each a PolicyEvent::toJson()
  uint64_t lastSeq = 0;
};
using EventsFn = std::function<EventsPage(const EventsQuery&)>;

struct AdoptRequest {
  pid_t pid = 0;
  std::string name;
  Limits limits;
};
struct AdoptOutcome {
  std::string workload;
  std::string cgroupPath;              // "cgwarden/db"
  std::vector<pid_t> moved;            // written into the cgroup by this request
  std::vector<pid_t> members;          // the tree's live members in the cgroup afterwards
  std::vector<std::pair<pid_t, std::string>> skipped;  // descendants left alone, and why
  bool createdWorkload = false;
  bool complete = true;
};
// Errors: ESRCH (no such process) -> 404; EEXIST -> 409; errnum 0 with operation "adopt"
// (a refusal) -> 403; errnum 0 with operation "parse" -> 400; anything else -> 500.
using AdoptFn = std::function<Result<AdoptOutcome>(const AdoptRequest&)>;
// What the API reports of one adoption.
AdoptOutcome adoptOutcomeOf(const AdoptionEvent& event);
// Binds Adopter::adoptPid (the adopter must outlive the API's use of it).
AdoptFn adoptFnFor(Adopter& adopter);

struct ReloadOutcome {
  std::vector<config::ConfigIssue> errors;  // non-empty: the new config was rejected, nothing changed
  std::vector<std::string> changes;         // what was applied: "web: limits memory max 128Mi", ...
};
using ReloadFn = std::function<Result<ReloadOutcome>()>;

struct ControlApiOptions {
  std::string tokenFile;             // "" = <agent.stateDir>/api-token
  std::string configPath;            // reported by /info with its SHA-256 ("" = none)
  config::AgentSpec agent;           // defaults for launched workloads; listen, state_dir for /info
  std::chrono::system_clock::time_point startedAt = std::chrono::system_clock::now();
  std::string prefix = "/api/v1";
  size_t maxJsonDepth = 64;
};

class ControlApi {
 public:
  // Loads the token (creating it when missing; see ApiToken.h) and hashes the config file.
  // Fails when the token file cannot be used: the API must not run unprotected.
  static Result<std::unique_ptr<ControlApi>> create(Supervisor& supervisor, collectors::CgroupLayout layout,
                                                    ControlApiOptions options);
  ~ControlApi();
  ControlApi(const ControlApi&) = delete;
  ControlApi& operator=(const ControlApi&) = delete;

  void setSnapshotProvider(SnapshotFn fn);
  void setEventsProvider(EventsFn fn);  // unset: /events answers an empty list
  void setAdopter(AdoptFn fn);          // unset: /adopt answers 501
  void setReloader(ReloadFn fn);        // unset: /reload answers 501
  // After a reload: the config path whose hash /info reports.
  void setConfigPath(const std::string& path);

  HttpResponse handle(const HttpRequest& request);
  // addHandler(prefix, ...) / removeHandler(prefix).
  void registerHandlers(HttpServer& server);
  void unregisterHandlers(HttpServer& server);

  const std::string& tokenPath() const;
  bool tokenCreated() const;

  struct State;

 private:
  explicit ControlApi(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

}  // namespace cgwarden::agent
