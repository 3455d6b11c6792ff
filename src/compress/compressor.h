// Per-chunk compression: zstd, gzip (zlib's deflate in a gzip wrapper) or none.
// Thread-safety: all functions are safe to call from many threads (contexts
// are per thread).
#pragma once

#include <cstdint>
#include <string_view>

#include "base/bytes.h"

namespace cairn::compress {

// Stored in the repository: the values never change.
enum class Algorithm : uint8_t { kNone = 0, kZstd = 1, kGzip = 2 };

// "zstd" | "gzip" | "none" -> Algorithm; InvalidArgument naming the allowed values.
Result<Algorithm> ParseAlgorithm(std::string_view name);
std::string_view AlgorithmName(Algorithm a);
// Default level on each algorithm's own scale: zstd 3, gzip 6, none 0.
int DefaultLevel(Algorithm a);
// InvalidArgument unless level is valid for a (zstd 1..19, gzip 1..9, none: any).
Status ValidateLevel(Algorithm a, int level);

// Compresses `in`, appending the compressed bytes to `out`, and returns the
// algorithm actually used. When compression would not save at least 1/32 of
// the size (incompressible data), nothing is appended and kNone is returned:
// the caller then stores `in` as is.
Algorithm CompressAppend(Algorithm algo, int level, ByteView in, Bytes& out);

// Decompresses `in`, which must expand to exactly `raw_size` bytes; appends to
// `out`. Corruption when the data is malformed or has another size.
Status DecompressAppend(Algorithm algo, ByteView in, size_t raw_size, Bytes& out);

}  // namespace cairn::compress
