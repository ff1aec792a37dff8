#pragma once
// Allocation-free scanning of the flat-keyed and nested-keyed cgroup files, for the
// parsers on the sampling path (CpuFiles, MemoryFiles, IoFiles, PressureFiles, PidsFiles).
// Nothing here allocates unless an error is reported.
//
//   flat-keyed     "nr_periods 13\nnr_throttled 11\n"            (cpu.stat, memory.stat, memory.events)
//   nested-keyed   "254:0 rbytes=1459200 wbytes=314773504 ...\n" (io.stat, *.pressure)

#include <charconv>
#include <cstring>
#include <cstdint>
#include <string>
#include <string_view>

#include "collectors/Result.h"

namespace cgwarden::scan {

// Strict decimal uint64: no sign, no spaces, no trailing garbage.
inline bool toU64(std::string_view s, uint64_t& out) {
  if (s.empty()) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

inline bool toDouble(std::string_view s, double& out) {
  if (s.empty()) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

inline bool isBlank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

inline std::string_view trimBlank(std::string_view s) {
  while (!s.empty() && (isBlank(s.front()) || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (isBlank(s.back()) || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

// Walks lines; a trailing newline gives no empty last line. Lines are passed with a
// 1-based number. `fn(line, number)` returns false to stop early.
template <class Fn>
inline void forEachLine(std::string_view text, Fn&& fn) {
  size_t start = 0;
  int number = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    ++number;
    if (!fn(text.substr(start, nl - start), number)) return;
    start = nl + 1;
  }
}

// Pops the next blank-separated field off `line` (empty when none is left).
inline std::string_view nextField(std::string_view& line) {
  size_t i = 0;
  while (i < line.size() && isBlank(line[i])) ++i;
  size_t start = i;
  while (i < line.size() && !isBlank(line[i])) ++i;
  std::string_view field = line.substr(start, i - start);
  line.remove_prefix(i);
  return field;
}

// "key value" -> key, value; false unless the line is exactly two fields with a numeric value.
inline bool keyValue(std::string_view line, std::string_view& key, uint64_t& value) {
  key = nextField(line);
  std::string_view v = nextField(line);
  if (key.empty() || !toU64(v, value)) return false;
  return nextField(line).empty();
}

// "MAJ:MIN" -> numbers.
inline bool majorMinor(std::string_view s, uint32_t& major, uint32_t& minor) {
  size_t colon = s.find(':');
  if (colon == std::string_view::npos) return false;
  uint64_t a = 0, b = 0;
  if (!toU64(s.substr(0, colon), a) || !toU64(s.substr(colon + 1), b)) return false;
  if (a > UINT32_MAX || b > UINT32_MAX) return false;
  major = static_cast<uint32_t>(a);
  minor = static_cast<uint32_t>(b);
  return true;
}

// A parse error naming the line: "line 3: expected \"<key> <number>\", got \"cache abc\"".
inline Error lineError(int number, std::string_view expected, std::string_view line) {
  std::string detail = "line " + std::to_string(number) + ": expected " + std::string(expected) + ", got \"";
  detail.append(line.substr(0, 120));
  detail += '"';
  return Error::invalid("parse", "", std::move(detail));
}

inline Error missingKey(std::string_view key) {
  return Error::invalid("parse", "", "no \"" + std::string(key) + "\" line");
}

// A key of a flat-keyed file and the struct member it fills.
template <class T>
struct FlatKey {
  std::string_view key;
  uint64_t T::*member;
};

// Calls `fn(key, value)` for each "<key> <number>" line of a flat-keyed file, blank lines
// skipped; `fn` returns false to stop. The kernel's own form (one space, decimal digits,
// '\n') takes a fast path; anything else goes through keyValue, which also accepts tabs
// and repeated blanks. Returns 0, or the 1-based number of the first malformed line, with
// the line itself in `bad`.
template <class Fn>
inline int forEachKeyValue(std::string_view text, std::string_view& bad, Fn&& fn) {
  const char* p = text.data();
  const char* end = p + text.size();
  int number = 0;
  while (p < end) {
    ++number;
    // Fast path: "key SP digits\n" with at most 19 digits (no overflow), in one pass.
    const char* q = p;
    while (q < end && *q != ' ' && *q != '\n' && *q != '\t' && *q != '\r') ++q;
    if (q != p && q < end && *q == ' ') {
      const char* d = q + 1;
      uint64_t value = 0;
      while (d < end && static_cast<unsigned>(*d - '0') <= 9) value = value * 10 + static_cast<unsigned>(*d++ - '0');
      size_t digits = static_cast<size_t>(d - (q + 1));
      if (digits > 0 && digits <= 19 && (d == end || *d == '\n')) {
        std::string_view key(p, static_cast<size_t>(q - p));
        p = d + 1;
        if (!fn(key, value)) return 0;
        continue;
      }
    }
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    if (nl == nullptr) nl = end;
    std::string_view line(p, static_cast<size_t>(nl - p));
    p = nl + 1;
    if (trimBlank(line).empty()) continue;
    std::string_view key;
    uint64_t value = 0;
    if (!keyValue(line, key, value)) {
      bad = line;
      return number;
    }
    if (!fn(key, value)) return 0;
  }
  return 0;
}

// Fills `out` from a flat-keyed file; unknown keys are skipped, malformed lines are an
// error naming the line. Returns a bit mask of the keys seen (bit i = keys[i]).
template <class T, size_t N>
inline Result<uint64_t> scanFlatKeyed(std::string_view text, const FlatKey<T> (&keys)[N], T& out) {
  static_assert(N <= 64, "at most 64 keys");
  uint64_t seen = 0;
  std::string_view bad;
  int badLine = forEachKeyValue(text, bad, [&](std::string_view key, uint64_t value) {
    for (size_t i = 0; i < N; ++i) {
      if (keys[i].key == key) {
        out.*(keys[i].member) = value;
        seen |= uint64_t{1} << i;
        break;
      }
    }
    return true;
  });
  if (badLine != 0) return lineError(badLine, "\"<key> <number>\"", bad);
  return seen;
}

// The first of `keys` whose bit is missing from `mask` (requiredMask selects which count).
template <class T, size_t N>
inline Status requireKeys(uint64_t seen, uint64_t requiredMask, const FlatKey<T> (&keys)[N]) {
  for (size_t i = 0; i < N; ++i) {
    uint64_t bit = uint64_t{1} << i;
    if ((requiredMask & bit) != 0 && (seen & bit) == 0) return missingKey(keys[i].key);
  }
  return {};
}

}  // namespace cgwarden::scan
