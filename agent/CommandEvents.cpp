// `cgwarden events [--follow]`: the policer's recent decisions (GET /api/v1/events).
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "agent/ApiClient.h"
#include "agent/Commands.h"
#include "collectors/TextParse.h"
#include "config/Units.h"

namespace cgwarden::agent {

namespace {

using nlohmann::json;

const char* kEventsUsage =
    "usage: cgwarden events [--follow] [--rule R] [--workload W] [--limit N] [--interval D] [options]\n"
    "\n"
    "Prints the policer's recent decisions, oldest first, one per line:\n"
    "  TIME  RULE  WORKLOAD  ACTION  OUTCOME  DETAIL\n"
    "With --json, one JSON object per line (as logged and served by the agent).\n"
    "\n"
    "  --follow, -f    keep printing new events until interrupted (polls every --interval)\n"
    "  --rule R        only this rule's events\n"
    "  --workload W    only this workload's events\n"
    "  --limit N       at most the N newest (default 100)\n"
    "  --interval D    polling period of --follow (default 1s)\n";

volatile sig_atomic_t gStop = 0;
void onStop(int) { gStop = 1; }

std::string text(const json& e, const char* key) {
  auto it = e.find(key);
  if (it == e.end() || it->is_null()) return "-";
  if (it->is_string()) return it->get<std::string>();
  return it->dump();
}

void print(const json& e, bool asJson) {
  if (asJson) {
    std::printf("%s\n", e.dump().c_str());
  } else {
    std::string outcome = text(e, "outcome");
    if (e.value("dry_run", false)) outcome += " (dry-run)";
    std::string error = text(e, "error");
    if (error != "-" && !error.empty()) outcome += ": " + error;
    std::printf("%s  %s  %s  %s  %s  %s\n", text(e, "time").c_str(), text(e, "rule").c_str(), text(e, "workload").c_str(),
                text(e, "action").c_str(), outcome.c_str(), text(e, "detail").c_str());
  }
  std::fflush(stdout);
}

}  // namespace

int commandEvents(const std::vector<std::string>& args) {
  int code = kExitOk;
  auto flags = beginVerb(args, "events", kEventsUsage, code);
  if (!flags) return code;
  bool follow = false;
  std::string query;
  std::chrono::milliseconds interval{1000};
  const auto& rest = flags->rest;
  for (size_t i = 0; i < rest.size(); ++i) {
    std::string flag = rest[i], value;
    if (flag == "--follow" || flag == "-f") {
      follow = true;
      continue;
    }
    if (auto eq = flag.find('='); eq != std::string::npos && flag.rfind("--", 0) == 0) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    } else if (flag == "--rule" || flag == "--workload" || flag == "--limit" || flag == "--interval") {
      if (i + 1 >= rest.size()) return usageError("events", flag + " needs a value");
      value = rest[++i];
    }
    if (flag == "--rule" || flag == "--workload") {
      query += "&" + flag.substr(2) + "=" + percentEncode(value);
    } else if (flag == "--limit") {
      auto n = parseUint64(value);
      if (!n || *n == 0) return usageError("events", "--limit: \"" + value + "\" is not a positive number");
      query += "&limit=" + value;
    } else if (flag == "--interval") {
      auto d = config::parseDuration(value);
      if (!d || d->count() < 100) return usageError("events", "--interval: \"" + value + "\" is not a duration of at least 100ms");
      interval = *d;
    } else {
      return usageError("events", "unexpected argument \"" + rest[i] + "\"");
    }
  }
  auto session = ApiSession::open(*flags, "events", code);
  if (!session) return code;

  struct sigaction stop {};
  stop.sa_handler = onStop;
  ::sigemptyset(&stop.sa_mask);
  ::sigaction(SIGINT, &stop, nullptr);
  ::sigaction(SIGTERM, &stop, nullptr);

  uint64_t after = 0;
  bool first = true;
  while (gStop == 0) {
    std::string target = "/api/v1/events?after=" + std::to_string(after) + query;
    auto reply = session->call("GET", target, "", code);
    if (!reply) return code;
    if (reply->status != 200) return session->report(*reply);
    const json& events = reply->body["events"];
    if (!flags->json && first && events.empty() && !follow) std::fprintf(stderr, "no events\n");
    for (const auto& e : events) {
      print(e, flags->json);
      if (e.contains("seq") && e["seq"].is_number_unsigned()) after = std::max(after, e["seq"].get<uint64_t>());
    }
    if (reply->body.contains("last_seq") && reply->body["last_seq"].is_number_unsigned()) {
      after = std::max(after, reply->body["last_seq"].get<uint64_t>());
    }
    first = false;
    if (!follow) break;
    auto until = std::chrono::steady_clock::now() + interval;
    while (gStop == 0 && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return kExitOk;
}

}  // namespace cgwarden::agent
