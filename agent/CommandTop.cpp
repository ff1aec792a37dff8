// `cgwarden top`: a live, refreshing view of the workloads (like systemd-cgtop / docker
// stats). ANSI escapes only (alternate screen, cursor home, erase to end of line): works in
// any VT100-style terminal, tmux and screen included, without ncurses.
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>

#include "agent/ApiClient.h"
#include "agent/ApiJson.h"
#include "agent/Commands.h"
#include "agent/WorkloadTable.h"
#include "collectors/TextParse.h"
#include "config/Units.h"

namespace cgwarden::agent {

namespace {

const char* kTopUsage =
    "usage: cgwarden top [--interval D] [--sort cpu|mem|name] [--iterations N] [--batch] [options]\n"
    "\n"
    "A live view of the agent's workloads, refreshed every interval:\n"
    "  NAME  STATE  CPU%  MEM  MEM%  LIMIT  IO-R/s  IO-W/s  PIDS  RESTARTS\n"
    "sorted by CPU (100% = one core) unless --sort says otherwise. Keys: q quits, c / m / n sort by\n"
    "CPU / memory / name. Rates are computed by the agent between its last two samples, so the\n"
    "first frame may show \"-\".\n"
    "\n"
    "  --interval D      refresh period (default 1s, at least 100ms)\n"
    "  --sort KEY        cpu (default), mem or name\n"
    "  --iterations N    stop after N frames (default: until q or Ctrl-C)\n"
    "  --batch           plain frames one after another, no escape codes (the default when stdout\n"
    "                    is not a terminal)\n";

volatile sig_atomic_t gQuit = 0;
volatile sig_atomic_t gResized = 0;

void onQuit(int) { gQuit = 1; }
void onResize(int) { gResized = 1; }

class TerminalMode {
 public:
  TerminalMode(bool interactive, bool keys) : interactive_(interactive) {
    if (keys && ::tcgetattr(0, &saved_) == 0) {
      termios raw = saved_;
      raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
      raw.c_cc[VMIN] = 0;
      raw.c_cc[VTIME] = 0;
      restoreKeys_ = ::tcsetattr(0, TCSANOW, &raw) == 0;
    }
    if (interactive_) write("\x1b[?1049h\x1b[?25l\x1b[H\x1b[2J");
  }
  ~TerminalMode() {
    if (interactive_) write("\x1b[?25h\x1b[?1049l");
    if (restoreKeys_) ::tcsetattr(0, TCSANOW, &saved_);
  }
  TerminalMode(const TerminalMode&) = delete;
  TerminalMode& operator=(const TerminalMode&) = delete;

  static void write(const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      ssize_t n = ::write(1, s.data() + off, s.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
  }

 private:
  bool interactive_;
  bool restoreKeys_ = false;
  termios saved_{};
};

std::pair<size_t, size_t> terminalSize() {
  winsize ws{};
  if (::ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return {ws.ws_col, ws.ws_row};
  return {0, 0};
}

std::string clockNow() {
  time_t now = ::time(nullptr);
  struct tm tm {};
  ::localtime_r(&now, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
  return buf;
}

const char* sortName(TopSort s) { return s == TopSort::Cpu ? "cpu" : s == TopSort::Memory ? "mem" : "name"; }

}  // namespace

int commandTop(const std::vector<std::string>& args) {
  int code = kExitOk;
  auto flags = beginVerb(args, "top", kTopUsage, code);
  if (!flags) return code;
  std::chrono::milliseconds interval{1000};
  TopSort sort = TopSort::Cpu;
  uint64_t iterations = 0;
  bool batch = ::isatty(1) == 0;
  const auto& rest = flags->rest;
  for (size_t i = 0; i < rest.size(); ++i) {
    std::string flag = rest[i], value;
    if (auto eq = flag.find('='); eq != std::string::npos && flag.rfind("--", 0) == 0) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    } else if (flag == "--interval" || flag == "--sort" || flag == "--iterations") {
      if (i + 1 >= rest.size()) return usageError("top", flag + " needs a value");
      value = rest[++i];
    }
    if (flag == "--batch") {
      batch = true;
    } else if (flag == "--interval") {
      auto d = config::parseDuration(value);
      if (!d || d->count() < 100) return usageError("top", "--interval: \"" + value + "\" is not a duration of at least 100ms");
      interval = *d;
    } else if (flag == "--sort") {
      if (value == "cpu") {
        sort = TopSort::Cpu;
      } else if (value == "mem" || value == "memory") {
        sort = TopSort::Memory;
      } else if (value == "name") {
        sort = TopSort::Name;
      } else {
        return usageError("top", "--sort: \"" + value + "\" is not cpu, mem or name");
      }
    } else if (flag == "--iterations") {
      auto n = parseUint64(value);
      if (!n || *n == 0) return usageError("top", "--iterations: \"" + value + "\" is not a positive number");
      iterations = *n;
    } else {
      return usageError("top", "unexpected argument \"" + rest[i] + "\"");
    }
  }
  auto session = ApiSession::open(*flags, "top", code);
  if (!session) return code;

  // The first fetch decides whether the agent is there at all.
  auto first = session->call("GET", "/api/v1/workloads", "", code);
  if (!first) return code;
  if (first->status != 200) return session->report(*first);

  struct sigaction quit {};
  quit.sa_handler = onQuit;
  ::sigemptyset(&quit.sa_mask);
  ::sigaction(SIGINT, &quit, nullptr);
  ::sigaction(SIGTERM, &quit, nullptr);
  ::sigaction(SIGHUP, &quit, nullptr);
  struct sigaction resize {};
  resize.sa_handler = onResize;
  ::sigemptyset(&resize.sa_mask);
  ::sigaction(SIGWINCH, &resize, nullptr);

  bool keys = !batch && ::isatty(0) != 0;
  TerminalMode mode(!batch, keys);
  std::string where = session->endpoint().host + ":" + std::to_string(session->endpoint().port);
  std::optional<ApiSession::Reply> reply = std::move(first);
  std::string problem;
  uint64_t frames = 0;
  auto nextFetch = std::chrono::steady_clock::now() + interval;
  while (gQuit == 0) {
    nlohmann::json workloads = reply ? reply->body.value("workloads", nlohmann::json::array()) : nlohmann::json::array();
    auto [cols, lines] = terminalSize();
    std::string head = "cgwarden top  " + where + "  " + std::to_string(workloads.size()) + " workloads  " +
                       clockNow() + "  sort: " + sortName(sort);
    if (!batch) head += "  (c/m/n sort, q quits)";
    std::string table = topTable(workloads, sort).render(batch ? 0 : cols);
    if (!batch) {
      std::string frame = "\x1b[H" + head + "\x1b[K\n";
      if (!problem.empty()) frame += "\x1b[7m" + problem + "\x1b[0m";
      frame += "\x1b[K\n";
      size_t shown = 2;
      for (std::string_view line : splitOn(table, '\n')) {
        if (lines > 0 && shown + 1 >= lines) break;
        if (line.empty()) continue;
        frame += std::string(line) + "\x1b[K\n";
        ++shown;
      }
      frame += "\x1b[J";
      TerminalMode::write(frame);
    } else {
      TerminalMode::write(head + (problem.empty() ? "" : "\n" + problem) + "\n" + table + "\n");
    }
    ++frames;
    if (iterations > 0 && frames >= iterations) break;

    bool fetchNow = false;
    while (gQuit == 0 && !fetchNow) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(nextFetch - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        fetchNow = true;
        break;
      }
      pollfd p{0, POLLIN, 0};
      int rc = ::poll(&p, keys ? 1 : 0, static_cast<int>(left.count()));
      if (gResized != 0) {
        gResized = 0;
        break;  // redraw with the new size, same data
      }
      if (rc > 0 && (p.revents & POLLIN) != 0) {
        char c = 0;
        if (::read(0, &c, 1) != 1) continue;
        if (c == 'q' || c == 'Q') {
          gQuit = 1;
        } else if (c == 'c' || c == 'm' || c == 'n') {
          sort = c == 'c' ? TopSort::Cpu : c == 'm' ? TopSort::Memory : TopSort::Name;
          break;  // redraw at once, same data
        }
      }
    }
    if (!fetchNow || gQuit != 0) continue;
    auto now = std::chrono::steady_clock::now();
    nextFetch = std::max(nextFetch + interval, now);
    int ignored = 0;
    auto r = session->call("GET", "/api/v1/workloads", "", ignored, true);
    if (!r) {
      problem = "agent unreachable at " + where + "; retrying";
    } else if (r->status != 200) {
      problem = "agent answered " + std::to_string(r->status) + ": " + r->raw.substr(0, 200);
    } else {
      problem.clear();
      reply = std::move(r);
    }
  }
  return kExitOk;
}

}  // namespace cgwarden::agent
