// `cgwarden stress`: a load generator for the demo config, the tests and the benchmarks.
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "agent/Commands.h"
#include "collectors/FileIo.h"
#include "collectors/Limits.h"
#include "collectors/TextParse.h"
#include "config/Units.h"

namespace cgwarden::agent {

namespace {

const char* kStressUsage =
    "usage: cgwarden stress [options]\n"
    "\n"
    "Generates load until killed (or --duration), for demos, tests and benchmarks.\n"
    "\n"
    "  --cpu CORES          burn this many cores (threads, duty-cycled in 10 ms slots)\n"
    "  --memory SIZE        allocate and touch SIZE once, then hold it\n"
    "  --memory-grow RATE   allocate and touch RATE per second, forever (10M/s)\n"
    "  --fork N             fork N idle children; prints how many the kernel allowed\n"
    "  --sleep              idle service: one line per second on stdout\n"
    "  --print-cgroup       print /proc/self/cgroup first\n"
    "  --ignore-term        ignore SIGTERM (only SIGKILL stops it)\n"
    "  --duration D         exit after D (30s, 500ms)\n"
    "  --exit-code N        exit code at the end of --duration (default 0)\n";

struct StressOptions {
  double cpu = 0;
  uint64_t memory = 0;
  uint64_t growRate = 0;
  long forks = -1;
  bool sleep = false;
  bool printCgroup = false;
  bool ignoreTerm = false;
  std::optional<std::chrono::milliseconds> duration;
  int exitCode = 0;
};

void say(const std::string& line) {
  std::string text = "stress: " + line + "\n";
  (void)!::write(STDOUT_FILENO, text.data(), text.size());
}

void burn(double fraction, const std::atomic<bool>& stop) {
  using clock = std::chrono::steady_clock;
  const auto slot = std::chrono::microseconds(10000);
  const auto busy = std::chrono::duration_cast<clock::duration>(slot * fraction);
  volatile uint64_t sink = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    auto start = clock::now();
    while (clock::now() - start < busy) {
      for (int i = 0; i < 1000; ++i) sink = sink + static_cast<uint64_t>(i);
    }
    if (fraction < 0.999) std::this_thread::sleep_until(start + slot);
  }
}

// Maps and touches `bytes` (one write per page so the pages are really charged).
bool touch(uint64_t bytes) {
  if (bytes == 0) return true;
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return false;
  const long page = ::sysconf(_SC_PAGESIZE);
  auto* bytesPtr = static_cast<volatile char*>(p);
  for (uint64_t off = 0; off < bytes; off += static_cast<uint64_t>(page)) bytesPtr[off] = 1;
  return true;
}

std::optional<std::string> parse(const std::vector<std::string>& args, StressOptions& o) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> std::optional<std::string> {
      if (i + 1 >= args.size()) return std::nullopt;
      return args[++i];
    };
    if (a == "--sleep") {
      o.sleep = true;
    } else if (a == "--print-cgroup") {
      o.printCgroup = true;
    } else if (a == "--ignore-term") {
      o.ignoreTerm = true;
    } else if (a == "--cpu" || a == "--memory" || a == "--memory-grow" || a == "--fork" || a == "--duration" ||
               a == "--exit-code") {
      auto v = value();
      if (!v) return a + " needs a value";
      if (a == "--cpu") {
        auto c = config::parseCores(*v);
        if (!c || *c <= 0) return a + ": \"" + *v + "\" is not a number of cores";
        o.cpu = *c;
      } else if (a == "--memory") {
        auto s = config::parseSize(*v);
        if (!s || *s == kUnlimited) return a + ": \"" + *v + "\" is not a size";
        o.memory = *s;
      } else if (a == "--memory-grow") {
        auto r = config::parseRate(*v);
        if (!r || *r == kUnlimited || *r == 0) return a + ": \"" + *v + "\" is not a rate";
        o.growRate = *r;
      } else if (a == "--fork") {
        auto n = parseUint64(*v);
        if (!n || *n > 100000) return a + ": \"" + *v + "\" is not a count";
        o.forks = static_cast<long>(*n);
      } else if (a == "--duration") {
        auto d = config::parseDuration(*v);
        if (!d) return a + ": \"" + *v + "\" is not a duration";
        o.duration = *d;
      } else {
        auto n = parseUint64(*v);
        if (!n || *n > 255) return a + ": \"" + *v + "\" is not an exit code";
        o.exitCode = static_cast<int>(*n);
      }
    } else {
      return "unknown option \"" + a + "\"";
    }
  }
  return std::nullopt;
}

}  // namespace

int commandStress(const std::vector<std::string>& args) {
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
    std::printf("%s", kStressUsage);
    return kExitOk;
  }
  StressOptions o;
  if (auto problem = parse(args, o)) {
    std::fprintf(stderr, "cgwarden stress: %s\n%s", problem->c_str(), kStressUsage);
    return kExitUsage;
  }
  if (o.printCgroup) {
    auto text = readFile("/proc/self/cgroup");
    std::string out = text ? *text : "cannot read /proc/self/cgroup: " + text.error().message() + "\n";
    (void)!::write(STDOUT_FILENO, out.data(), out.size());
  }
  if (o.ignoreTerm) ::signal(SIGTERM, SIG_IGN);
  if (o.memory > 0) {
    if (!touch(o.memory)) {
      say("cannot allocate " + config::formatSize(o.memory) + ": " + std::strerror(errno));
      return kExitFailure;
    }
    say("holding " + config::formatSize(o.memory));
  }
  if (o.forks >= 0) {
    long made = 0;
    int err = 0;
    for (; made < o.forks; ++made) {
      pid_t pid = ::fork();
      if (pid < 0) {
        err = errno;
        break;
      }
      if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        for (;;) ::pause();
      }
    }
    say("forked " + std::to_string(made) + " of " + std::to_string(o.forks) +
        (err != 0 ? std::string(": ") + std::strerror(err) : std::string()));
  }

  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  if (o.cpu > 0) {
    int n = static_cast<int>(std::ceil(o.cpu));
    for (int i = 0; i < n; ++i) threads.emplace_back(burn, o.cpu / n, std::cref(stop));
    say("burning " + std::to_string(o.cpu) + " cores on " + std::to_string(n) + " threads");
  }
  using clock = std::chrono::steady_clock;
  auto start = clock::now();
  auto nextLine = start + std::chrono::seconds(1);
  uint64_t grown = 0;
  long line = 0;
  for (;;) {
    auto now = clock::now();
    if (o.duration && now - start >= *o.duration) break;
    if (o.growRate > 0) {
      uint64_t chunk = std::max<uint64_t>(o.growRate / 10, 4096);
      if (!touch(chunk)) {
        say("allocation failed after " + config::formatSize(grown));
        break;
      }
      grown += chunk;
    }
    if (o.sleep && now >= nextLine) {
      say("alive " + std::to_string(++line));
      nextLine += std::chrono::seconds(1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  stop = true;
  for (auto& t : threads) t.join();
  return o.growRate > 0 && !o.duration ? kExitFailure : o.exitCode;
}

}  // namespace cgwarden::agent
