#include "config/Units.h"

#include <cmath>

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

}  // namespace cgwarden::config
