#include <gtest/gtest.h>

#include <cstring>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "collectors/CgroupDirs.h"

namespace cgwarden::collectors {
namespace {

static_assert(std::forward_iterator<CgroupDirs::Iterator>);

using Pairs = std::vector<std::pair<std::string, std::string>>;

Pairs entriesOf(const CgroupDirs& dirs) {
  Pairs out;
  for (auto [key, dir] : dirs) out.emplace_back(key, dir);
  return out;
}

CgroupDirs hybrid() {
  CgroupDirs dirs;
  dirs.set("memory", "/sys/fs/cgroup/memory/cgwarden/web");
  dirs.set("", "/sys/fs/cgroup/unified/cgwarden/web");
  dirs.set("cpu", "/sys/fs/cgroup/cpu,cpuacct/cgwarden/web");
  dirs.set("pids", "/sys/fs/cgroup/pids/cgwarden/web");
  return dirs;
}

TEST(CgroupDirsTest, EmptyFindsNothing) {
  CgroupDirs dirs;
  EXPECT_TRUE(dirs.empty());
  EXPECT_EQ(dirs.size(), 0u);
  EXPECT_EQ(dirs.begin(), dirs.end());
  EXPECT_EQ(dirs.find(""), "");
  EXPECT_FALSE(dirs.contains(""));
  EXPECT_FALSE(dirs.contains("memory"));
}

TEST(CgroupDirsTest, FindsEachKeyIncludingTheCgroup2One) {
  CgroupDirs dirs = hybrid();
  EXPECT_FALSE(dirs.empty());
  EXPECT_EQ(dirs.size(), 4u);
  EXPECT_EQ(dirs.find(""), "/sys/fs/cgroup/unified/cgwarden/web");
  EXPECT_EQ(dirs.find("memory"), "/sys/fs/cgroup/memory/cgwarden/web");
  EXPECT_EQ(dirs.find("cpu"), "/sys/fs/cgroup/cpu,cpuacct/cgwarden/web");
  EXPECT_EQ(dirs.find("pids"), "/sys/fs/cgroup/pids/cgwarden/web");
  EXPECT_TRUE(dirs.contains(""));
  EXPECT_FALSE(dirs.contains("cpuacct"));
  EXPECT_FALSE(dirs.contains("mem")) << "a key's prefix is not the key";
  EXPECT_FALSE(dirs.contains("memoryx"));
  EXPECT_FALSE(dirs.contains("/sys/fs/cgroup/pids/cgwarden/web")) << "a directory is not a key";
}

TEST(CgroupDirsTest, IteratesInKeyOrderWhateverTheInsertionOrder) {
  EXPECT_EQ(entriesOf(hybrid()), (Pairs{{"", "/sys/fs/cgroup/unified/cgwarden/web"},
                                        {"cpu", "/sys/fs/cgroup/cpu,cpuacct/cgwarden/web"},
                                        {"memory", "/sys/fs/cgroup/memory/cgwarden/web"},
                                        {"pids", "/sys/fs/cgroup/pids/cgwarden/web"}}));
}

TEST(CgroupDirsTest, SetReplacesAnExistingKey) {
  CgroupDirs dirs = hybrid();
  dirs.set("memory", "/m");
  dirs.set("", "/a/much/longer/cgroup2/directory/than/before");
  EXPECT_EQ(dirs.size(), 4u);
  EXPECT_EQ(dirs.find("memory"), "/m");
  EXPECT_EQ(dirs.find(""), "/a/much/longer/cgroup2/directory/than/before");
  EXPECT_EQ(dirs.find("pids"), "/sys/fs/cgroup/pids/cgwarden/web");
  EXPECT_EQ(entriesOf(dirs).front().first, "");
}

TEST(CgroupDirsTest, EraseRemovesOnlyThatKey) {
  CgroupDirs dirs = hybrid();
  dirs.erase("");
  EXPECT_FALSE(dirs.contains(""));
  EXPECT_EQ(dirs.size(), 3u);
  dirs.erase("blkio");  // absent: nothing happens
  EXPECT_EQ(dirs.size(), 3u);
  dirs.erase("pids");
  dirs.erase("cpu");
  EXPECT_EQ(entriesOf(dirs), (Pairs{{"memory", "/sys/fs/cgroup/memory/cgwarden/web"}}));
  dirs.erase("memory");
  EXPECT_TRUE(dirs.empty());
  dirs.set("", "/again");
  EXPECT_EQ(dirs.find(""), "/again");
}

TEST(CgroupDirsTest, SettingAnEmptyDirectoryErases) {
  CgroupDirs dirs = hybrid();
  dirs.set("memory", "");
  EXPECT_FALSE(dirs.contains("memory"));
  EXPECT_EQ(dirs.size(), 3u);
  dirs.set("io", "");
  EXPECT_FALSE(dirs.contains("io"));
  EXPECT_EQ(dirs.size(), 3u);
}

TEST(CgroupDirsTest, EqualWhenSameKeysAndDirectories) {
  CgroupDirs a = hybrid();
  CgroupDirs b;
  b.set("pids", "/sys/fs/cgroup/pids/cgwarden/web");
  b.set("cpu", "/sys/fs/cgroup/cpu,cpuacct/cgwarden/web");
  b.set("", "/sys/fs/cgroup/unified/cgwarden/web");
  b.set("memory", "/elsewhere");
  EXPECT_NE(a, b);
  b.set("memory", "/sys/fs/cgroup/memory/cgwarden/web");
  EXPECT_EQ(a, b);
  b.erase("pids");
  EXPECT_NE(a, b);
  EXPECT_EQ(CgroupDirs(), CgroupDirs());
}

TEST(CgroupDirsTest, ViewsAreNulTerminated) {
  CgroupDirs dirs = hybrid();
  for (auto [key, dir] : dirs) {
    EXPECT_EQ(key.data()[key.size()], '\0') << key;
    EXPECT_EQ(dir.data()[dir.size()], '\0') << dir;
    EXPECT_EQ(std::strlen(dir.data()), dir.size()) << "usable as a C string: " << dir;
  }
  EXPECT_STREQ(dirs.find("memory").data(), "/sys/fs/cgroup/memory/cgwarden/web");
  EXPECT_STREQ(dirs.find("blkio").data(), "") << "none: an empty C string, not a null pointer";
}

TEST(CgroupDirsTest, ViewsStayValidWhileUnmodified) {
  CgroupDirs dirs = hybrid();
  std::string_view memory = dirs.find("memory");
  std::string_view unified = dirs.find("");
  // Reading does not move anything: the same bytes are handed out again.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(dirs.find("memory").data(), memory.data());
    EXPECT_EQ((*dirs.begin()).dir.data(), unified.data());
  }
  CgroupDirs copy = dirs;  // a copy has its own storage; the original's views are untouched
  EXPECT_NE(copy.find("memory").data(), memory.data());
  EXPECT_EQ(memory, "/sys/fs/cgroup/memory/cgwarden/web");
  EXPECT_EQ(unified, "/sys/fs/cgroup/unified/cgwarden/web");
}

TEST(CgroupDirsTest, SetAcceptsAViewOfItself) {
  CgroupDirs dirs = hybrid();
  dirs.set("cpuacct", dirs.find("cpu"));
  EXPECT_EQ(dirs.find("cpuacct"), "/sys/fs/cgroup/cpu,cpuacct/cgwarden/web");
  dirs.set("cpu", dirs.find("cpu"));
  EXPECT_EQ(dirs.find("cpu"), "/sys/fs/cgroup/cpu,cpuacct/cgwarden/web");
  EXPECT_EQ(dirs.size(), 5u);
}

}  // namespace
}  // namespace cgwarden::collectors
