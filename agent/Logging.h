#pragma once
// spdlog setup: text for people, JSON lines for log shippers.
//   text: 2026-11-28T04:17:17.123Z info  launched web pid=1234
//   json: {"ts":"2026-11-28T04:17:17.123Z","level":"info","msg":"launched web pid=1234"}

#include <string>

#include "collectors/Result.h"

namespace cgwarden::agent {

enum class LogFormat { Text, Json };

// level: trace, debug, info, warn, error, critical, off. Logs go to stderr.
Status setupLogging(const std::string& level, LogFormat format);
Result<LogFormat> parseLogFormat(const std::string& name);

}  // namespace cgwarden::agent
