#pragma once
// A subscription to the kernel's process events (netlink connector, CN_IDX_PROC):
// fork, exec, uid/gid change, exit, ... delivered to a callback on the caller's thread.
//
// Needs CAP_NET_ADMIN in the initial user and pid namespace (the kernel ignores the
// LISTEN request elsewhere; open() then fails with EPERM). Events carry pids of the
// initial pid namespace.
//
// Overruns: when the socket's receive buffer fills, the kernel drops events and the next
// recv fails with ENOBUFS. Each such failure counts one overrun and calls onOverrun, so the
// caller can rescan /proc; the socket stays usable. The buffer is set with SO_RCVBUFFORCE
// (root), else SO_RCVBUF (capped by net.core.rmem_max).
//
//   auto pc = ProcConnector::open({});
//   while ((*pc)->dispatch(250ms, onEvent, onOverrun).valueOr(false)) { ...timers... }
//   // from another thread: (*pc)->stop();  -> dispatch returns false

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "agent/ProcEvent.h"
#include "collectors/FileIo.h"
#include "collectors/Result.h"

namespace cgwarden::agent {

class ProcConnector {
 public:
  struct Options {
    int receiveBufferBytes = 8 * 1024 * 1024;
  };
  using EventHandler = std::function<void(const ProcEvent&)>;
  using OverrunHandler = std::function<void()>;

  // Opens the socket, sizes its buffer, binds to the CN_IDX_PROC group and sends
  // PROC_CN_MCAST_LISTEN. Errors name the syscall and errno.
  static Result<std::unique_ptr<ProcConnector>> open(const Options& options);
  // Sends PROC_CN_MCAST_IGNORE and closes.
  ~ProcConnector();
  ProcConnector(const ProcConnector&) = delete;
  ProcConnector& operator=(const ProcConnector&) = delete;

  // Waits up to `timeout` for events or stop(), then drains every queued datagram, calling
  // onEvent for each event (acks included) and onOverrun per ENOBUFS. Returns false once
  // stop() has been called (events still queued are not delivered), true otherwise.
  Result<bool> dispatch(std::chrono::milliseconds timeout, const EventHandler& onEvent,
                        const OverrunHandler& onOverrun);
  // Thread-safe; wakes a dispatch() in progress and makes every later call return false.
  void stop();

  // The socket, for callers with their own poll loop (then call dispatch with timeout 0).
  int fd() const { return sock_.get(); }
  // Receive buffer the kernel granted, bytes (getsockopt SO_RCVBUF; the kernel doubles it).
  int receiveBufferBytes() const { return rcvbuf_; }

  uint64_t overruns() const { return overruns_.load(); }
  uint64_t events() const { return events_.load(); }
  uint64_t malformed() const { return malformed_.load(); }

 private:
  ProcConnector(UniqueFd sock, UniqueFd stopFd) : sock_(std::move(sock)), stopFd_(std::move(stopFd)) {}
  Status sendControl(int op);

  UniqueFd sock_;
  UniqueFd stopFd_;  // eventfd
  int rcvbuf_ = 0;
  std::atomic<bool> stopped_{false};
  std::atomic<uint64_t> overruns_{0};
  std::atomic<uint64_t> events_{0};
  std::atomic<uint64_t> malformed_{0};
  std::vector<std::byte> buffer_;
  std::vector<ProcEvent> batch_;
};

}  // namespace cgwarden::agent
