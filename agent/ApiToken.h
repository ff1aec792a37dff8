#pragma once
// The control API's bearer token: a file holding 64 lower-case hex characters (32 random
// bytes from getrandom(2)), default <state_dir>/api-token.
//
// The agent (loadOrCreateApiToken):
//  - creates the file when it is missing: mode 0600, owned by the agent's user, written to a
//    temp file, fsynced, then link(2)ed into place, so a reader never sees half a token and
//    two agents starting at once end up with the same one; missing parent directories are
//    created 0700;
//  - refuses a file that is not a regular file (symlinks included), is not owned by the
//    agent's user, or that group or others may access in any way (mode & 077), naming the
//    fix: "chmod 600 /var/lib/cgwarden/api-token";
//  - refuses a token shorter than 32 characters or containing whitespace or control
//    characters inside it (a trailing newline is fine: `echo $TOKEN > file` works).
// The CLI (readApiToken) only reads and trims; permission problems show as EACCES.
//
// Requests carry "Authorization: Bearer <token>"; tokensEqual compares the SHA-256 digests
// of both sides in constant time, so neither the content nor the length leaks by timing.

#include <optional>
#include <string>
#include <string_view>

#include "collectors/Result.h"

namespace cgwarden::agent {

inline constexpr size_t kMinTokenLength = 32;

// "<stateDir>/api-token"
std::string defaultTokenPath(const std::string& stateDir);

struct ApiToken {
  std::string value;
  std::string path;
  bool created = false;  // this call generated it
};

Result<ApiToken> loadOrCreateApiToken(const std::string& path);

// The token in a file (trimmed), for clients. Errors name the path and errno.
Result<std::string> readApiToken(const std::string& path);

// A fresh token: 32 bytes from getrandom(2) as 64 hex characters.
Result<std::string> generateApiToken();

// Checks a token's text (after trimming): length and characters. Returns the trimmed token.
Result<std::string> validateTokenText(std::string_view text, const std::string& path);

// The token of an "Authorization: Bearer <token>" header value (scheme case-insensitive,
// surrounding spaces ignored); nullopt for another scheme or an empty token.
std::optional<std::string_view> bearerToken(std::string_view authorization);

// Constant-time equality (through SHA-256 digests).
bool tokensEqual(std::string_view a, std::string_view b);

}  // namespace cgwarden::agent
