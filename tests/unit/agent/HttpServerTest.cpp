// The CivetWeb server on a loopback ephemeral port: routing, request fields, methods and
// bodies, the central body limit, gzip, HEAD, handler failures. One server for the suite
// (CivetWeb takes ~2 s to stop).
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "agent/Gzip.h"
#include "agent/HttpServer.h"
#include "support/HttpClient.h"

namespace cgwarden::agent {
namespace {

using testing::httpGet;
using testing::httpRequest;

class HttpServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    HttpServerOptions o;
    o.listen = "127.0.0.1:0";
    o.maxBodyBytes = 1024;
    o.threads = 2;
    auto s = HttpServer::start(o);
    ASSERT_TRUE(s.ok()) << s.error().message();
    server_ = std::move(*s).release();
    // Tests run one per process under CTest: every test that checks "/hello" must find it.
    server_->addHandler("/hello", [](const HttpRequest&) { return HttpResponse::text(200, "hi\n"); });
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static HttpServer* server_;
};

HttpServer* HttpServerTest::server_ = nullptr;

TEST_F(HttpServerTest, BindsAnEphemeralPortAndServes) {
  ASSERT_NE(server_->port(), 0);
  EXPECT_EQ(server_->baseUrl(), "http://127.0.0.1:" + std::to_string(server_->port()));
  server_->addHandler("/hello", [](const HttpRequest&) { return HttpResponse::text(200, "hi\n"); });
  auto r = httpGet(server_->port(), "/hello");
  EXPECT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.body, "hi\n");
  EXPECT_EQ(r.header("content-type"), "text/plain; charset=utf-8");
}

TEST_F(HttpServerTest, RoutesByLongestPrefixOnSegmentBoundaries) {
  server_->addHandler("/api/v1", [](const HttpRequest& q) { return HttpResponse::text(200, "v1 " + q.path); });
  server_->addHandler("/api/v1/events", [](const HttpRequest& q) { return HttpResponse::text(200, "events " + q.path); });
  EXPECT_EQ(httpGet(server_->port(), "/api/v1").body, "v1 /api/v1");
  EXPECT_EQ(httpGet(server_->port(), "/api/v1/workloads/web").body, "v1 /api/v1/workloads/web");
  EXPECT_EQ(httpGet(server_->port(), "/api/v1/events").body, "events /api/v1/events");
  EXPECT_EQ(httpGet(server_->port(), "/api/v1/events/stream").body, "events /api/v1/events/stream");
  auto miss = httpGet(server_->port(), "/api/v1x");
  EXPECT_EQ(miss.status, 404);
  EXPECT_EQ(miss.header("content-type"), "application/json");
  EXPECT_NE(miss.body.find("no handler for /api/v1x"), std::string::npos) << miss.body;
  server_->removeHandler("/api/v1/events");
  EXPECT_EQ(httpGet(server_->port(), "/api/v1/events").body, "v1 /api/v1/events");
}

TEST_F(HttpServerTest, RequestCarriesMethodQueryHeadersBodyAndPeer) {
  HttpRequest seen;
  server_->addHandler("/inspect", [&seen](const HttpRequest& q) {
    seen = q;
    HttpResponse r = HttpResponse::json(201, R"({"ok":true})");
    r.headers.emplace_back("Location", "/inspect/1");
    return r;
  });
  auto r = httpRequest(server_->port(), "POST", "/inspect?name=web%20one&flag&x=a+b",
                       {{"X-Custom", "Value"}, {"Content-Type", "application/json"}}, R"({"cpu":"0.5"})");
  EXPECT_EQ(r.status, 201) << r.error;
  EXPECT_EQ(r.header("location"), "/inspect/1");
  EXPECT_EQ(r.body, R"({"ok":true})");
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.path, "/inspect");
  EXPECT_EQ(seen.queryParam("name"), "web one");
  EXPECT_EQ(seen.queryParam("flag"), "");
  EXPECT_EQ(seen.queryParam("x"), "a b");
  EXPECT_FALSE(seen.queryParam("missing").has_value());
  EXPECT_EQ(seen.header("x-custom"), "Value") << "header names are case-insensitive";
  EXPECT_EQ(seen.body, R"({"cpu":"0.5"})");
  EXPECT_EQ(seen.remoteAddress.rfind("127.0.0.1:", 0), 0u) << seen.remoteAddress;
  for (const char* m : {"PUT", "DELETE", "PATCH"}) {
    EXPECT_EQ(httpRequest(server_->port(), m, "/inspect", {}, m == std::string("DELETE") ? "" : "x").status, 201);
    EXPECT_EQ(seen.method, m);
  }
}

TEST_F(HttpServerTest, OversizedBodiesGet413WithoutReachingTheHandler) {
  std::atomic<int> calls{0};
  server_->addHandler("/upload", [&calls](const HttpRequest&) {
    ++calls;
    return HttpResponse::text(200, "stored");
  });
  EXPECT_EQ(httpRequest(server_->port(), "PUT", "/upload", {}, std::string(1024, 'a')).status, 200);
  auto big = httpRequest(server_->port(), "PUT", "/upload", {}, std::string(4096, 'a'));
  EXPECT_EQ(big.status, 413) << big.error;
  EXPECT_NE(big.body.find("exceeds the limit of 1024"), std::string::npos) << big.body;
  EXPECT_EQ(calls.load(), 1);
}

TEST_F(HttpServerTest, GzipWhenAcceptedAndWorthIt) {
  std::string text;
  for (int i = 0; i < 2000; ++i) text += "container_cpu_usage_seconds_total{id=\"/a\"} 1\n";
  server_->addHandler("/big", [text](const HttpRequest&) { return HttpResponse::text(200, text); });
  server_->addHandler("/small", [](const HttpRequest&) { return HttpResponse::text(200, "tiny"); });
  auto zipped = httpGet(server_->port(), "/big", {{"Accept-Encoding", "gzip, deflate"}});
  EXPECT_EQ(zipped.status, 200);
  EXPECT_EQ(zipped.header("content-encoding"), "gzip");
  EXPECT_EQ(zipped.body, text) << zipped.error;
  EXPECT_LT(zipped.wireBytes * 10, text.size());
  auto plain = httpGet(server_->port(), "/big");
  EXPECT_EQ(plain.header("content-encoding"), "");
  EXPECT_EQ(plain.body, text);
  EXPECT_EQ(httpGet(server_->port(), "/big", {{"Accept-Encoding", "gzip;q=0"}}).header("content-encoding"), "");
  EXPECT_EQ(httpGet(server_->port(), "/small", {{"Accept-Encoding", "gzip"}}).header("content-encoding"), "");
}

TEST_F(HttpServerTest, StreamedBodiesAreChunkedAndGzippedOnTheFly) {
  std::string expected;
  for (int i = 0; i < 5000; ++i) expected += "line " + std::to_string(i) + " of a streamed body\n";
  server_->addHandler("/stream", [](const HttpRequest&) {
    HttpResponse r;
    r.stream = [](const BodyWriter& write) {
      for (int i = 0; i < 5000; ++i) {
        if (!write("line " + std::to_string(i) + " of a streamed body\n")) return;
      }
    };
    return r;
  });
  auto plain = httpGet(server_->port(), "/stream");
  EXPECT_EQ(plain.status, 200) << plain.error;
  EXPECT_TRUE(plain.chunked);
  EXPECT_TRUE(plain.error.empty()) << plain.error;
  EXPECT_EQ(plain.header("content-length"), "");
  EXPECT_EQ(plain.body, expected);
  auto zipped = httpGet(server_->port(), "/stream", {{"Accept-Encoding", "gzip"}});
  EXPECT_EQ(zipped.header("content-encoding"), "gzip");
  EXPECT_TRUE(zipped.error.empty()) << zipped.error;
  EXPECT_EQ(zipped.body, expected);
  EXPECT_LT(zipped.wireBytes * 5, expected.size());
  auto head = httpRequest(server_->port(), "HEAD", "/stream");
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());
}

// A body of over a MiB in pieces of assorted sizes: more than the gzip sender's buffers
// hold, so the producer has to wait for them; the gzip body is one stream (one gzip member)
// that zlib decodes to exactly the plain body.
std::string bigBodyPiece(int i) {
  std::string piece = "series_" + std::to_string(i) + "{id=\"/c" + std::to_string(i % 997) + "\"} " +
                      std::to_string(i * 7919 % 100003) + "\n";
  if (i % 1000 == 0) piece.append(static_cast<size_t>(i % 70000), 'x').push_back('\n');  // a few big pieces
  return piece;
}

TEST_F(HttpServerTest, AGzippedStreamOfManyMiBDecodesToThePlainBody) {
  constexpr int kPieces = 40000;
  server_->addHandler("/big-stream", [](const HttpRequest&) {
    HttpResponse r;
    r.stream = [](const BodyWriter& write) {
      for (int i = 0; i < kPieces; ++i) {
        if (!write(bigBodyPiece(i))) return;
      }
    };
    return r;
  });
  std::string expected;
  for (int i = 0; i < kPieces; ++i) expected += bigBodyPiece(i);
  ASSERT_GT(expected.size(), 1u << 20);
  auto plain = httpGet(server_->port(), "/big-stream");
  ASSERT_TRUE(plain.error.empty()) << plain.error;
  EXPECT_TRUE(plain.body == expected);
  auto zipped = httpGet(server_->port(), "/big-stream", {{"Accept-Encoding", "gzip"}});
  ASSERT_TRUE(zipped.error.empty()) << zipped.error;
  EXPECT_EQ(zipped.header("content-encoding"), "gzip");
  EXPECT_TRUE(zipped.chunked);
  EXPECT_EQ(zipped.body.size(), expected.size());
  EXPECT_TRUE(zipped.body == expected);
}

// Sends `request` on a new loopback connection; returns the socket (or -1).
int sendRaw(uint16_t port, const std::string& request) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Reads until the server closes (or 10 s pass).
std::string readToClose(int fd) {
  std::string raw;
  char buf[65536];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10000) <= 0) break;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    raw.append(buf, static_cast<size_t>(n));
  }
  return raw;
}

TEST_F(HttpServerTest, HttpOneZeroGetsTheStreamUnchunkedUntilClose) {
  server_->addHandler("/stream10", [](const HttpRequest&) {
    HttpResponse r;
    r.stream = [](const BodyWriter& write) {
      for (int i = 0; i < 20000; ++i) {
        if (!write(bigBodyPiece(i))) return;
      }
    };
    return r;
  });
  std::string expected;
  for (int i = 0; i < 20000; ++i) expected += bigBodyPiece(i);
  for (bool gzip : {false, true}) {
    SCOPED_TRACE(gzip ? "gzip" : "plain");
    std::string req = "GET /stream10 HTTP/1.0\r\nHost: 127.0.0.1\r\n";
    if (gzip) req += "Accept-Encoding: gzip\r\n";
    int fd = sendRaw(server_->port(), req + "\r\n");
    ASSERT_GE(fd, 0);
    std::string raw = readToClose(fd);
    ::close(fd);
    size_t end = raw.find("\r\n\r\n");
    ASSERT_NE(end, std::string::npos);
    std::string head = raw.substr(0, end);
    EXPECT_EQ(head.find("chunked"), std::string::npos) << head;
    EXPECT_EQ(head.find("Content-Encoding: gzip") != std::string::npos, gzip) << head;
    std::string body = raw.substr(end + 4), error;
    if (gzip) body = testing::gunzip(body, error);
    EXPECT_TRUE(error.empty()) << error;
    EXPECT_EQ(body.size(), expected.size());
    EXPECT_TRUE(body == expected);
  }
}

TEST_F(HttpServerTest, AClientThatGoesAwayMidStreamStopsTheProducer) {
  static std::atomic<int> finished{0};
  static std::atomic<bool> stopped{false};
  server_->addHandler("/endless", [](const HttpRequest&) {
    HttpResponse r;
    r.stream = [](const BodyWriter& write) {
      // Far more than socket buffers hold; only a failed write ends it early.
      for (int i = 0; i < 5000000; ++i) {
        if (!write(bigBodyPiece(i))) {
          stopped = true;
          break;
        }
      }
      ++finished;
    };
    return r;
  });
  for (bool gzip : {false, true}) {
    SCOPED_TRACE(gzip ? "gzip" : "plain");
    stopped = false;
    int before = finished.load();
    std::string req = "GET /endless HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    if (gzip) req += "Accept-Encoding: gzip\r\n";
    int fd = sendRaw(server_->port(), req + "\r\n");
    ASSERT_GE(fd, 0);
    char buf[4096];
    pollfd p{fd, POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 10000), 1);
    ASSERT_GT(::recv(fd, buf, sizeof buf, 0), 0);  // the headers and some body came
    linger off{1, 0};                               // close with a reset
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &off, sizeof off);
    ::close(fd);
    for (int i = 0; i < 1000 && finished.load() == before; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ(finished.load(), before + 1) << "the stream callback must return once the client is gone";
    EXPECT_TRUE(stopped.load());
    EXPECT_EQ(httpGet(server_->port(), "/hello").status, 200) << "the server keeps serving";
  }
}

TEST_F(HttpServerTest, AGzippedStreamThatThrowsEndsTruncated) {
  server_->addHandler("/halfway-gz", [](const HttpRequest&) {
    HttpResponse r;
    r.stream = [](const BodyWriter& write) {
      for (int i = 0; i < 20000; ++i) write(bigBodyPiece(i));
      throw std::runtime_error("disk on fire");
    };
    return r;
  });
  auto r = httpGet(server_->port(), "/halfway-gz", {{"Accept-Encoding", "gzip"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(r.error.empty()) << "a broken stream must not look complete";
  EXPECT_EQ(httpGet(server_->port(), "/hello").status, 200) << "the server keeps serving";
}

TEST_F(HttpServerTest, HeadOfAGzippedStreamSendsHeadersOnly) {
  static std::atomic<bool> called{false};
  server_->addHandler("/head-stream", [](const HttpRequest&) {
    HttpResponse r;
    r.stream = [](const BodyWriter& write) {
      called = true;
      write("body\n");
    };
    return r;
  });
  auto r = httpRequest(server_->port(), "HEAD", "/head-stream", {{"Accept-Encoding", "gzip"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-encoding"), "gzip");
  EXPECT_TRUE(r.body.empty());
  EXPECT_FALSE(called.load()) << "HEAD does not produce the body";
}

TEST_F(HttpServerTest, AStreamThatThrowsEndsTruncated) {
  server_->addHandler("/halfway", [](const HttpRequest&) {
    HttpResponse r;
    r.stream = [](const BodyWriter& write) {
      write("first part\n");
      throw std::runtime_error("disk on fire");
    };
    return r;
  });
  auto r = httpGet(server_->port(), "/halfway");
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(r.error.empty()) << "a broken stream must not look complete";
  EXPECT_EQ(r.body.rfind("first part\n", 0), 0u);
  EXPECT_EQ(httpGet(server_->port(), "/hello").status, 200) << "the server keeps serving";
}

TEST_F(HttpServerTest, HeadSendsHeadersOnly) {
  server_->addHandler("/head", [](const HttpRequest&) { return HttpResponse::text(200, "0123456789"); });
  auto r = httpRequest(server_->port(), "HEAD", "/head");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-length"), "10");
  EXPECT_TRUE(r.body.empty());
}

TEST_F(HttpServerTest, AThrowingHandlerGets500) {
  server_->addHandler("/boom", [](const HttpRequest&) -> HttpResponse { throw std::runtime_error("kaput"); });
  auto r = httpGet(server_->port(), "/boom");
  EXPECT_EQ(r.status, 500);
  EXPECT_NE(r.body.find("kaput"), std::string::npos);
  EXPECT_EQ(httpGet(server_->port(), "/hello").status, 200) << "the server keeps serving";
}

TEST_F(HttpServerTest, AnAddressInUseIsAnError) {
  HttpServerOptions o;
  o.listen = "127.0.0.1:" + std::to_string(server_->port());
  auto second = HttpServer::start(o);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.error().message().find(o.listen), std::string::npos) << second.error().message();
  o.listen = "127.0.0.1:99999";
  EXPECT_FALSE(HttpServer::start(o).ok());
  o.listen = "localhost:http";
  EXPECT_FALSE(HttpServer::start(o).ok());
}

TEST(HttpServerOptionsTest, AGzipLevelOutsideZeroToThreeIsRefusedAtStart) {
  HttpServerOptions o;
  o.listen = "127.0.0.1:0";
  o.gzipLevel = 6;  // a zlib level, not an igzip one
  auto s = HttpServer::start(o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("gzip level 6"), std::string::npos) << s.error().message();
}

TEST(HttpEncodingTest, AcceptEncoding) {
  EXPECT_TRUE(acceptsGzip("gzip"));
  EXPECT_TRUE(acceptsGzip("deflate, gzip;q=0.5"));
  EXPECT_TRUE(acceptsGzip("*"));
  EXPECT_TRUE(acceptsGzip("identity, x-gzip"));
  EXPECT_FALSE(acceptsGzip(""));
  EXPECT_FALSE(acceptsGzip("deflate, br"));
  EXPECT_FALSE(acceptsGzip("gzip;q=0"));
  EXPECT_FALSE(acceptsGzip("gzip; q=0.0"));
}

TEST(HttpEncodingTest, GzipRoundTrip) {
  std::string data(100000, 'x');
  auto z = gzipCompress(data, 1);
  ASSERT_TRUE(z.ok());
  EXPECT_LT(z->size(), 1000u);
  std::string err;
  EXPECT_EQ(testing::gunzip(*z, err), data);
  EXPECT_TRUE(err.empty()) << err;
}

}  // namespace
}  // namespace cgwarden::agent
