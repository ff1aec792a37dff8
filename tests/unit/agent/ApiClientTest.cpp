#include <gtest/gtest.h>
#include <stdlib.h>

#include "unit/TempTree.h"
#include "agent/ApiClient.h"
#include "agent/Commands.h"

namespace cgwarden::agent {
namespace {

using testing::TempTree;

TEST(ApiClientTest, ListenAddressesAreReachedOnLoopback) {
  auto a = connectAddressFor("127.0.0.1:9839");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, std::make_pair(std::string("127.0.0.1"), uint16_t{9839}));
  EXPECT_EQ(connectAddressFor("0.0.0.0:80")->first, "127.0.0.1");
  EXPECT_EQ(connectAddressFor(":9839")->first, "127.0.0.1");
  EXPECT_EQ(connectAddressFor("9839")->second, 9839);
  EXPECT_EQ(connectAddressFor("[::]:9839")->first, "::1");
  EXPECT_EQ(connectAddressFor("[::1]:1")->first, "::1");
  EXPECT_EQ(connectAddressFor("localhost:5")->first, "localhost");
  for (const char* bad : {"", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:70000", "[::1]", "[::1]9839", "host:port"}) {
    EXPECT_FALSE(connectAddressFor(bad).ok()) << bad;
  }
}

TEST(ApiClientTest, Urls) {
  EXPECT_EQ(*parseApiUrl("http://127.0.0.1:9839"), std::make_pair(std::string("127.0.0.1"), uint16_t{9839}));
  EXPECT_EQ(parseApiUrl("http://127.0.0.1:9839/")->second, 9839);
  EXPECT_EQ(parseApiUrl("10.0.0.1:80")->first, "10.0.0.1");
  auto tls = parseApiUrl("https://127.0.0.1:9839");
  ASSERT_FALSE(tls.ok());
  EXPECT_NE(tls.error().message().find("https is not supported"), std::string::npos);
  EXPECT_FALSE(parseApiUrl("http://127.0.0.1:9839/api").ok());
  EXPECT_FALSE(parseApiUrl("http://127.0.0.1").ok());
}

TEST(ApiClientTest, SharedFlagsAreTakenOutAndTheRestKeptInOrder) {
  ::unsetenv("CGWARDEN_CONFIG");
  auto f = parseClientFlags({"web", "--json", "--url", "http://h:1", "--memory", "1Mi", "--token-file=/t", "--timeout",
                             "2s", "--", "cmd", "--json"});
  ASSERT_TRUE(f.ok()) << f.error().message();
  EXPECT_TRUE(f->json);
  EXPECT_EQ(f->url, "http://h:1");
  EXPECT_EQ(f->tokenFile, "/t");
  EXPECT_EQ(f->timeout, std::chrono::seconds(2));
  EXPECT_EQ(f->configPath, kDefaultConfigPath);
  EXPECT_FALSE(f->configGiven);
  EXPECT_EQ(f->rest, (std::vector<std::string>{"web", "--memory", "1Mi", "--", "cmd", "--json"}));
  EXPECT_FALSE(parseClientFlags({"--url"}).ok());
  EXPECT_FALSE(parseClientFlags({"--timeout", "soon"}).ok());
  EXPECT_TRUE(parseClientFlags({"-h"})->help);

  ::setenv("CGWARDEN_CONFIG", "/etc/other.yaml", 1);
  auto env = parseClientFlags({});
  EXPECT_EQ(env->configPath, "/etc/other.yaml");
  EXPECT_TRUE(env->configGiven);
  EXPECT_EQ(parseClientFlags({"--config", "/x.yaml"})->configPath, "/x.yaml");
  ::unsetenv("CGWARDEN_CONFIG");
}

TEST(ApiClientTest, TheEndpointComesFromTheConfigUnlessOverridden) {
  ::unsetenv("CGWARDEN_CONFIG");
  TempTree t;
  t.write("c.yaml", "agent:\n  listen: 0.0.0.0:7001\n  state_dir: /srv/cgw\n");
  ClientFlags f;
  f.configPath = t.path("c.yaml");
  f.configGiven = true;
  auto ep = resolveEndpoint(f);
  ASSERT_TRUE(ep.ok()) << ep.error().message();
  EXPECT_EQ(ep->host, "127.0.0.1");
  EXPECT_EQ(ep->port, 7001);
  EXPECT_EQ(ep->tokenFile, "/srv/cgw/api-token");
  EXPECT_EQ(ep->origin, "config " + t.path("c.yaml"));

  f.url = "http://127.0.0.2:7002";
  ep = resolveEndpoint(f);
  EXPECT_EQ(ep->host, "127.0.0.2");
  EXPECT_EQ(ep->tokenFile, "/srv/cgw/api-token");
  f.tokenFile = "/t";
  f.configPath = "/nonexistent.yaml";  // not read: both are given
  ep = resolveEndpoint(f);
  ASSERT_TRUE(ep.ok()) << ep.error().message();
  EXPECT_EQ(ep->tokenFile, "/t");

  ClientFlags defaults;
  defaults.configPath = t.path("absent.yaml");
  ep = resolveEndpoint(defaults);
  ASSERT_TRUE(ep.ok());
  EXPECT_EQ(ep->port, 9839);
  EXPECT_EQ(ep->tokenFile, "/var/lib/cgwarden/api-token");
  defaults.configGiven = true;
  auto missing = resolveEndpoint(defaults);
  EXPECT_FALSE(missing.ok()) << "a config asked for must exist";

  t.write("bad.yaml", "agent:\n  listen: [1]\n");
  ClientFlags bad;
  bad.configPath = t.path("bad.yaml");
  bad.configGiven = true;
  auto broken = resolveEndpoint(bad);
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.error().message().find("bad.yaml:2:"), std::string::npos) << broken.error().message();
}

TEST(ApiClientTest, LimitFlagsOnly) {
  auto l = parseLimitFlags({"--memory", "128Mi", "--cpus=1.5", "--pids", "max"});
  ASSERT_TRUE(l.ok()) << l.error().message();
  EXPECT_EQ(l->memory.max, 128u << 20);
  EXPECT_EQ(l->cpu.quotaUs, 150000u);
  EXPECT_EQ(l->cpu.periodUs, 100000u);
  EXPECT_EQ(l->pids.max, kUnlimited);
  auto user = parseLimitFlags({"--user", "root"});
  ASSERT_FALSE(user.ok());
  EXPECT_EQ(user.error().message(), "parse --user: not a limit flag");
  EXPECT_FALSE(parseLimitFlags({"web"}).ok());
  auto bad = parseLimitFlags({"--memory", "64Q"});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("\"64Q\" is not a size"), std::string::npos);
}

TEST(ApiClientTest, ExitCodesAndTargets) {
  EXPECT_EQ(exitCodeForStatus(200), kExitOk);
  EXPECT_EQ(exitCodeForStatus(202), kExitOk);
  EXPECT_EQ(exitCodeForStatus(400), kExitUsage);
  EXPECT_EQ(exitCodeForStatus(415), kExitUsage);
  EXPECT_EQ(exitCodeForStatus(401), kExitUnauthorized);
  EXPECT_EQ(exitCodeForStatus(403), kExitFailure);
  EXPECT_EQ(exitCodeForStatus(404), kExitNotFound);
  EXPECT_EQ(exitCodeForStatus(409), kExitFailure);
  EXPECT_EQ(exitCodeForStatus(422), kExitFailure);
  EXPECT_EQ(exitCodeForStatus(500), kExitFailure);
  EXPECT_EQ(workloadTarget("web", "stop"), "/api/v1/workloads/web/stop");
  EXPECT_EQ(workloadTarget("a/../b"), "/api/v1/workloads/a%2F..%2Fb");
  EXPECT_EQ(percentEncode("a b\n"), "a%20b%0A");
}

}  // namespace
}  // namespace cgwarden::agent
