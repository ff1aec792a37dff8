#pragma once
// The control API suites' agent-in-a-test: a real Supervisor on the CgroupTest root, a real
// Sampler (ticked by the test), a ControlApi with a fresh token, served by one CivetWeb
// HttpServer shared by the whole test process (starting and stopping one per test would
// cost ~2 s each: see HttpServer.h).

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/ControlApi.h"
#include "agent/HttpServer.h"
#include "agent/Supervisor.h"
#include "collectors/FileIo.h"
#include "collectors/Sampler.h"
#include "integration/CgroupFixture.h"
#include "integration/LaunchHelpers.h"
#include "support/HttpClient.h"

namespace cgwarden::testing {

// The shared server on 127.0.0.1:<ephemeral>, bodies up to 64 KiB.
inline agent::HttpServer& apiTestServer() {
  static std::unique_ptr<agent::HttpServer> server = [] {
    agent::HttpServerOptions o;
    o.listen = "127.0.0.1:0";
    o.maxBodyBytes = 64 * 1024;
    o.threads = 8;
    auto s = agent::HttpServer::start(o);
    if (!s) throw std::runtime_error(s.error().message());
    return std::move(*s);
  }();
  return *server;
}

class ApiFixture : public CgroupTest {
 protected:
  void SetUp() override {
    CgroupTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    static int counter = 0;
    stateDir_ = joinPath(launchTempDir(), "api-state-" + std::to_string(++counter));
    auto manager = agent::CgroupManager::create(layout_, testCgroupRoot());
    ASSERT_TRUE(manager.ok()) << manager.error().message();
    agent::SupervisorOptions so;
    so.stateDir = stateDir_;
    supervisor_ = std::make_unique<agent::Supervisor>(std::move(*manager), so);
    collectors::SamplerOptions sampler;
    sampler.interval = std::chrono::milliseconds(100);
    sampler_ = std::make_unique<collectors::Sampler>(layout_, supervisor_->targetProvider(), sampler);

    configPath_ = joinPath(launchTempDir(), "api-config-" + std::to_string(counter) + ".yaml");
    {
      FILE* f = std::fopen(configPath_.c_str(), "w");
      ASSERT_NE(f, nullptr);
      std::fputs("agent:\n  cgroup_root: x\n", f);
      std::fclose(f);
    }
    agent::ControlApiOptions o;
    o.agent.stateDir = stateDir_;
    o.agent.listen = "127.0.0.1:" + std::to_string(apiTestServer().port());
    o.configPath = configPath_;
    auto api = agent::ControlApi::create(*supervisor_, layout_, o);
    ASSERT_TRUE(api.ok()) << api.error().message();
    api_ = std::move(*api);
    api_->setSnapshotProvider([this] { return sampler_->latest(); });
    api_->registerHandlers(apiTestServer());
    auto token = readFile(api_->tokenPath());
    ASSERT_TRUE(token.ok());
    token_ = std::string(trimmed(*token));
  }

  void TearDown() override {
    if (api_) api_->unregisterHandlers(apiTestServer());
    api_.reset();
    sampler_.reset();
    if (supervisor_) supervisor_->shutdown();
    supervisor_.reset();
    CgroupTest::TearDown();
  }

  static std::string_view trimmed(std::string_view s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
    return s;
  }

  uint16_t port() const { return apiTestServer().port(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port()); }

  HttpResult call(const std::string& method, const std::string& target, const std::string& body = "",
                  const std::string& contentType = "application/json") {
    return callWith(token_, method, target, body, contentType);
  }
  HttpResult callWith(const std::string& token, const std::string& method, const std::string& target,
                      const std::string& body = "", const std::string& contentType = "application/json") {
    std::vector<std::pair<std::string, std::string>> headers;
    if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
    if (!body.empty() && !contentType.empty()) headers.emplace_back("Content-Type", contentType);
    return httpRequest(port(), method, target, headers, body);
  }
  static nlohmann::json parse(const HttpResult& r) {
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << "not JSON: " << r.body;
    return j;
  }

  // A launch body for `cgwarden stress --sleep` with its output in the temp dir.
  std::string sleeperBody(const std::string& name, const std::string& extra = "") const {
    return R"({"name":")" + name + R"(","command":[")" + cgwardenBinary() +
           R"(","stress","--sleep"],"restart":"never","stdout":null,"stderr":null)" + extra + "}";
  }

  agent::WorkloadStatus waitState(const std::string& name, agent::WorkloadState state,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    auto s = supervisor_->waitFor(
        name, [state](const agent::WorkloadStatus& st) { return st.state == state; }, timeout);
    EXPECT_TRUE(s.ok()) << s.error().message();
    return s.ok() ? *s : agent::WorkloadStatus{};
  }

  // The directory holding `controller`'s files for "<root>/<name>" on this host.
  std::string dirOf(const std::string& controller, const std::string& name) const {
    std::string mount = layout_.mode == collectors::CgroupMode::V2 ? layout_.unifiedMount : layout_.v1Mounts.at(controller);
    return joinPath(joinPath(mount, testCgroupRoot()), name);
  }
  std::string memoryMaxFile(const std::string& name) const {
    return joinPath(dirOf("memory", name), layout_.mode == collectors::CgroupMode::V2 ? "memory.max" : "memory.limit_in_bytes");
  }
  bool cgroupExists(const std::string& name) const {
    std::vector<std::string> mounts = layout_.v1MountPoints();
    if (!layout_.unifiedMount.empty()) mounts.push_back(layout_.unifiedMount);
    for (const auto& m : mounts) {
      if (pathExists(joinPath(joinPath(m, testCgroupRoot()), name))) return true;
    }
    return false;
  }
  // Names directly under the test root, in the memory (or unified) hierarchy.
  std::vector<std::string> cgroupsUnderRoot() const {
    std::vector<std::string> out;
    std::string root = joinPath(layout_.mode == collectors::CgroupMode::V2 ? layout_.unifiedMount : layout_.v1Mounts.at("memory"),
                                testCgroupRoot());
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(root, ec)) {
      if (e.is_directory()) out.push_back(e.path().filename().string());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  std::string stateDir_;
  std::string configPath_;
  std::string token_;
  std::unique_ptr<agent::Supervisor> supervisor_;
  std::unique_ptr<collectors::Sampler> sampler_;
  std::unique_ptr<agent::ControlApi> api_;
};

}  // namespace cgwarden::testing
