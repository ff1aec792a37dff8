#include <gtest/gtest.h>

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "config/SystemLookup.h"

namespace cgwarden::config {
namespace {

// The first block device of this host whose /dev node exists, with its numbers from /sys.
std::optional<std::pair<std::string, std::string>> someBlockDevice() {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/sys/block", ec)) {
    std::string name = entry.path().filename().string();
    std::ifstream dev(entry.path() / "dev");
    std::string numbers;
    if (!(dev >> numbers)) continue;
    struct stat st {};
    std::string path = "/dev/" + name;
    if (::stat(path.c_str(), &st) == 0 && S_ISBLK(st.st_mode)) return std::pair(path, numbers);
  }
  return std::nullopt;
}

TEST(SystemLookupTest, BlockDevicePathResolvesToItsNumbers) {
  auto device = someBlockDevice();
  if (!device) GTEST_SKIP() << "no block device with a /dev node on this host";
  auto resolved = resolveBlockDevice(device->first);
  ASSERT_TRUE(resolved.value) << resolved.error;
  EXPECT_EQ(std::to_string(resolved.value->major) + ":" + std::to_string(resolved.value->minor), device->second)
      << device->first;
}

TEST(SystemLookupTest, MajorMinorIsTakenAsWritten) {
  auto resolved = resolveBlockDevice("254:16");
  ASSERT_TRUE(resolved.value);
  EXPECT_EQ(resolved.value->major, 254u);
  EXPECT_EQ(resolved.value->minor, 16u);
}

TEST(SystemLookupTest, NonDevicesAreClearErrors) {
  EXPECT_EQ(resolveBlockDevice("/etc/passwd").error, "\"/etc/passwd\" is not a block device");
  EXPECT_EQ(resolveBlockDevice("/dev/null").error, "\"/dev/null\" is not a block device");  // a char device
  EXPECT_EQ(resolveBlockDevice("/dev/cgwarden-no-such-disk").error,
            "cannot stat \"/dev/cgwarden-no-such-disk\": No such file or directory");
  EXPECT_EQ(resolveBlockDevice("8").error, "\"8\" is not a device (a /dev path or MAJOR:MINOR)");
  EXPECT_EQ(resolveBlockDevice("8:x").error, "\"8:x\" is not a device (a /dev path or MAJOR:MINOR)");
  EXPECT_EQ(resolveBlockDevice("vda").error, "\"vda\" is not a device (a /dev path or MAJOR:MINOR)");
}

TEST(SystemLookupTest, UsersByNameAndNumber) {
  auto root = resolveUser("root");
  ASSERT_TRUE(root.value) << root.error;
  EXPECT_EQ(root.value->uid, 0u);
  EXPECT_EQ(root.value->primaryGid, 0u);
  auto zero = resolveUser("0");
  ASSERT_TRUE(zero.value);
  EXPECT_EQ(zero.value->uid, 0u);
  EXPECT_EQ(zero.value->primaryGid, 0u);
  auto unlisted = resolveUser("4000123");  // a number need not be in passwd
  ASSERT_TRUE(unlisted.value);
  EXPECT_EQ(unlisted.value->uid, 4000123u);
  EXPECT_FALSE(unlisted.value->primaryGid.has_value());
  EXPECT_EQ(resolveUser("cgwarden-no-such-user").error, "unknown user \"cgwarden-no-such-user\"");
  EXPECT_EQ(resolveUser("4294967295").error, "\"4294967295\" is not a valid user id");
}

TEST(SystemLookupTest, GroupsByNameAndNumber) {
  auto root = resolveGroup("root");
  ASSERT_TRUE(root.value) << root.error;
  EXPECT_EQ(*root.value, 0u);
  EXPECT_EQ(resolveGroup("1234").value, 1234u);
  EXPECT_EQ(resolveGroup("cgwarden-no-such-group").error, "unknown group \"cgwarden-no-such-group\"");
}

}  // namespace
}  // namespace cgwarden::config
