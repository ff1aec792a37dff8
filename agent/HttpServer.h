#pragma once
// cgwarden's one HTTP server (CivetWeb): /metrics, /healthz, and whatever later parts
// register (the control API under /api/v1, /events, the UI). Not prometheus-cpp's
// Exposer, which cannot host other handlers.
//
//   auto server = HttpServer::start({.listen = "127.0.0.1:0"});   // port 0 = ephemeral
//   (*server)->addHandler("/api/v1", [](const HttpRequest& r) { return HttpResponse::json(200, "{}"); });
//   uint16_t port = (*server)->port();
//
// Routing: a handler registered for "/api/v1" serves "/api/v1" and everything below it
// ("/api/v1/workloads/web"), never "/api/v1x"; the longest registered path wins; "/" is
// a catch-all. Unmatched paths get 404. Handlers may be added before or after start and
// run on CivetWeb's worker threads (several at once): they must be thread-safe.
// Centrally: request bodies over maxBodyBytes get 413 without calling the handler; a
// handler that throws gets 500; responses are gzipped when the client's Accept-Encoding
// allows it and the body is at least gzipMinBytes (streamed bodies: always); HEAD gets the
// headers only.
//
// Stopping: CivetWeb's graceful stop takes about 2 s (its workers poll); the destructor
// stops. Tests should share one server rather than start and stop one per check.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "collectors/Result.h"

namespace cgwarden::agent {

struct HttpRequest {
  std::string method;         // "GET", "POST", "PUT", "DELETE", "HEAD", ...
  std::string path;           // URL-decoded path without the query: "/api/v1/workloads/web"
  std::string query;          // raw query string without '?': "limit=10&x=a%20b"
  std::vector<std::pair<std::string, std::string>> headers;  // as received
  std::string body;
  std::string remoteAddress;  // "127.0.0.1:54012" ("[::1]:54012" for IPv6)

  // First header with this name, compared case-insensitively.
  std::optional<std::string_view> header(std::string_view name) const;
  // A query parameter, URL-decoded ("+" is a space); nullopt when absent.
  std::optional<std::string> queryParam(std::string_view name) const;
};

// Writes one piece of a streamed body; false once the client has gone away.
using BodyWriter = std::function<bool(std::string_view)>;

struct HttpResponse {
  int status = 200;
  std::string contentType = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  bool compressible = true;  // may be gzipped when the client accepts it
  // Instead of `body`: produces the body in pieces, sent as they come (chunked transfer
  // encoding on HTTP/1.1, else until close; gzip applied on the fly when accepted), so a
  // large response is never held whole. Runs on the worker thread after the headers.
  std::function<void(const BodyWriter&)> stream;

  static HttpResponse text(int status, std::string body);
  static HttpResponse json(int status, std::string body);
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

struct HttpServerOptions {
  // "host:port" ("127.0.0.1:9839", "[::1]:9839", "0.0.0.0:9839") or a bare port; 0 = ephemeral.
  std::string listen = "127.0.0.1:9839";
  size_t maxBodyBytes = 1024 * 1024;
  int threads = 4;
  size_t gzipMinBytes = 1024;
  int gzipLevel = 1;  // ISA-L igzip level 0-3 (agent/Gzip.h): /metrics text compresses ~16x at 1
  std::chrono::milliseconds requestTimeout{10000};
};

// Whether an Accept-Encoding value allows gzip ("gzip", "gzip;q=0.5", "*"; not "gzip;q=0").
bool acceptsGzip(std::string_view acceptEncoding);

class HttpServer {
 public:
  // Binds and starts serving. Errors name the address (e.g. port in use).
  static Result<std::unique_ptr<HttpServer>> start(HttpServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Registers (or replaces) the handler for `path` (must start with '/').
  void addHandler(const std::string& path, HttpHandler handler);
  void removeHandler(const std::string& path);

  uint16_t port() const;          // the bound port (the real one when started with port 0)
  std::string baseUrl() const;    // "http://127.0.0.1:<port>"
  const HttpServerOptions& options() const;

  // Stops accepting and joins CivetWeb's threads (about 2 s). Idempotent.
  void stop();

  struct Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cgwarden::agent
