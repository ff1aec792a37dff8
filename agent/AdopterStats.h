#pragma once
// The adopter's raw counters, copied out under its lock (Adopter::stats()). The exporter
// turns them into:
//   cgwarden_adoptions_total{rule}           counter    adoptionsByRule (rule name -> count)
//   cgwarden_adoption_latency_seconds        histogram  latency (exec/uid/gid event -> moved)
//   cgwarden_netlink_overruns_total          counter    netlinkOverruns
// and, if wanted, cgwarden_adoption_failures_total / cgwarden_adoption_scans_total.

#include <array>
#include <cstdint>
#include <map>
#include <string>

namespace cgwarden::agent {

// A fixed-bucket histogram in seconds, Prometheus style.
struct LatencyHistogram {
  // Upper bounds, seconds; an implicit +Inf bucket follows.
  static constexpr std::array<double, 12> kBounds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                     0.01,   0.025,   0.05,   0.1,   0.25,   1.0};
  // counts[i]: observations with kBounds[i-1] < v <= kBounds[i] (NOT cumulative);
  // counts[kBounds.size()]: v > the last bound. Cumulate for the exposition format.
  std::array<uint64_t, kBounds.size() + 1> counts{};
  uint64_t count = 0;
  double sumSeconds = 0;

  void observe(double seconds) {
    size_t i = 0;
    while (i < kBounds.size() && seconds > kBounds[i]) ++i;
    ++counts[i];
    ++count;
    sumSeconds += seconds;
  }
  // The upper bound of the bucket holding the q-quantile (0..1); +Inf as 1e9. For logs/bench.
  double quantileUpperBound(double q) const {
    if (count == 0) return 0;
    uint64_t want = static_cast<uint64_t>(q * static_cast<double>(count) + 0.999999);
    uint64_t seen = 0;
    for (size_t i = 0; i < counts.size(); ++i) {
      seen += counts[i];
      if (seen >= want) return i < kBounds.size() ? kBounds[i] : 1e9;
    }
    return 1e9;
  }
};

struct AdopterStats {
  std::map<std::string, uint64_t> adoptionsByRule;  // processes adopted per rule (a tree counts once)
  uint64_t adoptionsByPid = 0;       // adoptPid() successes (the control API)
  LatencyHistogram latency;          // event-driven rule adoptions only
  uint64_t netlinkEvents = 0;        // proc events received
  uint64_t netlinkOverruns = 0;      // ENOBUFS / NLMSG_OVERRUN: events lost, a rescan followed
  uint64_t scans = 0;                // full /proc scans (start, timer, overrun, on request)
  uint64_t refusals = 0;             // matches refused by the mover (agent ancestor, foreign workload...)
  uint64_t failures = 0;             // cgroup create/limit/move errors
  uint64_t workloadsCreated = 0;
  uint64_t workloadsRemoved = 0;     // emptied rule workloads removed
  bool netlinkActive = false;        // false: scans only (no CAP_NET_ADMIN, or turned off)
};

}  // namespace cgwarden::agent
