// GzipEncoder: what it sends decodes (with zlib, an independent decoder) to exactly what it
// was given, as one gzip member, however the input was cut; a sink that says stop stops it.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "agent/Gzip.h"
#include "support/HttpClient.h"

namespace cgwarden::agent {
namespace {

// Prometheus-like text: repetitive labels, varying values.
std::string metricsText(size_t lines) {
  std::mt19937_64 rng(42);
  std::string text;
  for (size_t i = 0; i < lines; ++i) {
    text += "container_memory_working_set_bytes{id=\"/cgwarden/w" + std::to_string(i % 997) + "\",image=\"\",name=\"w" +
            std::to_string(i % 997) + "\"} " + std::to_string(rng() % 100000000) + "\n";
  }
  return text;
}

TEST(GzipTest, PiecesOfAnySizeDecodeToOneMemberOfTheWholeInput) {
  std::string text = metricsText(60000);  // ~5 MiB: many output pieces
  for (int level = GzipEncoder::kMinLevel; level <= GzipEncoder::kMaxLevel; ++level) {
    SCOPED_TRACE("level " + std::to_string(level));
    auto encoder = GzipEncoder::create(level);
    ASSERT_TRUE(encoder.ok()) << encoder.error().message();
    std::string out;
    size_t pieces = 0, largest = 0;
    GzipEncoder::Sink sink = [&](std::string_view piece) {
      out.append(piece);
      ++pieces;
      largest = std::max(largest, piece.size());
      return true;
    };
    std::mt19937 rng(level);
    for (size_t at = 0; at < text.size();) {
      size_t n = std::min<size_t>(text.size() - at, rng() % 200000);  // 0 included
      ASSERT_TRUE(encoder->write(std::string_view(text).substr(at, n), sink));
      at += n;
    }
    ASSERT_TRUE(encoder->finish(sink));
    EXPECT_FALSE(encoder->write("more", sink)) << "written after finish";
    std::string error;
    EXPECT_EQ(testing::gunzip(out, error), text);  // also fails on a second member
    EXPECT_TRUE(error.empty()) << error;
    EXPECT_LT(out.size(), text.size() / 5);
    EXPECT_GT(pieces, 1u);
    EXPECT_LE(largest, 64u * 1024);
  }
}

TEST(GzipTest, EmptyInputIsAValidEmptyMember) {
  auto z = gzipCompress("", 1);
  ASSERT_TRUE(z.ok());
  ASSERT_GE(z->size(), 18u);  // 10-byte header, an empty block, CRC-32 and length
  EXPECT_EQ(static_cast<unsigned char>((*z)[0]), 0x1f);
  EXPECT_EQ(static_cast<unsigned char>((*z)[1]), 0x8b);
  std::string error;
  EXPECT_EQ(testing::gunzip(*z, error), "");
  EXPECT_TRUE(error.empty()) << error;
}

TEST(GzipTest, ASinkThatSaysStopStopsTheEncoder) {
  std::string text = metricsText(60000);
  auto encoder = GzipEncoder::create(1);
  ASSERT_TRUE(encoder.ok());
  size_t calls = 0;
  GzipEncoder::Sink refuse = [&](std::string_view) {
    ++calls;
    return false;
  };
  EXPECT_FALSE(encoder->write(text, refuse));
  EXPECT_EQ(calls, 1u);
}

TEST(GzipTest, LevelsOutsideZeroToThreeAreRefused) {
  for (int level : {-1, 4, 9}) {
    auto encoder = GzipEncoder::create(level);
    ASSERT_FALSE(encoder.ok()) << level;
    EXPECT_NE(encoder.error().message().find("outside 0-3"), std::string::npos) << encoder.error().message();
  }
}

}  // namespace
}  // namespace cgwarden::agent
