#pragma once
// gzip (RFC 1952) encoding for HTTP responses, with ISA-L's igzip (Debian's libisal):
// on the 7.6 MB /metrics body of 1,000 cgroups level 1 takes ~4.8 ms of CPU against zlib
// level 1's ~19 ms, and its output is slightly smaller (docs/metrics.md, *gzip*). The output
// is always one gzip member, whatever the number of write() calls, so every client
// (curl, browsers, Go's reader in Prometheus) decodes it whole.
//
//   auto enc = GzipEncoder::create(1);
//   enc->write(piece, sink);   // as often as needed; sink gets compressed bytes
//   enc->finish(sink);         // the last block and the gzip trailer (CRC-32, length)

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "collectors/Result.h"

namespace cgwarden::agent {

class GzipEncoder {
 public:
  // Receives compressed output, in pieces of up to 64 KiB; returns false to stop (e.g.
  // the client went away), which write() and finish() then return.
  using Sink = std::function<bool(std::string_view)>;

  static constexpr int kMinLevel = 0;
  static constexpr int kMaxLevel = 3;
  // ISA-L levels 0 (fastest, larger) to 3; 1 is the server's default. An Error for a
  // level outside 0-3. Holds ~0.23 MiB (igzip's state, its level buffer and a 64 KiB output
  // buffer) until destroyed.
  static Result<GzipEncoder> create(int level);

  GzipEncoder(GzipEncoder&&) noexcept;
  GzipEncoder& operator=(GzipEncoder&&) noexcept;
  ~GzipEncoder();

  // Compresses `data`, passing what output is ready to `sink`; false when the sink said
  // stop. Nothing may be written after finish().
  bool write(std::string_view data, const Sink& sink);
  // Ends the stream: flushes the rest and the trailer to `sink`; false when it said stop.
  bool finish(const Sink& sink);

 private:
  struct State;
  explicit GzipEncoder(std::unique_ptr<State> state);
  bool run(std::string_view data, bool last, const Sink& sink);
  std::unique_ptr<State> state_;
};

// gzip of `data` in one call (GzipEncoder at `level`).
Result<std::string> gzipCompress(std::string_view data, int level);

}  // namespace cgwarden::agent
