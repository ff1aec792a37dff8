// Decoding proc connector datagrams built by hand, byte for byte as the kernel sends them.
#include <gtest/gtest.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>

#include <cstring>

#include "agent/ProcEvent.h"

namespace cgwarden::agent {
namespace {

// nlmsghdr + cn_msg + proc_event, with `eventLen` bytes of the event kept (to truncate).
std::vector<std::byte> message(const proc_event& ev, size_t eventLen = sizeof(proc_event), uint32_t idx = CN_IDX_PROC,
                               uint16_t nlType = NLMSG_DONE) {
  std::vector<std::byte> out(NLMSG_SPACE(sizeof(cn_msg) + eventLen));
  nlmsghdr h{};
  h.nlmsg_len = NLMSG_LENGTH(sizeof(cn_msg) + eventLen);
  h.nlmsg_type = nlType;
  cn_msg cn{};
  cn.id.idx = idx;
  cn.id.val = CN_VAL_PROC;
  cn.seq = 7;
  cn.len = static_cast<uint16_t>(eventLen);
  std::memcpy(out.data(), &h, sizeof(h));
  std::memcpy(out.data() + NLMSG_HDRLEN, &cn, sizeof(cn));
  std::memcpy(out.data() + NLMSG_HDRLEN + sizeof(cn), &ev, eventLen);
  return out;
}

proc_event baseEvent(uint32_t what) {
  proc_event ev;
  std::memset(&ev, 0, sizeof(ev));
  ev.what = static_cast<decltype(ev.what)>(what);
  ev.cpu = 1;
  ev.timestamp_ns = 123456789012ull;
  return ev;
}

std::vector<ProcEvent> decode(const std::vector<std::byte>& bytes, DecodeStats* stats = nullptr) {
  std::vector<ProcEvent> out;
  DecodeStats st = decodeProcEvents(bytes, out);
  if (stats) *stats = st;
  return out;
}

TEST(ProcEventTest, Fork) {
  proc_event ev = baseEvent(proc_event::PROC_EVENT_FORK);
  ev.event_data.fork = {100, 100, 205, 205};
  auto out = decode(message(ev));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type, ProcEventType::Fork);
  EXPECT_EQ(out[0].parentPid, 100);
  EXPECT_EQ(out[0].parentTgid, 100);
  EXPECT_EQ(out[0].pid, 205);
  EXPECT_EQ(out[0].tgid, 205);
  EXPECT_EQ(out[0].cpu, 1u);
  EXPECT_EQ(out[0].timestampNs, 123456789012ull);
}

TEST(ProcEventTest, ExecUidGid) {
  proc_event exec = baseEvent(proc_event::PROC_EVENT_EXEC);
  exec.event_data.exec = {301, 300};
  proc_event uid = baseEvent(proc_event::PROC_EVENT_UID);
  uid.event_data.id.process_pid = 300;
  uid.event_data.id.process_tgid = 300;
  uid.event_data.id.r.ruid = 1000;
  uid.event_data.id.e.euid = 0;
  proc_event gid = baseEvent(proc_event::PROC_EVENT_GID);
  gid.event_data.id.process_pid = 300;
  gid.event_data.id.process_tgid = 300;
  gid.event_data.id.r.rgid = 50;
  gid.event_data.id.e.egid = 51;
  // Three messages in one datagram.
  auto bytes = message(exec);
  for (auto& m : {message(uid), message(gid)}) bytes.insert(bytes.end(), m.begin(), m.end());
  DecodeStats st;
  auto out = decode(bytes, &st);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(st.messages, 3u);
  EXPECT_EQ(st.malformed, 0u);
  EXPECT_EQ(out[0].type, ProcEventType::Exec);
  EXPECT_EQ(out[0].pid, 301);
  EXPECT_EQ(out[0].tgid, 300);
  EXPECT_EQ(out[1].type, ProcEventType::Uid);
  EXPECT_EQ(out[1].realId, 1000u);
  EXPECT_EQ(out[1].effectiveId, 0u);
  EXPECT_EQ(out[2].type, ProcEventType::Gid);
  EXPECT_EQ(out[2].realId, 50u);
  EXPECT_EQ(out[2].effectiveId, 51u);
}

TEST(ProcEventTest, ExitCommAndAck) {
  proc_event ex = baseEvent(proc_event::PROC_EVENT_EXIT);
  ex.event_data.exit.process_pid = 400;
  ex.event_data.exit.process_tgid = 400;
  ex.event_data.exit.exit_code = 9;  // killed by SIGKILL
  ex.event_data.exit.exit_signal = 17;
  ex.event_data.exit.parent_pid = 1;
  ex.event_data.exit.parent_tgid = 1;
  proc_event comm = baseEvent(proc_event::PROC_EVENT_COMM);
  comm.event_data.comm.process_pid = 401;
  comm.event_data.comm.process_tgid = 401;
  std::memcpy(comm.event_data.comm.comm, "0123456789abcdef", 16);  // no NUL: 16 bytes at most
  proc_event ack = baseEvent(proc_event::PROC_EVENT_NONE);
  ack.event_data.ack.err = 0;

  auto out = decode(message(ex));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type, ProcEventType::Exit);
  EXPECT_EQ(out[0].exitCode, 9u);
  EXPECT_EQ(out[0].exitSignal, 17u);
  EXPECT_EQ(out[0].parentTgid, 1);
  out = decode(message(comm));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].comm, "0123456789abcdef");
  out = decode(message(ack));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type, ProcEventType::Ack);
  EXPECT_STREQ(procEventTypeName(out[0].type), "ack");
}

TEST(ProcEventTest, UnknownWhatIsKeptRaw) {
  proc_event ev = baseEvent(0x00000400);  // the "next" event a newer kernel may add
  auto out = decode(message(ev));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type, ProcEventType::Unknown);
  EXPECT_EQ(out[0].rawWhat, 0x400u);
}

TEST(ProcEventTest, TruncatedEventIsMalformedNotReadPastTheEnd) {
  proc_event ev = baseEvent(proc_event::PROC_EVENT_FORK);
  ev.event_data.fork = {1, 1, 2, 2};
  // The cn_msg says 20 bytes: header (16) + 4, too short for a fork's 16-byte payload.
  DecodeStats st;
  auto out = decode(message(ev, 20), &st);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(st.malformed, 1u);

  // nlmsg_len larger than the datagram.
  auto bytes = message(ev);
  bytes.resize(bytes.size() - 8);
  out = decode(bytes, &st);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(st.malformed, 1u);

  // A cn_msg len that runs past the netlink message.
  auto lying = message(ev);
  uint16_t big = 4000;
  std::memcpy(lying.data() + NLMSG_HDRLEN + offsetof(cn_msg, len), &big, sizeof(big));
  out = decode(lying, &st);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(st.malformed, 1u);

  // Garbage shorter than a netlink header.
  std::vector<std::byte> tiny(5);
  out = decode(tiny, &st);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(st.malformed, 1u);
}

TEST(ProcEventTest, ForeignConnectorIndexAndOverrunMarker) {
  proc_event ev = baseEvent(proc_event::PROC_EVENT_EXEC);
  DecodeStats st;
  auto out = decode(message(ev, sizeof(proc_event), CN_IDX_PROC + 5), &st);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(st.foreign, 1u);

  std::vector<std::byte> overrun(NLMSG_HDRLEN);
  nlmsghdr h{};
  h.nlmsg_len = NLMSG_HDRLEN;
  h.nlmsg_type = NLMSG_OVERRUN;
  std::memcpy(overrun.data(), &h, sizeof(h));
  out = decode(overrun, &st);
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(st.overrun);
}

}  // namespace
}  // namespace cgwarden::agent
