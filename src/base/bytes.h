// Byte buffers, hex/base64 and little-endian coding helpers, and the two
// ASCII string helpers every parser here needs.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace cairn {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;

inline ByteView AsBytes(std::string_view s) {
  return ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}
inline std::string_view AsString(ByteView b) {
  return std::string_view(reinterpret_cast<const char*>(b.data()), b.size());
}

// ASCII letters lowered; other bytes (UTF-8 included) unchanged. Locale-free.
std::string AsciiLower(std::string_view s);
// Without leading and trailing ASCII whitespace (space, \t, \n, \v, \f, \r).
std::string_view TrimSpace(std::string_view s);

std::string HexEncode(ByteView data);
Result<Bytes> HexDecode(std::string_view hex);
std::string Base64Encode(ByteView data);
Result<Bytes> Base64Decode(std::string_view b64);

inline void PutU32(Bytes& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
inline void PutU64(Bytes& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
inline uint32_t GetU32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
inline uint64_t GetU64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// A 256-bit identifier: chunk IDs (keyed hash), pack and object IDs (random).
struct Id {
  std::array<uint8_t, 32> bytes{};

  std::string Hex() const { return HexEncode(bytes); }
  static Result<Id> FromHex(std::string_view hex);
  static Id FromBytes(ByteView b);  // REQUIRES: b.size() == 32
  bool IsZero() const;
  auto operator<=>(const Id&) const = default;
};

struct IdHash {
  size_t operator()(const Id& id) const {
    size_t h;
    std::memcpy(&h, id.bytes.data(), sizeof(h));  // IDs are uniformly random
    return h;
  }
};

}  // namespace cairn
