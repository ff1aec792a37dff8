#include "agent/ApiToken.h"

#include <fcntl.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "agent/Sha256.h"
#include "collectors/FileIo.h"
#include "collectors/TextParse.h"

namespace cgwarden::agent {

namespace {

std::string octalMode(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

Status makeParents(const std::string& path) {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (parent.empty() || pathExists(parent.string())) return {};
  std::error_code ec;
  std::filesystem::create_directories(parent, ec);
  if (ec) return Error::fromErrno("mkdir", parent.string(), ec.value());
  ::chmod(parent.c_str(), 0700);
  return {};
}

// Reads the token file through an O_NOFOLLOW descriptor and checks what fstat says about
// that same descriptor (no window between the check and the read).
Result<std::string> readChecked(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) {
    int err = errno;
    if (err == ELOOP) return Error::invalid("open", path, "the API token file is a symbolic link; it must be a regular file");
    return Error::fromErrno("open", path, err);
  }
  UniqueFd guard(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Error::fromErrno("stat", path, errno);
  if (!S_ISREG(st.st_mode)) return Error::invalid("open", path, "the API token file is not a regular file");
  if (st.st_uid != ::geteuid()) {
    return Error::invalid("open", path,
                          "the API token file is owned by uid " + std::to_string(st.st_uid) +
                              ", not by the agent's user (uid " + std::to_string(::geteuid()) + "); chown it or remove it");
  }
  if ((st.st_mode & 077) != 0) {
    Error e = Error::invalid("open", path,
                             "the API token file has mode " + octalMode(st.st_mode) +
                                 ": group or others may access it, so the token cannot be trusted as a secret");
    e.hint = "chmod 600 " + path + ", or remove it and let the agent create a new one";
    return e;
  }
  if (st.st_size > 4096) return Error::invalid("read", path, "the API token file is larger than 4096 bytes");
  std::string out;
  char buf[4097];
  for (;;) {
    ssize_t n = ::pread(fd, buf, sizeof buf, static_cast<off_t>(out.size()));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::fromErrno("read", path, errno);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > 4096) return Error::invalid("read", path, "the API token file is larger than 4096 bytes");
  }
  return out;
}

}  // namespace

std::string defaultTokenPath(const std::string& stateDir) { return joinPath(stateDir, "api-token"); }

Result<std::string> generateApiToken() {
  uint8_t bytes[32];
  size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::fromErrno("getrandom", "", errno);
    }
    got += static_cast<size_t>(n);
  }
  return toHex(bytes, sizeof bytes);
}

Result<std::string> validateTokenText(std::string_view text, const std::string& path) {
  std::string_view t = trim(text);
  if (t.empty()) return Error::invalid("read", path, "the API token file is empty");
  for (char c : t) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) {
      return Error::invalid("read", path, "the API token contains whitespace or a non-printable character");
    }
  }
  if (t.size() < kMinTokenLength) {
    return Error::invalid("read", path,
                          "the API token has " + std::to_string(t.size()) + " characters; at least " +
                              std::to_string(kMinTokenLength) + " are required");
  }
  return std::string(t);
}

Result<ApiToken> loadOrCreateApiToken(const std::string& path) {
  ApiToken token;
  token.path = path;
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) return Error::fromErrno("stat", path, errno);
    if (auto made = makeParents(path); !made) return made.error();
    auto fresh = generateApiToken();
    if (!fresh) return fresh.error();
    std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(::gettid());
    ::unlink(tmp.c_str());  // a leftover of a crashed process that had our pid and tid
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return Error::fromErrno("create", tmp, errno);
    UniqueFd guard(fd);
    std::string line = *fresh + "\n";
    if (::fchmod(fd, 0600) != 0 || ::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size()) ||
        ::fsync(fd) != 0) {
      int err = errno;
      ::unlink(tmp.c_str());
      return Error::fromErrno("write", tmp, err);
    }
    guard.reset();
    // link(2) fails with EEXIST instead of replacing: a token another agent created first wins.
    int rc = ::link(tmp.c_str(), path.c_str());
    int err = errno;
    ::unlink(tmp.c_str());
    if (rc == 0) {
      token.value = *fresh;
      token.created = true;
      return token;
    }
    if (err != EEXIST) return Error::fromErrno("link", tmp + " -> " + path, err);
  }
  auto text = readChecked(path);
  if (!text) return text.error();
  auto value = validateTokenText(*text, path);
  if (!value) return value.error();
  token.value = *value;
  return token;
}

Result<std::string> readApiToken(const std::string& path) {
  auto text = readFile(path);
  if (!text) return text.error();
  return validateTokenText(*text, path);
}

std::optional<std::string_view> bearerToken(std::string_view authorization) {
  std::string_view v = trim(authorization);
  constexpr std::string_view kScheme = "bearer";
  if (v.size() <= kScheme.size() || ::strncasecmp(v.data(), kScheme.data(), kScheme.size()) != 0) return std::nullopt;
  if (v[kScheme.size()] != ' ' && v[kScheme.size()] != '\t') return std::nullopt;
  std::string_view token = trim(v.substr(kScheme.size()));
  if (token.empty()) return std::nullopt;
  return token;
}

bool tokensEqual(std::string_view a, std::string_view b) {
  Sha256Digest da = sha256(a);
  Sha256Digest db = sha256(b);
  volatile uint8_t diff = 0;
  for (size_t i = 0; i < da.size(); ++i) diff = static_cast<uint8_t>(diff | (da[i] ^ db[i]));
  return diff == 0;
}

}  // namespace cgwarden::agent
