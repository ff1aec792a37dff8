// End to end with a real Prometheus (Debian's `prometheus` package): it scrapes
// cgwarden's /metrics every second from a loopback port while a workload burns CPU in a
// test cgroup, and the PromQL rate() of container_cpu_usage_seconds_total must match the
// CPU the kernel accounted to the cgroup. Also `promtool check metrics` on real output.
//
// Nothing is installed here: when prometheus/promtool are missing these tests FAIL
// (tests/run-all.sh and .ci/run install the package).
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "agent/HttpServer.h"
#include "agent/MetricsService.h"
#include "collectors/FileIo.h"
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

std::string findTool(const std::string& name) {
  for (const char* dir : {"/usr/bin", "/usr/local/bin", "/bin", "/usr/sbin"}) {
    std::string p = std::string(dir) + "/" + name;
    if (::access(p.c_str(), X_OK) == 0) return p;
  }
  return "";
}

std::string missingToolMessage(const std::string& name) {
  return name + " is not installed on this machine: the e2e suite needs Debian's `prometheus` package "
                "(apt-get install prometheus; tests/run-all.sh and .ci/run install it)";
}

uint16_t freeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

std::string urlEncode(const std::string& s) {
  std::string out;
  const char* hex = "0123456789ABCDEF";
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

double unixNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Runs `argv` with `input` on stdin; returns {exit status, stdout+stderr}.
std::pair<int, std::string> runWithInput(const std::vector<std::string>& argv, const std::string& input) {
  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) return {-1, "pipe failed"};
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  std::thread writer([&] {
    size_t off = 0;
    while (off < input.size()) {
      ssize_t n = ::write(in[1], input.data() + off, input.size() - off);
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    ::close(in[1]);
  });
  std::string output;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(out[0], buf, sizeof buf)) > 0) output.append(buf, static_cast<size_t>(n));
  ::close(out[0]);
  writer.join();
  int status = 0;
  ::waitpid(pid, &status, 0);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), output};
}

// A Prometheus server started by the test: temp config and data dir, loopback port.
class PrometheusProcess {
 public:
  PrometheusProcess(const std::string& binary, uint16_t targetPort) {
    std::string pattern = (std::filesystem::temp_directory_path() / "cgwarden-e2e-XXXXXX").string();
    dir_ = ::mkdtemp(pattern.data());
    port_ = freeLoopbackPort();
    std::ofstream(dir_ + "/prometheus.yml") << "global:\n"
                                              "  scrape_interval: 1s\n"
                                              "  evaluation_interval: 1s\n"
                                              "scrape_configs:\n"
                                              "  - job_name: cgwarden\n"
                                              "    static_configs:\n"
                                              "      - targets: ['127.0.0.1:"
                                           << targetPort << "']\n";
    std::string logPath = dir_ + "/prometheus.log";
    pid_ = ::fork();
    if (pid_ == 0) {
      int log = ::open(logPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(log, 1);
      ::dup2(log, 2);
      std::string config = "--config.file=" + dir_ + "/prometheus.yml";
      std::string data = "--storage.tsdb.path=" + dir_ + "/data";
      std::string listen = "--web.listen-address=127.0.0.1:" + std::to_string(port_);
      ::execl(binary.c_str(), binary.c_str(), config.c_str(), data.c_str(), listen.c_str(), "--log.level=warn",
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
  }
  ~PrometheusProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      for (int i = 0; i < 100; ++i) {
        if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
          pid_ = -1;
          break;
        }
        std::this_thread::sleep_for(50ms);
      }
      if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
      }
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  uint16_t port() const { return port_; }
  std::string log() const {
    std::ifstream in(dir_ + "/prometheus.log");
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  bool waitReady(std::chrono::seconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      if (httpGet(port_, "/-/ready").status == 200) return true;
      std::this_thread::sleep_for(200ms);
    }
    return false;
  }
  // The instant vector of `promql` at `time` (Unix seconds): one value per series.
  std::vector<std::pair<nlohmann::json, double>> query(const std::string& promql, double time) {
    char t[64];
    std::snprintf(t, sizeof t, "%.3f", time);
    auto r = httpGet(port_, "/api/v1/query?query=" + urlEncode(promql) + "&time=" + t);
    std::vector<std::pair<nlohmann::json, double>> out;
    if (r.status != 200) return out;
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    if (j.is_discarded() || j["status"] != "success") return out;
    for (const auto& item : j["data"]["result"]) {
      out.emplace_back(item["metric"], std::stod(item["value"][1].get<std::string>()));
    }
    return out;
  }

 private:
  std::string dir_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

class PrometheusE2ETest : public CgroupTest {
 protected:
  void TearDown() override {
    if (metrics_) metrics_->stop();
    server_.reset();
    metrics_.reset();
    CgroupTest::TearDown();
  }

  void serve(std::vector<SampleTarget> targets, std::vector<std::string> observe = {}) {
    targets_ = std::move(targets);
    MetricsOptions o;
    o.sampler.interval = 250ms;
    o.observe = std::move(observe);
    auto m = MetricsService::create(layout_, [this] { return targets_; }, o);
    ASSERT_TRUE(m.ok()) << m.error().message();
    metrics_ = std::move(*m);
    metrics_->start();
    agent::HttpServerOptions so;
    so.listen = "127.0.0.1:0";
    auto s = HttpServer::start(so);
    ASSERT_TRUE(s.ok()) << s.error().message();
    server_ = std::move(*s);
    metrics_->registerHandlers(*server_);
  }

  std::vector<SampleTarget> targets_;
  std::unique_ptr<MetricsService> metrics_;
  std::unique_ptr<HttpServer> server_;
};

SampleTarget targetFor(const agent::Cgroup& cg, const std::string& name) {
  SampleTarget t;
  t.id = "/" + cg.path();
  t.name = name;
  t.labels = {{"tier", "e2e"}};
  t.state = "running";
  for (const char* c : {"cpu", "cpuacct", "memory", "pids", "blkio", "io", ""}) {
    if (auto d = cg.directoryFor(c)) t.dirs.set(c, *d);
  }
  return t;
}

double kernelCpuSeconds(const agent::Cgroup& cg) {
  if (auto acct = cg.directoryFor("cpuacct")) return static_cast<double>(readNumber(*acct, "cpuacct.usage")) / 1e9;
  std::string stat = readText(joinPath(*cg.directoryFor("cpu"), "cpu.stat"));
  for (auto& [k, v] : parseFlatKeyed(stat)) {
    if (k == "usage_usec") return static_cast<double>(v) / 1e6;
  }
  ADD_FAILURE() << "no usage_usec";
  return 0;
}

TEST_F(PrometheusE2ETest, PromQLRateOfCpuUsageIsTheWorkloadsCpu) {
  std::string prometheus = findTool("prometheus");
  ASSERT_FALSE(prometheus.empty()) << missingToolMessage("prometheus");

  auto cg = manager_->create("e2e-burn");
  ASSERT_TRUE(cg.ok()) << cg.error().message();
  Limits l;
  l.cpu.quotaUs = 20000;  // 0.2 cores: a stable rate even on a busy 2-core host
  l.cpu.periodUs = 100000;
  ASSERT_TRUE((*cg)->applyLimits(l).ok());
  BlockedChild child([] {
    volatile uint64_t spin = 0;
    for (;;) spin = spin + 1;
    return 0;
  });
  ASSERT_TRUE((*cg)->attach(child.pid()).ok());
  child.release();
  serve({targetFor(**cg, "e2e-burn")});

  PrometheusProcess prom(prometheus, server_->port());
  ASSERT_TRUE(prom.waitReady(60s)) << "prometheus did not become ready:\n" << prom.log();
  // Scraped and up.
  auto deadline = std::chrono::steady_clock::now() + 30s;
  bool up = false;
  while (!up && std::chrono::steady_clock::now() < deadline) {
    auto r = prom.query("up{job=\"cgwarden\"}", unixNow());
    up = r.size() == 1 && r[0].second == 1;
    if (!up) std::this_thread::sleep_for(500ms);
  }
  ASSERT_TRUE(up) << "prometheus never scraped cgwarden:\n" << prom.log();

  // 30 s of samples, and the kernel's own count over the same window.
  double t0 = unixNow();
  double cpu0 = kernelCpuSeconds(**cg);
  std::this_thread::sleep_for(30s);
  double t1 = unixNow();
  double cpu1 = kernelCpuSeconds(**cg);
  double kernelRate = (cpu1 - cpu0) / (t1 - t0);
  std::this_thread::sleep_for(2s);  // let the samples up to t1 be ingested

  auto result = prom.query("rate(container_cpu_usage_seconds_total{name=\"e2e-burn\"}[30s])", t1);
  ASSERT_EQ(result.size(), 1u) << "expected one series (cpu=\"total\")\n" << prom.log();
  double promRate = result[0].second;
  EXPECT_EQ(result[0].first["cpu"], "total");
  EXPECT_EQ(result[0].first["id"], "/" + (*cg)->path());
  EXPECT_EQ(result[0].first["container_label_tier"], "e2e");
  EXPECT_GT(kernelRate, 0.02) << "the workload did not run";
  EXPECT_LE(kernelRate, 0.21) << "the 0.2-core quota did not hold";
  EXPECT_NEAR(promRate, kernelRate, 0.1 * kernelRate + 0.01)
      << "PromQL rate " << promRate << " vs kernel " << kernelRate << " cores";

  // The throttling the quota causes is visible too.
  auto throttled = prom.query("rate(container_cpu_cfs_throttled_periods_total{name=\"e2e-burn\"}[30s])", t1);
  ASSERT_EQ(throttled.size(), 1u);
  EXPECT_GT(throttled[0].second, 0);
}

TEST_F(PrometheusE2ETest, PromtoolCheckMetricsPassesOnRealOutput) {
  std::string promtool = findTool("promtool");
  ASSERT_FALSE(promtool.empty()) << missingToolMessage("promtool");

  auto cg = manager_->create("lint/web");
  auto other = manager_->create("lint/observed-1");
  ASSERT_TRUE(cg.ok() && other.ok());
  Limits l;
  l.cpu.quotaUs = 50000;
  l.memory.max = 64 << 20;
  l.pids.max = 16;
  ASSERT_TRUE((*cg)->applyLimits(l).ok());
  BlockedChild child([] {
    ::pause();
    return 0;
  });
  ASSERT_TRUE((*cg)->attach(child.pid()).ok());
  SampleTarget t = targetFor(**cg, "web");
  t.image = "registry.local/web:1";
  t.labels["app.kubernetes.io/name"] = "web";
  t.restarts = 2;
  t.lastExitCode = 1;
  t.configuredLimits = l;
  serve({t}, {testCgroupRoot() + "/lint/observed-*"});
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (metrics_->latest()->targets.size() < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_EQ(metrics_->latest()->targets.size(), 2u);

  auto r = httpGet(server_->port(), "/metrics");
  ASSERT_EQ(r.status, 200);
  PromText parsed = parsePromText(r.body);
  EXPECT_GT(parsed.types.size(), 40u);
  EXPECT_TRUE(parsed.value("container_cpu_cfs_periods_total", {{"name", "web"}}).has_value());
  auto [status, output] = runWithInput({promtool, "check", "metrics"}, r.body);
  EXPECT_EQ(status, 0) << "promtool check metrics:\n" << output;
}

}  // namespace
}  // namespace cgwarden::testing
