#include "agent/ExecOptions.h"

#include <sys/resource.h>

#include <cmath>
#include <map>

#include "collectors/TextParse.h"
#include "config/SystemLookup.h"
#include "config/Units.h"

namespace cgwarden::agent {

namespace {

Error bad(const std::string& flag, const std::string& detail) { return Error::invalid("parse", flag, detail); }

Result<uint64_t> size(const std::string& flag, const std::string& v) {
  auto n = config::parseSize(v);
  if (!n) return bad(flag, "\"" + v + "\" is not a size (e.g. 64Mi, 1.5G)");
  return *n;
}

Result<uint64_t> number(const std::string& flag, const std::string& v, uint64_t lo, uint64_t hi) {
  auto n = parseUint64(v);
  if (!n || *n < lo || *n > hi) {
    return bad(flag, "\"" + v + "\" is not a number in " + std::to_string(lo) + ".." + std::to_string(hi));
  }
  return *n;
}

Status parseRlimit(const std::string& v, config::WorkloadSpec& spec) {
  static const std::map<std::string, int, std::less<>> kResources = {
      {"nofile", RLIMIT_NOFILE}, {"nproc", RLIMIT_NPROC}, {"core", RLIMIT_CORE},    {"stack", RLIMIT_STACK},
      {"as", RLIMIT_AS},         {"cpu", RLIMIT_CPU},     {"fsize", RLIMIT_FSIZE},  {"memlock", RLIMIT_MEMLOCK},
      {"data", RLIMIT_DATA}};
  auto eq = v.find('=');
  if (eq == std::string::npos) return bad("--rlimit", "\"" + v + "\" is not NAME=SOFT[:HARD]");
  auto it = kResources.find(std::string_view(v).substr(0, eq));
  if (it == kResources.end()) return bad("--rlimit", "unknown resource \"" + v.substr(0, eq) + "\"");
  std::string values = v.substr(eq + 1);
  auto colon = values.find(':');
  auto one = [&](const std::string& text) -> Result<uint64_t> {
    auto n = config::parseSize(text);
    if (!n) return bad("--rlimit", "\"" + text + "\" is not a number, size or \"unlimited\"");
    return *n == kUnlimited ? static_cast<uint64_t>(RLIM_INFINITY) : *n;
  };
  auto soft = one(values.substr(0, colon));
  if (!soft) return soft.error();
  auto hard = colon == std::string::npos ? soft : one(values.substr(colon + 1));
  if (!hard) return hard.error();
  spec.rlimits.push_back(config::RlimitSpec{it->second, *soft, *hard});
  return {};
}

}  // namespace

const char* execUsage() {
  return "usage: cgwarden exec [options] -- CMD [ARGS...]\n"
         "\n"
         "Runs one command in the foreground, confined like a workload: a fresh cgroup with the\n"
         "limits below (joined before its first instruction), pid/mount/uts/ipc/net/cgroup\n"
         "namespaces, then removes the cgroup. Exits with the command's status (128+signal).\n"
         "\n"
         "  --memory SIZE        hard memory limit (64Mi, 1G)\n"
         "  --memory-high SIZE   throttle point (cgroup v2 only)\n"
         "  --memory-low SIZE    best-effort protection\n"
         "  --memory-swap SIZE   swap allowed on top of --memory\n"
         "  --cpus CORES         CPU quota (0.5, 150%)\n"
         "  --cpu-weight N       relative CPU weight 1..10000\n"
         "  --cpuset LIST        CPUs it may run on (0-1)\n"
         "  --pids N             maximum number of tasks\n"
         "  --io-weight N        relative IO weight 1..10000\n"
         "  --name NAME          cgroup name (default exec-<pid>)\n"
         "  --cgroup-root PATH   managed cgroup root (default cgwarden)\n"
         "  --hostname NAME      hostname in its UTS namespace (default: the name)\n"
         "  --net host|none      share the host network, or only lo (default none)\n"
         "  --no-ns              no namespaces, cgroup confinement only\n"
         "  --user U --group G   run as this user/group (names or numbers)\n"
         "  --workdir DIR        working directory (default /)\n"
         "  --env KEY=VALUE      environment variable (repeatable)\n"
         "  --rlimit NAME=SOFT[:HARD]  nofile, nproc, core, stack, as, cpu, fsize, memlock, data\n";
}

Result<ExecOptions> parseExecArgs(const std::vector<std::string>& args) {
  ExecOptions o;
  config::WorkloadSpec& spec = o.spec;
  spec.restart.policy = config::RestartPolicy::Never;
  size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (a == "--help" || a == "-h") {
      o.help = true;
      return o;
    }
    if (a.rfind("--", 0) != 0) break;  // the command starts here
    std::string flag = a;
    std::string value;
    bool hasValue = false;
    if (auto eq = a.find('='); eq != std::string::npos) {
      flag = a.substr(0, eq);
      value = a.substr(eq + 1);
      hasValue = true;
    }
    if (flag == "--no-ns") {
      spec.namespaces = config::NamespaceSpec{false, false, false, false, false, false};
      continue;
    }
    if (!hasValue) {
      if (i + 1 >= args.size()) return bad(flag, "needs a value");
      value = args[++i];
    }
    if (flag == "--memory") {
      auto v = size(flag, value);
      if (!v) return v.error();
      spec.limits.memory.max = *v;
    } else if (flag == "--memory-high") {
      auto v = size(flag, value);
      if (!v) return v.error();
      spec.limits.memory.high = *v;
    } else if (flag == "--memory-low") {
      auto v = size(flag, value);
      if (!v) return v.error();
      spec.limits.memory.low = *v;
    } else if (flag == "--memory-swap") {
      auto v = size(flag, value);
      if (!v) return v.error();
      spec.limits.memory.swapMax = *v;
    } else if (flag == "--cpus") {
      auto cores = config::parseCores(value);
      if (!cores || *cores <= 0) return bad(flag, "\"" + value + "\" is not a number of cores (e.g. 0.5, 150%)");
      spec.limits.cpu.periodUs = 100000;
      spec.limits.cpu.quotaUs = std::max<uint64_t>(1000, static_cast<uint64_t>(std::llround(*cores * 100000)));
    } else if (flag == "--cpu-weight") {
      auto v = number(flag, value, 1, 10000);
      if (!v) return v.error();
      spec.limits.cpu.weight = *v;
    } else if (flag == "--cpuset") {
      spec.limits.cpu.cpus = value;
    } else if (flag == "--pids") {
      auto v = value == "max" ? Result<uint64_t>(kUnlimited) : number(flag, value, 1, 4194304);
      if (!v) return v.error();
      spec.limits.pids.max = *v;
    } else if (flag == "--io-weight") {
      auto v = number(flag, value, 1, 10000);
      if (!v) return v.error();
      spec.limits.io.weight = *v;
    } else if (flag == "--name") {
      spec.name = value;
      o.nameGiven = true;
    } else if (flag == "--cgroup-root") {
      o.cgroupRoot = value;
    } else if (flag == "--hostname") {
      spec.hostname = value;
    } else if (flag == "--net") {
      if (value != "host" && value != "none") return bad(flag, "\"" + value + "\" is neither \"host\" nor \"none\"");
      spec.namespaces.net = value == "none";
    } else if (flag == "--user") {
      auto user = config::resolveUser(value);
      if (!user.value) return bad(flag, user.error);
      spec.user = value;
      spec.uid = user.value->uid;
      if (!spec.gid) spec.gid = user.value->primaryGid;
    } else if (flag == "--group") {
      auto group = config::resolveGroup(value);
      if (!group.value) return bad(flag, group.error);
      spec.group = value;
      spec.gid = *group.value;
    } else if (flag == "--workdir") {
      spec.workingDir = value;
    } else if (flag == "--env") {
      auto eq = value.find('=');
      if (eq == std::string::npos || eq == 0) return bad(flag, "\"" + value + "\" is not KEY=VALUE");
      spec.env[value.substr(0, eq)] = value.substr(eq + 1);
    } else if (flag == "--rlimit") {
      if (auto st = parseRlimit(value, spec); !st) return st.error();
    } else {
      return bad(flag, "unknown option; see cgwarden exec --help");
    }
  }
  spec.command.assign(args.begin() + static_cast<long>(i), args.end());
  if (spec.command.empty()) return bad("command", "missing: cgwarden exec [options] -- CMD [ARGS...]");
  if (spec.limits.memory.swapMax && !spec.limits.memory.max) {
    return bad("--memory-swap", "needs --memory (swap is allowed on top of the memory limit)");
  }
  return o;
}

}  // namespace cgwarden::agent
