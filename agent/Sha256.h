#pragma once
// SHA-256 (FIPS 180-4), self-contained: the control API reports the config file's hash
// (/api/v1/info) and compares bearer tokens through their digests.
//
//   sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
//
// Not a general crypto library: no HMAC, no streaming of huge inputs beyond update().

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "collectors/Result.h"

namespace cgwarden::agent {

using Sha256Digest = std::array<uint8_t, 32>;

class Sha256 {
 public:
  Sha256();
  void update(std::string_view data);
  Sha256Digest finish();  // the object must not be reused afterwards

 private:
  void block(const uint8_t* p);
  std::array<uint32_t, 8> h_;
  std::array<uint8_t, 64> buf_{};
  size_t bufLen_ = 0;
  uint64_t totalBytes_ = 0;
};

Sha256Digest sha256(std::string_view data);
std::string sha256Hex(std::string_view data);
std::string toHex(const uint8_t* data, size_t size);

// The hash of a file's contents, in lower-case hex. Errors name the path and errno.
Result<std::string> sha256File(const std::string& path);

}  // namespace cgwarden::agent
