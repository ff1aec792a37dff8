#include "collectors/Sampler.h"

#include <fcntl.h>
#include <limits.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>
#include <tuple>

#include "collectors/Conversions.h"
#include "collectors/CpuFiles.h"
#include "collectors/DeviceNames.h"
#include "collectors/FileIo.h"
#include "collectors/LimitFiles.h"
#include "collectors/MemoryFiles.h"
#include "collectors/PidsFiles.h"
#include "collectors/PressureFiles.h"

namespace cgwarden::collectors {

namespace {

enum Dir : uint8_t { kDirCpu, kDirCpuacct, kDirMemory, kDirIo, kDirPids, kDirUnified, kDirCount };

enum File : uint8_t {
  kCpuacctUsage,
  kCpuacctStat,
  kCpuStatV1,
  kCpuStatV2,
  kMemoryStatV1,
  kMemoryUsage,
  kMemoryMaxUsage,
  kMemoryFailcnt,
  kOomControl,
  kMemoryStatV2,
  kMemoryCurrent,
  kMemoryPeak,
  kSwapCurrent,
  kMemoryEvents,
  kBlkioBytes,
  kBlkioOps,
  kIoStat,
  kPidsCurrent,
  kProcs,
  kCpuPressure,
  kMemoryPressure,
  kIoPressure,
  kFileCount
};

struct FileSpec {
  Dir dir;
  std::array<const char*, 3> names;  // candidates, the first that exists is used
};

// clang-format off
constexpr FileSpec kFiles[kFileCount] = {
    {kDirCpuacct, {"cpuacct.usage"}},
    {kDirCpuacct, {"cpuacct.stat"}},
    {kDirCpu, {"cpu.stat"}},
    {kDirCpu, {"cpu.stat"}},  // v2; on hybrid the twin's cpu.stat (kDirUnified), see openTarget
    {kDirMemory, {"memory.stat"}},
    {kDirMemory, {"memory.usage_in_bytes"}},
    {kDirMemory, {"memory.max_usage_in_bytes"}},
    {kDirMemory, {"memory.failcnt"}},
    {kDirMemory, {"memory.oom_control"}},
    {kDirMemory, {"memory.stat"}},
    {kDirMemory, {"memory.current"}},
    {kDirMemory, {"memory.peak"}},
    {kDirMemory, {"memory.swap.current"}},
    {kDirMemory, {"memory.events"}},
    // cAdvisor's order: the throttle files count every IO; the scheduler ones only under BFQ/CFQ.
    {kDirIo, {"blkio.throttle.io_service_bytes_recursive", "blkio.bfq.io_service_bytes_recursive",
              "blkio.io_service_bytes_recursive"}},
    {kDirIo, {"blkio.throttle.io_serviced_recursive", "blkio.bfq.io_serviced_recursive",
              "blkio.io_serviced_recursive"}},
    {kDirIo, {"io.stat"}},
    {kDirPids, {"pids.current"}},
    {kDirPids, {"cgroup.procs"}},  // any hierarchy will do, see openTarget
    {kDirUnified, {"cpu.pressure"}},
    {kDirUnified, {"memory.pressure"}},
    {kDirUnified, {"io.pressure"}},
};
// clang-format on

constexpr uint32_t bit(File f) { return uint32_t{1} << f; }

constexpr uint32_t kV1Files = bit(kCpuacctUsage) | bit(kCpuacctStat) | bit(kCpuStatV1) | bit(kMemoryStatV1) |
                              bit(kMemoryUsage) | bit(kMemoryMaxUsage) | bit(kMemoryFailcnt) | bit(kOomControl) |
                              bit(kBlkioBytes) | bit(kBlkioOps) | bit(kPidsCurrent) | bit(kProcs) |
                              bit(kCpuPressure) | bit(kMemoryPressure) | bit(kIoPressure);
constexpr uint32_t kV2Files = bit(kCpuStatV2) | bit(kMemoryStatV2) | bit(kMemoryCurrent) | bit(kMemoryPeak) |
                              bit(kSwapCurrent) | bit(kMemoryEvents) | bit(kIoStat) | bit(kPidsCurrent) |
                              bit(kProcs) | bit(kCpuPressure) | bit(kMemoryPressure) | bit(kIoPressure);

// The detail section a file belongs to (SampleSection); 0: read on every tick.
constexpr uint32_t sectionOf(int f) {
  switch (f) {
    case kCpuPressure:
    case kMemoryPressure:
    case kIoPressure: return kSectionPressure;
    case kMemoryMaxUsage:
    case kMemoryFailcnt:
    case kMemoryPeak: return kSectionMemoryPeak;
    case kSwapCurrent: return kSectionSwap;
    case kProcs: return kSectionProcesses;
    case kCpuStatV1: return kSectionThrottling;
    case kCpuacctStat: return kSectionCpuUserSystem;
    case kOomControl:
    case kMemoryEvents: return kSectionOom;
    case kBlkioBytes:
    case kBlkioOps:
    case kIoStat: return kSectionIo;
    case kPidsCurrent: return kSectionTasks;
    default: return 0;
  }
}


enum class Outcome { Ok, Absent, Gone, Failed };

double unixNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

double threadCpuSeconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

bool goneErrno(int err) { return err == ENOENT || err == ENODEV; }

// Keeps a counter monotonic across a recreated cgroup: a value lower than the last one
// means the kernel started again from zero, so the last value becomes part of the offset.
struct CounterTrack {
  uint64_t last = 0;
  uint64_t offset = 0;
  void apply(uint64_t& value) {
    if (value < last) offset += last;
    last = value;
    value += offset;
  }
};

// Of the first kCpuUsageCounterCount, usage comes every tick, user and system with cpu.stat or
// the cpu_user_system section; the rest with the throttling section. The first
// kMemoryStatCounterCount memory counters come with memory.stat, the rest with OOM.
constexpr uint64_t CpuUsage::*kCpuCounters[] = {&CpuUsage::usageNs,      &CpuUsage::userNs,
                                                &CpuUsage::systemNs,     &CpuUsage::periods,
                                                &CpuUsage::throttledPeriods, &CpuUsage::throttledNs,
                                                &CpuUsage::bursts,       &CpuUsage::burstNs};
constexpr uint64_t MemoryUsage::*kMemoryCounters[] = {
    &MemoryUsage::pgfault,  &MemoryUsage::pgmajfault, &MemoryUsage::workingsetRefaultAnon,
    &MemoryUsage::workingsetRefaultFile, &MemoryUsage::pgscan, &MemoryUsage::pgsteal,
    &MemoryUsage::oomKills, &MemoryUsage::eventsLow,  &MemoryUsage::eventsHigh,
    &MemoryUsage::eventsMax, &MemoryUsage::eventsOom};
constexpr uint64_t IoDeviceUsage::*kIoCounters[] = {
    &IoDeviceUsage::readBytes,   &IoDeviceUsage::writeBytes,  &IoDeviceUsage::readOps,
    &IoDeviceUsage::writeOps,    &IoDeviceUsage::discardBytes, &IoDeviceUsage::discardOps,
    &IoDeviceUsage::costUsageUs, &IoDeviceUsage::costWaitUs,  &IoDeviceUsage::costIndebtUs,
    &IoDeviceUsage::costIndelayUs};
constexpr size_t kCpuCounterCount = std::size(kCpuCounters);
constexpr size_t kCpuUsageCounterCount = 3;
constexpr size_t kMemoryStatCounterCount = 6;
constexpr size_t kMemoryCounterCount = std::size(kMemoryCounters);
constexpr size_t kIoCounterCount = std::size(kIoCounters);

struct DeviceTrack {
  uint32_t major = 0;
  uint32_t minor = 0;
  std::array<CounterTrack, kIoCounterCount> counters;
};

// Offsets that keep a managed target's counters monotonic (SamplerOptions::counterContinuity).
struct Continuity {
  std::array<CounterTrack, kCpuCounterCount> cpuCounters{};
  std::array<CounterTrack, kMemoryCounterCount> memoryCounters{};
  std::array<CounterTrack, 6> pressureCounters{};
  std::vector<DeviceTrack> deviceCounters;
};

struct OpenDir {
  // Views the target's own `dirs` (TargetState keeps the target alive; rebound when an equal
  // target replaces it): no copy of the path per target. NUL-terminated, as CgroupDirs says.
  std::string_view pathView;
  UniqueFd fd;  // invalid when the descriptor budget was exhausted: use the path
  std::string_view path() const { return pathView; }
  const char* cPath() const { return pathView.data(); }
};

struct FileState {
  int fd = -1;            // held across ticks (counted in the budget), or -1
  int8_t slot = -1;       // index into TargetState::dirs, -1 = not read for this target
  int8_t nameIndex = -1;  // which of FileSpec::names exists, -1 = not resolved yet
  bool absent : 1 = false;       // none of the names exists in a live cgroup
  bool errorLogged : 1 = false;
  bool slow : 1 = false;         // fd held for a file read only every detail interval (heldSlowFds)
};
static_assert(sizeof(FileState) == 8, "a target holds one per file it may read");

struct TargetState {
  std::shared_ptr<const SampleTarget> target;
  bool seen = false;
  bool open = false;
  std::vector<OpenDir> dirs;
  std::array<int8_t, kDirCount> dirSlot{};
  std::array<FileState, kFileCount> files{};
  double dirCtime = 0;
  uint64_t staggerSlot = 0;
  bool specDirty = true;
  bool hasSpec = false;
  SpecLimits spec;
  bool specErrorLogged = false;
  bool detailValid = false;  // every section read since the cgroup was opened
  double detailTime = 0;     // when every section was last read
  // Where this target is in the previous snapshot, which carries the sections not read in
  // this tick and the base of its rates: valid when lastTick is that snapshot's tick.
  uint32_t lastIndex = 0;
  uint64_t lastTick = UINT64_MAX;
  std::unique_ptr<Continuity> continuity;  // managed targets only, created on first use
  bool sampledBefore = false;  // a previous incarnation of the cgroup was read
  bool reincarnated = false;   // reopened after that: its counters start again from zero
};

}  // namespace

struct Sampler::Impl {
  CgroupLayout layout;
  SharedTargetProvider provider;
  SamplerOptions options;
  uint64_t userHz = 100;
  size_t maxOpenFiles = 0;

  std::atomic<std::shared_ptr<const Snapshot>> latest;
  std::mutex tickMutex;  // serialises ticks (loop vs tick())
  // Everything below is only touched under tickMutex.
  std::map<std::string, std::unique_ptr<TargetState>, std::less<>> states;
  uint64_t ticks = 0;
  uint64_t errorsTotal = 0;
  uint64_t tickErrors = 0;
  size_t heldFds = 0;
  // Directory fds only save path lookups for files read per tick; when the budget cannot
  // hold every target's files and directories, the files get it (a held file is read with
  // one pread, ~4x cheaper than open + read + close).
  bool holdDirs = true;
  // Detail files read only every detailEvery ticks ("slow") get what is left of the budget
  // once every target's every-tick files are counted: every-tick files come first.
  size_t slowBudget = SIZE_MAX;
  size_t heldSlowFds = 0;
  uint64_t detailEvery = 1;             // ticks between reads of the detail sections
  std::atomic<uint32_t> everyTick{0};   // detail sections wanted on every tick (setEveryTick)
  uint64_t filesRead = 0;               // in this tick
  uint64_t filesOpened = 0;             // in this tick, accounting files beyond the budget
  uint64_t nextStagger = 0;
  // At most kLogsPerTick warnings per tick; the rest are counted and summarised.
  static constexpr int kLogsPerTick = 10;
  int logsThisTick = 0;
  uint64_t suppressedLogs = 0;
  std::vector<char> buffer = std::vector<char>(64 * 1024);
  std::vector<IoDeviceUsage> ioScratch;
  DeviceNames deviceNames;
  std::shared_ptr<const DeviceNameMap> deviceMap = std::make_shared<DeviceNameMap>();
  std::shared_ptr<Snapshot> previous;  // published last tick (= latest)
  std::shared_ptr<Snapshot> spare;     // published two ticks ago: refilled when nobody holds it

  std::thread thread;
  std::mutex loopMutex;
  std::condition_variable loopCv;
  bool stopping = false;
  bool runningFlag = false;

  Impl(CgroupLayout l, SharedTargetProvider p, SamplerOptions o)
      : layout(std::move(l)), provider(std::move(p)), options(std::move(o)), deviceNames(options.sysRoot) {
    userHz = options.userHz != 0 ? options.userHz : static_cast<uint64_t>(::sysconf(_SC_CLK_TCK));
    if (userHz == 0) userHz = 100;
    maxOpenFiles = options.maxOpenFiles;
    if (maxOpenFiles == SamplerOptions::kAutoOpenFiles) {
      rlimit rl{};
      maxOpenFiles = ::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? rl.rlim_cur / 2 : 512;
    }
    if (options.specRefreshTicks == 0) options.specRefreshTicks = 1;
    everyTick.store(options.everyTick & kAllDetailSections);
    if (options.interval.count() > 0 && options.detailInterval > options.interval) {
      detailEvery = static_cast<uint64_t>((options.detailInterval.count() + options.interval.count() - 1) /
                                          options.interval.count());
    }
    auto empty = std::make_shared<Snapshot>();
    empty->mode = layout.mode;
    empty->deviceNames = deviceMap;
    latest.store(std::move(empty));
  }

  ~Impl() {
    for (auto& [id, state] : states) closeTarget(*state);
  }

  // ---- descriptors -------------------------------------------------------------------

  bool readSlowly(File f) const {
    uint32_t section = sectionOf(f);
    return section != 0 && (section & everyTick.load(std::memory_order_relaxed)) == 0;
  }

  bool mayHold(File f) const { return heldFds < maxOpenFiles && (!readSlowly(f) || heldSlowFds < slowBudget); }

  void hold(FileState& fs, File f, int fd) {
    fs.fd = fd;
    fs.slow = readSlowly(f);
    ++heldFds;
    if (fs.slow) ++heldSlowFds;
  }

  void release(FileState& fs) {
    if (fs.fd < 0) return;
    ::close(fs.fd);
    fs.fd = -1;
    --heldFds;
    if (fs.slow) --heldSlowFds;
    fs.slow = false;
  }

  void closeTarget(TargetState& s) {
    for (auto& f : s.files) {
      release(f);
      f = FileState{};
    }
    for (auto& d : s.dirs) {
      if (d.fd.valid()) --heldFds;
    }
    s.dirs.clear();
    s.open = false;
  }

  // Opens `name` in directory `d` read-only; -1 with errno on failure.
  static int openIn(const OpenDir& d, const char* name) {
    if (d.fd.valid()) return ::openat(d.fd.get(), name, O_RDONLY | O_CLOEXEC);
    char path[PATH_MAX];
    int n = std::snprintf(path, sizeof path, "%s/%s", d.cPath(), name);
    if (n < 0 || static_cast<size_t>(n) >= sizeof path) {
      errno = ENAMETOOLONG;
      return -1;
    }
    return ::open(path, O_RDONLY | O_CLOEXEC);
  }

  static bool alive(const OpenDir& d) {
    struct stat st {};
    if (d.fd.valid()) return ::fstatat(d.fd.get(), "cgroup.procs", &st, 0) == 0 || !goneErrno(errno);
    std::string probe = joinPath(d.path(), "cgroup.procs");
    return ::stat(probe.c_str(), &st) == 0 || !goneErrno(errno);
  }

  // Reads a whole file from `fd` at offset 0 into the buffer (grown when a read fills it).
  // For the kernel's seq_file-backed cgroup files, a read shorter than the buffer is EOF.
  bool readAll(int fd, std::string_view& out) {
    for (;;) {
      ssize_t n;
      do {
        n = ::pread(fd, buffer.data(), buffer.size(), 0);
      } while (n < 0 && errno == EINTR);
      if (n < 0) return false;
      ++filesRead;
      if (static_cast<size_t>(n) < buffer.size()) {
        out = std::string_view(buffer.data(), static_cast<size_t>(n));
        return true;
      }
      buffer.resize(buffer.size() * 2);
    }
  }

  // Opens the target's directories. False when the cgroup does not exist (not an error).
  bool openTarget(TargetState& s) {
    closeTarget(s);
    const SampleTarget& t = *s.target;
    bool v2 = layout.mode == CgroupMode::V2;
    std::array<std::string_view, kDirCount> paths{};  // empty: no such hierarchy
    paths[kDirUnified] = t.dirs.find("");
    paths[kDirCpu] = t.dirs.find("cpu");
    paths[kDirCpuacct] = v2 ? "" : t.dirs.find("cpuacct");
    paths[kDirMemory] = t.dirs.find("memory");
    paths[kDirIo] = t.dirs.find(v2 ? "io" : "blkio");
    if (paths[kDirIo].empty()) paths[kDirIo] = t.dirs.find(v2 ? "blkio" : "io");
    paths[kDirPids] = t.dirs.find("pids");
    if (v2) {
      for (auto& p : paths) {
        if (p.empty()) p = paths[kDirUnified];
      }
    }
    s.dirSlot.fill(-1);
    for (int d = 0; d < kDirCount; ++d) {
      if (paths[d].empty()) continue;
      int8_t slot = -1;
      for (size_t i = 0; i < s.dirs.size(); ++i) {
        if (s.dirs[i].path() == paths[d]) slot = static_cast<int8_t>(i);
      }
      if (slot < 0) {
        OpenDir od;
        od.pathView = paths[d];
        if (holdDirs && heldFds < maxOpenFiles) {
          int fd = ::open(od.cPath(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
          if (fd < 0 && (errno == EMFILE || errno == ENFILE) && relieveDescriptorPressure()) {
            fd = ::open(od.cPath(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
          }
          if (fd < 0) {
            int err = errno;
            closeTarget(s);
            if (!goneErrno(err)) reportError(s, Error::fromErrno("open", std::string(od.path()), err));
            return false;
          }
          od.fd.reset(fd);
          ++heldFds;
        } else {
          struct stat st {};
          if (::stat(od.cPath(), &st) != 0) {
            int err = errno;
            closeTarget(s);
            if (!goneErrno(err)) reportError(s, Error::fromErrno("stat", std::string(od.path()), err));
            return false;
          }
        }
        s.dirs.push_back(std::move(od));
        slot = static_cast<int8_t>(s.dirs.size() - 1);
      }
      s.dirSlot[d] = slot;
    }
    if (s.dirs.empty()) return false;

    uint32_t active = v2 ? kV2Files : kV1Files;
    // Hybrid: the twin's cpu.stat has usage, user and system in one read. For a managed
    // target cgwarden put every member in both hierarchies; an observed one may be laid out
    // differently in each, so it keeps cpuacct while it has one.
    if (!v2 && s.dirSlot[kDirUnified] >= 0 && (s.dirSlot[kDirCpuacct] < 0 || t.managed)) {
      active |= bit(kCpuStatV2);
      active &= ~(bit(kCpuacctUsage) | bit(kCpuacctStat));
    }
    for (int f = 0; f < kFileCount; ++f) {
      FileState& fs = s.files[f];
      fs = FileState{};
      if ((active & bit(static_cast<File>(f))) == 0) continue;
      fs.slot = s.dirSlot[kFiles[f].dir];
      if (f == kCpuStatV2 && !v2) fs.slot = s.dirSlot[kDirUnified];
      if (f == kProcs) {
        for (Dir d : {kDirPids, kDirMemory, kDirCpuacct, kDirCpu, kDirUnified}) {
          if (fs.slot < 0) fs.slot = s.dirSlot[d];
        }
      }
    }

    struct stat st {};
    const OpenDir& first = s.dirs.front();
    int rc = first.fd.valid() ? ::fstat(first.fd.get(), &st) : ::stat(first.cPath(), &st);
    s.dirCtime = rc == 0 ? static_cast<double>(st.st_ctim.tv_sec) + static_cast<double>(st.st_ctim.tv_nsec) * 1e-9 : 0;
    s.open = true;
    s.specDirty = true;
    s.detailValid = false;
    if (s.sampledBefore) s.reincarnated = true;
    return true;
  }

  bool mayLog() {
    if (logsThisTick < kLogsPerTick) {
      ++logsThisTick;
      return true;
    }
    ++suppressedLogs;
    return false;
  }

  void reportError(TargetState& s, const Error& e) {
    ++tickErrors;
    (void)s;
    if (mayLog()) spdlog::warn("sampler: {}", e.message());
  }

  // EMFILE/ENFILE: the descriptor budget was larger than what this process can really
  // hold. Shrinks it to three quarters of what is held and closes held file descriptors
  // down to that, so files are read with per-read opens from now on. True if it freed any.
  bool relieveDescriptorPressure() {
    size_t target = heldFds * 3 / 4;
    if (heldFds == 0) return false;
    spdlog::warn("sampler: out of file descriptors with {} held; holding at most {} from now on "
                 "(raise LimitNOFILE / ulimit -n, or set the sampler's maxOpenFiles)",
                 heldFds, target);
    maxOpenFiles = target;
    for (auto& [id, state] : states) {
      for (auto& f : state->files) {
        if (heldFds <= target) return true;
        release(f);
      }
    }
    return true;
  }

  // More targets (or more sections every tick) than before: the slow files give back
  // descriptors so every-tick files can have them.
  void releaseSlowFiles() {
    for (auto& [id, state] : states) {
      for (auto& f : state->files) {
        if (heldSlowFds <= slowBudget) return;
        if (f.slow) release(f);
      }
    }
  }

  // openIn, retried once after freeing descriptors when the process ran out of them.
  int openRelieved(const OpenDir& d, const char* name) {
    int fd = openIn(d, name);
    if (fd < 0 && (errno == EMFILE || errno == ENFILE) && relieveDescriptorPressure()) fd = openIn(d, name);
    return fd;
  }

  void fileError(TargetState& s, File f, Error e) {
    ++tickErrors;
    FileState& fs = s.files[f];
    if (fs.errorLogged) return;
    fs.errorLogged = true;
    if (e.path.empty() && fs.slot >= 0) {
      int idx = fs.nameIndex < 0 ? 0 : fs.nameIndex;
      e.path = joinPath(s.dirs[fs.slot].path(), kFiles[f].names[idx]);
    }
    if (mayLog()) spdlog::warn("sampler: {} (target {}; logged once until it clears)", e.message(), s.target->id);
  }


  // Reads file `f` of target `s` into the buffer.
  Outcome read(TargetState& s, File f, std::string_view& out) {
    FileState& fs = s.files[f];
    if (fs.slot < 0 || fs.absent) return Outcome::Absent;
    const OpenDir& dir = s.dirs[fs.slot];
    if (fs.fd >= 0) {
      if (readAll(fs.fd, out)) return Outcome::Ok;
      int err = errno;
      if (goneErrno(err)) return Outcome::Gone;
      fileError(s, f, Error::fromErrno("read", joinPath(dir.path(), kFiles[f].names[fs.nameIndex]), err));
      return Outcome::Failed;
    }
    int fd = -1;
    int err = 0;
    if (fs.nameIndex >= 0) {
      fd = openRelieved(dir, kFiles[f].names[fs.nameIndex]);
      err = errno;
    } else {
      for (int8_t i = 0; i < 3 && kFiles[f].names[i] != nullptr; ++i) {
        fd = openRelieved(dir, kFiles[f].names[i]);
        err = errno;
        if (fd >= 0) {
          fs.nameIndex = i;
          break;
        }
        if (!goneErrno(err)) break;
      }
    }
    if (fd < 0) {
      if (goneErrno(err)) {
        if (!alive(dir)) return Outcome::Gone;
        fs.absent = true;  // this kernel or hierarchy has no such file
        return Outcome::Absent;
      }
      fileError(s, f, Error::fromErrno("open", joinPath(dir.path(), kFiles[f].names[fs.nameIndex < 0 ? 0 : fs.nameIndex]), err));
      return Outcome::Failed;
    }
    bool ok = readAll(fd, out);
    err = errno;
    if (ok && mayHold(f)) {
      hold(fs, f, fd);
    } else {
      if (ok) ++filesOpened;
      ::close(fd);
    }
    if (ok) return Outcome::Ok;
    if (goneErrno(err)) return Outcome::Gone;
    fileError(s, f, Error::fromErrno("read", joinPath(dir.path(), kFiles[f].names[fs.nameIndex]), err));
    return Outcome::Failed;
  }

  // Reads and parses one file; `parse(text)` returns a Status. Gone propagates.
  template <class Parse>
  Outcome load(TargetState& s, File f, Parse&& parse) {
    std::string_view text;
    Outcome o = read(s, f, text);
    if (o != Outcome::Ok) return o;
    Status st = parse(text);
    if (!st) {
      fileError(s, f, st.error());
      return Outcome::Failed;
    }
    s.files[f].errorLogged = false;
    return Outcome::Ok;
  }

  // cgroup.procs may exceed one buffer: read it in chunks.
  Outcome countProcesses(TargetState& s, uint64_t& count) {
    FileState& fs = s.files[kProcs];
    if (fs.slot < 0 || fs.absent) return Outcome::Absent;
    const OpenDir& dir = s.dirs[fs.slot];
    int fd = fs.fd;
    bool owned = false;
    if (fd < 0) {
      fd = openRelieved(dir, "cgroup.procs");
      if (fd < 0) {
        int err = errno;
        if (goneErrno(err)) return Outcome::Gone;
        fileError(s, kProcs, Error::fromErrno("open", joinPath(dir.path(), "cgroup.procs"), err));
        return Outcome::Failed;
      }
      fs.nameIndex = 0;
      if (mayHold(kProcs)) {
        hold(fs, kProcs, fd);
      } else {
        owned = true;
        ++filesOpened;
      }
    }
    ProcsCounter counter;
    off_t offset = 0;
    Outcome result = Outcome::Ok;
    for (;;) {
      ssize_t n = ::pread(fd, buffer.data(), buffer.size(), offset);
      if (n < 0) {
        if (errno == EINTR) continue;
        int err = errno;
        result = goneErrno(err) ? Outcome::Gone : Outcome::Failed;
        if (result == Outcome::Failed) fileError(s, kProcs, Error::fromErrno("read", joinPath(dir.path(), "cgroup.procs"), err));
        break;
      }
      if (auto st = counter.feed(std::string_view(buffer.data(), static_cast<size_t>(n))); !st) {
        fileError(s, kProcs, st.error());
        result = Outcome::Failed;
        break;
      }
      offset += n;
      if (static_cast<size_t>(n) < buffer.size()) {
        ++filesRead;
        break;
      }
    }
    if (owned) ::close(fd);
    if (result != Outcome::Ok) return result;
    if (auto st = counter.finish(); !st) {
      fileError(s, kProcs, st.error());
      return Outcome::Failed;
    }
    count = counter.count;
    return Outcome::Ok;
  }

  // ---- effective limits ----------------------------------------------------------------

  // Reads a small limits file once (not held). Absent (ENOENT) is not an error here: the
  // accounting reads notice a vanished cgroup.
  Outcome readOnce(TargetState& s, Dir d, const char* name, std::string_view& out) {
    int8_t slot = s.dirSlot[d];
    if (slot < 0) return Outcome::Absent;
    int fd = openRelieved(s.dirs[slot], name);
    if (fd < 0) return goneErrno(errno) ? Outcome::Absent : Outcome::Failed;
    bool ok = readAll(fd, out);
    ::close(fd);
    if (!ok) return goneErrno(errno) ? Outcome::Absent : Outcome::Failed;
    return Outcome::Ok;
  }

  template <class Parse>
  void loadSpec(TargetState& s, Dir d, const char* name, bool& failed, Parse&& parse) {
    std::string_view text;
    Outcome o = readOnce(s, d, name, text);
    if (o == Outcome::Failed) {
      failed = true;
      if (!s.specErrorLogged && mayLog()) {
        spdlog::warn("sampler: read {}/{}: {}", s.dirs[s.dirSlot[d]].path(), name, std::strerror(errno));
      }
      return;
    }
    if (o != Outcome::Ok) return;
    if (Status st = parse(text); !st) {
      failed = true;
      if (!s.specErrorLogged && mayLog()) {
        Error e = st.error();
        e.path = joinPath(s.dirs[s.dirSlot[d]].path(), name);
        spdlog::warn("sampler: {}", e.message());
      }
    }
  }

  void readSpec(TargetState& s) {
    SpecLimits spec;
    bool failed = false;
    if (layout.mode == CgroupMode::V2) {
      loadSpec(s, kDirCpu, "cpu.max", failed, [&](std::string_view t) -> Status {
        auto v = parseCpuMax(t);
        if (!v) return v.error();
        spec.hasCpu = true;
        spec.cpuQuotaUs = v->quotaUs;
        spec.cpuPeriodUs = v->periodUs;
        return {};
      });
      loadSpec(s, kDirCpu, "cpu.weight", failed, [&](std::string_view t) -> Status {
        auto v = parseSingleValue(t);
        if (!v) return v.error();
        spec.hasCpu = true;
        spec.cpuShares = cadvisorSharesFromWeight(*v);
        return {};
      });
      struct MaxFile {
        const char* name;
        uint64_t* out;
      };
      bool memory = false;
      for (MaxFile mf : {MaxFile{"memory.max", &spec.memoryLimit}, MaxFile{"memory.swap.max", &spec.memorySwapLimit},
                         MaxFile{"memory.min", &spec.memoryReservation}}) {
        loadSpec(s, kDirMemory, mf.name, failed, [&](std::string_view t) -> Status {
          auto v = parseMaxOrNumber(t);
          if (!v) return v.error();
          *mf.out = *v;
          memory = true;
          if (mf.out == &spec.memorySwapLimit) spec.hasSwapLimit = true;
          return {};
        });
      }
      spec.hasMemory = memory;
    } else {
      bool quota = false;
      loadSpec(s, kDirCpu, "cpu.cfs_quota_us", failed, [&](std::string_view t) -> Status {
        auto v = parseV1SignedLimit(t);
        if (!v) return v.error();
        spec.cpuQuotaUs = *v;
        quota = true;
        return {};
      });
      loadSpec(s, kDirCpu, "cpu.cfs_period_us", failed, [&](std::string_view t) -> Status {
        auto v = parseSingleValue(t);
        if (!v) return v.error();
        spec.cpuPeriodUs = *v;
        return {};
      });
      loadSpec(s, kDirCpu, "cpu.shares", failed, [&](std::string_view t) -> Status {
        auto v = parseSingleValue(t);
        if (!v) return v.error();
        spec.cpuShares = *v;
        return {};
      });
      spec.hasCpu = quota;
      struct V1File {
        const char* name;
        uint64_t* out;
      };
      bool memory = false;
      for (V1File vf : {V1File{"memory.limit_in_bytes", &spec.memoryLimit},
                        V1File{"memory.memsw.limit_in_bytes", &spec.memorySwapLimit},
                        V1File{"memory.soft_limit_in_bytes", &spec.memoryReservation}}) {
        loadSpec(s, kDirMemory, vf.name, failed, [&](std::string_view t) -> Status {
          auto v = parseSingleValue(t);
          if (!v) return v.error();
          *vf.out = normalizeV1Unlimited(*v);
          if (vf.out == &spec.memoryLimit) memory = true;
          if (vf.out == &spec.memorySwapLimit) spec.hasSwapLimit = true;
          return {};
        });
      }
      spec.hasMemory = memory;
    }
    loadSpec(s, kDirPids, "pids.max", failed, [&](std::string_view t) -> Status {
      auto v = parseMaxOrNumber(t);
      if (!v) return v.error();
      spec.hasPids = true;
      spec.pidsMax = *v;
      return {};
    });
    if (failed) {
      ++tickErrors;
      s.specErrorLogged = true;
    } else {
      s.specErrorLogged = false;
    }
    s.spec = spec;
    s.hasSpec = true;
    s.specDirty = false;
  }

  // ---- one target ------------------------------------------------------------------------

  static bool cpuQuotaSet(const TargetState& s) {
    return s.hasSpec && s.spec.cpuQuotaUs != kUnlimited && s.spec.cpuQuotaUs != 0;
  }

  // Every detail section is read on a target's first sample after it was opened, then on
  // one tick in detailEvery, the targets spread over those ticks.
  bool detailDue(const TargetState& s) const {
    return !s.detailValid || detailEvery <= 1 || (ticks + s.staggerSlot) % detailEvery == 0;
  }

  // The target's entry in the previous snapshot (the last tick's), if it was sampled then.
  const TargetSample* lastSample(const TargetState& s) const {
    if (!previous || s.lastTick == UINT64_MAX || s.lastTick + 1 != ticks) return nullptr;
    if (s.lastIndex >= previous->targets.size()) return nullptr;
    const TargetSample& p = previous->targets[s.lastIndex];
    return p.target && p.target->id == s.target->id ? &p : nullptr;
  }

  // Fills `out` (and appends its devices to snap.io). False when the cgroup is gone.
  bool sampleTarget(TargetState& s, TargetSample& out, Snapshot& snap) {
    out.target = s.target;
    out.ioBegin = static_cast<uint32_t>(snap.io.size());
    out.sampleTime = unixNow();
    out.startTime = s.target->startTimeSeconds > 0 ? s.target->startTimeSeconds : s.dirCtime;
    Outcome o;

    // Effective limits (staggered over the refresh period) come first: whether a CPU quota
    // is set decides whether cpu.stat (v1) is read.
    if (s.specDirty || (ticks + s.staggerSlot) % options.specRefreshTicks == 0) readSpec(s);
    out.spec = s.spec;
    out.hasSpec = s.hasSpec;
    // What is not read in this tick is carried from the last one.
    const TargetSample* last = lastSample(s);
    const uint32_t sections = last == nullptr || detailDue(s) ? uint32_t{kAllDetailSections}
                                                              : everyTick.load(std::memory_order_relaxed);
    const bool v2 = layout.mode == CgroupMode::V2;
    // What this tick has fresh: the sections read, plus what comes with every-tick cpu.stat.
    uint32_t fresh = sections;
    if (v2) fresh |= kSectionThrottling;
    if (s.files[kCpuacctStat].slot < 0) fresh |= kSectionCpuUserSystem;

    // CPU
    bool cpu = false;
    o = load(s, kCpuacctUsage, [&](std::string_view t) -> Status {
      auto v = parseSingleValue(t);
      if (!v) return v.error();
      out.cpu.usageNs = *v;
      cpu = true;
      return {};
    });
    if (o == Outcome::Gone) return false;
    if (sections & kSectionCpuUserSystem) {
      o = load(s, kCpuacctStat, [&](std::string_view t) -> Status {
        auto v = parseCpuacctStat(t, userHz);
        if (!v) return v.error();
        out.cpu.userNs = v->userNs;
        out.cpu.systemNs = v->systemNs;
        out.cpu.hasUserSystem = true;
        return {};
      });
      if (o == Outcome::Gone) return false;
    }
    if (sections & kSectionThrottling) {
      o = !cpuQuotaSet(s) ? Outcome::Absent : load(s, kCpuStatV1, [&](std::string_view t) -> Status {
        auto v = parseCpuStatV1(t);
        if (!v) return v.error();
        out.cpu.periods = v->periods;
        out.cpu.throttledPeriods = v->throttledPeriods;
        out.cpu.throttledNs = v->throttledNs;
        out.cpu.hasBandwidth = true;
        out.cpu.bursts = v->bursts;
        out.cpu.burstNs = v->burstNs;
        out.cpu.hasBurst = v->hasBurst;
        return {};
      });
      if (o == Outcome::Gone) return false;
    }
    o = load(s, kCpuStatV2, [&](std::string_view t) -> Status {
      auto v = parseCpuStatV2(t);
      if (!v) return v.error();
      out.cpu.usageNs = v->usageUs * 1000;
      out.cpu.userNs = v->userUs * 1000;
      out.cpu.systemNs = v->systemUs * 1000;
      out.cpu.hasUserSystem = true;
      cpu = true;
      if (v->hasBandwidth) {
        out.cpu.periods = v->periods;
        out.cpu.throttledPeriods = v->throttledPeriods;
        out.cpu.throttledNs = v->throttledUs * 1000;
        out.cpu.hasBandwidth = true;
      }
      if (v->hasBurst) {
        out.cpu.bursts = v->bursts;
        out.cpu.burstNs = v->burstUs * 1000;
        out.cpu.hasBurst = true;
      }
      return {};
    });
    if (o == Outcome::Gone) return false;
    out.hasCpu = cpu;

    // Memory
    MemoryUsage& m = out.memory;
    bool memory = false;
    auto single = [&](File f, uint64_t& dst, bool* flag) -> Outcome {
      return load(s, f, [&](std::string_view t) -> Status {
        auto v = parseSingleValue(t);
        if (!v) return v.error();
        dst = *v;
        if (flag != nullptr) *flag = true;
        return {};
      });
    };
    if (v2) {
      if (single(kMemoryCurrent, m.usageBytes, &memory) == Outcome::Gone) return false;
      if (sections & kSectionMemoryPeak) {
        if (single(kMemoryPeak, m.maxUsageBytes, &m.hasMaxUsage) == Outcome::Gone) return false;
      }
      if (sections & kSectionSwap) {
        if (single(kSwapCurrent, m.swapBytes, &m.hasSwap) == Outcome::Gone) return false;
      }
      bool stat = false;
      o = load(s, kMemoryStatV2, [&](std::string_view t) -> Status {
        auto v = parseMemoryStatV2(t);
        if (!v) return v.error();
        m.cacheBytes = v->file;
        m.rssBytes = v->anon;
        m.mappedFileBytes = v->fileMapped;
        m.activeFileBytes = v->activeFile;
        m.inactiveFileBytes = v->inactiveFile;
        m.dirtyBytes = v->fileDirty;
        m.writebackBytes = v->fileWriteback;
        m.pgfault = v->pgfault;
        m.pgmajfault = v->pgmajfault;
        m.workingsetRefaultAnon = v->workingsetRefaultAnon;
        m.workingsetRefaultFile = v->workingsetRefaultFile;
        m.pgscan = v->pgscan;
        m.pgsteal = v->pgsteal;
        m.hasScanSteal = true;
        stat = true;
        return {};
      });
      if (o == Outcome::Gone) return false;
      memory = memory && stat;
      if (sections & kSectionOom) {
        o = load(s, kMemoryEvents, [&](std::string_view t) -> Status {
          auto v = parseMemoryEvents(t);
          if (!v) return v.error();
          m.eventsLow = v->low;
          m.eventsHigh = v->high;
          m.eventsMax = v->max;
          m.eventsOom = v->oom;
          m.oomKills = v->oomKill;
          m.hasEvents = true;
          m.hasOomKills = true;
          return {};
        });
        if (o == Outcome::Gone) return false;
      }
    } else {
      if (single(kMemoryUsage, m.usageBytes, &memory) == Outcome::Gone) return false;
      if (sections & kSectionMemoryPeak) {
        if (single(kMemoryMaxUsage, m.maxUsageBytes, &m.hasMaxUsage) == Outcome::Gone) return false;
        if (single(kMemoryFailcnt, m.failcnt, &m.hasFailcnt) == Outcome::Gone) return false;
      }
      bool stat = false;
      o = load(s, kMemoryStatV1, [&](std::string_view t) -> Status {
        auto v = parseMemoryStatV1(t);
        if (!v) return v.error();
        m.cacheBytes = v->cache;
        m.rssBytes = v->rss;
        m.mappedFileBytes = v->mappedFile;
        m.swapBytes = v->swap;
        m.hasSwap = v->hasSwap;
        m.activeFileBytes = v->activeFile;
        m.inactiveFileBytes = v->inactiveFile;
        m.dirtyBytes = v->dirty;
        m.writebackBytes = v->writeback;
        m.pgfault = v->pgfault;
        m.pgmajfault = v->pgmajfault;
        m.workingsetRefaultAnon = v->workingsetRefaultAnon;
        m.workingsetRefaultFile = v->workingsetRefaultFile;
        stat = true;
        return {};
      });
      if (o == Outcome::Gone) return false;
      memory = memory && stat;
      if (sections & kSectionOom) {
        o = load(s, kOomControl, [&](std::string_view t) -> Status {
          auto v = parseOomControl(t);
          if (!v) return v.error();
          m.underOom = v->underOom;
          m.oomKills = v->oomKill;
          m.hasOomKills = v->hasOomKill;
          return {};
        });
        if (o == Outcome::Gone) return false;
      }
    }
    out.hasMemory = memory;

    // Block IO
    ioScratch.clear();
    if (sections & kSectionIo) {
      bool io = false;
      if (v2) {
        o = load(s, kIoStat, [&](std::string_view t) -> Status {
          io = true;
          return parseIoStat(t, ioScratch);
        });
        if (o == Outcome::Gone) return false;
      } else {
        o = load(s, kBlkioBytes, [&](std::string_view t) -> Status {
          io = true;
          return parseBlkioRecursive(t, BlkioKind::Bytes, ioScratch);
        });
        if (o == Outcome::Gone) return false;
        o = load(s, kBlkioOps, [&](std::string_view t) -> Status {
          return parseBlkioRecursive(t, BlkioKind::Ops, ioScratch);
        });
        if (o == Outcome::Gone) return false;
      }
      out.hasIo = io;
      out.ioTime = out.sampleTime;
    }

    // Tasks
    if (sections & kSectionTasks) {
      if (single(kPidsCurrent, out.pidsCurrent, &out.hasPids) == Outcome::Gone) return false;
    }
    if (sections & kSectionProcesses) {
      o = countProcesses(s, out.processes);
      if (o == Outcome::Gone) return false;
      out.hasProcesses = o == Outcome::Ok;
    }

    // Pressure
    struct Psi {
      File file;
      Pressure* dst;
      bool* flag;
    };
    if (sections & kSectionPressure) {
      for (Psi p : {Psi{kCpuPressure, &out.cpuPressure, &out.hasCpuPressure},
                    Psi{kMemoryPressure, &out.memoryPressure, &out.hasMemoryPressure},
                    Psi{kIoPressure, &out.ioPressure, &out.hasIoPressure}}) {
        o = load(s, p.file, [&](std::string_view t) -> Status {
          auto v = parsePressure(t);
          if (!v) return v.error();
          *p.dst = *v;
          *p.flag = true;
          return {};
        });
        if (o == Outcome::Gone) return false;
      }
    }
    if (sections == kAllDetailSections) {
      s.detailValid = true;
      s.detailTime = out.sampleTime;
    }
    out.detailTime = s.detailTime;

    if (options.counterContinuity && s.target->managed) applyContinuity(s, out, fresh);
    s.reincarnated = false;
    s.sampledBefore = true;

    out.ioCount = static_cast<uint32_t>(ioScratch.size());
    for (const auto& dev : ioScratch) {
      knowDevice(dev.major, dev.minor);
      snap.io.push_back(dev);
    }
    // The sections not read: the last values, counters as continuity made them there.
    if (last != nullptr) carryUnread(*last, fresh, cpuQuotaSet(s), out, snap);
    if (last != nullptr) {
      // IO's rate base moves only when IO is read: until then it stays what it was.
      out.previous = last->previous;
      out.previous.time = last->sampleTime;
      out.previous.cpuUsageNs = last->cpu.usageNs;
      out.previous.hasCpu = last->hasCpu;
      if (sections & kSectionIo) {
        std::tie(out.previous.ioReadBytes, out.previous.ioWriteBytes) = previous->ioTotals(*last);
        out.previous.ioTime = last->ioTime;
        out.previous.hasIo = last->hasIo;
      }
    }
    for (const auto& dev : s.target->configuredLimits->io.devices) knowDevice(dev.major, dev.minor);
    return true;
  }

  // Copies the sections outside `read` from `last` (the previous snapshot's entry) into `out`.
  // (v2 swap and the OOM files are v1/v2-specific; `read` has what this host lacks unset too,
  // and `last` carries it as absent.)
  void carryUnread(const TargetSample& last, uint32_t read, bool quotaSet, TargetSample& out, Snapshot& snap) {
    CpuUsage& c = out.cpu;
    const CpuUsage& lc = last.cpu;
    if (!(read & kSectionCpuUserSystem)) {
      c.userNs = lc.userNs;
      c.systemNs = lc.systemNs;
      c.hasUserSystem = lc.hasUserSystem;
    }
    if (!(read & kSectionThrottling) && quotaSet) {  // (a quota just removed: no throttling series)
      c.periods = lc.periods;
      c.throttledPeriods = lc.throttledPeriods;
      c.throttledNs = lc.throttledNs;
      c.bursts = lc.bursts;
      c.burstNs = lc.burstNs;
      c.hasBandwidth = lc.hasBandwidth;
      c.hasBurst = lc.hasBurst;
    }
    MemoryUsage& m = out.memory;
    const MemoryUsage& lm = last.memory;
    if (!(read & kSectionMemoryPeak)) {
      m.maxUsageBytes = lm.maxUsageBytes;
      m.hasMaxUsage = lm.hasMaxUsage;
      m.failcnt = lm.failcnt;
      m.hasFailcnt = lm.hasFailcnt;
    }
    if (!(read & kSectionSwap) && !m.hasSwap) {  // (v1 swap comes with memory.stat)
      m.swapBytes = lm.swapBytes;
      m.hasSwap = lm.hasSwap;
    }
    if (!(read & kSectionOom)) {
      m.oomKills = lm.oomKills;
      m.hasOomKills = lm.hasOomKills;
      m.underOom = lm.underOom;
      m.eventsLow = lm.eventsLow;
      m.eventsHigh = lm.eventsHigh;
      m.eventsMax = lm.eventsMax;
      m.eventsOom = lm.eventsOom;
      m.hasEvents = lm.hasEvents;
    }
    if (!(read & kSectionIo)) {
      out.hasIo = last.hasIo;
      out.ioTime = last.ioTime;
      auto devices = previous->ioOf(last);
      snap.io.insert(snap.io.end(), devices.begin(), devices.end());
      out.ioCount = static_cast<uint32_t>(devices.size());
    }
    if (!(read & kSectionTasks)) {
      out.pidsCurrent = last.pidsCurrent;
      out.hasPids = last.hasPids;
    }
    if (!(read & kSectionProcesses)) {
      out.processes = last.processes;
      out.hasProcesses = last.hasProcesses;
    }
    if (!(read & kSectionPressure)) {
      out.cpuPressure = last.cpuPressure;
      out.memoryPressure = last.memoryPressure;
      out.ioPressure = last.ioPressure;
      out.hasCpuPressure = last.hasCpuPressure;
      out.hasMemoryPressure = last.hasMemoryPressure;
      out.hasIoPressure = last.hasIoPressure;
    }
  }

  // Makes sure the snapshot's device-name map has MAJ:MIN (copy on change: published
  // snapshots share the map).
  void knowDevice(uint32_t major, uint32_t minor) {
    if (deviceMap->find({major, minor}) != deviceMap->end()) return;
    auto copy = std::make_shared<DeviceNameMap>(*deviceMap);
    copy->emplace(std::make_pair(major, minor), deviceNames.nameFor(major, minor));
    deviceMap = std::move(copy);
  }

  // Only to the sections read in this tick (`read`): the others are carried as they were.
  void applyContinuity(TargetState& state, TargetSample& out, uint32_t read) {
    if (!state.continuity) state.continuity = std::make_unique<Continuity>();
    Continuity& s = *state.continuity;
    if (state.reincarnated) {
      // A new cgroup under the same id: everything the old one counted becomes offset.
      auto shift = [](CounterTrack& t) {
        t.offset += t.last;
        t.last = 0;
      };
      for (auto& t : s.cpuCounters) shift(t);
      for (auto& t : s.memoryCounters) shift(t);
      for (auto& t : s.pressureCounters) shift(t);
      for (auto& d : s.deviceCounters) {
        for (auto& t : d.counters) shift(t);
      }
    }
    if (out.hasCpu) {
      s.cpuCounters[0].apply(out.cpu.usageNs);
      for (size_t i = 1; i < kCpuUsageCounterCount && (read & kSectionCpuUserSystem); ++i)
        s.cpuCounters[i].apply(out.cpu.*kCpuCounters[i]);
      for (size_t i = kCpuUsageCounterCount; i < kCpuCounterCount && (read & kSectionThrottling); ++i)
        s.cpuCounters[i].apply(out.cpu.*kCpuCounters[i]);
    }
    if (out.hasMemory) {
      size_t n = read & kSectionOom ? kMemoryCounterCount : kMemoryStatCounterCount;
      for (size_t i = 0; i < n; ++i) s.memoryCounters[i].apply(out.memory.*kMemoryCounters[i]);
    }
    Pressure* psi[3] = {&out.cpuPressure, &out.memoryPressure, &out.ioPressure};
    bool hasPsi[3] = {out.hasCpuPressure, out.hasMemoryPressure, out.hasIoPressure};
    for (int i = 0; i < 3; ++i) {
      if (!hasPsi[i] || !(read & kSectionPressure)) continue;
      s.pressureCounters[i * 2].apply(psi[i]->some.totalUs);
      s.pressureCounters[i * 2 + 1].apply(psi[i]->full.totalUs);
    }
    for (auto& d : ioScratch) {  // empty when IO was not read
      DeviceTrack* track = nullptr;
      for (auto& t : s.deviceCounters) {
        if (t.major == d.major && t.minor == d.minor) track = &t;
      }
      if (track == nullptr) {
        s.deviceCounters.push_back(DeviceTrack{d.major, d.minor, {}});
        track = &s.deviceCounters.back();
      }
      for (size_t i = 0; i < kIoCounterCount; ++i) track->counters[i].apply(d.*kIoCounters[i]);
    }
  }

  // ---- one tick --------------------------------------------------------------------------

  std::shared_ptr<const Snapshot> tick() {
    std::lock_guard<std::mutex> lock(tickMutex);
    auto steadyStart = std::chrono::steady_clock::now();
    double cpuStart = threadCpuSeconds();
    tickErrors = 0;
    logsThisTick = 0;
    suppressedLogs = 0;

    std::vector<std::shared_ptr<const SampleTarget>> requested;
    try {
      if (provider) requested = provider();
    } catch (const std::exception& e) {
      ++tickErrors;
      spdlog::error("sampler: target provider failed: {}", e.what());
    }

    for (auto& [id, state] : states) state->seen = false;
    for (auto& t : requested) {
      if (!t) continue;
      auto it = states.find(t->id);
      if (it == states.end()) {
        auto state = std::make_unique<TargetState>();
        state->target = std::move(t);
        state->staggerSlot = nextStagger++;
        state->seen = true;
        states.emplace(state->target->id, std::move(state));
        continue;
      }
      TargetState& s = *it->second;
      if (s.seen) continue;  // a duplicate id: the first one wins
      s.seen = true;
      if (s.target == t) continue;  // the provider handed out the same immutable target
      bool dirsChanged = s.target->dirs != t->dirs;
      if (!dirsChanged) {
        for (auto& d : s.dirs) {
          for (auto [key, path] : t->dirs) {
            if (path == d.path()) {
              d.pathView = path;
              break;
            }
          }
        }
      } else {
        closeTarget(s);
      }
      if (!(s.target->configuredLimits == t->configuredLimits)) s.specDirty = true;
      // A new run of the workload (or a new state): its detail sections are read at once
      // rather than showing the previous run's process count for up to a detail interval.
      if (s.target->startTimeSeconds != t->startTimeSeconds || s.target->state != t->state) s.detailValid = false;
      s.target = std::move(t);
    }
    for (auto it = states.begin(); it != states.end();) {
      if (!it->second->seen) {
        closeTarget(*it->second);
        it = states.erase(it);
      } else {
        ++it;
      }
    }

    const uint32_t modeFiles = layout.mode == CgroupMode::V2 ? kV2Files : kV1Files;
    const size_t filesPerTarget = static_cast<size_t>(std::popcount(modeFiles));
    uint32_t everyTickFiles = 0;
    for (int f = 0; f < kFileCount; ++f) {
      if (!readSlowly(static_cast<File>(f))) everyTickFiles |= bit(static_cast<File>(f));
    }
    const size_t everyTickNeed = states.size() * static_cast<size_t>(std::popcount(modeFiles & everyTickFiles));
    slowBudget = maxOpenFiles > everyTickNeed ? maxOpenFiles - everyTickNeed : 0;
    if (heldSlowFds > slowBudget) releaseSlowFiles();
    holdDirs = states.size() * (filesPerTarget + size_t{kDirCount}) <= maxOpenFiles;
    filesRead = 0;
    filesOpened = 0;

    std::shared_ptr<Snapshot> snap;
    if (spare && spare.use_count() == 1) {
      snap = std::move(spare);
    } else {
      snap = std::make_shared<Snapshot>();
      spare.reset();
    }
    snap->mode = layout.mode;
    snap->time = unixNow();
    snap->steadyTime = steadyStart;
    snap->targets.clear();
    snap->io.clear();
    snap->targets.reserve(states.size());

    for (auto& [id, state] : states) {
      TargetState& s = *state;
      // Held descriptors of a cgroup that was removed read ENODEV; when it was recreated
      // under the same path (a restart), the second attempt reads the new one at once.
      for (int attempt = s.open ? 2 : 1; attempt > 0; --attempt) {
        if (!s.open && !openTarget(s)) break;
        snap->targets.emplace_back();
        if (sampleTarget(s, snap->targets.back(), *snap)) {
          s.lastIndex = static_cast<uint32_t>(snap->targets.size() - 1);
          s.lastTick = ticks;
          break;
        }
        // Vanished: not an error. Retried every tick while the provider lists it.
        snap->io.resize(snap->targets.back().ioBegin);
        snap->targets.pop_back();
        closeTarget(s);
      }
    }

    if (suppressedLogs > 0) spdlog::warn("sampler: {} more errors in this tick were not logged", suppressedLogs);
    ++ticks;
    errorsTotal += tickErrors;
    snap->deviceNames = deviceMap;
    snap->stats.ticks = ticks;
    snap->stats.errorsTotal = errorsTotal;
    snap->stats.tickErrors = tickErrors;
    snap->stats.targetsRequested = requested.size();
    snap->stats.heldFiles = heldFds;
    snap->stats.filesRead = filesRead;
    snap->stats.filesOpened = filesOpened;
    snap->stats.descriptorBudget = maxOpenFiles;
    snap->stats.cpuSeconds = threadCpuSeconds() - cpuStart;
    snap->stats.durationSeconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - steadyStart).count();

    std::shared_ptr<const Snapshot> published = snap;
    latest.store(published);
    spare = std::move(previous);
    previous = std::move(snap);
    return published;
  }

  void loop() {
    auto next = std::chrono::steady_clock::now();
    for (;;) {
      tick();
      next += options.interval;
      auto now = std::chrono::steady_clock::now();
      if (next < now) next = now;  // a slow tick: skip, don't burst
      std::unique_lock<std::mutex> lock(loopMutex);
      if (loopCv.wait_until(lock, next, [this] { return stopping; })) return;
    }
  }
};

Sampler::Sampler(CgroupLayout layout, SharedTargetProvider provider, SamplerOptions options)
    : impl_(std::make_unique<Impl>(std::move(layout), std::move(provider), std::move(options))) {}

Sampler::Sampler(CgroupLayout layout, TargetProvider provider, SamplerOptions options)
    : Sampler(std::move(layout), shareTargets(std::move(provider)), std::move(options)) {}

uint64_t raiseFileDescriptorLimit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  uint64_t previous = rl.rlim_cur;
  rlim_t want = rl.rlim_max == RLIM_INFINITY ? (rlim_t{1} << 20) : std::min<rlim_t>(rl.rlim_max, rlim_t{1} << 20);
  if (want > rl.rlim_cur) {
    rl.rlim_cur = want;
    if (::setrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  }
  return previous;
}

SharedTargetProvider shareTargets(TargetProvider provider) {
  return [provider = std::move(provider)]() {
    std::vector<std::shared_ptr<const SampleTarget>> out;
    if (!provider) return out;
    std::vector<SampleTarget> targets = provider();
    out.reserve(targets.size());
    for (auto& t : targets) out.push_back(std::make_shared<const SampleTarget>(std::move(t)));
    return out;
  };
}

Sampler::~Sampler() { stop(); }

void Sampler::start() {
  std::lock_guard<std::mutex> lock(impl_->loopMutex);
  if (impl_->runningFlag) return;
  impl_->stopping = false;
  impl_->runningFlag = true;
  impl_->thread = std::thread([this] { impl_->loop(); });
}

void Sampler::stop() {
  {
    std::lock_guard<std::mutex> lock(impl_->loopMutex);
    if (!impl_->runningFlag) return;
    impl_->stopping = true;
  }
  impl_->loopCv.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();
  std::lock_guard<std::mutex> lock(impl_->loopMutex);
  impl_->runningFlag = false;
}

bool Sampler::running() const {
  std::lock_guard<std::mutex> lock(impl_->loopMutex);
  return impl_->runningFlag;
}

std::shared_ptr<const Snapshot> Sampler::tick() { return impl_->tick(); }

std::shared_ptr<const Snapshot> Sampler::latest() const { return impl_->latest.load(); }

void Sampler::setEveryTick(uint32_t sections) {
  impl_->everyTick.store(sections & kAllDetailSections, std::memory_order_relaxed);
}

namespace {
constexpr std::pair<SampleSection, const char*> kSectionNames[] = {
    {kSectionPressure, "pressure"}, {kSectionMemoryPeak, "memory_peak"}, {kSectionSwap, "swap"},
    {kSectionProcesses, "processes"}, {kSectionThrottling, "throttling"}, {kSectionOom, "oom"},
    {kSectionIo, "io"},           {kSectionTasks, "tasks"},          {kSectionCpuUserSystem, "cpu_user_system"},
};
}  // namespace

const char* sampleSectionName(SampleSection section) {
  for (const auto& [value, name] : kSectionNames) {
    if (value == section) return name;
  }
  return "?";
}

uint32_t sampleSectionByName(std::string_view name) {
  for (const auto& [value, n] : kSectionNames) {
    if (name == n) return value;
  }
  return 0;
}

const SamplerOptions& Sampler::options() const { return impl_->options; }

const CgroupLayout& Sampler::layout() const { return impl_->layout; }

}  // namespace cgwarden::collectors
