#include "agent/HttpServer.h"

#include <civetweb.h>
#include <spdlog/spdlog.h>
#include <strings.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <optional>
#include <shared_mutex>

#include "agent/Gzip.h"
#include "collectors/TextParse.h"

namespace cgwarden::agent {

namespace {

std::string jsonError(std::string_view message) {
  std::string out = "{\"error\":\"";
  for (char c : message) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += ' ';
    } else {
      out += c;
    }
  }
  out += "\"}";
  return out;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string urlDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hexValue(s[i + 1]) >= 0 && hexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(hexValue(s[i + 1]) * 16 + hexValue(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::once_flag civetInitOnce;

}  // namespace

std::optional<std::string_view> HttpRequest::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key.size() == name.size() && ::strncasecmp(key.data(), name.data(), name.size()) == 0) return value;
  }
  return std::nullopt;
}

std::optional<std::string> HttpRequest::queryParam(std::string_view name) const {
  for (std::string_view pair : splitOn(query, '&')) {
    size_t eq = pair.find('=');
    std::string key = urlDecode(pair.substr(0, eq));
    if (key != name) continue;
    return eq == std::string_view::npos ? std::string() : urlDecode(pair.substr(eq + 1));
  }
  return std::nullopt;
}

HttpResponse HttpResponse::text(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

HttpResponse HttpResponse::json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.contentType = "application/json";
  r.body = std::move(body);
  return r;
}

bool acceptsGzip(std::string_view acceptEncoding) {
  for (std::string_view item : splitOn(acceptEncoding, ',')) {
    auto parts = splitOn(item, ';');
    if (parts.empty()) continue;
    std::string_view coding = trim(parts[0]);
    if (coding != "gzip" && coding != "x-gzip" && coding != "*") continue;
    bool refused = false;
    for (size_t i = 1; i < parts.size(); ++i) {
      std::string_view param = trim(parts[i]);
      if (param.substr(0, 2) == "q=" || param.substr(0, 2) == "Q=") {
        auto q = parseDouble(param.substr(2));
        refused = q.has_value() && *q <= 0.0;
      }
    }
    if (!refused) return true;
  }
  return false;
}

struct HttpServer::Impl {
  HttpServerOptions options;
  mg_context* ctx = nullptr;
  uint16_t port = 0;
  std::string host = "127.0.0.1";
  mutable std::shared_mutex routesMutex;
  std::map<std::string, std::shared_ptr<const HttpHandler>> routes;
  std::mutex stopMutex;

  std::shared_ptr<const HttpHandler> route(const std::string& path) const {
    std::shared_lock lock(routesMutex);
    // Longest registered prefix on a segment boundary.
    std::string_view p = path;
    for (;;) {
      auto it = routes.find(std::string(p));
      if (it != routes.end()) return it->second;
      if (p.empty() || p == "/") break;
      size_t slash = p.find_last_of('/');
      if (slash == std::string_view::npos) break;
      p = slash == 0 ? std::string_view("/") : p.substr(0, slash);
    }
    return nullptr;
  }

  static void send(mg_connection* conn, const HttpRequest& req, HttpResponse resp, size_t gzipMin, int gzipLevel) {
    bool head = req.method == "HEAD";
    auto accept = req.header("Accept-Encoding");
    bool clientGzip = resp.compressible && accept && acceptsGzip(*accept);
    if (resp.stream) {
      sendStream(conn, req, resp, clientGzip, gzipLevel);
      return;
    }
    bool gzipped = false;
    if (clientGzip && resp.body.size() >= gzipMin) {
      auto z = gzipCompress(resp.body, gzipLevel);
      if (z) {
        resp.body = std::move(*z);
        gzipped = true;
      }
    }
    mg_response_header_start(conn, resp.status);
    mg_response_header_add(conn, "Content-Type", resp.contentType.c_str(), -1);
    std::string length = std::to_string(resp.body.size());
    mg_response_header_add(conn, "Content-Length", length.c_str(), -1);
    if (gzipped) mg_response_header_add(conn, "Content-Encoding", "gzip", -1);
    if (resp.compressible) mg_response_header_add(conn, "Vary", "Accept-Encoding", -1);
    for (const auto& [name, value] : resp.headers) mg_response_header_add(conn, name.c_str(), value.c_str(), -1);
    mg_response_header_send(conn);
    if (!head && !resp.body.empty()) mg_write(conn, resp.body.data(), resp.body.size());
  }

  static void sendStream(mg_connection* conn, const HttpRequest& req, const HttpResponse& resp, bool gzip,
                         int gzipLevel) {
    const mg_request_info* ri = mg_get_request_info(conn);
    bool chunked = ri->http_version != nullptr && std::string_view(ri->http_version) == "1.1";
    std::optional<GzipEncoder> encoder;
    if (gzip && req.method != "HEAD") {
      auto created = GzipEncoder::create(gzipLevel);  // start() checked the level
      if (created) encoder.emplace(std::move(*created));
      gzip = encoder.has_value();
    }
    mg_response_header_start(conn, resp.status);
    mg_response_header_add(conn, "Content-Type", resp.contentType.c_str(), -1);
    if (chunked) {
      mg_response_header_add(conn, "Transfer-Encoding", "chunked", -1);
    } else {
      mg_response_header_add(conn, "Connection", "close", -1);
    }
    if (gzip) mg_response_header_add(conn, "Content-Encoding", "gzip", -1);
    if (resp.compressible) mg_response_header_add(conn, "Vary", "Accept-Encoding", -1);
    for (const auto& [name, value] : resp.headers) mg_response_header_add(conn, name.c_str(), value.c_str(), -1);
    mg_response_header_send(conn);
    if (req.method == "HEAD") return;

    bool alive = true;
    auto raw = [&](const char* data, size_t n) {
      if (!alive || n == 0) return alive;
      int rc = chunked ? mg_send_chunk(conn, data, static_cast<unsigned>(n)) : mg_write(conn, data, n);
      alive = rc > 0;
      return alive;
    };
    GzipEncoder::Sink sendCompressed = [&](std::string_view piece) { return raw(piece.data(), piece.size()); };
    BodyWriter write = [&](std::string_view piece) {
      if (!alive) return false;
      if (encoder) return encoder->write(piece, sendCompressed) && alive;
      return raw(piece.data(), piece.size());
    };
    try {
      resp.stream(write);
    } catch (const std::exception& e) {
      // The status is already sent: end without the last chunk, so the client sees a
      // truncated response rather than a complete wrong one; an invalid chunk-size line
      // makes a keep-alive client fail at once instead of waiting for more.
      spdlog::error("http: {} {}: streaming the body failed: {}", req.method, req.path, e.what());
      if (chunked && alive) mg_write(conn, "!\r\n", 3);
      alive = false;
    }
    if (encoder && alive) encoder->finish(sendCompressed);
    if (chunked && alive) mg_send_chunk(conn, "", 0);
  }

  int handle(mg_connection* conn) {
    const mg_request_info* ri = mg_get_request_info(conn);
    HttpRequest req;
    req.method = ri->request_method != nullptr ? ri->request_method : "";
    req.path = ri->local_uri != nullptr ? ri->local_uri : (ri->request_uri != nullptr ? ri->request_uri : "/");
    req.query = ri->query_string != nullptr ? ri->query_string : "";
    for (int i = 0; i < ri->num_headers; ++i) {
      req.headers.emplace_back(ri->http_headers[i].name, ri->http_headers[i].value);
    }
    std::string addr = ri->remote_addr;
    req.remoteAddress = (addr.find(':') != std::string::npos ? "[" + addr + "]" : addr) + ":" + std::to_string(ri->remote_port);

    auto reject = [&](int status, const std::string& message) {
      HttpResponse r = HttpResponse::json(status, jsonError(message));
      r.compressible = false;
      send(conn, req, std::move(r), options.gzipMinBytes, options.gzipLevel);
      return status;
    };

    // The body, with the size limit enforced before any handler runs.
    if (ri->content_length > 0 && static_cast<unsigned long long>(ri->content_length) > options.maxBodyBytes) {
      return reject(413, "request body of " + std::to_string(ri->content_length) + " bytes exceeds the limit of " +
                             std::to_string(options.maxBodyBytes));
    }
    if (ri->content_length != 0) {
      char buf[8192];
      for (;;) {
        int n = mg_read(conn, buf, sizeof buf);
        if (n <= 0) break;
        req.body.append(buf, static_cast<size_t>(n));
        if (req.body.size() > options.maxBodyBytes) {
          return reject(413, "request body exceeds the limit of " + std::to_string(options.maxBodyBytes) + " bytes");
        }
      }
    }

    auto handler = route(req.path);
    if (!handler) return reject(404, "no handler for " + req.path);
    HttpResponse resp;
    try {
      resp = (*handler)(req);
    } catch (const std::exception& e) {
      spdlog::error("http: {} {} failed: {}", req.method, req.path, e.what());
      return reject(500, std::string("internal error: ") + e.what());
    }
    int status = resp.status;
    send(conn, req, std::move(resp), options.gzipMinBytes, options.gzipLevel);
    return status;
  }

  static int dispatch(mg_connection* conn, void* cbdata) { return static_cast<Impl*>(cbdata)->handle(conn); }

  static int logMessage(const mg_connection*, const char* message) {
    spdlog::warn("http: {}", message);
    return 1;
  }
};

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpServer::~HttpServer() { stop(); }

Result<std::unique_ptr<HttpServer>> HttpServer::start(HttpServerOptions options) {
  std::call_once(civetInitOnce, [] { mg_init_library(0); });
  auto impl = std::make_unique<Impl>();
  impl->options = options;

  // "host:port" or a bare port; CivetWeb takes both forms, "[v6]:port" included.
  std::string listen = options.listen;
  size_t colon = listen.rfind(':');
  std::string portText = colon == std::string::npos ? listen : listen.substr(colon + 1);
  auto portNumber = parseUint64(portText);
  if (!portNumber || *portNumber > 65535) {
    return Error::invalid("listen", listen, "expected host:port with a port from 0 to 65535");
  }
  if (colon != std::string::npos && colon > 0) {
    impl->host = listen.substr(0, colon);
    if (impl->host == "0.0.0.0") impl->host = "127.0.0.1";
    if (impl->host == "[::]") impl->host = "[::1]";
  }
  if (colon == 0) listen = portText;
  if (options.gzipLevel < GzipEncoder::kMinLevel || options.gzipLevel > GzipEncoder::kMaxLevel) {
    return Error::invalid("http", listen, "gzip level " + std::to_string(options.gzipLevel) + " is outside 0-3");
  }

  std::string threads = std::to_string(std::max(1, options.threads));
  std::string timeout = std::to_string(options.requestTimeout.count());
  const char* civetOptions[] = {"listening_ports",    listen.c_str(), "num_threads",       threads.c_str(),
                                "request_timeout_ms", timeout.c_str(), "enable_keep_alive", "yes",
                                "keep_alive_timeout_ms", "2000",        nullptr};
  mg_callbacks callbacks{};
  callbacks.log_message = &Impl::logMessage;
  impl->ctx = mg_start(&callbacks, impl.get(), civetOptions);
  if (impl->ctx == nullptr) {
    return Error::invalid("listen", listen, "CivetWeb could not start (address in use or invalid?)");
  }
  mg_server_port ports[4]{};
  int n = mg_get_server_ports(impl->ctx, 4, ports);
  if (n <= 0) {
    mg_stop(impl->ctx);
    return Error::invalid("listen", listen, "no listening port after start");
  }
  impl->port = static_cast<uint16_t>(ports[0].port);
  mg_set_request_handler(impl->ctx, "/", &Impl::dispatch, impl.get());
  spdlog::info("http: listening on {}:{}", impl->host, impl->port);
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

void HttpServer::addHandler(const std::string& path, HttpHandler handler) {
  std::string key = path.empty() ? "/" : path;
  if (key.size() > 1 && key.back() == '/') key.pop_back();
  std::unique_lock lock(impl_->routesMutex);
  impl_->routes[key] = std::make_shared<const HttpHandler>(std::move(handler));
}

void HttpServer::removeHandler(const std::string& path) {
  std::unique_lock lock(impl_->routesMutex);
  impl_->routes.erase(path);
}

uint16_t HttpServer::port() const { return impl_->port; }

std::string HttpServer::baseUrl() const { return "http://" + impl_->host + ":" + std::to_string(impl_->port); }

const HttpServerOptions& HttpServer::options() const { return impl_->options; }

void HttpServer::stop() {
  std::lock_guard<std::mutex> lock(impl_->stopMutex);
  if (impl_->ctx != nullptr) {
    mg_stop(impl_->ctx);
    impl_->ctx = nullptr;
  }
}

}  // namespace cgwarden::agent
