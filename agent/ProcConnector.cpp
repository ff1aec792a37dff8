#include "agent/ProcConnector.h"

#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace cgwarden::agent {

namespace {
const char* kWhere = "netlink proc connector";
}

Result<std::unique_ptr<ProcConnector>> ProcConnector::open(const Options& options) {
  int s = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_CONNECTOR);
  if (s < 0) return Error::fromErrno("socket(AF_NETLINK, NETLINK_CONNECTOR)", kWhere, errno);
  UniqueFd sock(s);
  int e = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (e < 0) return Error::fromErrno("eventfd", kWhere, errno);
  UniqueFd stopFd(e);

  int want = options.receiveBufferBytes;
  if (want > 0 && ::setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof(want)) != 0) {
    // Without CAP_NET_ADMIN: the ordinary option, capped by net.core.rmem_max.
    (void)::setsockopt(s, SOL_SOCKET, SO_RCVBUF, &want, sizeof(want));
  }

  sockaddr_nl addr{};
  addr.nl_family = AF_NETLINK;
  addr.nl_groups = CN_IDX_PROC;
  addr.nl_pid = 0;  // let the kernel pick a unique port id
  if (::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return Error::fromErrno("bind(CN_IDX_PROC)", kWhere, errno, "needs root (CAP_NET_ADMIN)");
  }

  std::unique_ptr<ProcConnector> pc(new ProcConnector(std::move(sock), std::move(stopFd)));
  socklen_t len = sizeof(pc->rcvbuf_);
  (void)::getsockopt(s, SOL_SOCKET, SO_RCVBUF, &pc->rcvbuf_, &len);
  pc->buffer_.resize(64 * 1024);
  if (auto st = pc->sendControl(PROC_CN_MCAST_LISTEN); !st) return st.error();
  return pc;
}

ProcConnector::~ProcConnector() {
  if (sock_.valid()) (void)sendControl(PROC_CN_MCAST_IGNORE);
}

Status ProcConnector::sendControl(int op) {
  // nlmsghdr + cn_msg + the op, as one message to the kernel (port id 0).
  alignas(nlmsghdr) std::byte buf[NLMSG_SPACE(sizeof(cn_msg) + sizeof(int))] = {};
  auto* hdr = reinterpret_cast<nlmsghdr*>(buf);
  hdr->nlmsg_len = NLMSG_LENGTH(sizeof(cn_msg) + sizeof(int));
  hdr->nlmsg_type = NLMSG_DONE;
  hdr->nlmsg_flags = 0;
  hdr->nlmsg_seq = 0;
  hdr->nlmsg_pid = 0;
  cn_msg msg{};
  msg.id.idx = CN_IDX_PROC;
  msg.id.val = CN_VAL_PROC;
  msg.len = sizeof(int);
  std::memcpy(buf + NLMSG_HDRLEN, &msg, sizeof(msg));
  std::memcpy(buf + NLMSG_HDRLEN + sizeof(cn_msg), &op, sizeof(op));
  sockaddr_nl to{};
  to.nl_family = AF_NETLINK;
  ssize_t n;
  do {
    n = ::sendto(sock_.get(), buf, hdr->nlmsg_len, 0, reinterpret_cast<sockaddr*>(&to), sizeof(to));
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    return Error::fromErrno(op == PROC_CN_MCAST_LISTEN ? "send PROC_CN_MCAST_LISTEN" : "send PROC_CN_MCAST_IGNORE",
                            kWhere, errno, "needs root (CAP_NET_ADMIN) in the initial namespaces");
  }
  return {};
}

Result<bool> ProcConnector::dispatch(std::chrono::milliseconds timeout, const EventHandler& onEvent,
                                     const OverrunHandler& onOverrun) {
  if (stopped_.load()) return false;
  pollfd fds[2] = {{sock_.get(), POLLIN, 0}, {stopFd_.get(), POLLIN, 0}};
  int r = ::poll(fds, 2, static_cast<int>(timeout.count()));
  if (r < 0) {
    if (errno == EINTR) return !stopped_.load();
    return Error::fromErrno("poll", kWhere, errno);
  }
  if (stopped_.load() || (fds[1].revents & POLLIN)) return false;
  if (r == 0) return true;

  for (;;) {
    sockaddr_nl from{};
    iovec iov{buffer_.data(), buffer_.size()};
    msghdr mh{};
    mh.msg_name = &from;
    mh.msg_namelen = sizeof(from);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    ssize_t n = ::recvmsg(sock_.get(), &mh, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == ENOBUFS) {
        // The kernel dropped events for us; the socket is fine and keeps receiving.
        overruns_.fetch_add(1);
        if (onOverrun) onOverrun();
        continue;
      }
      return Error::fromErrno("recvmsg", kWhere, errno);
    }
    if (from.nl_pid != 0) continue;  // only the kernel sends proc events
    batch_.clear();
    DecodeStats st = decodeProcEvents(std::span<const std::byte>(buffer_.data(), static_cast<size_t>(n)), batch_);
    if (st.malformed) malformed_.fetch_add(st.malformed);
    if (st.overrun) {
      overruns_.fetch_add(1);
      if (onOverrun) onOverrun();
    }
    events_.fetch_add(batch_.size());
    for (const auto& ev : batch_) {
      if (onEvent) onEvent(ev);
    }
    if (stopped_.load()) return false;
  }
  return true;
}

void ProcConnector::stop() {
  stopped_.store(true);
  uint64_t one = 1;
  (void)!::write(stopFd_.get(), &one, sizeof(one));
}

}  // namespace cgwarden::agent
