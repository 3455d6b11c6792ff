// A minimal CBOR (RFC 8949) writer and reader for cairn's own metadata:
// unsigned/negative integers, byte and text strings, arrays, maps, booleans,
// all with definite lengths. Values are written in their shortest form.
// The reader accepts any definite-length encoding of these types, can skip
// items it does not know (forward compatibility) and fails cleanly
// (Corruption) on truncated or malformed input; nesting is bounded.
// Thread-safety: objects are used by one thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/bytes.h"

namespace cairn::repo {

class CborWriter {
 public:
  explicit CborWriter(Bytes& out) : out_(out) {}
  void Uint(uint64_t v) { Head(0, v); }
  void Int(int64_t v) {
    if (v >= 0)
      Head(0, static_cast<uint64_t>(v));
    else
      Head(1, static_cast<uint64_t>(-(v + 1)));
  }
  void ByteString(ByteView b) {
    Head(2, b.size());
    out_.insert(out_.end(), b.begin(), b.end());
  }
  void ByteString(std::string_view s) { ByteString(AsBytes(s)); }
  void Text(std::string_view s) {
    Head(3, s.size());
    out_.insert(out_.end(), s.begin(), s.end());
  }
  void Array(uint64_t n) { Head(4, n); }
  void Map(uint64_t n) { Head(5, n); }
  void Bool(bool b) { out_.push_back(b ? 0xf5 : 0xf4); }

 private:
  void Head(uint8_t major, uint64_t v);
  Bytes& out_;
};

class CborReader {
 public:
  explicit CborReader(ByteView in) : p_(in.data()), end_(in.data() + in.size()) {}
  bool AtEnd() const { return p_ == end_; }

  Result<uint64_t> Uint();
  Result<int64_t> Int();
  Result<std::string> ByteString();  // raw bytes in a std::string
  Result<std::string> Text();
  Result<bool> Bool();
  Result<uint64_t> Array();  // element count
  Result<uint64_t> Map();    // pair count
  // Skips one item of any supported type (including nested ones).
  Status Skip(int depth = 0);

 private:
  Status Head(uint8_t& major, uint64_t& value);
  Result<std::string> String(uint8_t want_major);
  const uint8_t* p_;
  const uint8_t* end_;
};

}  // namespace cairn::repo
