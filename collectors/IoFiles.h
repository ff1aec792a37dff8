#pragma once
// Pure parsers of the block IO accounting files, into one per-device form.
//
// v1 blkio.throttle.io_service_bytes_recursive (bytes) / io_serviced_recursive (ops), and
// their blkio.bfq.* twins (BFQ scheduler); devices as MAJ:MIN, a last "Total" line:
//   254:0 Read 21118976
//   254:0 Write 20971520
//   254:0 Sync 42090496
//   254:0 Async 0
//   254:0 Discard 0
//   254:0 Total 42090496
//   Total 42090496
//
// v2 io.stat, one line per device, keys in any order; with the iocost controller the
// line also carries cost.* keys (µs; cost.vrate is a percentage with decimals):
//   8:16 rbytes=1459200 wbytes=314773504 rios=192 wios=353 dbytes=0 dios=0
//   8:0 rbytes=90430464 wbytes=299008000 rios=8950 wios=1252 dbytes=50331648 dios=3021 cost.vrate=100.00 cost.usage=1204 cost.wait=305 cost.indebt=0 cost.indelay=0

#include <cstdint>
#include <string_view>
#include <vector>

#include "collectors/Result.h"

namespace cgwarden::collectors {

struct IoDeviceUsage {
  uint32_t major = 0;
  uint32_t minor = 0;
  uint64_t readBytes = 0;
  uint64_t writeBytes = 0;
  uint64_t readOps = 0;
  uint64_t writeOps = 0;
  uint64_t discardBytes = 0;
  uint64_t discardOps = 0;
  // io.stat cost.* (iocost), µs.
  uint64_t costUsageUs = 0;
  uint64_t costWaitUs = 0;
  uint64_t costIndebtUs = 0;
  uint64_t costIndelayUs = 0;
  bool hasCost = false;
};

enum class BlkioKind { Bytes, Ops };

// Merges a v1 blkio *_recursive file into `devices` (matched by MAJ:MIN, appended when
// new): Bytes fills read/write/discardBytes, Ops fills read/write/discardOps. The
// Sync/Async/Total lines are checked but not kept. Does not clear `devices`.
Status parseBlkioRecursive(std::string_view text, BlkioKind kind, std::vector<IoDeviceUsage>& devices);

// Merges a v2 io.stat into `devices`. Unknown keys are skipped; a known key with a bad
// value or a line without MAJ:MIN is an error naming the line.
Status parseIoStat(std::string_view text, std::vector<IoDeviceUsage>& devices);

}  // namespace cgwarden::collectors
