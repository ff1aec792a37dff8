#pragma once
// Allocation-free helpers shared by the pure parsers of kernel files.
// Numbers are parsed with std::from_chars: nothing here throws.

#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace cgwarden {

// Lines without their '\n'; a trailing newline yields no empty last line.
std::vector<std::string_view> splitLines(std::string_view text);
// Fields separated by runs of spaces or tabs.
std::vector<std::string_view> splitFields(std::string_view line);
// Pieces between `sep`; empty pieces are kept ("a,,b" -> "a","","b"), an empty input gives none.
std::vector<std::string_view> splitOn(std::string_view text, char sep);
std::string_view trim(std::string_view s);

std::optional<uint64_t> parseUint64(std::string_view s);
std::optional<int64_t> parseInt64(std::string_view s);
std::optional<double> parseDouble(std::string_view s);

// "key value" per line (cpu.stat, memory.stat, memory.events, io.stat pieces).
// Malformed lines are skipped; the caller decides which keys it needs.
std::vector<std::pair<std::string_view, uint64_t>> parseFlatKeyed(std::string_view text);

}  // namespace cgwarden
