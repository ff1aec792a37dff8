#pragma once
// The real cgwarden binary (CGWARDEN_BINARY) as a child of the test: one-shot CLI runs and a
// `cgwarden run` agent on a temp config. Shared by the suites that drive the binary
// (ApiCliTest, LaunchCommandTest, AgentRestartTest) so there is one copy of this plumbing.
//
//   AgentProcess agent(configPath, port);        // cgwarden run --config configPath
//   ASSERT_TRUE(agent.waitHealthy()) << agent.err();
//   auto r = agent.api("GET", "/api/v1/workloads"); // bearer token from <state_dir>/api-token
//   agent.killHard();                           // SIGKILL, reaped: its workloads stay behind

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "agent/ExitStatus.h"
#include "collectors/FileIo.h"
#include "integration/LaunchHelpers.h"
#include "support/HttpClient.h"

namespace cgwarden::testing {

// The binary in the background, stdin /dev/null, stdout and stderr into files in the temp dir.
// The destructor SIGKILLs and reaps it unless wait() saw it end.
class BinaryProcess {
 public:
  explicit BinaryProcess(std::vector<std::string> args, std::vector<std::pair<std::string, std::string>> env = {}) {
    static int counter = 0;
    std::string base = joinPath(launchTempDir(), "bin-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
    outPath_ = base + ".out";
    errPath_ = base + ".err";
    args.insert(args.begin(), cgwardenBinary());
    pid_ = ::fork();
    if (pid_ == 0) {
      int in = ::open("/dev/null", O_RDONLY);
      int out = ::open(outPath_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int err = ::open(errPath_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(in, 0);
      ::dup2(out, 1);
      ::dup2(err, 2);
      ::unsetenv("CGWARDEN_CONFIG");
      for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(126);
    }
  }
  ~BinaryProcess() {
    if (!done_ && pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  BinaryProcess(const BinaryProcess&) = delete;
  BinaryProcess& operator=(const BinaryProcess&) = delete;

  pid_t pid() const { return pid_; }
  // The exit code (128+signal when killed), or -1 after `timeout` (it keeps running).
  int wait(std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        done_ = true;
        return agent::ExitStatus::fromWaitStatus(status).shellCode();
      }
      if (std::chrono::steady_clock::now() >= deadline) return -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  std::string out() const { return readFile(outPath_).valueOr(""); }
  std::string err() const { return readFile(errPath_).valueOr(""); }

 private:
  pid_t pid_ = -1;
  bool done_ = false;
  std::string outPath_, errPath_;
};

// A loopback port that was free a moment ago (bind port 0, read it back, close).
inline uint16_t freeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// `cgwarden run --config <config>` serving on 127.0.0.1:<port> (the config's agent.listen) with
// its state in <stateDir> (the config's agent.state_dir, for the API token).
class AgentProcess {
 public:
  AgentProcess(const std::string& config, uint16_t port, std::string stateDir)
      : process_({"run", "--config", config}), port_(port), stateDir_(std::move(stateDir)) {}

  pid_t pid() const { return process_.pid(); }
  uint16_t port() const { return port_; }
  std::string err() const { return process_.err(); }
  BinaryProcess& process() { return process_; }

  // Until /healthz answers 200 and /api/v1 is registered (the control API is the last component
  // to start: /healthz alone answers while later components are still starting).
  bool waitHealthy(std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (httpGet(port_, "/healthz").status == 200 && api("GET", "/api/v1/info").status == 200) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  HttpResult api(const std::string& method, const std::string& target, const std::string& body = "") {
    std::string token(readFile(joinPath(stateDir_, "api-token")).valueOr(""));
    while (!token.empty() && (token.back() == '\n' || token.back() == ' ')) token.pop_back();
    std::vector<std::pair<std::string, std::string>> headers = {{"Authorization", "Bearer " + token}};
    if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
    return httpRequest(port_, method, target, headers, body);
  }
  std::string metrics() { return httpGet(port_, "/metrics").body; }

  // SIGKILL (no clean-up of any kind) and reap.
  void killHard() {
    ::kill(process_.pid(), SIGKILL);
    process_.wait(std::chrono::seconds(10));
  }
  // SIGTERM: the agent stops its workloads and removes their cgroups. The exit code, -1 on timeout.
  int stop(std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
    ::kill(process_.pid(), SIGTERM);
    return process_.wait(timeout);
  }

 private:
  BinaryProcess process_;
  uint16_t port_;
  std::string stateDir_;
};

}  // namespace cgwarden::testing
