#pragma once
// The config IR: plain, validated structs that the rest of cgwarden consumes.
// YAML text -> (parse) -> these structs -> (compile/validate) -> Config.
// Defaults here are the documented defaults (docs/config.md).

#include <csignal>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "collectors/Limits.h"
#include "config/AdoptRule.h"
#include "config/PolicyRule.h"
#include "config/SourceLocation.h"

namespace cgwarden::config {


enum class RestartPolicy { Never, OnFailure, Always };

struct RestartSpec {
  RestartPolicy policy = RestartPolicy::OnFailure;
  uint32_t maxRestarts = 5;                               // then the workload is "failed"; 0 = no limit
  std::chrono::milliseconds initialBackoff{1000};         // first delay
  std::chrono::milliseconds maxBackoff{30000};            // cap of the doubling delay
  std::chrono::milliseconds resetAfter{60000};            // running this long clears the restart count
};

struct NamespaceSpec {
  bool pid = true;
  bool mount = true;   // private propagation and a fresh /proc
  bool uts = true;
  bool ipc = true;
  bool net = true;     // false ("net: host") shares the host's network
  bool cgroup = true;  // the workload sees its own cgroup as "/"
};

struct RlimitSpec {
  int resource = 0;  // RLIMIT_NOFILE, ...
  uint64_t soft = 0; // RLIM_INFINITY for "unlimited"
  uint64_t hard = 0;
};

struct OutputSpec {
  enum class Mode { Inherit, File, Null };
  Mode mode = Mode::Inherit;
  std::string path;                      // Mode::File; never empty after loading (default
                                         // <state_dir>/logs/<name>.log; stdout and stderr may share it)
  uint64_t rotateBytes = 10 * 1024 * 1024;  // rotate when the file grows past this
  uint32_t keep = 3;                     // rotated files kept: name.log.1 .. name.log.N
};

struct WorkloadSpec {
  std::string name;                       // [a-z0-9][a-z0-9_.-]*, unique
  std::vector<std::string> command;       // argv; command[0] is resolved in PATH if it has no '/'
  std::map<std::string, std::string> env; // added to a minimal default (PATH, HOME, TERM unset)
  std::string workingDir = "/";
  std::optional<uint32_t> uid;            // resolved from `user` (name or number)
  std::optional<uint32_t> gid;            // resolved from `group`, else the user's primary group
                                          // (a numeric uid with no passwd entry: gid = uid)
  std::string user;                       // as written, for display
  std::string group;
  std::map<std::string, std::string> labels;  // exported as container_label_<key>
  std::string image;                      // exported as the `image` label
  NamespaceSpec namespaces;
  std::string hostname;                   // set by the loader to the workload's name when empty
                                          // and namespaces.uts; empty when uts is false
  std::vector<RlimitSpec> rlimits;
  Limits limits;
  RestartSpec restart;
  int stopSignal = SIGTERM;
  std::chrono::milliseconds stopGrace{10000};  // then SIGKILL to the whole cgroup
  OutputSpec stdoutSpec;
  OutputSpec stderrSpec;
  SourceLocation location;                // of the workload's entry
};

struct AgentSpec {
  std::string cgroupRoot = "cgwarden";              // relative to each hierarchy's mount
  std::chrono::milliseconds sampleInterval{1000};
  std::chrono::milliseconds detailInterval{10000};  // the sampler's detail sections (Sampler.h)
  uint32_t sampleEveryTick = 0;  // detail sections read every tick anyway (collectors::SampleSection)
  std::string listen = "127.0.0.1:9839";             // HTTP: /metrics, /healthz, API
  std::string logLevel = "info";
  std::string logFormat = "text";                   // text | json
  std::string stateDir = "/var/lib/cgwarden";
  bool leaveRunning = false;                        // on agent stop, leave workloads running
  std::vector<std::string> observe;                 // globs over the cgroup tree, read-only
};

struct Config {
  AgentSpec agent;
  std::vector<WorkloadSpec> workloads;
  std::vector<PolicyRule> policies;
  std::vector<AdoptRule> adoptRules;  // `adopt:`, in file order (the first matching rule wins)
  std::string path;  // the file it came from ("" for built-in / API)
};

}  // namespace cgwarden::config
