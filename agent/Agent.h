#pragma once
// `cgwarden run`: the agent's wiring. One Agent per process.
//
//   Agent agent(config, {.leaveRunning = flag});
//   agent.addComponent(...);      // HOOK: sampler, HTTP server (see AgentComponent.h)
//   agent.start();                // cgroup root, supervisor, workloads, components
//   agent.run();                  // until SIGTERM / SIGINT (or requestStop())
//   agent.stop();                 // components, then workloads (unless leave_running)
//
// Signals: start() blocks SIGTERM, SIGINT and SIGHUP in the calling thread before any thread
// exists, so every thread the agent (or a component) creates inherits the mask and run()
// alone receives them through a signalfd. Call start() from the main thread before creating
// threads of your own. SIGHUP calls the onHangup handler (config reload).

#include <atomic>
#include <functional>
#include <memory>
#include <vector>

#include "agent/AgentComponent.h"
#include "agent/Supervisor.h"
#include "collectors/CgroupLayout.h"
#include "collectors/FileIo.h"
#include "config/Config.h"

namespace cgwarden::agent {

// <state_dir>/state.json: the supervisor's persistent state (SupervisorState.h).
inline constexpr const char* kStateFileName = "state.json";

struct AgentOptions {
  bool leaveRunning = false;  // --leave-running; ORed with agent.leave_running from the config
};

class Agent {
 public:
  explicit Agent(config::Config config, AgentOptions options = {});
  ~Agent();  // stop() if it has not run
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // HOOK for the integrator: adds a component started after the workloads. Before start().
  void addComponent(std::unique_ptr<AgentComponent> component);

  // Detects the cgroup layout, creates the manager rooted at agent.cgroup_root, prepares the
  // root, starts the supervisor, restores what <state_dir>/state.json says was running
  // (Supervisor::restore: same pids, nothing restarted; an unreadable file is logged and
  // ignored), and launches every configured workload that was not restored (a workload whose
  // launch fails is logged and left `failed`; the others run), then starts the components.
  // Fails on cgroup set-up errors and component start failures.
  Status start();

  // Called on run()'s thread for every SIGHUP (config reload). Before run().
  void onHangup(std::function<void()> handler) { onHangup_ = std::move(handler); }

  // Blocks until SIGTERM or SIGINT arrives (returns that signal) or requestStop() is called
  // (returns 0).
  int run();
  // Thread-safe: makes run() return.
  void requestStop();

  // Stops the components (reverse order), then the workloads: each gets its stop signal,
  // SIGKILL after its grace period, and its cgroup removed; with leave_running they are left
  // untouched for the next agent. Idempotent.
  void stop();

  const config::Config& config() const { return config_; }
  const collectors::CgroupLayout& layout() const { return layout_; }
  // Valid after a successful start().
  Supervisor& supervisor() { return *supervisor_; }
  bool leaveRunning() const { return options_.leaveRunning || config_.agent.leaveRunning; }

 private:
  config::Config config_;
  AgentOptions options_;
  collectors::CgroupLayout layout_;
  std::unique_ptr<Supervisor> supervisor_;
  std::vector<std::unique_ptr<AgentComponent>> components_;
  size_t started_ = 0;  // components started so far
  UniqueFd signalFd_;
  UniqueFd stopFd_;     // eventfd written by requestStop()
  bool stopped_ = false;
  std::function<void()> onHangup_;
};

}  // namespace cgwarden::agent
