#include <gtest/gtest.h>

#include "collectors/Result.h"

namespace cgwarden {
namespace {

TEST(ErrorTest, MessageNamesOperationPathAndErrno) {
  Error e = Error::fromErrno("write", "/sys/fs/cgroup/memory/cgwarden/web/memory.limit_in_bytes", EBUSY);
  EXPECT_EQ(e.message(), "write /sys/fs/cgroup/memory/cgwarden/web/memory.limit_in_bytes: Device or resource busy (EBUSY)");
  EXPECT_FALSE(e.cgroupGone());
}

TEST(ErrorTest, EnoentMeansTheCgroupIsGone) {
  EXPECT_TRUE(Error::fromErrno("open", "/x/cpu.stat", ENOENT).cgroupGone());
  EXPECT_TRUE(Error::fromErrno("read", "/x/cpu.stat", ENODEV).cgroupGone());
}

TEST(ErrorTest, ContextAndHintAreRendered) {
  Error e = Error::invalid("parse", "cpu.max", "expected two fields");
  e.hint = "check the kernel";
  e.context("read limits of web");
  EXPECT_EQ(e.message(), "read limits of web: parse cpu.max: expected two fields (check the kernel)");
}

TEST(ResultTest, HoldsValueOrError) {
  Result<int> good = 7;
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 7);
  Result<int> bad = Error::fromErrno("open", "/nope", ENOENT);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.valueOr(3), 3);
  Status st;
  EXPECT_TRUE(st.ok());
  Status failed = Error::invalid("x", "", "y");
  EXPECT_FALSE(failed.ok());
}

}  // namespace
}  // namespace cgwarden
