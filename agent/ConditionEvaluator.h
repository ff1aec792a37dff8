#pragma once
// Pure evaluation of a rule's condition tree on one target: the current sample (a snapshot's
// or a kernel wake-up's fresh mini-sample) plus the target's history.
//
// Where each metric comes from:
//   memory.usage / working_set, pids, pressure avg10/avg60   the current sample (gauges)
//   pressure stall rate                                      d(total µs) / d(wall µs), from the
//                                                            window's start point to the current sample
//   memory.oom_kills, restarts                               current counter - window start's
//   cpu.usage, cpu.throttled, io.*                           from the window's start point to the
//                                                            newest history point (whole ticks: a
//                                                            mini-sample does not re-read CPU or IO)
// A leaf whose value cannot be measured (no such limit for a fraction, no data, fewer than two
// points for a rate) does not hold, and reports value nullopt.
// all: holds when every child holds; any: when one does. Every leaf is evaluated (no short
// circuit) so an event shows all values.

#include <deque>
#include <vector>

#include "agent/PolicyEvent.h"
#include "agent/PolicyHistory.h"
#include "collectors/Snapshot.h"
#include "config/PolicyRule.h"

namespace cgwarden::agent {

struct ConditionResult {
  bool holds = false;
  std::vector<ConditionValue> leaves;  // in document order
};

// `history` may be null (no points yet).
ConditionResult evaluateCondition(const config::PolicyConditionTree& tree, const collectors::TargetSample& current,
                                  const std::deque<HistoryPoint>* history);

// One leaf's value in its unit (a fraction when ofLimit); nullopt when not measurable.
std::optional<double> measureLeaf(const config::PolicyCondition& leaf, const collectors::TargetSample& current,
                                  const std::deque<HistoryPoint>* history);

// "bytes", "cores", "ratio", "fraction of limit", "count", "bytes/s".
const char* leafUnit(const config::PolicyCondition& leaf);

}  // namespace cgwarden::agent
