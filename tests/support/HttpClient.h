#pragma once
// A minimal blocking HTTP/1.1 client for tests (loopback only): one request per
// connection ("Connection: close"), Content-Length or read-to-close bodies, and gunzip
// for responses sent with Content-Encoding: gzip.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <strings.h>
#include <utility>
#include <vector>

namespace cgwarden::testing {

struct HttpResult {
  int status = 0;  // 0: no response (connection failed or timed out)
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;                            // decoded (gunzipped) body
  size_t wireBytes = 0;                        // body bytes as received (chunk framing removed)
  bool chunked = false;
  std::string error;

  std::string header(const std::string& lowerName) const {
    auto it = headers.find(lowerName);
    return it == headers.end() ? std::string() : it->second;
  }
};

inline std::string gunzip(const std::string& in, std::string& error) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) {
    error = "inflateInit2";
    return {};
  }
  std::string out;
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  char buf[65536];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      error = "inflate failed: " + std::to_string(rc);
      break;
    }
    out.append(buf, sizeof buf - zs.avail_out);
  }
  if (rc == Z_STREAM_END && zs.avail_in != 0) error = std::to_string(zs.avail_in) + " bytes after the gzip member";
  inflateEnd(&zs);
  return out;
}

inline HttpResult httpRequest(uint16_t port, const std::string& method, const std::string& target,
                              const std::vector<std::pair<std::string, std::string>>& headers = {},
                              const std::string& body = "", int timeoutMs = 10000) {
  HttpResult r;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    r.error = "connect failed";
    ::close(fd);
    return r;
  }
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  bool hasLength = false;
  for (const auto& [k, v] : headers) {
    req += k + ": " + v + "\r\n";
    hasLength = hasLength || ::strcasecmp(k.c_str(), "content-length") == 0;
  }
  if (!body.empty() && !hasLength) req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n";
  req += body;
  size_t off = 0;
  while (off < req.size()) {
    ssize_t n = ::send(fd, req.data() + off, req.size() - off, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may answer (413) before reading everything
    off += static_cast<size_t>(n);
  }
  std::string raw;
  char buf[65536];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, timeoutMs) <= 0) {
      r.error = "timeout";
      break;
    }
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    raw.append(buf, static_cast<size_t>(n));
    // Stop at the end of a Content-Length body (the server may keep the socket open).
    size_t headerEnd = raw.find("\r\n\r\n");
    if (headerEnd != std::string::npos) {
      std::string head = raw.substr(0, headerEnd);
      for (auto& c : head) c = static_cast<char>(::tolower(static_cast<unsigned char>(c)));
      size_t cl = head.find("\r\ncontent-length:");
      if (cl != std::string::npos) {
        size_t len = std::stoul(head.substr(cl + 17));
        if (raw.size() >= headerEnd + 4 + len) break;
      }
      bool chunkedBody = head.find("\r\ntransfer-encoding: chunked") != std::string::npos;
      if (chunkedBody && raw.size() >= headerEnd + 9 &&
          (raw.compare(raw.size() - 7, 7, "\r\n0\r\n\r\n") == 0 || raw.compare(headerEnd + 4, 5, "0\r\n\r\n") == 0)) {
        break;
      }
    }
  }
  ::close(fd);
  size_t headerEnd = raw.find("\r\n\r\n");
  if (headerEnd == std::string::npos) {
    if (r.error.empty()) r.error = "no complete response";
    return r;
  }
  std::string head = raw.substr(0, headerEnd);
  size_t lineEnd = head.find("\r\n");
  std::string statusLine = head.substr(0, lineEnd);
  size_t sp = statusLine.find(' ');
  r.status = sp == std::string::npos ? 0 : std::atoi(statusLine.c_str() + sp + 1);
  size_t pos = lineEnd == std::string::npos ? head.size() : lineEnd + 2;
  while (pos < head.size()) {
    size_t e = head.find("\r\n", pos);
    if (e == std::string::npos) e = head.size();
    std::string line = head.substr(pos, e - pos);
    size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      for (auto& c : name) c = static_cast<char>(::tolower(static_cast<unsigned char>(c)));
      size_t v = line.find_first_not_of(' ', colon + 1);
      r.headers[name] = v == std::string::npos ? "" : line.substr(v);
    }
    pos = e + 2;
  }
  r.body = raw.substr(headerEnd + 4);
  if (r.header("transfer-encoding") == "chunked") {
    std::string decoded;
    size_t p = 0;
    bool complete = false;
    while (p < r.body.size()) {
      size_t eol = r.body.find("\r\n", p);
      if (eol == std::string::npos) break;
      std::string sizeLine = r.body.substr(p, eol - p);
      char* endp = nullptr;
      size_t len = std::strtoul(sizeLine.c_str(), &endp, 16);
      if (sizeLine.empty() || endp == sizeLine.c_str() || *endp != '\0') {
        r.error = "malformed chunk size \"" + sizeLine + "\"";
        break;
      }
      if (len == 0) {
        complete = true;
        break;
      }
      decoded.append(r.body, eol + 2, len);
      p = eol + 2 + len + 2;
    }
    if (!complete && r.error.empty()) r.error = "chunked body without its last chunk";
    r.chunked = true;
    r.body = std::move(decoded);
  }
  if (!r.header("content-length").empty()) r.body.resize(std::min(r.body.size(), std::stoul(r.header("content-length"))));
  r.wireBytes = r.body.size();
  if (r.header("content-encoding") == "gzip") r.body = gunzip(r.body, r.error);
  return r;
}

inline HttpResult httpGet(uint16_t port, const std::string& target,
                          const std::vector<std::pair<std::string, std::string>>& headers = {}) {
  return httpRequest(port, "GET", target, headers);
}

}  // namespace cgwarden::testing
