#include "agent/PolicyEventLog.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "collectors/TextParse.h"

namespace cgwarden::agent {

PolicyEventLog::PolicyEventLog(size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

uint64_t PolicyEventLog::append(PolicyEvent event) {
  std::vector<std::function<void(const PolicyEvent&)>> listeners;
  {
    std::lock_guard lock(mu_);
    event.seq = nextSeq_++;
    events_.push_back(event);
    while (events_.size() > capacity_) events_.pop_front();
    listeners = listeners_;
  }
  if (event.outcome == "failed") spdlog::warn("policy event {}", event.toJsonLine());
  else spdlog::info("policy event {}", event.toJsonLine());
  for (const auto& l : listeners) l(event);
  return event.seq;
}

std::vector<PolicyEvent> PolicyEventLog::recent(const Query& query) const {
  std::lock_guard lock(mu_);
  std::vector<PolicyEvent> out;
  for (auto it = events_.rbegin(); it != events_.rend() && out.size() < query.limit; ++it) {
    if (it->seq <= query.after) break;
    if (!query.rule.empty() && it->rule != query.rule) continue;
    if (!query.workload.empty() && it->workload != query.workload) continue;
    out.push_back(*it);
  }
  std::reverse(out.begin(), out.end());
  return out;
}

uint64_t PolicyEventLog::lastSeq() const {
  std::lock_guard lock(mu_);
  return nextSeq_ - 1;
}

void PolicyEventLog::onEvent(std::function<void(const PolicyEvent&)> listener) {
  std::lock_guard lock(mu_);
  listeners_.push_back(std::move(listener));
}

HttpResponse PolicyEventLog::handle(const HttpRequest& request) const {
  if (request.method != "GET" && request.method != "HEAD") {
    HttpResponse r = HttpResponse::json(405, R"({"error":"method not allowed; use GET"})");
    r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
  }
  Query q;
  for (const char* name : {"limit", "after"}) {
    auto text = request.queryParam(name);
    if (!text) continue;
    auto n = parseUint64(*text);
    if (!n) {
      nlohmann::json err = {{"error", std::string(name) + ": \"" + *text + "\" is not a whole number"}};
      return HttpResponse::json(400, err.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    }
    if (std::string_view(name) == "limit") q.limit = std::min<uint64_t>(*n, capacity_);
    else q.after = *n;
  }
  if (auto r = request.queryParam("rule")) q.rule = *r;
  if (auto w = request.queryParam("workload")) q.workload = *w;
  nlohmann::json events = nlohmann::json::array();
  for (const auto& e : recent(q)) events.push_back(e.toJson());
  uint64_t last = lastSeq();
  size_t kept;
  {
    std::lock_guard lock(mu_);
    kept = events_.size();
  }
  nlohmann::json body = {{"events", std::move(events)},
                         {"last_seq", last},
                         {"capacity", capacity_},
                         {"dropped", last - kept}};
  return HttpResponse::json(200, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace cgwarden::agent
