#pragma once
// The policer's memory of recent samples: a bounded ring of the counters that rate and
// window conditions need, per target id. Fed with every snapshot; a target that leaves the
// snapshot is forgotten; points older than maxAge (the longest window in the rules, plus
// slack) or beyond maxPoints are dropped.

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>

#include "collectors/Snapshot.h"

namespace cgwarden::agent {

struct HistoryPoint {
  double time = 0;  // TargetSample::sampleTime, Unix seconds
  bool hasCpu = false;
  uint64_t cpuUsageNs = 0;
  bool hasBandwidth = false;
  uint64_t periods = 0;
  uint64_t throttledPeriods = 0;
  bool hasPressure[3] = {false, false, false};  // cpu, memory, io
  uint64_t pressureSomeUs[3] = {0, 0, 0};
  uint64_t pressureFullUs[3] = {0, 0, 0};
  bool hasOomKills = false;
  uint64_t oomKills = 0;
  uint32_t restarts = 0;
  bool hasIo = false;
  uint64_t ioReadBytes = 0;   // all devices
  uint64_t ioWriteBytes = 0;

  static HistoryPoint of(const collectors::TargetSample& sample, const collectors::Snapshot* snapshot);
};

class PolicyHistory {
 public:
  explicit PolicyHistory(double maxAgeSeconds = 600, size_t maxPoints = 4096)
      : maxAge_(maxAgeSeconds), maxPoints_(maxPoints) {}

  void setMaxAge(double seconds) { maxAge_ = seconds; }
  double maxAge() const { return maxAge_; }

  // Appends one point per target of the snapshot; forgets targets not in it.
  void record(const collectors::Snapshot& snapshot);

  // nullptr when the target has no points.
  const std::deque<HistoryPoint>* of(std::string_view id) const;

  // The point a window ending at `end` starts from: the newest point at or before
  // end - window, else the oldest point (a shorter span than asked, while history builds up).
  // nullptr when there is no point strictly before `end`.
  static const HistoryPoint* windowStart(const std::deque<HistoryPoint>& points, double end, double window);

  size_t targets() const { return points_.size(); }

 private:
  double maxAge_;
  size_t maxPoints_;
  std::map<std::string, std::deque<HistoryPoint>, std::less<>> points_;
};

}  // namespace cgwarden::agent
