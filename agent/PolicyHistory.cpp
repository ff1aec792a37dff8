#include "agent/PolicyHistory.h"

#include <tuple>

namespace cgwarden::agent {

HistoryPoint HistoryPoint::of(const collectors::TargetSample& s, const collectors::Snapshot* snapshot) {
  HistoryPoint p;
  p.time = s.sampleTime;
  p.hasCpu = s.hasCpu;
  p.cpuUsageNs = s.cpu.usageNs;
  p.hasBandwidth = s.hasCpu && s.cpu.hasBandwidth;
  p.periods = s.cpu.periods;
  p.throttledPeriods = s.cpu.throttledPeriods;
  const std::pair<bool, const collectors::Pressure*> psi[3] = {
      {s.hasCpuPressure, &s.cpuPressure}, {s.hasMemoryPressure, &s.memoryPressure}, {s.hasIoPressure, &s.ioPressure}};
  for (int i = 0; i < 3; ++i) {
    p.hasPressure[i] = psi[i].first;
    p.pressureSomeUs[i] = psi[i].second->some.totalUs;
    p.pressureFullUs[i] = psi[i].second->full.totalUs;
  }
  p.hasOomKills = s.hasMemory && s.memory.hasOomKills;
  p.oomKills = s.memory.oomKills;
  p.restarts = s.target ? s.target->restarts : 0;
  p.hasIo = s.hasIo && snapshot != nullptr;
  if (p.hasIo) std::tie(p.ioReadBytes, p.ioWriteBytes) = snapshot->ioTotals(s);
  return p;
}

void PolicyHistory::record(const collectors::Snapshot& snapshot) {
  std::map<std::string, std::deque<HistoryPoint>, std::less<>> next;
  for (const auto& t : snapshot.targets) {
    if (!t.target) continue;
    auto node = points_.extract(t.target->id);
    std::deque<HistoryPoint> points = node.empty() ? std::deque<HistoryPoint>{} : std::move(node.mapped());
    HistoryPoint p = HistoryPoint::of(t, &snapshot);
    if (!points.empty() && points.back().time >= p.time) points.pop_back();  // same tick recorded twice
    points.push_back(p);
    while (points.size() > maxPoints_ || (points.size() > 2 && points.front().time < p.time - maxAge_)) {
      points.pop_front();
    }
    next.emplace(t.target->id, std::move(points));
  }
  points_ = std::move(next);
}

const std::deque<HistoryPoint>* PolicyHistory::of(std::string_view id) const {
  auto it = points_.find(id);
  return it == points_.end() ? nullptr : &it->second;
}

const HistoryPoint* PolicyHistory::windowStart(const std::deque<HistoryPoint>& points, double end, double window) {
  const HistoryPoint* best = nullptr;
  const double from = end - window;
  for (auto it = points.rbegin(); it != points.rend(); ++it) {
    if (it->time >= end) continue;
    best = &*it;
    if (it->time <= from) break;
  }
  return best;
}

}  // namespace cgwarden::agent
