#pragma once
// Shared pieces of the privileged suite: a manager rooted at a unique
// "cgwarden-test-<pid>" subtree, removed in TearDown even when the test failed,
// and children that block until the test has placed them in a cgroup.

#include <gtest/gtest.h>
#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>

#include "agent/Cgroup.h"

namespace cgwarden::testing {

// The unique cgroup root of this test process.
std::string testCgroupRoot();
// Why the privileged suite cannot run here ("" when it can): not root, or no cgroups.
std::string privilegedSkipReason();

class CgroupTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  collectors::CgroupLayout layout_;
  std::unique_ptr<agent::CgroupManager> manager_;
};

// A forked child that waits on a pipe before running `body`; its exit code is body's.
class BlockedChild {
 public:
  explicit BlockedChild(std::function<int()> body);
  ~BlockedChild();
  BlockedChild(const BlockedChild&) = delete;
  BlockedChild& operator=(const BlockedChild&) = delete;

  pid_t pid() const { return pid_; }
  void release();
  // waitpid status (WIFEXITED/WIFSIGNALED apply); -1 on timeout.
  int wait(int timeoutMs = 10000);

 private:
  pid_t pid_ = -1;
  int releaseFd_ = -1;
  bool reaped_ = false;
};

// Reads a file in a cgroup directory as a number (test helper; fails the test on error).
uint64_t readNumber(const std::string& dir, const std::string& file);
std::string readText(const std::string& path);

}  // namespace cgwarden::testing
