// Observe patterns: pure matching, validation, and expansion over a temp cgroup tree.
#include <gtest/gtest.h>

#include "collectors/ObservedCgroups.h"
#include "unit/TempTree.h"

namespace cgwarden::collectors {
namespace {

using testing::TempTree;

TEST(ObservedCgroupsTest, GlobsMatchWithinOneSegment) {
  EXPECT_TRUE(ObservedCgroups::matches("system.slice/*.service", "system.slice/cron.service"));
  EXPECT_FALSE(ObservedCgroups::matches("system.slice/*.service", "system.slice/cron.socket"));
  EXPECT_FALSE(ObservedCgroups::matches("system.slice/*.service", "system.slice/a/b.service")) << "* stops at /";
  EXPECT_TRUE(ObservedCgroups::matches("docker/*", "docker/3f2a"));
  EXPECT_FALSE(ObservedCgroups::matches("docker/*", "docker"));
  EXPECT_TRUE(ObservedCgroups::matches("/docker/*", "docker/3f2a")) << "a leading / is allowed";
  EXPECT_TRUE(ObservedCgroups::matches("kubepods/**/cri-*", "kubepods/cri-1"));
  EXPECT_TRUE(ObservedCgroups::matches("kubepods/**/cri-*", "kubepods/burstable/pod1/cri-2"));
  EXPECT_FALSE(ObservedCgroups::matches("kubepods/**/cri-*", "other/cri-2"));
  EXPECT_TRUE(ObservedCgroups::matches("job-[0-9]", "job-7"));
}

TEST(ObservedCgroupsTest, ValidationNamesThePattern) {
  EXPECT_TRUE(ObservedCgroups::validatePattern("system.slice/*.service").ok());
  for (const char* bad : {"", "/", "a//b", "a/../b", "./a"}) {
    auto st = ObservedCgroups::validatePattern(bad);
    ASSERT_FALSE(st.ok()) << "accepted \"" << bad << "\"";
    EXPECT_EQ(st.error().operation, "observe");
  }
}

TEST(ObservedCgroupsTest, ScanFindsMatchesInEveryHierarchy) {
  TempTree t;
  CgroupLayout layout;
  layout.mode = CgroupMode::Hybrid;
  layout.v1Mounts = {{"memory", t.path("memory")}, {"cpu", t.path("cpu")}, {"freezer", t.path("freezer")}};
  layout.unifiedMount = t.path("unified");
  t.mkdir("memory/system.slice/cron.service");
  t.mkdir("memory/system.slice/ssh.service");
  t.mkdir("memory/system.slice/ssh.socket");
  t.mkdir("cpu/system.slice/cron.service");
  t.mkdir("unified/system.slice/cron.service");
  t.mkdir("unified/system.slice/only-unified.service");
  t.mkdir("freezer/system.slice/freezer-only.service");  // not a hierarchy the sampler reads
  t.write("memory/system.slice/file.service", "a file, not a cgroup");
  ObservedCgroups observed(layout, {"system.slice/*.service"});
  auto targets = observed.scan();
  ASSERT_EQ(targets.size(), 3u);
  EXPECT_EQ(targets[0].id, "/system.slice/cron.service");
  EXPECT_EQ(targets[0].name, "system.slice/cron.service");
  EXPECT_FALSE(targets[0].managed);
  EXPECT_EQ(targets[0].dirs.size(), 3u);
  EXPECT_EQ(targets[0].dirs.find("memory"), t.path("memory/system.slice/cron.service"));
  EXPECT_EQ(targets[0].dirs.find("cpu"), t.path("cpu/system.slice/cron.service"));
  EXPECT_EQ(targets[0].dirs.find(""), t.path("unified/system.slice/cron.service"));
  EXPECT_EQ(targets[1].id, "/system.slice/only-unified.service");
  EXPECT_EQ(targets[1].dirs.size(), 1u);
  EXPECT_EQ(targets[2].id, "/system.slice/ssh.service");
}

TEST(ObservedCgroupsTest, TargetsAreCachedUntilTheRescanInterval) {
  TempTree t;
  CgroupLayout layout;
  layout.mode = CgroupMode::V2;
  layout.unifiedMount = t.path("cg");
  t.mkdir("cg/docker/one");
  ObservedCgroups cached(layout, {"docker/*", "**/deep"}, std::chrono::hours(1));
  EXPECT_EQ(cached.targets().size(), 1u);
  t.mkdir("cg/docker/two");
  t.mkdir("cg/a/b/deep");
  EXPECT_EQ(cached.targets().size(), 1u) << "not rescanned yet";
  ObservedCgroups eager(layout, {"docker/*", "**/deep"}, std::chrono::milliseconds(0));
  auto targets = eager.targets();
  ASSERT_EQ(targets.size(), 3u);
  EXPECT_EQ(targets[0]->id, "/a/b/deep");
  EXPECT_EQ(targets[0]->dirs.find(""), t.path("cg/a/b/deep"));
  // A rescan that finds nothing new hands out the very same shared targets.
  auto again = eager.targets();
  ASSERT_EQ(again.size(), 3u);
  EXPECT_EQ(again[0].get(), targets[0].get());
  t.mkdir("cg/docker/three");
  auto more = eager.targets();
  ASSERT_EQ(more.size(), 4u);
  EXPECT_EQ(more[0].get(), targets[0].get());
}

}  // namespace
}  // namespace cgwarden::collectors
