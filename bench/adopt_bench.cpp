// Driver of bench/adopt.sh: runs N execs of a uniquely named probe (bench/adopt_probe.c) while
// one adopter moves each into the target cgroup, and summarises what the probes report.
// Built by bench/adopt.sh with g++ against a build directory's static libraries.
//
//   adopt_bench cgwarden PROBE N
//   adopt_bench external PROBE N -- CMD ARGS...   (CMD: e.g. cgrulesengd; %T = target path,
//                                                  %C = comma-separated v1 controllers)
//
// Both modes create the target "cgwarden-bench-<pid>/target" with CgroupManager and remove it
// at the end. cgwarden mode runs agent::Adopter in-process with the rule {comm: <probe
// name>, workload: target}; a keeper process holds the target so it is never re-created.
// external mode starts CMD (in its own process group), waits until a probe gets adopted,
// runs the N probes, then SIGTERMs the group.
//
// Prints raw lines for bench/adopt.sh to aggregate (times in ms):
//   P <inside at first instruction 0|1> <first instruction -> seen inside, -1: never in 2 s>
//     <child forked at start inside 20 ms after the parent 0|1> <child forked once inside, inside 0|1>
//   E <exec event -> moved>            (cgwarden mode: AdoptionEvent::latency)
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "agent/Adopter.h"
#include "agent/Cgroup.h"

using namespace cgwarden;
using namespace std::chrono_literals;

namespace {

struct Report {
  int pid = 0;
  int first = 0;
  long long latencyNs = -1;
  int before = -1;
  int after = -1;
};

// fork + exec the probe with its report pipe on fd 3; returns its line.
bool runProbe(const std::string& probe, const std::string& target, int hierarchies, Report& out) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return false;
  std::string name = probe.substr(probe.rfind('/') + 1);
  std::string want = std::to_string(hierarchies);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 3);
    ::execl(probe.c_str(), name.c_str(), target.c_str(), want.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(fds[1]);
  std::string text;
  char buf[256];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof(buf))) > 0) text.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  std::istringstream in(text);
  return static_cast<bool>(in >> out.pid >> out.first >> out.latencyNs >> out.before >> out.after);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: adopt_bench cgwarden|external PROBE N [-- CMD ARGS...]\n");
    return 2;
  }
  std::string mode = argv[1];
  std::string probe = argv[2];
  int count = std::atoi(argv[3]);
  std::vector<std::string> external;
  for (int i = 4; i < argc; ++i) {
    if (std::strcmp(argv[i], "--") == 0) continue;
    external.push_back(argv[i]);
  }
  std::string comm = probe.substr(probe.rfind('/') + 1).substr(0, 15);

  auto layout = collectors::CgroupLayout::detect();
  if (!layout) return std::fprintf(stderr, "%s\n", layout.error().message().c_str()), 1;
  auto manager = agent::CgroupManager::create(*layout, "cgwarden-bench-" + std::to_string(::getpid()));
  if (!manager) return std::fprintf(stderr, "%s\n", manager.error().message().c_str()), 1;
  if (auto st = (*manager)->prepareRoot(); !st) return std::fprintf(stderr, "%s\n", st.error().message().c_str()), 1;
  auto target = (*manager)->create("target");
  if (!target) return std::fprintf(stderr, "%s\n", target.error().message().c_str()), 1;
  const std::string targetPath = "/" + (*target)->path();
  std::string controllers;
  int hierarchies = 0;
  for (const auto& [controller, mount] : layout->v1Mounts) {
    if (!(*target)->directoryFor(controller)) continue;
    controllers += (controllers.empty() ? "" : ",") + controller;
    ++hierarchies;
  }
  // v2: no v1 lines; the probe then checks the "0::" line (HIERARCHIES 0).

  std::unique_ptr<agent::Adopter> adopter;
  std::mutex mu;
  std::vector<double> eventMs;
  pid_t keeper = -1, externalPid = -1;
  int status = 0;

  if (mode == "cgwarden") {
    keeper = ::fork();
    if (keeper == 0) {
      for (;;) ::pause();
    }
    agent::AdopterOptions o;
    config::AdoptRule rule;
    rule.name = "bench";
    rule.comm = comm;
    rule.workload = "target";
    o.rules = {rule};
    o.rescanInterval = 3600s;
    auto a = agent::Adopter::create(**manager, o);
    if (!a) return std::fprintf(stderr, "%s\n", a.error().message().c_str()), 1;
    adopter = std::move(*a);
    // The keeper makes "target" an adopt-by-pid workload: never removed when empty.
    if (auto k = adopter->adoptPid(keeper, "target", {}); !k) {
      std::fprintf(stderr, "%s\n", k.error().message().c_str());
      return 1;
    }
    adopter->onAdopted([&](const agent::AdoptionEvent& ev) {
      if (!ev.latency) return;
      std::lock_guard lock(mu);
      eventMs.push_back(std::chrono::duration<double, std::milli>(*ev.latency).count());
    });
    if (auto st = adopter->start(); !st) return std::fprintf(stderr, "%s\n", st.error().message().c_str()), 1;
  } else {
    std::vector<std::string> args;
    for (auto a : external) {
      for (auto [key, value] : {std::pair<std::string, std::string>{"%T", (*target)->path()}, {"%C", controllers}}) {
        for (size_t p; (p = a.find(key)) != std::string::npos;) a.replace(p, 2, value);
      }
      args.push_back(a);
    }
    externalPid = ::fork();
    if (externalPid == 0) {
      ::setpgid(0, 0);
      std::vector<char*> av;
      for (auto& s : args) av.push_back(s.data());
      av.push_back(nullptr);
      ::execvp(av[0], av.data());
      ::_exit(127);
    }
    // Ready when a probe gets adopted.
    bool ready = false;
    for (int i = 0; i < 100 && !ready; ++i) {
      Report r;
      ready = runProbe(probe, targetPath, hierarchies, r) && r.latencyNs >= 0;
      if (!ready) std::this_thread::sleep_for(50ms);
    }
    if (!ready) {
      std::fprintf(stderr, "adopt_bench: %s never adopted a probe\n", args.empty() ? "?" : args[0].c_str());
      ::kill(-externalPid, SIGTERM);
      ::waitpid(externalPid, &status, 0);
      (void)(*manager)->destroyTree(5s);
      return 1;
    }
  }

  std::vector<Report> reports;
  for (int i = 0; i < count; ++i) {
    Report r;
    if (runProbe(probe, targetPath, hierarchies, r)) reports.push_back(r);
  }

  if (adopter) adopter->stop();
  if (externalPid > 0) {
    ::kill(-externalPid, SIGTERM);
    ::waitpid(externalPid, &status, 0);
  }
  if (keeper > 0) {
    ::kill(keeper, SIGKILL);
    ::waitpid(keeper, &status, 0);
  }
  adopter.reset();
  target->reset();
  if (auto st = (*manager)->destroyTree(5s); !st) std::fprintf(stderr, "cleanup: %s\n", st.error().message().c_str());

  for (const auto& r : reports) {
    std::printf("P %d %.4f %d %d\n", r.first, r.latencyNs < 0 ? -1.0 : static_cast<double>(r.latencyNs) / 1e6, r.before,
                r.after);
  }
  for (double ms : eventMs) std::printf("E %.4f\n", ms);
  return 0;
}
