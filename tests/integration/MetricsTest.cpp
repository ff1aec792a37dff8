// Accounting end to end on this host's real cgroups: a child burning CPU and holding
// memory in a test cgroup, sampled by the real Sampler, exported by the real exporter,
// fetched over loopback HTTP from the real CivetWeb server, and compared with the cgroup
// files read directly. Also: a real OOM kill, a vanished cgroup, a recreated cgroup, and
// an observed cgroup that must never be written.
#include <signal.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <mutex>
#include <thread>

#include "agent/HttpServer.h"
#include "agent/MetricsService.h"
#include "collectors/FileIo.h"
#include "collectors/PressureFiles.h"
#include "collectors/TextParse.h"
#include "integration/CgroupFixture.h"
#include "support/HttpClient.h"
#include "support/PromText.h"

namespace cgwarden::testing {
namespace {

using namespace std::chrono_literals;
using agent::HttpServer;
using agent::MetricsOptions;
using agent::MetricsService;
using collectors::SampleTarget;

constexpr uint64_t kMiB = 1024 * 1024;
constexpr auto kInterval = 200ms;
constexpr auto kDetailInterval = 1s;  // the detail sections (OOM counters, IO, tasks, PSI...)

SampleTarget targetFor(const agent::Cgroup& cg, const std::string& name) {
  SampleTarget t;
  t.id = "/" + cg.path();
  t.name = name;
  t.image = "local/" + name + ":test";
  t.labels = {{"suite", "metrics"}};
  t.managed = true;
  t.state = "running";
  for (const char* c : {"cpu", "cpuacct", "memory", "pids", "blkio", "io", ""}) {
    if (auto d = cg.directoryFor(c)) t.dirs.set(c, *d);
  }
  return t;
}

uint64_t flatKey(const std::string& dir, const std::string& file, const std::string& key) {
  std::string text = readText(joinPath(dir, file));
  for (auto& [k, v] : parseFlatKeyed(text)) {
    if (k == key) return v;
  }
  ADD_FAILURE() << "no " << key << " in " << dir << "/" << file;
  return 0;
}

// The cgroup files, read directly, in whichever version this host has.
struct Files {
  const agent::Cgroup& cg;
  bool v1() const { return cg.directoryFor("cpuacct").has_value() && !pathExists(joinPath(mem(), "memory.current")); }
  std::string mem() const { return *cg.directoryFor("memory"); }
  std::string cpu() const { return *cg.directoryFor("cpu"); }
  // What the sampler reads for a managed target: v2 cpu.stat; hybrid: the cgroup2 twin's
  // cpu.stat (cgwarden puts every member in both); plain v1: cpuacct.usage.
  double cpuSeconds() const {
    if (v1() && twin()) return static_cast<double>(flatKey(*twin(), "cpu.stat", "usage_usec")) / 1e6;
    return v1() ? cpuacctSeconds() : static_cast<double>(flatKey(cpu(), "cpu.stat", "usage_usec")) / 1e6;
  }
  double cpuacctSeconds() const {
    return static_cast<double>(readNumber(*cg.directoryFor("cpuacct"), "cpuacct.usage")) / 1e9;
  }
  std::optional<std::string> twin() const { return cg.directoryFor(""); }
  double periods() const { return static_cast<double>(flatKey(cpu(), "cpu.stat", "nr_periods")); }
  double throttledSeconds() const {
    if (v1()) return static_cast<double>(flatKey(cpu(), "cpu.stat", "throttled_time")) / 1e9;
    return static_cast<double>(flatKey(cpu(), "cpu.stat", "throttled_usec")) / 1e6;
  }
  double usage() const {
    return static_cast<double>(readNumber(mem(), v1() ? "memory.usage_in_bytes" : "memory.current"));
  }
  double rss() const { return static_cast<double>(flatKey(mem(), "memory.stat", v1() ? "total_rss" : "anon")); }
  double inactiveFile() const {
    return static_cast<double>(flatKey(mem(), "memory.stat", v1() ? "total_inactive_file" : "inactive_file"));
  }
  double oomKills() const {
    return static_cast<double>(flatKey(mem(), v1() ? "memory.oom_control" : "memory.events", "oom_kill"));
  }
  double threads() const { return static_cast<double>(readNumber(*cg.directoryFor("pids"), "pids.current")); }
  std::optional<double> cpuPressureSomeSeconds() const {
    auto dir = cg.directoryFor("");
    if (!dir) return std::nullopt;
    auto p = collectors::parsePressure(readText(joinPath(*dir, "cpu.pressure")));
    if (!p) return std::nullopt;
    return static_cast<double>(p->some.totalUs) / 1e6;
  }
};

class MetricsTest : public CgroupTest {
 protected:
  static void SetUpTestSuite() {
    if (!privilegedSkipReason().empty()) return;
    agent::HttpServerOptions o;
    o.listen = "127.0.0.1:0";
    auto s = HttpServer::start(o);
    ASSERT_TRUE(s.ok()) << s.error().message();
    server_ = std::move(*s).release();
  }
  static void TearDownTestSuite() {
    delete server_;  // one ~2 s CivetWeb stop for the whole suite
    server_ = nullptr;
  }

  void TearDown() override {
    if (server_ != nullptr) {
      server_->removeHandler("/metrics");
      server_->removeHandler("/healthz");
    }
    if (metrics_) metrics_->stop();
    metrics_.reset();
    CgroupTest::TearDown();
  }

  // A started MetricsService over `targets_` (plus observe patterns), served by the suite's server.
  void startMetrics(std::vector<std::string> observe = {}, bool start = true,
                    std::chrono::milliseconds staleAfter = 0ms) {
    MetricsOptions o;
    o.sampler.interval = kInterval;
    o.sampler.detailInterval = kDetailInterval;
    o.staleAfter = staleAfter;
    o.observe = std::move(observe);
    o.observeRescan = 0ms;
    auto m = MetricsService::create(
        layout_,
        [this] {
          std::lock_guard<std::mutex> lock(targetsMutex_);
          return targets_;
        },
        o);
    ASSERT_TRUE(m.ok()) << m.error().message();
    metrics_ = std::move(*m);
    metrics_->registerHandlers(*server_);
    if (start) metrics_->start();
  }

  void setTargets(std::vector<SampleTarget> targets) {
    std::lock_guard<std::mutex> lock(targetsMutex_);
    targets_ = std::move(targets);
  }

  // Waits until a tick that started after now has been published.
  void waitForFreshTick() {
    auto after = std::chrono::steady_clock::now();
    auto deadline = after + 10s;
    while (metrics_->latest()->steadyTime <= after && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(10ms);
    }
    ASSERT_GT(metrics_->latest()->steadyTime, after) << "the sampling loop did not tick";
  }

  // Waits until target `id`'s detail sections were all read after now (one detail interval).
  void waitForDetailRead(const std::string& id) {
    double after = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    auto deadline = std::chrono::steady_clock::now() + 10s;
    auto read = [&] {
      const collectors::TargetSample* t = metrics_->latest()->find(id);
      return t != nullptr && t->detailTime > after;
    };
    while (!read() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
    ASSERT_TRUE(read()) << id << ": no detail read within 10 s";
  }

  PromText scrape(bool gzip = false) {
    std::vector<std::pair<std::string, std::string>> headers;
    if (gzip) headers.emplace_back("Accept-Encoding", "gzip");
    auto r = httpGet(server_->port(), "/metrics", headers);
    EXPECT_EQ(r.status, 200) << r.error;
    EXPECT_EQ(r.header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    if (gzip) {
      EXPECT_EQ(r.header("content-encoding"), "gzip");
    }
    PromText t = parsePromText(r.body);
    EXPECT_TRUE(t.errors.empty()) << t.errors.front();
    return t;
  }

  static HttpServer* server_;
  std::unique_ptr<MetricsService> metrics_;
  std::mutex targetsMutex_;
  std::vector<SampleTarget> targets_;
};

HttpServer* MetricsTest::server_ = nullptr;

// A child that touches `bytes` of memory and then spins forever.
BlockedChild burner(uint64_t bytes) {
  return BlockedChild([bytes] {
    auto* p = static_cast<char*>(::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (p == MAP_FAILED) return 3;
    for (uint64_t i = 0; i < bytes; i += 4096) p[i] = 1;
    volatile uint64_t spin = 0;
    for (;;) spin = spin + 1;
    return 0;
  });
}

TEST_F(MetricsTest, ScrapedValuesAgreeWithTheCgroupFiles) {
  auto cg = manager_->create("burn");
  ASSERT_TRUE(cg.ok()) << cg.error().message();
  Limits l;
  l.memory.max = 256 * kMiB;
  l.pids.max = 32;
  ASSERT_TRUE((*cg)->applyLimits(l).ok());
  BlockedChild child = burner(32 * kMiB);
  ASSERT_TRUE((*cg)->attach(child.pid()).ok());
  child.release();
  Files files{**cg};
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (files.rss() < 32 * kMiB && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  ASSERT_GE(files.rss(), 32.0 * kMiB) << "the child did not touch its memory";
  // 0.05 cores: throttled even when the host is busy with other work.
  l.cpu.quotaUs = 5000;
  l.cpu.periodUs = 100000;
  ASSERT_TRUE((*cg)->applyLimits(l).ok());
  // Throttling has happened once the kernel says so (a slow guest needs more periods).
  deadline = std::chrono::steady_clock::now() + 10s;
  while (files.throttledSeconds() <= 0 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  ASSERT_GT(files.throttledSeconds(), 0) << "a busy loop under 0.05 cores was never throttled";

  SampleTarget t = targetFor(**cg, "burn");
  t.configuredLimits = l;
  setTargets({t});
  startMetrics();

  // Counters: file value before the tick <= served value <= file value after the scrape.
  double cpu0 = files.cpuSeconds(), periods0 = files.periods(), throttled0 = files.throttledSeconds();
  std::optional<double> cpuacct0;
  if (files.v1()) cpuacct0 = files.cpuacctSeconds();
  auto psi0 = files.cpuPressureSomeSeconds();
  waitForFreshTick();
  PromText m = scrape();
  double cpu1 = files.cpuSeconds(), periods1 = files.periods(), throttled1 = files.throttledSeconds();
  auto psi1 = files.cpuPressureSomeSeconds();
  std::map<std::string, std::string> id = {{"id", t.id}};

  auto cpu = m.value("container_cpu_usage_seconds_total", {{"id", t.id}, {"cpu", "total"}});
  ASSERT_TRUE(cpu.has_value());
  EXPECT_GT(*cpu, 0.01);
  EXPECT_LE(cpu0, *cpu + 1e-9);
  EXPECT_LE(*cpu, cpu1 + 1e-9);
  if (cpuacct0 && files.twin()) {
    // Hybrid: the twin counts the same tasks as cpuacct. They differ by what ran while a
    // member was in one hierarchy and not yet the other (the join writes them in turn).
    constexpr double kJoinWindow = 0.02;
    EXPECT_LE(*cpuacct0, *cpu + kJoinWindow) << "cpuacct.usage read before the tick, twin's cpu.stat during it";
    EXPECT_LE(*cpu, files.cpuacctSeconds() + kJoinWindow);
  }
  auto periods = m.value("container_cpu_cfs_periods_total", id);
  ASSERT_TRUE(periods.has_value()) << "a quota is set: throttling series expected";
  EXPECT_LE(periods0, *periods);
  EXPECT_LE(*periods, periods1);
  auto throttled = m.value("container_cpu_cfs_throttled_seconds_total", id);
  ASSERT_TRUE(throttled.has_value());
  EXPECT_GT(*throttled, 0) << "a busy loop under 0.05 cores is throttled; " << readText(joinPath(files.cpu(), "cpu.stat"));
  EXPECT_LE(throttled0, *throttled + 1e-9);
  EXPECT_LE(*throttled, throttled1 + 1e-9);
  EXPECT_TRUE(m.value("container_cpu_user_seconds_total", id).has_value());
  if (psi0 && psi1) {
    auto waiting = m.value("container_pressure_cpu_waiting_seconds_total", id);
    ASSERT_TRUE(waiting.has_value());
    EXPECT_LE(*psi0, *waiting + 1e-9);
    EXPECT_LE(*waiting, *psi1 + 1e-9);
  }

  // Gauges of a child that holds its memory: equal within the kernel's per-CPU charge batching.
  const double tolerance = 2.0 * kMiB;
  EXPECT_NEAR(m.at("container_memory_usage_bytes", id), files.usage(), tolerance);
  EXPECT_NEAR(m.at("container_memory_rss", id), files.rss(), tolerance);
  EXPECT_NEAR(m.at("container_memory_working_set_bytes", id), files.usage() - files.inactiveFile(), tolerance);
  EXPECT_GE(m.at("container_memory_max_usage_bytes", id), 32.0 * kMiB);
  EXPECT_EQ(m.at("container_threads", id), files.threads());
  EXPECT_EQ(m.at("container_processes", id), 1);

  // Limits as the kernel reports them, and as configured.
  EXPECT_EQ(m.at("container_spec_cpu_quota", id), 5000);
  EXPECT_EQ(m.at("container_spec_cpu_period", id), 100000);
  EXPECT_EQ(m.at("container_spec_memory_limit_bytes", id), 256.0 * kMiB);
  EXPECT_EQ(m.at("container_threads_max", id), 32);
  EXPECT_EQ(m.at("cgwarden_limit_cpu_cores", id), 0.05);
  EXPECT_EQ(m.at("cgwarden_workload_state", {{"id", t.id}, {"state", "running"}}), 1);

  // Labels and types.
  auto series = m.find("container_memory_rss", id);
  ASSERT_EQ(series.size(), 1u);
  EXPECT_EQ(series[0]->labels.at("name"), "burn");
  EXPECT_EQ(series[0]->labels.at("image"), "local/burn:test");
  EXPECT_EQ(series[0]->labels.at("container_label_suite"), "metrics");
  EXPECT_FALSE(series[0]->hasTimestamp);
  EXPECT_EQ(m.types.at("container_cpu_usage_seconds_total"), "counter");
  EXPECT_EQ(m.types.at("container_memory_usage_bytes"), "gauge");
  double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_NEAR(m.at("container_last_seen", id), now, 5);
  EXPECT_EQ(m.at("cgwarden_sample_errors_total"), 0);

  // The same over gzip.
  PromText z = scrape(/*gzip=*/true);
  EXPECT_TRUE(z.value("container_memory_rss", id).has_value());
}

TEST_F(MetricsTest, OomKillIncrementsContainerOomEvents) {
  auto cg = manager_->create("oom");
  ASSERT_TRUE(cg.ok());
  Limits l;
  l.memory.max = 32 * kMiB;
  l.memory.swapMax = 0;
  auto st = (*cg)->applyLimits(l);
  if (!st.ok() && st.error().errnum == ENOENT) {  // no swap accounting on this kernel
    l.memory.swapMax.reset();
    st = (*cg)->applyLimits(l);
  }
  ASSERT_TRUE(st.ok()) << st.error().message();
  SampleTarget t = targetFor(**cg, "oom");
  setTargets({t});
  startMetrics();
  waitForFreshTick();
  Files files{**cg};
  std::map<std::string, std::string> id = {{"id", t.id}};
  auto before = scrape().value("container_oom_events_total", id);
  ASSERT_TRUE(before.has_value());
  EXPECT_EQ(*before, files.oomKills());

  BlockedChild child = burner(200 * kMiB);
  ASSERT_TRUE((*cg)->attach(child.pid()).ok());
  child.release();
  int status = child.wait(20000);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "not OOM-killed, status " << status;
  // OOM counters are a detail section: exported within one detail interval. (A supervised
  // workload's kill also changes its state, which has it read in full on the next tick.)
  waitForDetailRead(t.id);
  PromText m = scrape();
  EXPECT_EQ(m.at("container_oom_events_total", id), *before + 1);
  EXPECT_EQ(m.at("container_oom_events_total", id), files.oomKills());
  EXPECT_EQ(m.types.at("container_oom_events_total"), "counter");
}

TEST_F(MetricsTest, VanishedCgroupDisappearsFromTheNextScrape) {
  auto stays = manager_->create("stays");
  auto goes = manager_->create("goes");
  ASSERT_TRUE(stays.ok() && goes.ok());
  SampleTarget keep = targetFor(**stays, "stays");
  SampleTarget lose = targetFor(**goes, "goes");
  setTargets({keep, lose});
  startMetrics();
  waitForFreshTick();
  PromText m = scrape();
  EXPECT_TRUE(m.mentions("id", lose.id));
  EXPECT_TRUE(m.mentions("id", keep.id));
  double errors = m.at("cgwarden_sample_errors_total");

  ASSERT_TRUE((*goes)->remove(5s).ok());  // still listed by the provider
  waitForFreshTick();
  m = scrape();
  EXPECT_FALSE(m.mentions("id", lose.id)) << "a removed cgroup is still exported";
  EXPECT_TRUE(m.mentions("id", keep.id));
  EXPECT_EQ(m.at("cgwarden_sample_errors_total"), errors) << "a vanished cgroup is not an error";
  EXPECT_EQ(m.at("cgwarden_sample_targets"), 1);
}

TEST_F(MetricsTest, CountersStayMonotonicWhenTheWorkloadCgroupIsRecreated) {
  auto cg = manager_->create("again");
  ASSERT_TRUE(cg.ok());
  SampleTarget t = targetFor(**cg, "again");
  setTargets({t});
  startMetrics();
  std::map<std::string, std::string> id = {{"id", t.id}, {"cpu", "total"}};
  double first = 0;
  {
    BlockedChild child = burner(kMiB);
    ASSERT_TRUE((*cg)->attach(child.pid()).ok());
    child.release();
    std::this_thread::sleep_for(300ms);
    waitForFreshTick();
    first = scrape().at("container_cpu_usage_seconds_total", id);
    EXPECT_GT(first, 0.05);
    ASSERT_TRUE((*cg)->killAll(5s).ok());
  }
  // The supervisor removes the cgroup and creates it again for the next run: the held
  // descriptors now read ENODEV, the new cgroup counts from zero.
  ASSERT_TRUE((*cg)->remove(5s).ok());
  cg = manager_->create("again");
  ASSERT_TRUE(cg.ok());
  BlockedChild child = burner(kMiB);
  ASSERT_TRUE((*cg)->attach(child.pid()).ok());
  child.release();
  std::this_thread::sleep_for(100ms);
  waitForFreshTick();
  auto secondValue = scrape().value("container_cpu_usage_seconds_total", id);
  ASSERT_TRUE(secondValue.has_value()) << "the recreated cgroup is not exported";
  double second = *secondValue;
  EXPECT_GT(second, first) << "the counter went backwards across the recreation";
  EXPECT_LT(Files{**cg}.cpuSeconds(), first) << "precondition: the kernel counter did restart";
}

TEST_F(MetricsTest, ObservedCgroupIsExportedAndNeverWritten) {
  auto cg = manager_->create("observed/svc-1");
  ASSERT_TRUE(cg.ok()) << cg.error().message();
  std::vector<std::string> dirs = (*cg)->directories();
  // Every file's content and mtime, and an inotify watch for any modification.
  std::map<std::string, std::pair<std::string, int64_t>> before;
  int in = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  ASSERT_GE(in, 0);
  for (const auto& dir : dirs) {
    ASSERT_GE(::inotify_add_watch(in, dir.c_str(), IN_MODIFY | IN_ATTRIB | IN_CREATE | IN_DELETE), 0) << dir;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
      if (!e.is_regular_file()) continue;
      struct stat stBuf {};
      ::stat(e.path().c_str(), &stBuf);
      auto text = readFile(e.path().string());
      if (!text) continue;  // write-only files (cgroup.event_control, memory.force_empty, ...)
      before[e.path().string()] = {*text, static_cast<int64_t>(stBuf.st_mtim.tv_sec) * 1000000000 + stBuf.st_mtim.tv_nsec};
    }
  }
  ASSERT_GT(before.size(), 10u);

  setTargets({});
  startMetrics({testCgroupRoot() + "/observed/*"});
  waitForFreshTick();
  waitForFreshTick();
  PromText m = scrape();
  std::string id = "/" + testCgroupRoot() + "/observed/svc-1";
  EXPECT_TRUE(m.value("container_memory_usage_bytes", {{"id", id}}).has_value()) << "observed cgroup not exported";
  EXPECT_EQ(m.find("container_cpu_usage_seconds_total", {{"id", id}}).at(0)->labels.at("name"),
            testCgroupRoot() + "/observed/svc-1");
  EXPECT_TRUE(m.find("cgwarden_workload_state", {{"id", id}}).empty()) << "observed cgroups have no workload state";
  metrics_->stop();

  char buf[4096];
  ssize_t n = ::read(in, buf, sizeof buf);
  EXPECT_LT(n, 0) << "inotify saw a change in an observed cgroup";
  ::close(in);
  for (const auto& [path, snapshot] : before) {
    struct stat stBuf {};
    ASSERT_EQ(::stat(path.c_str(), &stBuf), 0) << path;
    EXPECT_EQ(static_cast<int64_t>(stBuf.st_mtim.tv_sec) * 1000000000 + stBuf.st_mtim.tv_nsec, snapshot.second) << path;
    EXPECT_EQ(readText(path), snapshot.first) << path;
  }
}

TEST_F(MetricsTest, HealthzFollowsTheSamplingLoop) {
  startMetrics({}, /*start=*/false, /*staleAfter=*/600ms);
  auto r = httpGet(server_->port(), "/healthz");
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("\"status\":\"unhealthy\""), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("sampling loop not started"), std::string::npos) << r.body;
  metrics_->start();
  waitForFreshTick();
  r = httpGet(server_->port(), "/healthz");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"status\":\"ok\""), std::string::npos) << r.body;
  EXPECT_EQ(httpRequest(server_->port(), "POST", "/metrics", {}, "x").status, 405);
  metrics_->stop();
  std::this_thread::sleep_for(800ms);  // past staleAfter
  r = httpGet(server_->port(), "/healthz");
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_NE(r.body.find("sampling loop stopped"), std::string::npos) << r.body;
}

}  // namespace
}  // namespace cgwarden::testing
