#include <gtest/gtest.h>

#include <csignal>

#include "collectors/Limits.h"
#include "config/Units.h"

namespace cgwarden::config {
namespace {

using std::chrono::milliseconds;

TEST(UnitsTest, SizesUseBinaryAndDecimalSuffixes) {
  EXPECT_EQ(parseSize("64Mi"), 64ull << 20);
  EXPECT_EQ(parseSize("1.5G"), 1500000000ull);
  EXPECT_EQ(parseSize("1.5Gi"), 3ull << 29);
  EXPECT_EQ(parseSize("512k"), 512000ull);
  EXPECT_EQ(parseSize("512K"), 512000ull);
  EXPECT_EQ(parseSize("4Ki"), 4096ull);
  EXPECT_EQ(parseSize("2Ti"), 2ull << 40);
  EXPECT_EQ(parseSize("1048576"), 1048576ull);
  EXPECT_EQ(parseSize("0"), 0ull);
  EXPECT_EQ(parseSize("10MB"), 10000000ull);
  EXPECT_EQ(parseSize("10MiB"), 10ull << 20);
  EXPECT_EQ(parseSize(" 8Mi "), 8ull << 20);
  EXPECT_EQ(parseSize("max"), kUnlimited);
  EXPECT_EQ(parseSize("unlimited"), kUnlimited);
}

TEST(UnitsTest, MalformedSizesAreRejected) {
  for (const char* bad : {"64Q", "", "Mi", "-1", "1.2.3", "64 Mi x", "64mi", "64Mii", "1e3", "0x10", "20000000Ti"}) {
    EXPECT_FALSE(parseSize(bad).has_value()) << bad;
  }
}

TEST(UnitsTest, RatesAcceptPerSecond) {
  EXPECT_EQ(parseRate("10M/s"), 10000000ull);
  EXPECT_EQ(parseRate("10Mi"), 10ull << 20);
  EXPECT_EQ(parseRate("500/s"), 500ull);
  EXPECT_EQ(parseRate("1k/s"), 1000ull);
  EXPECT_EQ(parseRate("max"), kUnlimited);
  for (const char* bad : {"10M/m", "/s", "fast", "10M/s/s", ""}) EXPECT_FALSE(parseRate(bad).has_value()) << bad;
}

TEST(UnitsTest, DurationsCombineUnits) {
  EXPECT_EQ(parseDuration("250ms"), milliseconds(250));
  EXPECT_EQ(parseDuration("30s"), milliseconds(30000));
  EXPECT_EQ(parseDuration("5m"), milliseconds(300000));
  EXPECT_EQ(parseDuration("1h"), milliseconds(3600000));
  EXPECT_EQ(parseDuration("1m30s"), milliseconds(90000));
  EXPECT_EQ(parseDuration("1.5s"), milliseconds(1500));
  EXPECT_EQ(parseDuration("10"), milliseconds(10000));  // bare number: seconds
  for (const char* bad : {"5x", "", "s", "1m30", "-1s", "1d", "ms"}) EXPECT_FALSE(parseDuration(bad).has_value()) << bad;
}

TEST(UnitsTest, CoresAreFractionsOrPercent) {
  EXPECT_DOUBLE_EQ(*parseCores("1.5"), 1.5);
  EXPECT_DOUBLE_EQ(*parseCores("0.25"), 0.25);
  EXPECT_DOUBLE_EQ(*parseCores("150%"), 1.5);
  EXPECT_DOUBLE_EQ(*parseCores("2"), 2.0);
  for (const char* bad : {"0", "-1", "lots", "", "%", "1.5 cores"}) EXPECT_FALSE(parseCores(bad).has_value()) << bad;
}

TEST(UnitsTest, MicrosecondsDefaultToMicroseconds) {
  EXPECT_EQ(parseMicroseconds("50000"), 50000ull);
  EXPECT_EQ(parseMicroseconds("50ms"), 50000ull);
  EXPECT_EQ(parseMicroseconds("100us"), 100ull);
  EXPECT_EQ(parseMicroseconds("1s"), 1000000ull);
  EXPECT_EQ(parseMicroseconds("max"), kUnlimited);
  EXPECT_FALSE(parseMicroseconds("5m").has_value());
  EXPECT_FALSE(parseMicroseconds("abc").has_value());
}

TEST(UnitsTest, SignalsByNameOrNumber) {
  EXPECT_EQ(parseSignal("SIGTERM"), SIGTERM);
  EXPECT_EQ(parseSignal("TERM"), SIGTERM);
  EXPECT_EQ(parseSignal("sigint"), SIGINT);
  EXPECT_EQ(parseSignal("USR1"), SIGUSR1);
  EXPECT_EQ(parseSignal("9"), SIGKILL);
  EXPECT_FALSE(parseSignal("SIGFOO").has_value());
  EXPECT_FALSE(parseSignal("0").has_value());
  EXPECT_FALSE(parseSignal("65").has_value());
  EXPECT_EQ(signalName(SIGTERM), "SIGTERM");
  EXPECT_EQ(signalName(40), "40");
}

TEST(UnitsTest, CpuLists) {
  for (const char* good : {"0", "0-3", "0-3,6", "0,2,4-5"}) EXPECT_TRUE(isCpuList(good)) << good;
  for (const char* bad : {"", "3-1", "a", "0-", ",", "0,,1", "-1"}) EXPECT_FALSE(isCpuList(bad)) << bad;
}

TEST(UnitsTest, Formatting) {
  EXPECT_EQ(formatSize(64ull << 20), "64Mi");
  EXPECT_EQ(formatSize(1000), "1000");
  EXPECT_EQ(formatSize(kUnlimited), "max");
  EXPECT_EQ(formatDuration(milliseconds(90000)), "1m30s");
  EXPECT_EQ(formatDuration(milliseconds(250)), "250ms");
  EXPECT_EQ(formatDuration(milliseconds(0)), "0s");
  EXPECT_EQ(formatDuration(milliseconds(3600000)), "1h");
}

}  // namespace
}  // namespace cgwarden::config
