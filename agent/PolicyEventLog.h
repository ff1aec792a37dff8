#pragma once
// The policer's recent decisions: a bounded in-memory ring of PolicyEvents, each also
// written to the log as one JSON line (spdlog info: "policy event {...}"), and served on
// GET /events:
//
//   GET /events?limit=100&after=<seq>&rule=<name>&workload=<name>
//   200 {"events":[...oldest first...],"last_seq":42,"capacity":1000,"dropped":0}
//
// limit: at most this many of the newest matching events (default 100, at most the
// capacity); after: only events with seq > after (a client polls with the last seq it
// saw); rule / workload: exact filters. 400 on a bad number, 405 on other methods.
// Thread-safe.

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "agent/HttpServer.h"
#include "agent/PolicyEvent.h"

namespace cgwarden::agent {

class PolicyEventLog {
 public:
  explicit PolicyEventLog(size_t capacity = 1000);

  // Numbers the event (seq), keeps it (dropping the oldest beyond capacity), logs it,
  // and calls the listeners (outside the lock). Returns the seq.
  uint64_t append(PolicyEvent event);

  struct Query {
    size_t limit = 100;
    uint64_t after = 0;
    std::string rule;      // "" = any
    std::string workload;  // "" = any
  };
  // Oldest first.
  std::vector<PolicyEvent> recent(const Query& query) const;
  std::vector<PolicyEvent> all() const { return recent(Query{capacity_, 0, {}, {}}); }
  uint64_t lastSeq() const;
  size_t capacity() const { return capacity_; }

  // Called for every appended event, on the appending thread. Register before use.
  void onEvent(std::function<void(const PolicyEvent&)> listener);

  HttpResponse handle(const HttpRequest& request) const;
  // For HttpServer::addHandler("/events", log.handler()); the log must outlive the server's use.
  HttpHandler handler() const {
    return [this](const HttpRequest& r) { return handle(r); };
  }

 private:
  size_t capacity_;
  mutable std::mutex mu_;
  std::deque<PolicyEvent> events_;
  uint64_t nextSeq_ = 1;
  std::vector<std::function<void(const PolicyEvent&)>> listeners_;
};

}  // namespace cgwarden::agent
