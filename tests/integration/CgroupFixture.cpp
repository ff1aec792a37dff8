#include "integration/CgroupFixture.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "collectors/FileIo.h"
#include "collectors/TextParse.h"

namespace cgwarden::testing {

std::string testCgroupRoot() { return "cgwarden-test-" + std::to_string(::getpid()); }

std::string privilegedSkipReason() {
  if (::geteuid() != 0) return "not running as root";
  auto layout = collectors::CgroupLayout::detect();
  if (!layout) return "no cgroups: " + layout.error().message();
  return "";
}

void CgroupTest::SetUp() {
  std::string why = privilegedSkipReason();
  if (!why.empty()) GTEST_SKIP() << "SKIPPING privileged test: " << why;
  auto layout = collectors::CgroupLayout::detect();
  ASSERT_TRUE(layout.ok()) << layout.error().message();
  layout_ = *layout;
  auto manager = agent::CgroupManager::create(layout_, testCgroupRoot());
  ASSERT_TRUE(manager.ok()) << manager.error().message();
  manager_ = std::move(*manager);
  auto st = manager_->prepareRoot();
  ASSERT_TRUE(st.ok()) << st.error().message();
}

void CgroupTest::TearDown() {
  if (!manager_) return;
  auto st = manager_->destroyTree(std::chrono::seconds(10));
  EXPECT_TRUE(st.ok()) << st.error().message();
  for (const auto& mount : layout_.v1MountPoints()) {
    EXPECT_FALSE(pathExists(joinPath(mount, testCgroupRoot()))) << mount << " still has our test root";
  }
  if (!layout_.unifiedMount.empty()) {
    EXPECT_FALSE(pathExists(joinPath(layout_.unifiedMount, testCgroupRoot())));
  }
}

BlockedChild::BlockedChild(std::function<int()> body) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2");
  pid_ = ::fork();
  if (pid_ == 0) {
    ::close(fds[1]);
    char c;
    ssize_t n;
    do {
      n = ::read(fds[0], &c, 1);
    } while (n < 0 && errno == EINTR);
    ::_exit(n == 1 ? body() : 120);
  }
  ::close(fds[0]);
  releaseFd_ = fds[1];
}

BlockedChild::~BlockedChild() {
  if (releaseFd_ >= 0) ::close(releaseFd_);
  if (pid_ > 0 && !reaped_) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

void BlockedChild::release() {
  if (releaseFd_ < 0) return;
  char c = 'g';
  (void)!::write(releaseFd_, &c, 1);
  ::close(releaseFd_);
  releaseFd_ = -1;
}

int BlockedChild::wait(int timeoutMs) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      return status;
    }
    if (std::chrono::steady_clock::now() >= deadline) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

std::string readText(const std::string& path) {
  auto text = readFile(path);
  EXPECT_TRUE(text.ok()) << text.error().message();
  return text.ok() ? *text : std::string();
}

uint64_t readNumber(const std::string& dir, const std::string& file) {
  std::string text = readText(joinPath(dir, file));
  auto v = parseUint64(text);
  EXPECT_TRUE(v.has_value()) << dir << "/" << file << " = \"" << text << "\"";
  return v.value_or(0);
}

}  // namespace cgwarden::testing
