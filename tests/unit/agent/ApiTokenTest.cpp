#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <thread>

#include "unit/TempTree.h"
#include "agent/ApiToken.h"
#include "agent/Sha256.h"

namespace cgwarden::agent {
namespace {

using testing::TempTree;

// FIPS 180-4 / NIST example vectors.
TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256Hex(std::string(1000000, 'a')), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256Test, UpdateInPiecesEqualsOneShot) {
  std::string text;
  for (int i = 0; i < 1000; ++i) text += static_cast<char>(i * 7);
  for (size_t piece : {1u, 3u, 55u, 56u, 63u, 64u, 65u, 200u}) {
    Sha256 s;
    for (size_t off = 0; off < text.size(); off += piece) s.update(std::string_view(text).substr(off, piece));
    Sha256Digest d = s.finish();
    EXPECT_EQ(toHex(d.data(), d.size()), sha256Hex(text)) << piece;
  }
}

TEST(ApiTokenTest, CreatesA0600HexTokenOnceAndReusesIt) {
  TempTree t;
  std::string path = t.path("state/sub/api-token");
  auto first = loadOrCreateApiToken(path);
  ASSERT_TRUE(first.ok()) << first.error().message();
  EXPECT_TRUE(first->created);
  EXPECT_EQ(first->value.size(), 64u);
  EXPECT_EQ(first->value.find_first_not_of("0123456789abcdef"), std::string::npos);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(t.path("state/sub").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u) << "missing parents are created private";
  EXPECT_EQ(t.read("state/sub/api-token"), first->value + "\n");

  auto second = loadOrCreateApiToken(path);
  ASSERT_TRUE(second.ok()) << second.error().message();
  EXPECT_FALSE(second->created);
  EXPECT_EQ(second->value, first->value);
  auto client = readApiToken(path);
  ASSERT_TRUE(client.ok());
  EXPECT_EQ(*client, first->value);
  // Two fresh tokens differ.
  TempTree other;
  auto third = loadOrCreateApiToken(other.path("api-token"));
  ASSERT_TRUE(third.ok());
  EXPECT_NE(third->value, first->value);
}

TEST(ApiTokenTest, ConcurrentCreatorsAgreeOnOneToken) {
  TempTree t;
  std::string path = t.path("api-token");
  std::vector<std::string> seen(8);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < seen.size(); ++i) {
    threads.emplace_back([&, i] {
      auto tok = loadOrCreateApiToken(path);
      if (tok) seen[i] = tok->value;
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& s : seen) EXPECT_EQ(s, seen[0]);
  EXPECT_EQ(seen[0].size(), 64u);
}

TEST(ApiTokenTest, RefusesFilesOthersCanReadOrThatAreNotPlainFiles) {
  TempTree t;
  t.write("open", std::string(64, 'a') + "\n");
  ::chmod(t.path("open").c_str(), 0644);
  auto open = loadOrCreateApiToken(t.path("open"));
  ASSERT_FALSE(open.ok());
  EXPECT_EQ(open.error().message(),
            "open " + t.path("open") +
                ": the API token file has mode 0644: group or others may access it, so the token cannot be trusted as a "
                "secret (chmod 600 " + t.path("open") + ", or remove it and let the agent create a new one)");
  ::chmod(t.path("open").c_str(), 0620);
  EXPECT_FALSE(loadOrCreateApiToken(t.path("open")).ok()) << "group-writable too";
  ::chmod(t.path("open").c_str(), 0400);
  EXPECT_TRUE(loadOrCreateApiToken(t.path("open")).ok()) << "owner read-only is fine";

  t.write("real", std::string(64, 'b'));
  ::chmod(t.path("real").c_str(), 0600);
  ASSERT_EQ(::symlink(t.path("real").c_str(), t.path("link").c_str()), 0);
  auto link = loadOrCreateApiToken(t.path("link"));
  ASSERT_FALSE(link.ok());
  EXPECT_NE(link.error().message().find("is a symbolic link"), std::string::npos) << link.error().message();

  t.mkdir("dir");
  ::chmod(t.path("dir").c_str(), 0700);
  auto dir = loadOrCreateApiToken(t.path("dir"));
  ASSERT_FALSE(dir.ok());
  EXPECT_NE(dir.error().message().find("not a regular file"), std::string::npos) << dir.error().message();
}

TEST(ApiTokenTest, RefusesShortEmptyOrSpacedTokens) {
  TempTree t;
  auto write = [&](const std::string& name, const std::string& text) {
    t.write(name, text);
    ::chmod(t.path(name).c_str(), 0600);
    return loadOrCreateApiToken(t.path(name));
  };
  auto empty = write("empty", "\n");
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.error().message().find("is empty"), std::string::npos);
  auto shortOne = write("short", "abc\n");
  ASSERT_FALSE(shortOne.ok());
  EXPECT_NE(shortOne.error().message().find("has 3 characters; at least 32"), std::string::npos);
  auto spaced = write("spaced", std::string(20, 'a') + " " + std::string(20, 'b'));
  ASSERT_FALSE(spaced.ok());
  EXPECT_NE(spaced.error().message().find("whitespace"), std::string::npos);
  auto ok = write("ok", "  " + std::string(40, 'Z') + "  \n");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->value, std::string(40, 'Z'));
}

TEST(ApiTokenTest, BearerHeaderAndComparison) {
  EXPECT_EQ(bearerToken("Bearer abc"), "abc");
  EXPECT_EQ(bearerToken("bearer   abc  "), "abc");
  EXPECT_EQ(bearerToken("BEARER\tabc"), "abc");
  EXPECT_FALSE(bearerToken("Basic abc").has_value());
  EXPECT_FALSE(bearerToken("Bearer").has_value());
  EXPECT_FALSE(bearerToken("Bearer   ").has_value());
  EXPECT_FALSE(bearerToken("Bearerabc").has_value());
  EXPECT_FALSE(bearerToken("").has_value());

  std::string token(64, 'a');
  EXPECT_TRUE(tokensEqual(token, token));
  EXPECT_FALSE(tokensEqual(token, token + "a"));
  EXPECT_FALSE(tokensEqual(token, token.substr(1)));
  EXPECT_FALSE(tokensEqual(token, ""));
  std::string last = token;
  last.back() = 'b';
  EXPECT_FALSE(tokensEqual(token, last));
}

}  // namespace
}  // namespace cgwarden::agent
