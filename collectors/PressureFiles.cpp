#include "collectors/PressureFiles.h"

#include "collectors/StatScan.h"

namespace cgwarden::collectors {

namespace {

bool toPercent(std::string_view text, float& out) {
  double v = 0;
  if (!scan::toDouble(text, v)) return false;
  out = static_cast<float>(v);
  return true;
}

}  // namespace

Result<Pressure> parsePressure(std::string_view text) {
  Pressure out;
  bool hasSome = false;
  int badLine = 0;
  std::string_view bad;
  scan::forEachLine(text, [&](std::string_view line, int number) {
    std::string_view rest = line;
    std::string_view kind = scan::nextField(rest);
    if (kind.empty()) return true;
    auto fail = [&] {
      badLine = number;
      bad = line;
      return false;
    };
    PressureLine* target = nullptr;
    if (kind == "some") {
      target = &out.some;
    } else if (kind == "full") {
      target = &out.full;
    } else {
      return fail();
    }
    unsigned seen = 0;
    for (std::string_view field = scan::nextField(rest); !field.empty(); field = scan::nextField(rest)) {
      size_t eq = field.find('=');
      if (eq == std::string_view::npos) return fail();
      std::string_view key = field.substr(0, eq);
      std::string_view value = field.substr(eq + 1);
      bool ok = true;
      if (key == "avg10") {
        ok = toPercent(value, target->avg10);
        seen |= 1;
      } else if (key == "avg60") {
        ok = toPercent(value, target->avg60);
        seen |= 2;
      } else if (key == "avg300") {
        ok = toPercent(value, target->avg300);
        seen |= 4;
      } else if (key == "total") {
        ok = scan::toU64(value, target->totalUs);
        seen |= 8;
      }
      if (!ok) return fail();
    }
    if (seen != 15) return fail();
    if (target == &out.some) {
      hasSome = true;
    } else {
      out.hasFull = true;
    }
    return true;
  });
  if (badLine != 0) {
    return scan::lineError(badLine, "\"some|full avg10=<pct> avg60=<pct> avg300=<pct> total=<us>\"", bad);
  }
  if (!hasSome) return scan::missingKey("some");
  return out;
}

}  // namespace cgwarden::collectors
