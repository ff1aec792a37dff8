#include "agent/ConditionEvaluator.h"

#include "collectors/Limits.h"

namespace cgwarden::agent {

namespace {

using config::PolicyCondition;
using config::PolicyMetric;

double seconds(std::chrono::milliseconds d) { return static_cast<double>(d.count()) / 1000.0; }

// a - b for counters that only grow; a reset (b > a) counts as 0.
double delta(uint64_t a, uint64_t b) { return a >= b ? static_cast<double>(a - b) : 0.0; }

int pressureIndex(config::PressureResource r) {
  switch (r) {
    case config::PressureResource::Cpu: return 0;
    case config::PressureResource::Memory: return 1;
    case config::PressureResource::Io: return 2;
  }
  return 1;
}

const collectors::Pressure& pressureOf(const collectors::TargetSample& s, config::PressureResource r, bool& has) {
  switch (r) {
    case config::PressureResource::Cpu: has = s.hasCpuPressure; return s.cpuPressure;
    case config::PressureResource::Io: has = s.hasIoPressure; return s.ioPressure;
    case config::PressureResource::Memory: break;
  }
  has = s.hasMemoryPressure;
  return s.memoryPressure;
}

std::optional<double> ofLimit(double value, uint64_t limit, bool hasLimit) {
  if (!hasLimit || limit == kUnlimited || limit == 0) return std::nullopt;
  return value / static_cast<double>(limit);
}

// Start and end of a window over whole ticks (the newest history point is the end).
bool tickWindow(const std::deque<HistoryPoint>* history, std::chrono::milliseconds window, const HistoryPoint*& start,
                const HistoryPoint*& end) {
  if (!history || history->size() < 2) return false;
  end = &history->back();
  start = PolicyHistory::windowStart(*history, end->time, seconds(window));
  return start != nullptr && end->time > start->time;
}

bool compare(config::CompareOp op, double value, double threshold) {
  switch (op) {
    case config::CompareOp::Greater: return value > threshold;
    case config::CompareOp::GreaterEqual: return value >= threshold;
    case config::CompareOp::Less: return value < threshold;
    case config::CompareOp::LessEqual: return value <= threshold;
  }
  return false;
}

void evaluate(const config::PolicyConditionTree& tree, const collectors::TargetSample& current,
              const std::deque<HistoryPoint>* history, ConditionResult& out, bool& holds) {
  using Kind = config::PolicyConditionTree::Kind;
  if (tree.kind == Kind::Leaf) {
    ConditionValue v;
    v.condition = tree.leaf.text;
    v.threshold = tree.leaf.threshold;
    v.unit = leafUnit(tree.leaf);
    v.value = measureLeaf(tree.leaf, current, history);
    v.holds = v.value.has_value() && compare(tree.leaf.op, *v.value, tree.leaf.threshold);
    holds = v.holds;
    out.leaves.push_back(std::move(v));
    return;
  }
  bool all = true, any = false;
  for (const auto& child : tree.children) {
    bool h = false;
    evaluate(child, current, history, out, h);
    all = all && h;
    any = any || h;
  }
  holds = tree.kind == Kind::All ? all : any;
}

}  // namespace

const char* leafUnit(const PolicyCondition& leaf) {
  if (leaf.ofLimit) return "fraction of limit";
  switch (leaf.metric) {
    case PolicyMetric::MemoryUsage:
    case PolicyMetric::MemoryWorkingSet: return "bytes";
    case PolicyMetric::CpuUsage: return "cores";
    case PolicyMetric::CpuThrottled:
    case PolicyMetric::Pressure: return "ratio";
    case PolicyMetric::Pids:
    case PolicyMetric::OomKills:
    case PolicyMetric::Restarts: return "count";
    case PolicyMetric::IoRead:
    case PolicyMetric::IoWrite:
    case PolicyMetric::Io: return "bytes/s";
  }
  return "";
}

std::optional<double> measureLeaf(const PolicyCondition& leaf, const collectors::TargetSample& s,
                                  const std::deque<HistoryPoint>* history) {
  const HistoryPoint* start = nullptr;
  const HistoryPoint* end = nullptr;
  switch (leaf.metric) {
    case PolicyMetric::MemoryUsage:
    case PolicyMetric::MemoryWorkingSet: {
      if (!s.hasMemory) return std::nullopt;
      double bytes = static_cast<double>(leaf.metric == PolicyMetric::MemoryUsage ? s.memory.usageBytes
                                                                                    : s.memory.workingSetBytes());
      if (!leaf.ofLimit) return bytes;
      return ofLimit(bytes, s.spec.memoryLimit, s.hasSpec && s.spec.hasMemory);
    }
    case PolicyMetric::Pids: {
      if (!s.hasPids) return std::nullopt;
      double n = static_cast<double>(s.pidsCurrent);
      if (!leaf.ofLimit) return n;
      return ofLimit(n, s.spec.pidsMax, s.hasSpec && s.spec.hasPids);
    }
    case PolicyMetric::CpuUsage: {
      if (!tickWindow(history, leaf.window, start, end) || !start->hasCpu || !end->hasCpu) return std::nullopt;
      double cores = delta(end->cpuUsageNs, start->cpuUsageNs) / 1e9 / (end->time - start->time);
      if (!leaf.ofLimit) return cores;
      if (!s.hasSpec || !s.spec.hasCpu || s.spec.cpuQuotaUs == kUnlimited || s.spec.cpuPeriodUs == 0) return std::nullopt;
      return cores / (static_cast<double>(s.spec.cpuQuotaUs) / static_cast<double>(s.spec.cpuPeriodUs));
    }
    case PolicyMetric::CpuThrottled: {
      if (!tickWindow(history, leaf.window, start, end) || !start->hasBandwidth || !end->hasBandwidth) return std::nullopt;
      double periods = delta(end->periods, start->periods);
      if (periods <= 0) return 0.0;  // no CFS period ran: nothing was throttled
      return delta(end->throttledPeriods, start->throttledPeriods) / periods;
    }
    case PolicyMetric::IoRead:
    case PolicyMetric::IoWrite:
    case PolicyMetric::Io: {
      if (!tickWindow(history, leaf.window, start, end) || !start->hasIo || !end->hasIo) return std::nullopt;
      double bytes = 0;
      if (leaf.metric != PolicyMetric::IoWrite) bytes += delta(end->ioReadBytes, start->ioReadBytes);
      if (leaf.metric != PolicyMetric::IoRead) bytes += delta(end->ioWriteBytes, start->ioWriteBytes);
      return bytes / (end->time - start->time);
    }
    case PolicyMetric::Pressure: {
      bool has = false;
      const collectors::Pressure& p = pressureOf(s, leaf.pressureResource, has);
      if (!has) return std::nullopt;
      const bool full = leaf.pressureKind == config::PressureKind::Full;
      if (full && !p.hasFull) return std::nullopt;
      const collectors::PressureLine& line = full ? p.full : p.some;
      if (leaf.pressureStat == config::PressureStat::Avg10) return line.avg10 / 100.0;
      if (leaf.pressureStat == config::PressureStat::Avg60) return line.avg60 / 100.0;
      if (!history) return std::nullopt;
      start = PolicyHistory::windowStart(*history, s.sampleTime, seconds(leaf.window));
      int i = pressureIndex(leaf.pressureResource);
      if (!start || !start->hasPressure[i] || s.sampleTime <= start->time) return std::nullopt;
      uint64_t then = full ? start->pressureFullUs[i] : start->pressureSomeUs[i];
      return delta(line.totalUs, then) / 1e6 / (s.sampleTime - start->time);
    }
    case PolicyMetric::OomKills: {
      if (!s.hasMemory || !s.memory.hasOomKills) return std::nullopt;
      if (!history) return 0.0;
      start = PolicyHistory::windowStart(*history, s.sampleTime, seconds(leaf.window));
      if (!start || !start->hasOomKills) return 0.0;
      return delta(s.memory.oomKills, start->oomKills);
    }
    case PolicyMetric::Restarts: {
      if (!s.target || !s.target->managed) return std::nullopt;
      if (!history) return 0.0;
      start = PolicyHistory::windowStart(*history, s.sampleTime, seconds(leaf.window));
      if (!start) return 0.0;
      return delta(s.target->restarts, start->restarts);
    }
  }
  return std::nullopt;
}

ConditionResult evaluateCondition(const config::PolicyConditionTree& tree, const collectors::TargetSample& current,
                                  const std::deque<HistoryPoint>* history) {
  ConditionResult out;
  evaluate(tree, current, history, out, out.holds);
  return out;
}

}  // namespace cgwarden::agent
