#include "agent/ApiClient.h"

#include <netdb.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <set>

#include "agent/ApiToken.h"
#include "agent/Commands.h"
#include "agent/ExecOptions.h"
#include "collectors/FileIo.h"
#include "collectors/TextParse.h"
#include "config/Loader.h"
#include "config/Units.h"

namespace cgwarden::agent {

namespace {

using Clock = std::chrono::steady_clock;

Error usage(const std::string& flag, const std::string& detail) { return Error::invalid("parse", flag, detail); }

int remainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 1 << 30));
}

std::string lowerCase(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Decodes a chunked body; nullopt when it is malformed or incomplete.
std::optional<std::string> dechunk(std::string_view in) {
  std::string out;
  size_t p = 0;
  for (;;) {
    size_t eol = in.find("\r\n", p);
    if (eol == std::string_view::npos) return std::nullopt;
    std::string_view sizeLine = in.substr(p, eol - p);
    sizeLine = sizeLine.substr(0, sizeLine.find(';'));
    uint64_t len = 0;
    if (sizeLine.empty() || sizeLine.size() > 15) return std::nullopt;
    for (char c : sizeLine) {
      int v = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
      if (v < 0) return std::nullopt;
      len = len * 16 + static_cast<uint64_t>(v);
    }
    if (len == 0) return out;
    if (eol + 2 + len > in.size()) return std::nullopt;
    out.append(in.substr(eol + 2, len));
    p = eol + 2 + len + 2;
  }
}

}  // namespace

const char* clientFlagsUsage() {
  return "  --config FILE        the agent's config (default $CGWARDEN_CONFIG, else /etc/cgwarden/cgwarden.yaml):\n"
         "                       agent.listen says where the agent is, agent.state_dir where its token is\n"
         "  --url URL            the agent's address instead (http://127.0.0.1:9839)\n"
         "  --token-file FILE    the API token instead of <state_dir>/api-token\n"
         "  --json               machine-readable output (the API's JSON)\n"
         "  --timeout D          per-request timeout (default 30s)\n"
         "\n"
         "exit codes: 0 ok, 1 refused or failed by the agent, 2 usage, 3 agent unreachable, 4 not found,\n"
         "5 unauthorized (docs/api.md)\n";
}

Result<ClientFlags> parseClientFlags(const std::vector<std::string>& args) {
  ClientFlags f;
  if (const char* env = std::getenv("CGWARDEN_CONFIG"); env != nullptr && *env != '\0') {
    f.configPath = env;
    f.configGiven = true;
  } else {
    f.configPath = kDefaultConfigPath;
  }
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      f.rest.insert(f.rest.end(), args.begin() + static_cast<long>(i), args.end());
      break;
    }
    std::string flag = a, value;
    bool hasValue = false;
    if (a.rfind("--", 0) == 0) {
      if (auto eq = a.find('='); eq != std::string::npos) {
        flag = a.substr(0, eq);
        value = a.substr(eq + 1);
        hasValue = true;
      }
    }
    if (flag == "--help" || flag == "-h") {
      f.help = true;
      continue;
    }
    if (flag == "--json") {
      f.json = true;
      continue;
    }
    if (flag != "--config" && flag != "--url" && flag != "--token-file" && flag != "--timeout") {
      f.rest.push_back(a);
      continue;
    }
    if (!hasValue) {
      if (i + 1 >= args.size()) return usage(flag, "needs a value");
      value = args[++i];
    }
    if (flag == "--config") {
      f.configPath = value;
      f.configGiven = true;
    } else if (flag == "--url") {
      f.url = value;
    } else if (flag == "--token-file") {
      f.tokenFile = value;
    } else {
      auto d = config::parseDuration(value);
      if (!d || d->count() <= 0) return usage(flag, "\"" + value + "\" is not a duration (e.g. 5s, 500ms)");
      f.timeout = *d;
    }
  }
  return f;
}

Result<HttpReply> httpExchange(const std::string& host, uint16_t port, const std::string& method,
                               const std::string& target, const std::vector<std::pair<std::string, std::string>>& headers,
                               const std::string& body, std::chrono::milliseconds timeout) {
  std::string where = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
  auto deadline = Clock::now() + timeout;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  std::string service = std::to_string(port);
  if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    return Error::invalid("resolve", where, ::gai_strerror(rc));
  }
  UniqueFd sock;
  int lastErr = ECONNREFUSED;
  for (addrinfo* ai = found; ai != nullptr && !sock.valid(); ai = ai->ai_next) {
    UniqueFd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol));
    if (!fd.valid()) {
      lastErr = errno;
      continue;
    }
    if (::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) != 0) {
      if (errno != EINPROGRESS) {
        lastErr = errno;
        continue;
      }
      pollfd p{fd.get(), POLLOUT, 0};
      int rc = ::poll(&p, 1, remainingMs(deadline));
      if (rc <= 0) {
        lastErr = rc == 0 ? ETIMEDOUT : errno;
        continue;
      }
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        lastErr = err;
        continue;
      }
    }
    sock = std::move(fd);
  }
  ::freeaddrinfo(found);
  if (!sock.valid()) return Error::fromErrno("connect", where, lastErr, "is the agent running?");

  std::string req = method + " " + target + " HTTP/1.1\r\nHost: " + where + "\r\nConnection: close\r\n";
  for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  }
  req += "\r\n";
  req += body;
  size_t off = 0;
  while (off < req.size()) {
    ssize_t n = ::send(sock.get(), req.data() + off, req.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      pollfd p{sock.get(), POLLOUT, 0};
      if (::poll(&p, 1, remainingMs(deadline)) <= 0) return Error::fromErrno("send", where, ETIMEDOUT);
      continue;
    }
    // The server may answer (413) before reading the whole body: read what it said.
    break;
  }
  std::string raw;
  char buf[16384];
  for (;;) {
    pollfd p{sock.get(), POLLIN, 0};
    int rc = ::poll(&p, 1, remainingMs(deadline));
    if (rc == 0) return Error::fromErrno("receive", where, ETIMEDOUT, "the agent did not answer in time");
    if (rc < 0) {
      if (errno == EINTR) continue;
      return Error::fromErrno("poll", where, errno);
    }
    ssize_t n = ::recv(sock.get(), buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      if (errno == ECONNRESET && !raw.empty()) break;
      return Error::fromErrno("receive", where, errno);
    }
    if (n == 0) break;
    raw.append(buf, static_cast<size_t>(n));
    if (raw.size() > 256u * 1024 * 1024) return Error::invalid("receive", where, "reply larger than 256 MiB");
    // Complete once the declared body is in (the server may keep the socket open).
    size_t headerEnd = raw.find("\r\n\r\n");
    if (headerEnd == std::string::npos) continue;
    std::string head = lowerCase(std::string_view(raw).substr(0, headerEnd));
    if (auto cl = head.find("\r\ncontent-length:"); cl != std::string::npos) {
      auto len = parseUint64(trim(std::string_view(head).substr(cl + 17, head.find("\r\n", cl + 2) - cl - 17)));
      if (len && raw.size() >= headerEnd + 4 + *len) break;
    } else if (head.find("\r\ntransfer-encoding: chunked") != std::string::npos &&
               dechunk(std::string_view(raw).substr(headerEnd + 4))) {
      break;
    }
  }
  size_t headerEnd = raw.find("\r\n\r\n");
  if (headerEnd == std::string::npos) return Error::invalid("receive", where, "no complete HTTP reply");
  HttpReply reply;
  std::string_view head = std::string_view(raw).substr(0, headerEnd);
  auto lines = splitOn(head, '\n');
  std::string_view statusLine = trim(lines.empty() ? head : lines[0]);
  auto fields = splitOn(statusLine, ' ');
  auto code = fields.size() >= 2 ? parseUint64(fields[1]) : std::nullopt;
  if (statusLine.substr(0, 5) != "HTTP/" || !code) {
    return Error::invalid("receive", where, "not an HTTP reply: \"" + std::string(statusLine.substr(0, 80)) + "\"");
  }
  reply.status = static_cast<int>(*code);
  bool chunked = false;
  std::optional<uint64_t> length;
  for (size_t i = 1; i < lines.size(); ++i) {
    std::string_view line = trim(lines[i]);
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string name = lowerCase(trim(line.substr(0, colon)));
    std::string_view value = trim(line.substr(colon + 1));
    if (name == "content-type") reply.contentType = std::string(value);
    if (name == "transfer-encoding" && lowerCase(value) == "chunked") chunked = true;
    if (name == "content-length") length = parseUint64(value);
  }
  std::string_view rest = std::string_view(raw).substr(headerEnd + 4);
  if (chunked) {
    auto decoded = dechunk(rest);
    if (!decoded) return Error::invalid("receive", where, "incomplete chunked reply");
    reply.body = std::move(*decoded);
  } else if (length) {
    if (rest.size() < *length) return Error::invalid("receive", where, "reply shorter than its Content-Length");
    reply.body = std::string(rest.substr(0, *length));
  } else {
    reply.body = std::string(rest);
  }
  return reply;
}

Result<std::pair<std::string, uint16_t>> connectAddressFor(const std::string& listen) {
  std::string host = "127.0.0.1";
  std::string portText = listen;
  if (!listen.empty() && listen[0] == '[') {
    size_t close = listen.find(']');
    if (close == std::string::npos || close + 1 >= listen.size() || listen[close + 1] != ':') {
      return Error::invalid("parse", listen, "expected [ADDRESS]:PORT");
    }
    host = listen.substr(1, close - 1);
    portText = listen.substr(close + 2);
    if (host == "::") host = "::1";
  } else if (size_t colon = listen.rfind(':'); colon != std::string::npos) {
    if (colon > 0) host = listen.substr(0, colon);
    portText = listen.substr(colon + 1);
    if (host == "0.0.0.0" || host == "*") host = "127.0.0.1";
  }
  auto port = parseUint64(portText);
  if (!port || *port == 0 || *port > 65535) return Error::invalid("parse", listen, "expected HOST:PORT with a port from 1 to 65535");
  return std::pair<std::string, uint16_t>(host, static_cast<uint16_t>(*port));
}

Result<std::pair<std::string, uint16_t>> parseApiUrl(const std::string& url) {
  std::string_view u = url;
  if (u.substr(0, 8) == "https://") {
    return Error::invalid("parse", url, "https is not supported by the CLI: Debian's CivetWeb cannot serve TLS (docs/api.md)");
  }
  if (u.substr(0, 7) == "http://") u.remove_prefix(7);
  if (!u.empty() && u.back() == '/') u.remove_suffix(1);
  if (u.find('/') != std::string_view::npos) return Error::invalid("parse", url, "expected http://HOST:PORT without a path");
  if (u.find(':') == std::string_view::npos) return Error::invalid("parse", url, "expected http://HOST:PORT");
  return connectAddressFor(std::string(u));
}

Result<ApiEndpoint> resolveEndpoint(const ClientFlags& flags) {
  ApiEndpoint ep;
  config::AgentSpec agent;
  std::string origin;
  bool needConfig = flags.url.empty() || flags.tokenFile.empty();
  if (needConfig) {
    if (!flags.configGiven && !pathExists(flags.configPath)) {
      origin = "built-in defaults, no " + flags.configPath;
    } else {
      auto loaded = config::loadConfigFile(flags.configPath);
      if (!loaded.ok()) {
        std::string text = loaded.renderErrors();
        while (!text.empty() && text.back() == '\n') text.pop_back();
        Error e = Error::invalid("read config", flags.configPath, text);
        e.hint = "fix it, or pass --url and --token-file";
        return e;
      }
      agent = loaded.value->agent;
      origin = "config " + flags.configPath;
    }
  }
  if (!flags.url.empty()) {
    auto addr = parseApiUrl(flags.url);
    if (!addr) return addr.error();
    ep.host = addr->first;
    ep.port = addr->second;
    ep.origin = "--url";
  } else {
    auto addr = connectAddressFor(agent.listen);
    if (!addr) {
      Error e = addr.error();
      e.context("agent.listen of " + origin);
      return e;
    }
    ep.host = addr->first;
    ep.port = addr->second;
    ep.origin = origin;
  }
  ep.tokenFile = flags.tokenFile.empty() ? defaultTokenPath(agent.stateDir) : flags.tokenFile;
  return ep;
}

int exitCodeForStatus(int status) {
  if (status >= 200 && status < 300) return kExitOk;
  switch (status) {
    case 400:
    case 405:
    case 413:
    case 415: return kExitUsage;
    case 401: return kExitUnauthorized;
    case 404: return kExitNotFound;
    default: return kExitFailure;
  }
}

const char* limitFlagsUsage() {
  return "  --memory SIZE        hard memory limit (64Mi, 1G, max)\n"
         "  --memory-high SIZE   throttle point (cgroup v2 only)\n"
         "  --memory-low SIZE    best-effort protection\n"
         "  --memory-swap SIZE   swap allowed on top of --memory (needs --memory)\n"
         "  --cpus CORES         CPU quota (0.5, 150%)\n"
         "  --cpu-weight N       relative CPU weight 1..10000\n"
         "  --cpuset LIST        CPUs it may run on (0-1)\n"
         "  --pids N             maximum number of tasks (or max)\n"
         "  --io-weight N        relative IO weight 1..10000\n";
}

Result<Limits> parseLimitFlags(const std::vector<std::string>& args) {
  static const std::set<std::string, std::less<>> kLimitFlags = {"--memory",     "--memory-high", "--memory-low",
                                                                 "--memory-swap", "--cpus",        "--cpu-weight",
                                                                 "--cpuset",      "--pids",        "--io-weight"};
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.rfind("--", 0) != 0) return usage(a, "unexpected argument");
    std::string flag = a.substr(0, a.find('='));
    if (kLimitFlags.count(flag) == 0) return usage(flag, "not a limit flag");
    if (a.find('=') == std::string::npos) ++i;  // its value
  }
  std::vector<std::string> execArgs = args;
  execArgs.push_back("--");
  execArgs.push_back("true");
  auto parsed = parseExecArgs(execArgs);
  if (!parsed) return parsed.error();
  return parsed->spec.limits;
}

std::optional<ApiSession> ApiSession::open(const ClientFlags& flags, std::string verb, int& exitCode) {
  ApiSession s;
  s.verb_ = std::move(verb);
  s.flags_ = flags;
  auto ep = resolveEndpoint(flags);
  if (!ep) {
    std::fprintf(stderr, "cgwarden %s: %s\n", s.verb_.c_str(), ep.error().message().c_str());
    exitCode = kExitUsage;
    return std::nullopt;
  }
  s.endpoint_ = *ep;
  auto token = readApiToken(ep->tokenFile);
  if (!token) {
    // Without a token nothing can be asked; but "not running" is the likelier story when the
    // file does not exist, so say that when nothing answers either.
    auto probe = httpExchange(ep->host, ep->port, "GET", "/api/v1/info", {}, "", flags.timeout);
    if (!probe) {
      std::fprintf(stderr, "cgwarden %s: cannot reach the agent (%s): %s\n", s.verb_.c_str(), ep->origin.c_str(),
                   probe.error().message().c_str());
      exitCode = kExitUnreachable;
      return std::nullopt;
    }
    std::fprintf(stderr, "cgwarden %s: cannot use the API token: %s (the agent creates it on start; run as its user "
                 "or pass --token-file)\n", s.verb_.c_str(), token.error().message().c_str());
    exitCode = kExitUnauthorized;
    return std::nullopt;
  }
  s.token_ = *token;
  return s;
}

std::optional<ApiSession::Reply> ApiSession::call(const std::string& method, const std::string& target,
                                                  const std::string& body, int& exitCode, bool quiet) const {
  std::vector<std::pair<std::string, std::string>> headers = {{"Authorization", "Bearer " + token_},
                                                              {"Accept", "application/json"}};
  if (!body.empty()) headers.emplace_back("Content-Type", "application/json");
  auto r = httpExchange(endpoint_.host, endpoint_.port, method, target, headers, body, flags_.timeout);
  if (!r) {
    if (!quiet) {
      std::fprintf(stderr, "cgwarden %s: cannot reach the agent (%s): %s\n", verb_.c_str(), endpoint_.origin.c_str(),
                   r.error().message().c_str());
    }
    exitCode = kExitUnreachable;
    return std::nullopt;
  }
  Reply reply;
  reply.status = r->status;
  reply.raw = std::move(r->body);
  reply.body = nlohmann::json::parse(reply.raw, nullptr, false);
  if (reply.body.is_discarded()) reply.body = nullptr;
  return reply;
}

int ApiSession::report(const Reply& reply) const {
  std::string message;
  if (reply.body.is_object() && reply.body.contains("error") && reply.body["error"].is_string()) {
    message = reply.body["error"].get<std::string>();
    if (reply.body.contains("issues") && reply.body["issues"].is_array() && reply.body["issues"].size() > 1) {
      for (const auto& i : reply.body["issues"]) {
        message += "\n  " + i.value("field", std::string()) + ": " + i.value("message", std::string());
        if (i.contains("line")) message += " (line " + std::to_string(i["line"].get<int>()) + ")";
      }
    } else if (reply.body.contains("line") && reply.body["line"].is_number()) {
      message += " (line " + std::to_string(reply.body["line"].get<int>()) + ", column " +
                 std::to_string(reply.body.value("column", 0)) + ")";
    }
  } else {
    message = reply.raw.substr(0, 500);
  }
  if (reply.status == 401) message += " (check --token-file / the agent's state_dir)";
  std::fprintf(stderr, "cgwarden %s: %d: %s\n", verb_.c_str(), reply.status, message.c_str());
  return exitCodeForStatus(reply.status);
}

std::optional<ClientFlags> beginVerb(const std::vector<std::string>& args, const char* verb, const char* usageText,
                                     int& exitCode) {
  auto flags = parseClientFlags(args);
  if (!flags) {
    exitCode = usageError(verb, flags.error().message());
    return std::nullopt;
  }
  if (flags->help) {
    std::printf("%s\noptions for every agent command:\n%s", usageText, clientFlagsUsage());
    exitCode = kExitOk;
    return std::nullopt;
  }
  return std::move(*flags);
}

int usageError(const char* verb, const std::string& message) {
  std::fprintf(stderr, "cgwarden %s: %s\nsee cgwarden %s --help\n", verb, message.c_str(), verb);
  return kExitUsage;
}

std::string percentEncode(const std::string& text) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    }
  }
  return out;
}

std::string workloadTarget(const std::string& name, const std::string& sub) {
  std::string t = "/api/v1/workloads/" + percentEncode(name);
  if (!sub.empty()) t += "/" + sub;
  return t;
}

}  // namespace cgwarden::agent
