#include "agent/ProcEvent.h"

#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>

#include <cstring>

namespace cgwarden::agent {

namespace {

template <class T>
T load(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// Offsets within struct proc_event (the union starts after what, cpu, timestamp_ns).
constexpr size_t kEventData = offsetof(proc_event, event_data);
constexpr size_t kHeaderNeed = kEventData;

ProcEventType typeOf(uint32_t what) {
  switch (what) {
    case proc_event::PROC_EVENT_NONE: return ProcEventType::Ack;
    case proc_event::PROC_EVENT_FORK: return ProcEventType::Fork;
    case proc_event::PROC_EVENT_EXEC: return ProcEventType::Exec;
    case proc_event::PROC_EVENT_UID: return ProcEventType::Uid;
    case proc_event::PROC_EVENT_GID: return ProcEventType::Gid;
    case proc_event::PROC_EVENT_SID: return ProcEventType::Sid;
    case proc_event::PROC_EVENT_PTRACE: return ProcEventType::Ptrace;
    case proc_event::PROC_EVENT_COMM: return ProcEventType::Comm;
    case proc_event::PROC_EVENT_COREDUMP: return ProcEventType::Coredump;
    case proc_event::PROC_EVENT_EXIT: return ProcEventType::Exit;
    default: return ProcEventType::Unknown;
  }
}

// Bytes of event_data each type needs.
size_t payloadNeed(ProcEventType t) {
  switch (t) {
    case ProcEventType::Ack: return sizeof(proc_event::event_data.ack);
    case ProcEventType::Fork: return sizeof(proc_event::event_data.fork);
    case ProcEventType::Exec: return sizeof(proc_event::event_data.exec);
    case ProcEventType::Uid:
    case ProcEventType::Gid: return sizeof(proc_event::event_data.id);
    case ProcEventType::Sid: return sizeof(proc_event::event_data.sid);
    case ProcEventType::Ptrace: return sizeof(proc_event::event_data.ptrace);
    case ProcEventType::Comm: return sizeof(proc_event::event_data.comm);
    case ProcEventType::Coredump: return sizeof(proc_event::event_data.coredump);
    case ProcEventType::Exit: return sizeof(proc_event::event_data.exit);
    case ProcEventType::Unknown: return 0;
  }
  return 0;
}

// Decodes one proc_event of `len` bytes at `p`; false when too short for its type.
bool decodeEvent(const std::byte* p, size_t len, ProcEvent& ev) {
  if (len < kHeaderNeed) return false;
  ev.rawWhat = load<uint32_t>(p + offsetof(proc_event, what));
  ev.cpu = load<uint32_t>(p + offsetof(proc_event, cpu));
  ev.timestampNs = load<uint64_t>(p + offsetof(proc_event, timestamp_ns));
  ev.type = typeOf(ev.rawWhat);
  if (len < kEventData + payloadNeed(ev.type)) return false;
  const std::byte* d = p + kEventData;
  auto pidAt = [d](size_t off) { return static_cast<pid_t>(load<int32_t>(d + off)); };
  auto u32At = [d](size_t off) { return load<uint32_t>(d + off); };
  switch (ev.type) {
    case ProcEventType::Ack: ev.ackError = u32At(0); break;
    case ProcEventType::Fork:
      ev.parentPid = pidAt(0);
      ev.parentTgid = pidAt(4);
      ev.pid = pidAt(8);
      ev.tgid = pidAt(12);
      break;
    case ProcEventType::Exec:
    case ProcEventType::Sid:
      ev.pid = pidAt(0);
      ev.tgid = pidAt(4);
      break;
    case ProcEventType::Uid:
    case ProcEventType::Gid:
      ev.pid = pidAt(0);
      ev.tgid = pidAt(4);
      ev.realId = u32At(8);
      ev.effectiveId = u32At(12);
      break;
    case ProcEventType::Ptrace:
    case ProcEventType::Coredump:
      ev.pid = pidAt(0);
      ev.tgid = pidAt(4);
      ev.parentPid = pidAt(8);
      ev.parentTgid = pidAt(12);
      break;
    case ProcEventType::Comm: {
      ev.pid = pidAt(0);
      ev.tgid = pidAt(4);
      const char* c = reinterpret_cast<const char*>(d + 8);
      ev.comm.assign(c, strnlen(c, 16));
      break;
    }
    case ProcEventType::Exit:
      ev.pid = pidAt(0);
      ev.tgid = pidAt(4);
      ev.exitCode = u32At(8);
      ev.exitSignal = u32At(12);
      ev.parentPid = pidAt(16);
      ev.parentTgid = pidAt(20);
      break;
    case ProcEventType::Unknown: break;
  }
  return true;
}

}  // namespace

const char* procEventTypeName(ProcEventType type) {
  switch (type) {
    case ProcEventType::Ack: return "ack";
    case ProcEventType::Fork: return "fork";
    case ProcEventType::Exec: return "exec";
    case ProcEventType::Uid: return "uid";
    case ProcEventType::Gid: return "gid";
    case ProcEventType::Sid: return "sid";
    case ProcEventType::Ptrace: return "ptrace";
    case ProcEventType::Comm: return "comm";
    case ProcEventType::Coredump: return "coredump";
    case ProcEventType::Exit: return "exit";
    case ProcEventType::Unknown: return "unknown";
  }
  return "unknown";
}

DecodeStats decodeProcEvents(std::span<const std::byte> datagram, std::vector<ProcEvent>& out) {
  DecodeStats stats;
  const std::byte* base = datagram.data();
  size_t remaining = datagram.size();
  while (remaining >= sizeof(nlmsghdr)) {
    auto hdr = load<nlmsghdr>(base);
    if (hdr.nlmsg_len < sizeof(nlmsghdr) || hdr.nlmsg_len > remaining) {
      ++stats.malformed;
      break;
    }
    ++stats.messages;
    const std::byte* payload = base + NLMSG_HDRLEN;
    size_t payloadLen = hdr.nlmsg_len - std::min<size_t>(hdr.nlmsg_len, NLMSG_HDRLEN);
    if (hdr.nlmsg_type == NLMSG_OVERRUN) {
      stats.overrun = true;
    } else if (hdr.nlmsg_type == NLMSG_DONE || hdr.nlmsg_type >= NLMSG_MIN_TYPE) {
      if (payloadLen < sizeof(cn_msg)) {
        ++stats.malformed;
      } else {
        auto cn = load<cn_msg>(payload);
        if (cn.id.idx != CN_IDX_PROC || cn.id.val != CN_VAL_PROC) {
          ++stats.foreign;
        } else if (sizeof(cn_msg) + cn.len > payloadLen) {
          ++stats.malformed;
        } else {
          ProcEvent ev;
          if (decodeEvent(payload + sizeof(cn_msg), cn.len, ev)) out.push_back(std::move(ev));
          else ++stats.malformed;
        }
      }
    }
    // NLMSG_NOOP / NLMSG_ERROR carry no proc event.
    size_t step = NLMSG_ALIGN(hdr.nlmsg_len);
    if (step >= remaining) break;
    base += step;
    remaining -= step;
  }
  if (remaining > 0 && remaining < sizeof(nlmsghdr)) ++stats.malformed;
  return stats;
}

}  // namespace cgwarden::agent
