// bench/scrape driver: sampling-loop CPU time, /metrics latency and size, and RSS of the
// real Sampler + exporter + CivetWeb server, at N cgroups. Run by bench/scrape.sh.
//
//   scrape_bench real N [TICKS]          real cgroups under cgwarden-bench-<pid> (root), each
//                                        with one sleeping process that did one 4 KiB direct
//                                        read from the first disk (so every cgroup has IO lines)
//   scrape_bench synthetic N DIR [TICKS] a generated hybrid tree under DIR with this host's
//                                        captured files (tests/fixtures/cgroup-v1-hybrid), as
//                                        observed cgroups docker/c<i> (read-only, unmanaged)
//
// Prints one line: key=value pairs (see bench/scrape.sh). SCRAPE_BENCH_FD_BUDGET overrides
// SamplerOptions::maxOpenFiles (default: half of RLIMIT_NOFILE); SCRAPE_BENCH_ROUNDS the number
// of measured /metrics GETs per encoding (default 50, 10 at 10,000 cgroups);
// SCRAPE_BENCH_DROP_HANDLES=1 (real) closes the cgroup handles once the cgroups are set up,
// which frees their ~8 directory descriptors per cgroup for the sampler's budget: how the
// sampler runs with the descriptors the shipped unit gives it, where this container's hard
// RLIMIT_NOFILE cannot hold the handles and every file at once. Removes its
// cgroups on exit, SIGINT and SIGTERM; its sleepers die with it (PR_SET_PDEATHSIG), and the
// script removes the leftovers of a crash too.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "agent/Cgroup.h"
#include "agent/HttpServer.h"
#include "agent/MetricsService.h"
#include "collectors/FileIo.h"
#include "support/HttpClient.h"

using namespace cgwarden;
using namespace std::chrono;

namespace {

std::unique_ptr<agent::CgroupManager> gManager;
std::vector<pid_t> gChildren;

void cleanup() {
  for (pid_t p : gChildren) ::kill(p, SIGKILL);
  for (pid_t p : gChildren) ::waitpid(p, nullptr, 0);
  gChildren.clear();
  if (gManager) {
    auto st = gManager->destroyTree(seconds(30));
    if (!st) std::fprintf(stderr, "scrape_bench: cleanup: %s\n", st.error().message().c_str());
    gManager.reset();
  }
}

void onSignal(int) {
  cleanup();  // SIGINT and SIGTERM are both blocked while this runs (see installSignalHandlers)
  ::_exit(130);
}

// Children (sleepers, the scraper) must not run the parent's cleanup on Ctrl-C.
void defaultSignalHandlers() {
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::signal(sig, SIG_DFL);
}

void installSignalHandlers() {
  struct sigaction sa {};
  sa.sa_handler = onSignal;
  sigemptyset(&sa.sa_mask);
  sigaddset(&sa.sa_mask, SIGINT);
  sigaddset(&sa.sa_mask, SIGTERM);
  sigaddset(&sa.sa_mask, SIGHUP);
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

double statusKiB(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) == 0) return std::atof(line.c_str() + std::strlen(key));
  }
  return 0;
}

double threadCpuMs() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) * 1e-6;
}

collectors::SampleTarget targetFor(const agent::Cgroup& cg, const std::string& name) {
  collectors::SampleTarget t;
  t.id = "/" + cg.path();
  t.name = name;
  t.state = "running";
  t.labels = {{"app", name}, {"tier", "bench"}};
  Limits configured;
  configured.memory.max = 256 << 20;
  configured.cpu.quotaUs = 50000;
  configured.cpu.periodUs = 100000;
  t.configuredLimits = configured;
  for (const char* c : {"cpu", "cpuacct", "memory", "pids", "blkio", "io", ""}) {
    if (auto d = cg.directoryFor(c)) t.dirs.set(c, *d);
  }
  return t;
}

// The kernel's floor under a tick: the same files the sampler reads for these targets,
// each read once with pread on a held descriptor, target after target as the sampler goes,
// with no parsing and no bookkeeping. Measured in a forked child that first closes every
// inherited descriptor (the sampler's and the cgroup handles'), so all of them fit in
// RLIMIT_NOFILE at once. The file lists are this driver's managed hybrid, v1 and v2
// targets' (collectors/Sampler.h: every-tick files, then the detail sections); the line
// prints how many files per target were found, to be checked against the sampler's
// full_files_per_target. Result: median CPU ms of 5 passes after one warm-up pass, for the
// every-tick files and for every file; -1 when it could not be measured.
struct KernelFloor {
  double everyTickMs = -1, fullMs = -1, fullFilesPerTarget = 0;
};

KernelFloor kernelFloor(const std::vector<std::shared_ptr<const collectors::SampleTarget>>& targets) {
  using Files = std::vector<std::pair<const char*, const char*>>;  // {CgroupDirs key, file}
  const Files hybridEveryTick = {{"", "cpu.stat"}, {"memory", "memory.usage_in_bytes"}, {"memory", "memory.stat"}};
  const Files v1EveryTick = {{"cpuacct", "cpuacct.usage"}, {"memory", "memory.usage_in_bytes"}, {"memory", "memory.stat"}};
  const Files v1Detail = {{"cpu", "cpu.stat"},
                          {"memory", "memory.oom_control"},
                          {"blkio", "blkio.throttle.io_service_bytes_recursive"},
                          {"blkio", "blkio.throttle.io_serviced_recursive"},
                          {"pids", "pids.current"},
                          {"memory", "memory.max_usage_in_bytes"},
                          {"memory", "memory.failcnt"},
                          {"pids", "cgroup.procs"}};
  const Files psi = {{"", "cpu.pressure"}, {"", "memory.pressure"}, {"", "io.pressure"}};
  const Files v2EveryTick = {{"", "cpu.stat"}, {"", "memory.current"}, {"", "memory.stat"}};
  const Files v2Detail = {{"", "memory.events"}, {"", "io.stat"},     {"", "pids.current"},
                          {"", "memory.peak"},   {"", "memory.swap.current"}, {"", "cgroup.procs"}};
  // Every path built before fork (the child only opens, reads and writes).
  std::vector<std::string> paths;
  std::vector<size_t> everyTickEnd, targetEnd;  // per target: end of its every-tick and of all its paths
  for (const auto& t : targets) {
    bool v2 = !t->dirs.contains("memory");
    bool hybrid = !v2 && t->dirs.contains("");
    auto add = [&](const Files& files) {
      for (auto [key, file] : files) {
        std::string_view dir = t->dirs.find(key);
        if (!dir.empty()) paths.push_back(joinPath(dir, file));
      }
    };
    add(v2 ? v2EveryTick : hybrid ? hybridEveryTick : v1EveryTick);
    everyTickEnd.push_back(paths.size());
    add(v2 ? v2Detail : v1Detail);
    if (v2 || hybrid) add(psi);
    if (!v2 && !hybrid) add({{"cpuacct", "cpuacct.stat"}});
    targetEnd.push_back(paths.size());
  }
  std::vector<int> fds(paths.size(), -1);
  char buf[8192];
  int pipeFds[2];
  if (targets.empty() || ::pipe(pipeFds) != 0) return {};
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(pipeFds[1], 3);
    ::close_range(4, ~0U, 0);
    size_t opened = 0;
    for (size_t i = 0; i < paths.size(); ++i) {
      fds[i] = ::open(paths[i].c_str(), O_RDONLY | O_CLOEXEC);
      opened += fds[i] >= 0;
    }
    double result[3] = {-1, -1, static_cast<double>(opened) / static_cast<double>(targets.size())};
    for (int everyTickOnly = 1; everyTickOnly >= 0; --everyTickOnly) {
      double passes[5];
      for (int pass = -1; pass < 5; ++pass) {
        double c0 = threadCpuMs();
        size_t begin = 0;
        for (size_t t = 0; t < targets.size(); ++t) {
          size_t end = everyTickOnly ? everyTickEnd[t] : targetEnd[t];
          for (size_t i = begin; i < end; ++i) {
            if (fds[i] >= 0) (void)!::pread(fds[i], buf, sizeof buf, 0);
          }
          begin = targetEnd[t];
        }
        if (pass >= 0) passes[pass] = threadCpuMs() - c0;
      }
      std::sort(passes, passes + 5);
      result[everyTickOnly ? 0 : 1] = passes[2];
    }
    (void)!::write(3, result, sizeof result);
    ::_exit(0);
  }
  ::close(pipeFds[1]);
  KernelFloor floor;
  double result[3];
  if (pid > 0 && ::read(pipeFds[0], result, sizeof result) == static_cast<ssize_t>(sizeof result)) {
    floor = {result[0], result[1], result[2]};
  }
  ::close(pipeFds[0]);
  if (pid > 0) ::waitpid(pid, nullptr, 0);
  return floor;
}

std::string firstDisk() {
  for (const char* d : {"vda", "sda", "nvme0n1", "xvda"}) {
    std::string p = std::string("/dev/") + d;
    if (::access(p.c_str(), R_OK) == 0) return p;
  }
  return "";
}

// A child that waits until attached, reads 4 KiB directly from the disk, then execs sleep.
pid_t sleeper(const std::string& disk, int index, int& releaseFd) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return -1;
  pid_t pid = ::fork();
  if (pid == 0) {
    defaultSignalHandlers();
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::close(fds[1]);
    char c;
    if (::read(fds[0], &c, 1) != 1) ::_exit(1);
    if (!disk.empty()) {
      int fd = ::open(disk.c_str(), O_RDONLY | O_DIRECT | O_CLOEXEC);
      void* buf = nullptr;
      if (fd >= 0 && ::posix_memalign(&buf, 4096, 4096) == 0) {
        (void)!::pread(fd, buf, 4096, static_cast<off_t>(index) * 1048576);
      }
    }
    // A separate program, as a workload is: a forked copy sharing our pages copy-on-write
    // would make the driver's own writes fault (and flush TLBs) for the rest of the run.
    ::execl("/bin/sleep", "sleep", "infinity", static_cast<char*>(nullptr));
    for (;;) ::pause();
  }
  ::close(fds[0]);
  releaseFd = fds[1];
  return pid;
}

// Writes a hybrid tree of N cgroups with the captured files; returns layout and targets.
std::vector<collectors::SampleTarget> generateTree(const std::string& root, int n, collectors::CgroupLayout& layout) {
  std::string fixtures = std::string(CGWARDEN_SOURCE_DIR) + "/tests/fixtures/cgroup-v1-hybrid/";
  auto slurp = [](const std::string& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  const std::vector<std::pair<std::string, std::vector<std::string>>> files = {
      {"cpu", {"cpu.stat", "cpu.cfs_quota_us", "cpu.cfs_period_us", "cpu.shares"}},
      {"cpuacct", {"cpuacct.usage", "cpuacct.stat"}},
      {"memory",
       {"memory.stat", "memory.usage_in_bytes", "memory.max_usage_in_bytes", "memory.failcnt", "memory.oom_control",
        "memory.limit_in_bytes", "memory.soft_limit_in_bytes", "memory.memsw.limit_in_bytes"}},
      {"blkio", {"blkio.throttle.io_service_bytes_recursive", "blkio.throttle.io_serviced_recursive"}},
      {"pids", {"pids.current", "pids.max"}},
      {"unified", {"unified/cpu.pressure", "unified/memory.pressure", "unified/io.pressure"}},
  };
  std::map<std::string, std::string> contents;
  for (const auto& [dir, names] : files) {
    for (const auto& n2 : names) contents[n2] = slurp(fixtures + n2);
  }
  layout.mode = collectors::CgroupMode::Hybrid;
  layout.v1Mounts.clear();
  for (const char* c : {"cpu", "cpuacct", "memory", "blkio", "pids"}) layout.v1Mounts[c] = root + "/" + c;
  layout.unifiedMount = root + "/unified";
  std::vector<collectors::SampleTarget> targets;
  for (int i = 0; i < n; ++i) {
    // At this scale the cgroups are observed ones (`observe: docker/*`), not managed workloads.
    collectors::SampleTarget t;
    std::string name = "docker/c" + std::to_string(i);
    t.id = "/" + name;
    t.name = name;
    t.managed = false;
    for (const auto& [dir, names] : files) {
      std::string d = root + "/" + dir + "/" + name;
      std::filesystem::create_directories(d);
      for (const auto& n2 : names) {
        std::ofstream(d + "/" + std::filesystem::path(n2).filename().string()) << contents[n2];
      }
      std::ofstream(d + "/cgroup.procs") << (dir == "pids" ? std::to_string(10000 + i) + "\n" : "");
      t.dirs.set(dir == "unified" ? "" : dir, d);
    }
    targets.push_back(std::move(t));
  }
  return targets;
}

struct ScrapeTimes {
  std::vector<double> plainMs, gzipMs;
  size_t plainBytes = 0, gzipBytes = 0;
};

// One GET /metrics, timed from connect to the body's last byte. The body is framed (chunked,
// Content-Length or read to close) and counted but not kept, so the client's own copying stays
// out of the figure; `validated` scrapes use the tests' full client instead. -1 on failure.
double timedGet(uint16_t port, bool gzip, size_t& bodyBytes) {
  auto t0 = steady_clock::now();
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (fd >= 0) ::close(fd);
    return -1;
  }
  std::string req = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  if (gzip) req += "Accept-Encoding: gzip\r\n";
  req += "\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return -1;
  }
  static std::vector<char> buf(256 * 1024);
  std::string head;
  bool inBody = false, chunked = false, done = false;
  long long remaining = -1;  // Content-Length left, or bytes left in the current chunk
  enum { kSize, kData, kDataEnd } state = kSize;
  std::string sizeLine;
  size_t dataEndLeft = 0;
  bodyBytes = 0;
  while (!done) {
    ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n <= 0) break;
    const char* p = buf.data();
    const char* end = p + n;
    if (!inBody) {
      head.append(p, end);
      size_t h = head.find("\r\n\r\n");
      if (h == std::string::npos) continue;
      if (head.compare(0, 12, "HTTP/1.1 200") != 0) break;
      std::string lower = head.substr(0, h);
      for (auto& c : lower) c = static_cast<char>(::tolower(static_cast<unsigned char>(c)));
      chunked = lower.find("\r\ntransfer-encoding: chunked") != std::string::npos;
      size_t cl = lower.find("\r\ncontent-length:");
      if (cl != std::string::npos) remaining = std::atoll(lower.c_str() + cl + 17);
      inBody = true;
      size_t used = head.size() - (h + 4);  // body bytes already in this read
      p = end - used;
    }
    if (!chunked) {
      bodyBytes += static_cast<size_t>(end - p);
      if (remaining >= 0 && static_cast<long long>(bodyBytes) >= remaining) done = true;
      continue;
    }
    while (p < end && !done) {
      if (state == kSize) {
        const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
        if (nl == nullptr) {
          sizeLine.append(p, end);
          p = end;
          break;
        }
        sizeLine.append(p, nl);
        p = nl + 1;
        remaining = std::strtoll(sizeLine.c_str(), nullptr, 16);
        sizeLine.clear();
        if (remaining == 0) {
          done = true;
        } else {
          state = kData;
        }
      } else if (state == kData) {
        size_t take = std::min(static_cast<size_t>(end - p), static_cast<size_t>(remaining));
        bodyBytes += take;
        remaining -= static_cast<long long>(take);
        p += take;
        if (remaining == 0) {
          state = kDataEnd;
          dataEndLeft = 2;
        }
      } else {
        size_t take = std::min(static_cast<size_t>(end - p), dataEndLeft);
        dataEndLeft -= take;
        p += take;
        if (dataEndLeft == 0) state = kSize;
      }
    }
  }
  ::close(fd);
  if (!inBody || (chunked && !done)) return -1;
  return duration<double, std::milli>(steady_clock::now() - t0).count();
}

// GETs /metrics from a forked child (its buffers stay out of our RSS); returns the timings.
// The first GET of each encoding goes through the tests' full client and is checked (status,
// complete chunked framing, gzip decoding to the same number of lines as the plain body);
// then one untimed warm-up and `rounds` timed GETs.
ScrapeTimes scrapeFromChild(uint16_t port, int rounds) {
  int fds[2];
  ScrapeTimes out;
  if (::pipe(fds) != 0) return out;
  pid_t pid = ::fork();
  if (pid == 0) {
    defaultSignalHandlers();
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::close(fds[0]);
    std::string report;
    size_t plainLines = 0;
    for (int gz = 0; gz < 2; ++gz) {
      std::vector<std::pair<std::string, std::string>> h;
      if (gz) h.emplace_back("Accept-Encoding", "gzip");
      auto r = testing::httpGet(port, "/metrics", h);
      size_t lines = static_cast<size_t>(std::count(r.body.begin(), r.body.end(), '\n'));
      if (r.status != 200 || !r.error.empty() || r.body.empty() || r.body.back() != '\n' ||
          (gz != 0) != (r.header("content-encoding") == "gzip") || (gz && lines != plainLines)) {
        std::fprintf(stderr, "scrape_bench: bad /metrics response (gzip %d): status %d, %s, %zu lines\n", gz,
                     r.status, r.error.c_str(), lines);
        ::_exit(3);
      }
      plainLines = lines;
      for (int i = 0; i < rounds + 1; ++i) {
        size_t bytes = 0;
        double ms = timedGet(port, gz != 0, bytes);
        if (ms < 0) {
          std::fprintf(stderr, "scrape_bench: GET /metrics failed (gzip %d)\n", gz);
          ::_exit(3);
        }
        if (i >= 1) report += (gz ? "g " : "p ") + std::to_string(ms) + " " + std::to_string(bytes) + "\n";
      }
    }
    (void)!::write(fds[1], report.data(), report.size());
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return ScrapeTimes{};
  std::istringstream in(text);
  std::string kind;
  double ms;
  size_t bytes;
  while (in >> kind >> ms >> bytes) {
    (kind == "g" ? out.gzipMs : out.plainMs).push_back(ms);
    (kind == "g" ? out.gzipBytes : out.plainBytes) = bytes;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: scrape_bench real N [TICKS] | scrape_bench synthetic N DIR [TICKS]\n");
    return 2;
  }
  spdlog::set_level(spdlog::level::warn);
  collectors::raiseFileDescriptorLimit();  // as the agent does at start
  std::string mode = argv[1];
  int n = std::atoi(argv[2]);
  int ticks = 20;
  collectors::CgroupLayout layout;
  std::vector<collectors::SampleTarget> targets;
  std::vector<std::unique_ptr<agent::Cgroup>> cgroups;

  if (mode == "real") {
    if (argc > 3) ticks = std::atoi(argv[3]);
    installSignalHandlers();
    auto l = collectors::CgroupLayout::detect();
    if (!l) {
      std::fprintf(stderr, "%s\n", l.error().message().c_str());
      return 1;
    }
    layout = *l;
    auto m = agent::CgroupManager::create(layout, "cgwarden-bench-" + std::to_string(::getpid()));
    if (!m) {
      std::fprintf(stderr, "%s\n", m.error().message().c_str());
      return 1;
    }
    gManager = std::move(*m);
    if (auto st = gManager->prepareRoot(); !st) {
      std::fprintf(stderr, "%s\n", st.error().message().c_str());
      cleanup();
      return 1;
    }
    std::string disk = firstDisk();
    for (int i = 0; i < n; ++i) {
      std::string name = "c" + std::to_string(i);
      auto cg = gManager->create(name);
      if (!cg) {
        std::fprintf(stderr, "%s\n", cg.error().message().c_str());
        cleanup();
        return 1;
      }
      int release = -1;
      pid_t pid = sleeper(disk, i, release);
      gChildren.push_back(pid);
      if (auto st = (*cg)->attach(pid); !st) {
        std::fprintf(stderr, "%s\n", st.error().message().c_str());
        cleanup();
        return 1;
      }
      (void)!::write(release, "g", 1);
      ::close(release);
      targets.push_back(targetFor(**cg, name));
      // The configured limits are the kernel's too, as for a launched workload: with a CPU
      // quota the sampler reads cpu.stat's throttling counters and exports them.
      if (auto st = (*cg)->applyLimits(*targets.back().configuredLimits); !st) {
        std::fprintf(stderr, "%s\n", st.error().message().c_str());
        cleanup();
        return 1;
      }
      cgroups.push_back(std::move(*cg));
    }
    std::this_thread::sleep_for(milliseconds(500));  // let the children do their read
    if (std::getenv("SCRAPE_BENCH_DROP_HANDLES") != nullptr) cgroups.clear();  // gManager removes by path
  } else if (mode == "synthetic" && argc > 3) {
    if (argc > 4) ticks = std::atoi(argv[4]);
    targets = generateTree(argv[3], n, layout);
  } else {
    std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
    return 2;
  }

  double rssBefore = statusKiB("VmRSS:");
  agent::MetricsOptions options;
  if (const char* budget = std::getenv("SCRAPE_BENCH_FD_BUDGET")) options.sampler.maxOpenFiles = std::strtoull(budget, nullptr, 10);
  // Shared immutable targets, as ObservedCgroups and a supervisor holding its targets hand them out.
  std::vector<std::shared_ptr<const collectors::SampleTarget>> shared;
  shared.reserve(targets.size());
  for (auto& t : targets) shared.push_back(std::make_shared<const collectors::SampleTarget>(std::move(t)));
  targets.clear();
  targets.shrink_to_fit();
  collectors::SharedTargetProvider provider = [&shared] { return shared; };
  auto svc = agent::MetricsService::create(layout, provider, options);
  if (!svc) {
    std::fprintf(stderr, "%s\n", svc.error().message().c_str());
    cleanup();
    return 1;
  }
  auto& metrics = **svc;
  // The loop's work, driven here so every tick is measured: thread CPU time per tick.
  for (int i = 0; i < 3; ++i) metrics.sampler().tick();  // the first tick opens descriptors
  std::vector<double> cpuMs, wallMs, filesPerTarget;
  size_t sampled = 0, held = 0, errors = 0;
  for (int i = 0; i < ticks; ++i) {
    auto snap = metrics.sampler().tick();
    cpuMs.push_back(snap->stats.cpuSeconds * 1000);
    wallMs.push_back(snap->stats.durationSeconds * 1000);
    sampled = snap->targets.size();
    held = snap->stats.heldFiles;
    errors = snap->stats.errorsTotal;
    if (sampled > 0) filesPerTarget.push_back(static_cast<double>(snap->stats.filesRead) / static_cast<double>(sampled));
  }
  double rssSampling = statusKiB("VmRSS:");
  // A full sample: every detail section of every target on every tick (what a tick cost
  // before the detail tier), with the same descriptors.
  std::vector<double> fullCpuMs, fullFilesPerTarget;
  metrics.sampler().setEveryTick(collectors::kAllDetailSections);
  for (int i = 0; i < std::max(3, ticks / 2); ++i) {
    auto snap = metrics.sampler().tick();
    fullCpuMs.push_back(snap->stats.cpuSeconds * 1000);
    if (!snap->targets.empty()) {
      fullFilesPerTarget.push_back(static_cast<double>(snap->stats.filesRead) / static_cast<double>(snap->targets.size()));
    }
  }
  metrics.sampler().setEveryTick(0);
  // The floor under every file read: one system call's CPU time (getppid), and one small
  // cgroup file (memory.usage_in_bytes of the first target) read with pread on a held
  // descriptor versus open + read + close, as the sampler does within and beyond its budget.
  double syscallUs = 0, preadUs = 0, openReadUs = 0;
  {
    constexpr int kCalls = 20000;
    double c0 = threadCpuMs();
    for (int i = 0; i < kCalls; ++i) (void)::syscall(SYS_getppid);
    syscallUs = (threadCpuMs() - c0) * 1000 / kCalls;
    std::string_view mem = shared.front()->dirs.find("memory");
    std::string file = mem.empty() ? "" : joinPath(mem, "memory.usage_in_bytes");
    int fd = file.empty() ? -1 : ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      char buf[256];
      c0 = threadCpuMs();
      for (int i = 0; i < kCalls; ++i) (void)!::pread(fd, buf, sizeof buf, 0);
      preadUs = (threadCpuMs() - c0) * 1000 / kCalls;
      ::close(fd);
      c0 = threadCpuMs();
      for (int i = 0; i < kCalls; ++i) {
        int f = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
        if (f >= 0) {
          (void)!::read(f, buf, sizeof buf);
          ::close(f);
        }
      }
      openReadUs = (threadCpuMs() - c0) * 1000 / kCalls;
    }
  }

  KernelFloor floor = mode == "real" ? kernelFloor(shared) : KernelFloor{};

  // Server-side render time (exporter + registry, into a writer that drops the text), then
  // one pass counting the series (lines that are not # HELP / # TYPE), then full HTTP scrapes.
  std::vector<double> renderMs;
  for (int i = 0; i < 5; ++i) {
    size_t bytes = 0;
    auto t0 = steady_clock::now();
    metrics.writeMetrics([&bytes](std::string_view piece) {
      bytes += piece.size();
      return true;
    });
    renderMs.push_back(duration<double, std::milli>(steady_clock::now() - t0).count());
  }
  if (const char* dump = std::getenv("SCRAPE_BENCH_DUMP")) std::ofstream(dump) << metrics.renderMetrics();
  size_t series = 0;
  bool lineStart = true, comment = false;
  metrics.writeMetrics([&](std::string_view piece) {
    for (char c : piece) {
      if (lineStart) comment = c == '#';
      lineStart = c == '\n';
      if (lineStart && !comment) ++series;
    }
    return true;
  });
  double rssRender = statusKiB("VmRSS:");
  agent::HttpServerOptions so;
  so.listen = "127.0.0.1:0";
  auto server = agent::HttpServer::start(so);
  if (!server) {
    std::fprintf(stderr, "%s\n", server.error().message().c_str());
    svc->reset();
    cgroups.clear();
    cleanup();
    return 1;
  }
  metrics.registerHandlers(**server);
  int rounds = n >= 10000 ? 10 : 50;
  if (const char* r = std::getenv("SCRAPE_BENCH_ROUNDS")) rounds = std::max(1, std::atoi(r));
  ScrapeTimes st = scrapeFromChild((*server)->port(), rounds);
  if (st.plainMs.empty() || st.gzipMs.empty()) {
    std::fprintf(stderr, "scrape_bench: the /metrics scrapes failed\n");
    server->reset();
    svc->reset();
    cgroups.clear();
    cleanup();
    return 1;
  }
  double rssPeak = statusKiB("VmHWM:");
  double rssAfter = statusKiB("VmRSS:");

  std::printf(
      "mode=%s n=%d sampled=%zu errors=%zu held_fds=%zu files_per_target=%.2f full_cpu_ms=%.2f full_files_per_target=%.2f syscall_us=%.2f pread_us=%.2f open_read_close_us=%.2f tick_cpu_ms=%.2f tick_cpu_p90_ms=%.2f tick_wall_ms=%.2f "
      "render_ms=%.1f rounds=%zu scrape_ms=%.1f scrape_p99_ms=%.1f scrape_gzip_ms=%.1f scrape_gzip_p99_ms=%.1f "
      "bytes=%zu gzip_bytes=%zu series=%zu "
      "rss_start_mib=%.1f rss_sampling_mib=%.1f rss_after_render_mib=%.1f rss_after_scrapes_mib=%.1f rss_peak_mib=%.1f "
      "sample_bytes=%zu target_bytes=%zu floor_tick_ms=%.2f floor_full_ms=%.2f floor_files_per_target=%.2f\n",
      mode.c_str(), n, sampled, errors, held, median(filesPerTarget), median(fullCpuMs), median(fullFilesPerTarget), syscallUs, preadUs, openReadUs, median(cpuMs), percentile(cpuMs, 0.9), median(wallMs), median(renderMs),
      st.plainMs.size(), median(st.plainMs), percentile(st.plainMs, 0.99), median(st.gzipMs),
      percentile(st.gzipMs, 0.99), st.plainBytes, st.gzipBytes, series, rssBefore / 1024,
      rssSampling / 1024, rssRender / 1024, rssAfter / 1024, rssPeak / 1024, sizeof(collectors::TargetSample),
      sizeof(collectors::SampleTarget), floor.everyTickMs, floor.fullMs, floor.fullFilesPerTarget);
  std::fflush(stdout);
  server->reset();
  svc->reset();
  cgroups.clear();
  cleanup();
  return 0;
}
