#pragma once
// The CLI side of the control API (ps, top, launch, stop, ... in Command*.cpp): finding the
// agent, a small blocking HTTP/1.1 client, and what every verb shares.
//
// Finding the agent, in order:
//   --url http://HOST:PORT         else agent.listen of the config file
//   --token-file FILE              else <agent.state_dir>/api-token of the config file
//   --config FILE                  else $CGWARDEN_CONFIG, else /etc/cgwarden/cgwarden.yaml (the
//                                  same default as `cgwarden run`); when that default file does
//                                  not exist the built-in defaults apply (127.0.0.1:9839,
//                                  /var/lib/cgwarden/api-token)
// agent.listen "0.0.0.0:P" or ":P" is reached on 127.0.0.1:P, "[::]:P" on [::1]:P.
//
// Exit codes (docs/api.md): 0 ok, 1 the agent refused or failed (409, 422, 403, 5xx),
// 2 usage (bad flags, or the agent said 400/405/413/415), 3 cannot reach the agent,
// 4 not found (404), 5 unauthorized (401, or the token file cannot be read).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "collectors/Limits.h"
#include "collectors/Result.h"

namespace cgwarden::agent {

inline constexpr int kExitUnreachable = 3;
inline constexpr int kExitNotFound = 4;
inline constexpr int kExitUnauthorized = 5;

inline constexpr const char* kDefaultConfigPath = "/etc/cgwarden/cgwarden.yaml";

// The flags every API verb takes; the rest is left in `rest`, in order. Everything from a
// "--" on is left untouched (the "--" included).
struct ClientFlags {
  std::string configPath;
  bool configGiven = false;  // --config or $CGWARDEN_CONFIG
  std::string url;
  std::string tokenFile;
  bool json = false;
  bool help = false;
  std::chrono::milliseconds timeout{30000};  // per request
  std::vector<std::string> rest;
};
Result<ClientFlags> parseClientFlags(const std::vector<std::string>& args);
// The lines describing the shared flags, for each verb's --help.
const char* clientFlagsUsage();

struct HttpReply {
  int status = 0;
  std::string contentType;
  std::string body;
};
// One request over TCP with "Connection: close"; Content-Length, chunked and read-to-close
// bodies. Errors (connect refused, timeout, malformed reply) name the address.
Result<HttpReply> httpExchange(const std::string& host, uint16_t port, const std::string& method,
                               const std::string& target, const std::vector<std::pair<std::string, std::string>>& headers,
                               const std::string& body, std::chrono::milliseconds timeout);

// "127.0.0.1:9839" -> {"127.0.0.1", 9839}; "0.0.0.0:9839", ":9839" and "9839" -> 127.0.0.1;
// "[::]:9839" -> "::1"; "[::1]:9839" -> "::1".
Result<std::pair<std::string, uint16_t>> connectAddressFor(const std::string& listen);
// "http://host:port[/]" (https is refused: see docs/api.md); "host:port" is accepted too.
Result<std::pair<std::string, uint16_t>> parseApiUrl(const std::string& url);

struct ApiEndpoint {
  std::string host;
  uint16_t port = 0;
  std::string tokenFile;
  std::string origin;  // "config /etc/cgwarden/cgwarden.yaml" / "--url" / "built-in defaults"
};
// Errors: an unreadable or invalid config file (the CLI exits 2), a bad --url.
Result<ApiEndpoint> resolveEndpoint(const ClientFlags& flags);

int exitCodeForStatus(int httpStatus);

// Limit flags only (--memory --memory-high --memory-low --memory-swap --cpus --cpu-weight
// --cpuset --pids --io-weight), parsed by the `cgwarden exec` parser (ExecOptions.h).
Result<Limits> parseLimitFlags(const std::vector<std::string>& args);
const char* limitFlagsUsage();

// A CLI session with the agent. Prints its own errors to stderr as "cgwarden VERB: ..." and
// records the exit code.
class ApiSession {
 public:
  struct Reply {
    int status = 0;
    nlohmann::json body;  // null when the body is not JSON
    std::string raw;
  };

  // Resolves the endpoint and reads the token. nullopt after printing why (exitCode set).
  static std::optional<ApiSession> open(const ClientFlags& flags, std::string verb, int& exitCode);

  // nullopt when the agent cannot be reached (message printed unless `quiet`, exitCode = 3).
  std::optional<Reply> call(const std::string& method, const std::string& target, const std::string& body,
                            int& exitCode, bool quiet = false) const;
  // Prints an error reply ("cgwarden stop: 404: no workload named \"x\"", with field/line
  // when given) and returns exitCodeForStatus(status).
  int report(const Reply& reply) const;

  const std::string& verb() const { return verb_; }
  const ApiEndpoint& endpoint() const { return endpoint_; }
  const ClientFlags& flags() const { return flags_; }

 private:
  ApiSession() = default;
  std::string verb_;
  ApiEndpoint endpoint_;
  std::string token_;
  ClientFlags flags_;
};

// The start of every API verb: parses the shared flags; on --help prints `usage` followed by
// the shared flags (exitCode 0), on a flag error prints it and the usage hint (exitCode 2).
// nullopt means: return exitCode.
std::optional<ClientFlags> beginVerb(const std::vector<std::string>& args, const char* verb, const char* usage,
                                     int& exitCode);
// Prints "cgwarden VERB: message" and a pointer to --help; returns kExitUsage.
int usageError(const char* verb, const std::string& message);

// "/api/v1/workloads/" + name, with the name percent-encoded where needed.
std::string workloadTarget(const std::string& name, const std::string& sub = "");
std::string percentEncode(const std::string& text);

}  // namespace cgwarden::agent
