// The netlink proc connector on this kernel: real events for processes the test starts.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "agent/ProcConnector.h"
#include "integration/CgroupFixture.h"

namespace cgwarden::testing {
namespace {

using namespace std::chrono_literals;

uint64_t monotonicNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

std::unique_ptr<agent::ProcConnector> openOrSkip(int buffer = 8 << 20) {
  auto pc = agent::ProcConnector::open({buffer});
  if (!pc) {
    ADD_FAILURE() << pc.error().message();
    return nullptr;
  }
  return std::move(*pc);
}

TEST(ProcConnectorTest, DeliversForkExecAndExitOfAChild) {
  if (!privilegedSkipReason().empty()) GTEST_SKIP() << privilegedSkipReason();
  auto pc = openOrSkip();
  ASSERT_TRUE(pc);
  uint64_t before = monotonicNs();
  pid_t child = ::fork();
  if (child == 0) {
    ::execl("/bin/true", "true", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  uint64_t after = monotonicNs();

  bool fork = false, exec = false, exit = false;
  uint64_t execTs = 0;
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!(fork && exec && exit) && std::chrono::steady_clock::now() < deadline) {
    auto r = pc->dispatch(
        100ms,
        [&](const agent::ProcEvent& ev) {
          if (ev.type == agent::ProcEventType::Fork && ev.tgid == child && ev.parentTgid == ::getpid()) fork = true;
          if (ev.type == agent::ProcEventType::Exec && ev.tgid == child) {
            exec = true;
            execTs = ev.timestampNs;
          }
          if (ev.type == agent::ProcEventType::Exit && ev.tgid == child && ev.pid == child) exit = true;
        },
        {});
    ASSERT_TRUE(r.ok()) << r.error().message();
  }
  EXPECT_TRUE(fork);
  EXPECT_TRUE(exec);
  EXPECT_TRUE(exit);
  // The kernel stamps events with CLOCK_MONOTONIC: latency is measured against it.
  EXPECT_GE(execTs, before);
  EXPECT_LE(execTs, after);
  EXPECT_GT(pc->events(), 0u);
  EXPECT_GT(pc->receiveBufferBytes(), 0);
}

TEST(ProcConnectorTest, OverrunIsDetectedAndCounted) {
  if (!privilegedSkipReason().empty()) GTEST_SKIP() << privilegedSkipReason();
  auto pc = openOrSkip(1);  // the kernel's minimum receive buffer: a few events
  ASSERT_TRUE(pc);
  // 300 forks (900 events) while nobody reads.
  for (int i = 0; i < 300; ++i) {
    pid_t c = ::fork();
    if (c == 0) ::_exit(0);
    ::waitpid(c, nullptr, 0);
  }
  int overrunCalls = 0;
  for (int i = 0; i < 5; ++i) {
    auto r = pc->dispatch(10ms, [](const agent::ProcEvent&) {}, [&] { ++overrunCalls; });
    ASSERT_TRUE(r.ok()) << r.error().message();
  }
  EXPECT_GE(pc->overruns(), 1u);
  EXPECT_EQ(static_cast<uint64_t>(overrunCalls), pc->overruns());
  // The socket keeps working after an overrun.
  pid_t c = ::fork();
  if (c == 0) ::_exit(0);
  ::waitpid(c, nullptr, 0);
  bool seen = false;
  for (int i = 0; i < 50 && !seen; ++i) {
    auto r = pc->dispatch(
        20ms, [&](const agent::ProcEvent& ev) { seen = seen || (ev.type == agent::ProcEventType::Fork && ev.tgid == c); },
        {});
    ASSERT_TRUE(r.ok());
  }
  EXPECT_TRUE(seen) << "no events after the overrun";
}

TEST(ProcConnectorTest, StopWakesADispatchInProgress) {
  if (!privilegedSkipReason().empty()) GTEST_SKIP() << privilegedSkipReason();
  auto pc = openOrSkip();
  ASSERT_TRUE(pc);
  std::thread stopper([&] {
    std::this_thread::sleep_for(50ms);
    pc->stop();
  });
  auto start = std::chrono::steady_clock::now();
  bool running = true;
  while (running && std::chrono::steady_clock::now() - start < 10s) {
    auto r = pc->dispatch(10s, {}, {});
    ASSERT_TRUE(r.ok());
    running = *r;
  }
  stopper.join();
  EXPECT_FALSE(running);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s) << "stop() did not wake dispatch";
  auto again = pc->dispatch(1s, {}, {});
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
}

}  // namespace
}  // namespace cgwarden::testing
