// Content-defined chunking (FastCDC with normalized chunking).
//
// The gear table is derived from a per-repository secret seed, so chunk
// boundaries (and therefore chunk sizes, visible to the storage as blob
// lengths) cannot be predicted by someone who knows a file but not the key.
// Thread-safety: a Chunker is immutable after construction; Cut() may be
// called from many threads at once.
#pragma once

#include <array>
#include <cstdint>

#include "base/bytes.h"

namespace cairn::chunk {

struct ChunkerParams {
  uint32_t min_size = 256 * 1024;
  uint32_t avg_size = 1024 * 1024;  // a power of two
  uint32_t max_size = 4 * 1024 * 1024;
  std::array<uint8_t, 32> seed{};  // secret; from the repository config

  // InvalidArgument unless min < avg < max, avg a power of two, min >= 64.
  Status Validate() const;
};

class Chunker {
 public:
  // REQUIRES: params.Validate().ok()
  explicit Chunker(const ChunkerParams& params);

  // Returns the length of the chunk that starts at data[0].
  // REQUIRES: data.size() >= max_size, or data holds the rest of the stream.
  // The result is in [1, min(max_size, data.size())]; it is data.size() when
  // the stream rest is shorter than min_size. Depends only on the bytes
  // data[0 .. result+something bounded by max_size) and the params.
  size_t Cut(ByteView data) const;

  const ChunkerParams& params() const { return params_; }

 private:
  ChunkerParams params_;
  std::array<uint64_t, 256> gear_{};
  uint64_t mask_small_;  // harder to match, used before avg_size
  uint64_t mask_large_;  // easier to match, used after avg_size
};

}  // namespace cairn::chunk
