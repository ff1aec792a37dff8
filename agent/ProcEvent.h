#pragma once
// Process events from the kernel's netlink proc connector (CN_IDX_PROC), decoded from the
// raw bytes of one received datagram. Pure: ProcConnector does the socket I/O.
//
// Wire format (all host byte order), one or more per datagram:
//   struct nlmsghdr   { len, type = NLMSG_DONE, flags, seq, pid = 0 (the kernel) }
//   struct cn_msg     { id = {CN_IDX_PROC, CN_VAL_PROC}, seq, ack, len, flags }
//   struct proc_event { what, cpu, timestamp_ns (CLOCK_MONOTONIC), event_data union }
// (linux/netlink.h, linux/connector.h, linux/cn_proc.h)

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace cgwarden::agent {

enum class ProcEventType {
  Ack,       // PROC_EVENT_NONE: the kernel's answer to LISTEN/IGNORE (ackError = errno or 0)
  Fork,
  Exec,
  Uid,
  Gid,
  Sid,
  Ptrace,
  Comm,
  Coredump,
  Exit,
  Unknown,   // a `what` this build does not know (newer kernel); rawWhat holds it
};
const char* procEventTypeName(ProcEventType type);  // "fork", "exec", ...

struct ProcEvent {
  ProcEventType type = ProcEventType::Unknown;
  uint32_t rawWhat = 0;
  uint32_t cpu = 0;
  uint64_t timestampNs = 0;  // CLOCK_MONOTONIC when the kernel emitted it
  // The process the event is about: for Fork the NEW child; tid and thread-group id.
  pid_t pid = 0;
  pid_t tgid = 0;
  // Fork: the forking thread/process; Exit, Coredump: the parent.
  pid_t parentPid = 0;
  pid_t parentTgid = 0;
  // Uid: real/effective uid; Gid: real/effective gid.
  uint32_t realId = 0;
  uint32_t effectiveId = 0;
  // Exit: the wait status code and the signal sent to the parent.
  uint32_t exitCode = 0;
  uint32_t exitSignal = 0;
  // Ack: 0 or an errno.
  uint32_t ackError = 0;
  // Comm: the new comm; Ptrace: tracerPid/tracerTgid in parentPid/parentTgid.
  std::string comm;
};

struct DecodeStats {
  size_t messages = 0;    // netlink messages seen
  size_t malformed = 0;   // truncated or with bad lengths (skipped)
  size_t foreign = 0;     // connector messages for another index (not CN_IDX_PROC)
  bool overrun = false;   // an NLMSG_OVERRUN message: events were lost
};

// Appends every proc event found in `datagram` to `out`. Never reads past the buffer.
DecodeStats decodeProcEvents(std::span<const std::byte> datagram, std::vector<ProcEvent>& out);

}  // namespace cgwarden::agent
