#include "config/Units.h"

#include <cmath>
#include <csignal>
#include <cctype>
#include <string>

#include "collectors/Limits.h"
#include "collectors/TextParse.h"

namespace cgwarden::config {

namespace {

// Splits "1.5Gi" into 1.5 and "Gi".
bool splitNumber(std::string_view text, double& number, std::string_view& suffix) {
  size_t i = 0;
  while (i < text.size() && ((text[i] >= '0' && text[i] <= '9') || text[i] == '.')) ++i;
  if (i == 0) return false;
  auto n = parseDouble(text.substr(0, i));
  if (!n || !std::isfinite(*n) || *n < 0) return false;
  number = *n;
  suffix = trim(text.substr(i));
  return true;
}

std::optional<double> multiplier(std::string_view suffix) {
  if (suffix.empty() || suffix == "B") return 1.0;
  const char unit = suffix[0];
  double base = 1000.0;
  std::string_view rest = suffix.substr(1);
  if (!rest.empty() && rest[0] == 'i') {
    base = 1024.0;
    rest = rest.substr(1);
  }
  if (!rest.empty() && rest != "B") return std::nullopt;
  int power = 0;
  switch (unit) {
    case 'k': case 'K': power = 1; break;
    case 'M': power = 2; break;
    case 'G': power = 3; break;
    case 'T': power = 4; break;
    default: return std::nullopt;
  }
  return std::pow(base, power);
}

std::optional<uint64_t> parseScaled(std::string_view text) {
  text = trim(text);
  if (text == "max" || text == "unlimited") return kUnlimited;
  double number = 0;
  std::string_view suffix;
  if (!splitNumber(text, number, suffix)) return std::nullopt;
  auto mult = multiplier(suffix);
  if (!mult) return std::nullopt;
  double value = std::round(number * *mult);
  if (value >= 1.8e19) return std::nullopt;
  return static_cast<uint64_t>(value);
}

}  // namespace

std::optional<uint64_t> parseSize(std::string_view text) { return parseScaled(text); }

std::optional<uint64_t> parseRate(std::string_view text) {
  text = trim(text);
  if (text.size() > 2 && text.substr(text.size() - 2) == "/s") text = text.substr(0, text.size() - 2);
  return parseScaled(text);
}

std::optional<std::chrono::milliseconds> parseDuration(std::string_view text) {
  text = trim(text);
  if (text.empty()) return std::nullopt;
  if (auto plain = parseUint64(text)) return std::chrono::milliseconds(*plain * 1000);  // bare number: seconds
  double total = 0;
  while (!text.empty()) {
    double number = 0;
    std::string_view rest;
    if (!splitNumber(text, number, rest)) return std::nullopt;
    size_t unitLen = 0;
    while (unitLen < rest.size() && rest[unitLen] >= 'a' && rest[unitLen] <= 'z') ++unitLen;
    std::string_view unit = rest.substr(0, unitLen);
    double ms = 0;
    if (unit == "ms") ms = 1;
    else if (unit == "s") ms = 1000;
    else if (unit == "m") ms = 60000;
    else if (unit == "h") ms = 3600000;
    else return std::nullopt;
    total += number * ms;
    text = rest.substr(unitLen);
  }
  return std::chrono::milliseconds(static_cast<int64_t>(std::round(total)));
}

std::optional<double> parseCores(std::string_view text) {
  text = trim(text);
  bool percent = !text.empty() && text.back() == '%';
  if (percent) text = text.substr(0, text.size() - 1);
  auto v = parseDouble(text);
  if (!v || !std::isfinite(*v) || *v <= 0) return std::nullopt;
  return percent ? *v / 100.0 : *v;
}

std::optional<uint64_t> parseMicroseconds(std::string_view text) {
  text = trim(text);
  if (text == "max") return kUnlimited;
  if (auto plain = parseUint64(text)) return plain;
  double number = 0;
  std::string_view unit;
  if (!splitNumber(text, number, unit)) return std::nullopt;
  double us = 0;
  if (unit == "us" || unit == "\u00b5s") us = 1;
  else if (unit == "ms") us = 1000;
  else if (unit == "s") us = 1000000;
  else return std::nullopt;
  double value = std::round(number * us);
  if (value >= 1.8e19) return std::nullopt;
  return static_cast<uint64_t>(value);
}

namespace {

struct SignalName {
  const char* name;
  int number;
};

constexpr SignalName kSignals[] = {
    {"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT},     {"ILL", SIGILL},   {"TRAP", SIGTRAP},
    {"ABRT", SIGABRT}, {"BUS", SIGBUS},   {"FPE", SIGFPE},       {"KILL", SIGKILL}, {"USR1", SIGUSR1},
    {"SEGV", SIGSEGV}, {"USR2", SIGUSR2}, {"PIPE", SIGPIPE},     {"ALRM", SIGALRM}, {"TERM", SIGTERM},
    {"CHLD", SIGCHLD}, {"CONT", SIGCONT}, {"STOP", SIGSTOP},     {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN},
    {"TTOU", SIGTTOU}, {"URG", SIGURG},   {"XCPU", SIGXCPU},     {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM},
    {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},       {"PWR", SIGPWR},   {"SYS", SIGSYS},
};

}  // namespace

std::optional<int> parseSignal(std::string_view text) {
  text = trim(text);
  if (auto n = parseUint64(text)) {
    if (*n >= 1 && *n <= 64) return static_cast<int>(*n);
    return std::nullopt;
  }
  std::string upper;
  for (char c : text) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::string_view name = upper;
  if (name.substr(0, 3) == "SIG") name = name.substr(3);
  for (const auto& s : kSignals) {
    if (name == s.name) return s.number;
  }
  return std::nullopt;
}

std::string signalName(int signal) {
  for (const auto& s : kSignals) {
    if (s.number == signal) return std::string("SIG") + s.name;
  }
  return std::to_string(signal);
}

bool isCpuList(std::string_view text) {
  text = trim(text);
  if (text.empty()) return false;
  for (auto part : splitOn(text, ',')) {
    auto dash = part.find('-');
    auto first = parseUint64(part.substr(0, dash));
    if (!first) return false;
    if (dash == std::string_view::npos) continue;
    auto last = parseUint64(part.substr(dash + 1));
    if (!last || *last < *first) return false;
  }
  return true;
}

std::string formatSize(uint64_t bytes) {
  if (bytes == kUnlimited) return "max";
  static const char* kUnits[] = {"", "Ki", "Mi", "Gi", "Ti"};
  int unit = 0;
  while (unit < 4 && bytes >= 1024 && bytes % 1024 == 0) {
    bytes /= 1024;
    ++unit;
  }
  return std::to_string(bytes) + kUnits[unit];
}

std::string formatDuration(std::chrono::milliseconds d) {
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  const int64_t hours = ms / 3600000, minutes = ms / 60000 % 60, seconds = ms / 1000 % 60, rest = ms % 1000;
  if (hours) out += std::to_string(hours) + "h";
  if (minutes) out += std::to_string(minutes) + "m";
  if (seconds) out += std::to_string(seconds) + "s";
  if (rest) out += std::to_string(rest) + "ms";
  return out;
}

}  // namespace cgwarden::config
