// Times whole command launches (fork + exec + wait), interleaved so every candidate sees the
// same machine load. Used by bench/launch.sh; built by it with g++ (no CMake target).
//
//   launch_timer ROUNDS WARMUP LABEL1 -- CMD1 ARGS ;; LABEL2 -- CMD2 ARGS ;; ...
//
// Prints one tab-separated line per candidate:
//   label  runs  failures  median_ms  p90_ms  min_ms  mean_ms  first_failure_status  median_cpu_ms
// CPU is user+system time of the whole process tree (wait4's rusage: the child plus the
// descendants it reaped), which scheduling delays on a loaded machine do not inflate.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

struct Candidate {
  std::string label;
  std::vector<std::string> argv;
  std::vector<double> ms;
  std::vector<double> cpu;
  int failures = 0;
  int firstFailure = 0;
};

double nowMs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

// Runs once; returns the wall time in ms, or a negative value on failure (status in *status).
double runOnce(const Candidate& c, int* status, double* cpuMs) {
  std::vector<char*> argv;
  for (const auto& a : c.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  double start = nowMs();
  pid_t pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", O_RDWR);
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  struct rusage ru {};
  wait4(pid, status, 0, &ru);
  double took = nowMs() - start;
  *cpuMs = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
  return WIFEXITED(*status) && WEXITSTATUS(*status) == 0 ? took : -took;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t idx = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(idx, v.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: launch_timer ROUNDS WARMUP LABEL -- CMD ARGS [;; LABEL -- CMD ARGS]...\n");
    return 2;
  }
  int rounds = std::atoi(argv[1]);
  int warmup = std::atoi(argv[2]);
  std::vector<Candidate> candidates;
  Candidate current;
  bool inCommand = false;
  for (int i = 3; i < argc; ++i) {
    std::string a = argv[i];
    if (a == ";;") {
      candidates.push_back(current);
      current = Candidate{};
      inCommand = false;
    } else if (!inCommand && a == "--") {
      inCommand = true;
    } else if (!inCommand) {
      current.label = a;
    } else {
      current.argv.push_back(a);
    }
  }
  if (!current.argv.empty()) candidates.push_back(current);

  for (int r = 0; r < warmup + rounds; ++r) {
    for (auto& c : candidates) {
      int status = 0;
      double cpu = 0;
      double t = runOnce(c, &status, &cpu);
      if (r < warmup) continue;
      if (t < 0) {
        if (c.failures++ == 0) c.firstFailure = status;
        continue;
      }
      c.ms.push_back(t);
      c.cpu.push_back(cpu);
    }
  }
  for (const auto& c : candidates) {
    double mean = 0;
    for (double v : c.ms) mean += v;
    mean = c.ms.empty() ? 0 : mean / static_cast<double>(c.ms.size());
    std::printf("%s\t%zu\t%d\t%.2f\t%.2f\t%.2f\t%.2f\t%d\t%.2f\n", c.label.c_str(), c.ms.size(), c.failures,
                percentile(c.ms, 0.5), percentile(c.ms, 0.9), c.ms.empty() ? 0 : *std::min_element(c.ms.begin(), c.ms.end()),
                mean, c.firstFailure, percentile(c.cpu, 0.5));
  }
  return 0;
}
