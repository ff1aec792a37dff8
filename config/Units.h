#pragma once
// Human units used in config files, API requests and CLI flags.
//
//   size      "64Mi", "1.5G", "512k", "1048576", "max"   -> bytes (Ki/Mi/Gi/Ti = 1024^n, k/K/M/G/T = 1000^n)
//   rate      "10M/s", "10Mi", "500/s"                    -> per second (same suffixes)
//   duration  "250ms", "30s", "5m", "1h", "1m30s"         -> std::chrono::milliseconds
//   cores     "1.5", "0.25", "150%"                       -> fraction of one CPU
//   µs        "50000", "50ms", "100us", "1s"              -> microseconds (bare number: µs, as cpu.cfs_*_us)
//   signal    "SIGTERM", "TERM", "term", "15"             -> signal number
//   cpu list  "0-3,6"                                     -> validated cpuset.cpus / cpuset.mems syntax
//
// Each returns nullopt-like errors as a string that completes "... is not a size".

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cgwarden::config {

std::optional<uint64_t> parseSize(std::string_view text);   // "max" -> kUnlimited
std::optional<uint64_t> parseRate(std::string_view text);   // "max" -> kUnlimited
std::optional<std::chrono::milliseconds> parseDuration(std::string_view text);
std::optional<double> parseCores(std::string_view text);

std::optional<uint64_t> parseMicroseconds(std::string_view text);  // "max" -> kUnlimited
std::optional<int> parseSignal(std::string_view text);
std::string signalName(int signal);  // 15 -> "SIGTERM", 99 -> "99"
bool isCpuList(std::string_view text);  // "0", "0-3", "0-3,6,8-9"; ranges ascending

std::string formatSize(uint64_t bytes);  // 67108864 -> "64Mi", kUnlimited -> "max"
std::string formatDuration(std::chrono::milliseconds d);  // 90000ms -> "1m30s", 250ms -> "250ms", 0 -> "0s"

}  // namespace cgwarden::config
