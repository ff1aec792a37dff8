// bench/react driver: time from a workload crossing a memory threshold to the policer's
// action having taken effect (the cgroup reported frozen), event-driven versus tick-only.
// Run by bench/react.sh.
//
//   react_bench event|tick TRIALS [TICK_MS]
//
// Per trial: a fresh cgroup cgwarden-bench-react-<pid>/t<i> with memory.max 64 MiB, one
// child attached to it before it runs; the child touches 40 MiB, reports ready, waits for
// "go" (sent after a random 0..TICK_MS pause so crossings fall at random tick phases), then
// touches page by page up to 49 MiB, reading its cgroup's usage after each page; just
// after the touch that takes the usage to the rule's threshold (75% = 48 MiB) it writes a
// CLOCK_MONOTONIC stamp into a shared page, touches the rest and sleeps. The real Sampler (TICK_MS) and Policer
// (rule "memory.usage > 75%" -> freeze) run in this process; the latency is the time the
// freeze event was recorded (after the kernel reports the cgroup FROZEN) minus the child's
// stamp. A freeze that lands before the child saw the crossing itself counts as 0 ms ("early").
//
// Prints one line: mode=.. trials=.. p50_ms=.. p90_ms=.. p99_ms=.. max_ms=.. mean_ms=..
// early=.. missed=.. by_event=.. (by_event: freezes caused by a kernel event, not the tick; missed: no freeze within TICK_MS + 3 s, e.g. OOM-killed first).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "agent/Cgroup.h"
#include "agent/Policer.h"
#include "collectors/Sampler.h"
#include "config/Loader.h"

using namespace cgwarden;
using namespace std::chrono_literals;

namespace {

constexpr uint64_t kMiB = 1024 * 1024;
constexpr uint64_t kThreshold = 48 * kMiB;  // the rule: memory.usage > 75% of 64 MiB

double monoMs() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

// Freezes through the cgroup layer (no supervisor needed for a bare child).
class BenchTarget final : public agent::ActionTarget {
 public:
  void set(const std::string& name, agent::Cgroup* cg) {
    std::lock_guard lock(mu_);
    cgroups_[name] = cg;
  }
  Status freeze(const agent::ActionSubject& s) override {
    std::lock_guard lock(mu_);
    auto it = cgroups_.find(s.name);
    if (it == cgroups_.end() || it->second == nullptr) return Error::invalid("freeze", s.id, "unknown");
    return it->second->freeze(std::chrono::milliseconds(2000));
  }
  Status signalMain(const agent::ActionSubject& s, int) override { return no(s); }
  Status signalCgroup(const agent::ActionSubject& s, int) override { return no(s); }
  Status stop(const agent::ActionSubject& s) override { return no(s); }
  Status thaw(const agent::ActionSubject& s) override { return no(s); }
  Status applyLimits(const agent::ActionSubject& s, const Limits&) override { return no(s); }
  Status killAll(const agent::ActionSubject& s) override { return no(s); }
  Status restart(const agent::ActionSubject& s) override { return no(s); }

 private:
  Status no(const agent::ActionSubject& s) { return Error::invalid("bench", s.id, "not used"); }
  std::mutex mu_;
  std::map<std::string, agent::Cgroup*> cgroups_;
};

// The child: touch 40 MiB, say ready, wait for go, then touch page by page up to 49 MiB.
// After each page it reads its cgroup's usage (v1 memory.usage_in_bytes, v2 memory.current,
// through `usageFd`); the first time it is at or above `threshold` it stamps CLOCK_MONOTONIC
// into `shared` (a MAP_SHARED page the parent reads even if the child is frozen right after).
[[noreturn]] void child(int attachedFd, int goFd, int readyFd, int usageFd, uint64_t threshold, volatile double* shared) {
  char b;
  if (::read(attachedFd, &b, 1) != 1) ::_exit(1);
  const size_t total = 49 * kMiB;
  auto* p = static_cast<volatile char*>(::mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  if (p == MAP_FAILED) ::_exit(1);
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  size_t off = 0;
  for (; off < 40 * kMiB; off += page) p[off] = 1;
  if (::write(readyFd, "r", 1) != 1) ::_exit(1);
  if (::read(goFd, &b, 1) != 1) ::_exit(1);
  bool stamped = false;
  char buf[32];
  while (off < total) {
    p[off] = 1;
    off += page;
    if (stamped) continue;
    ssize_t n = ::pread(usageFd, buf, sizeof buf - 1, 0);
    if (n <= 0) continue;
    buf[n] = 0;
    if (std::strtoull(buf, nullptr, 10) >= threshold) {
      *shared = monoMs();  // just after the touch that took usage over the threshold
      stamped = true;
    }
  }
  for (;;) ::pause();
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  size_t idx = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size()))) - 1;
  return v[std::min(idx, v.size() - 1)];
}

bool readWithTimeout(int fd, double& out, int timeoutMs) {
  struct pollfd p {fd, POLLIN, 0};
  if (::poll(&p, 1, timeoutMs) != 1) return false;
  return ::read(fd, &out, sizeof out) == sizeof out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: react_bench event|tick TRIALS [TICK_MS]\n");
    return 2;
  }
  const std::string mode = argv[1];
  const int trials = std::atoi(argv[2]);
  const int tickMs = argc > 3 ? std::atoi(argv[3]) : 1000;
  spdlog::set_level(std::getenv("REACT_DEBUG") ? spdlog::level::debug : spdlog::level::warn);

  auto layout = collectors::CgroupLayout::detect();
  if (!layout) {
    std::fprintf(stderr, "%s\n", layout.error().message().c_str());
    return 1;
  }
  const std::string root = "cgwarden-bench-react-" + std::to_string(::getpid());
  auto manager = agent::CgroupManager::create(*layout, root);
  if (!manager || !(*manager)->prepareRoot()) {
    std::fprintf(stderr, "cannot prepare /%s\n", root.c_str());
    return 1;
  }

  std::mutex mu;
  std::vector<collectors::SampleTarget> current;
  collectors::SamplerOptions so;
  so.interval = std::chrono::milliseconds(tickMs);
  collectors::Sampler sampler(*layout, [&] {
    std::lock_guard lock(mu);
    return current;
  }, so);

  auto loaded = config::parseConfigText(
      "policies:\n"
      "  - {name: react, target: \"t*\", condition: \"memory.usage > 75%\", cooldown: 1h, actions: [freeze]}\n",
      "react.yaml");
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s", loaded.renderErrors().c_str());
    return 1;
  }
  BenchTarget target;
  agent::PolicyEventLog events(1000);
  std::atomic<double> frozenAt{0};
  std::atomic<int> trigger{0};
  events.onEvent([&](const agent::PolicyEvent& e) {
    if (e.action == "freeze" && e.outcome == "ok") {
      trigger = static_cast<int>(e.trigger);
      frozenAt = monoMs();
    }
  });
  const bool verbose = std::getenv("REACT_VERBOSE") != nullptr;
  int byEvent = 0;
  agent::PolicerOptions po;
  po.snapshotSource = [&] { return sampler.latest(); };
  po.kernelEvents = mode == "event";
  agent::Policer policer(loaded.value->policies, target, events, nullptr, po);
  sampler.start();
  (void)policer.start();

  auto* shared = static_cast<volatile double*>(
      ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  if (shared == MAP_FAILED) return 1;
  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> phase(0, tickMs);
  std::vector<double> latencies;
  int early = 0, missed = 0;
  for (int i = 0; i < trials; ++i) {
    const std::string name = "t" + std::to_string(i);
    auto cg = (*manager)->create(name);
    if (!cg) {
      std::fprintf(stderr, "%s\n", cg.error().message().c_str());
      return 1;
    }
    Limits limits;
    limits.memory.max = 64 * kMiB;
    if (auto st = (*cg)->applyLimits(limits); !st) {
      std::fprintf(stderr, "%s\n", st.error().message().c_str());
      return 1;
    }
    target.set(name, cg->get());
    int attached[2], go[2], ready[2];
    if (::pipe(attached) || ::pipe(go) || ::pipe(ready)) return 1;
    const bool v2 = layout->mode == collectors::CgroupMode::V2;
    const std::string memDir = *(*cg)->directoryFor(v2 ? "" : "memory");
    int usageFd = ::open((memDir + (v2 ? "/memory.current" : "/memory.usage_in_bytes")).c_str(), O_RDONLY | O_CLOEXEC);
    if (usageFd < 0) return 1;
    *shared = 0;
    pid_t pid = ::fork();
    if (pid == 0) child(attached[0], go[0], ready[1], usageFd, kThreshold, shared);
    ::close(usageFd);
    if (auto st = (*cg)->attach(pid); !st) {
      std::fprintf(stderr, "%s\n", st.error().message().c_str());
      return 1;
    }
    (void)!::write(attached[1], "x", 1);
    {
      struct pollfd rp {ready[0], POLLIN, 0};
      char r;
      if (::poll(&rp, 1, 10000) != 1 || ::read(ready[0], &r, 1) != 1) return 1;
    }

    collectors::SampleTarget t;
    t.id = "/" + root + "/" + name;
    t.name = name;
    t.managed = true;
    for (const char* c : {"cpu", "cpuacct", "cpuset", "memory", "pids", "blkio", "io", ""}) {
      if (auto d = (*cg)->directoryFor(c)) t.dirs.set(c, *d);
    }
    {
      std::lock_guard lock(mu);
      current = {t};
    }
    // Until a snapshot with this target was taken and the policer has seen it (and, event
    // mode, registered its threshold).
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(3 * tickMs + 2000);
    while (std::chrono::steady_clock::now() < deadline) {
      auto snap = sampler.latest();
      if (snap && snap->find(t.id) && (!po.kernelEvents || policer.watchCount() == 1)) break;
      std::this_thread::sleep_for(5ms);
    }
    std::this_thread::sleep_for(60ms);  // the policer's source poll (20 ms) has picked it up
    std::this_thread::sleep_for(std::chrono::milliseconds(phase(rng)));
    if (verbose) std::fprintf(stderr, "trial %d: go with %zu watches\n", i, policer.watchCount());
    frozenAt = 0;
    trigger = 0;
    (void)!::write(go[1], "x", 1);
    // Wait for the freeze.
    auto waitUntil = std::chrono::steady_clock::now() + std::chrono::milliseconds(tickMs + 3000);
    while (frozenAt.load() == 0 && std::chrono::steady_clock::now() < waitUntil) std::this_thread::sleep_for(1ms);
    const double crossed = *shared;
    if (frozenAt.load() == 0) {
      ++missed;
    } else if (crossed == 0) {
      ++early;  // frozen before its own read of the usage showed the crossing
      latencies.push_back(0);
    } else {
      latencies.push_back(std::max(0.0, frozenAt.load() - crossed));
    }
    if (frozenAt.load() != 0 && trigger.load() != static_cast<int>(agent::PolicyTrigger::Tick)) ++byEvent;
    if (verbose && frozenAt.load() != 0)
      std::fprintf(stderr, "trial %d: %.3f ms (%s)\n", i, latencies.back(),
                   agent::policyTriggerName(static_cast<agent::PolicyTrigger>(trigger.load())));
    (void)(*cg)->killAll(2000ms);
    ::waitpid(pid, nullptr, 0);
    {
      std::lock_guard lock(mu);
      current.clear();
    }
    for (int fd : {attached[0], attached[1], go[0], go[1], ready[0], ready[1]}) ::close(fd);
    std::this_thread::sleep_for(std::chrono::milliseconds(tickMs + 100));  // the next snapshot drops it
    target.set(name, nullptr);
    (void)(*cg)->remove(2000ms);
  }
  policer.stop();
  sampler.stop();
  (void)(*manager)->destroyTree(5000ms);

  double sum = 0;
  for (double v : latencies) sum += v;
  std::printf("mode=%s trials=%d tick_ms=%d p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f mean_ms=%.2f early=%d missed=%d by_event=%d\n",
              mode.c_str(), trials, tickMs, percentile(latencies, 0.5), percentile(latencies, 0.9),
              percentile(latencies, 0.99), latencies.empty() ? NAN : *std::max_element(latencies.begin(), latencies.end()),
              latencies.empty() ? NAN : sum / static_cast<double>(latencies.size()), early, missed, byEvent);
  return 0;
}
