// The encrypted envelope shared by every repository object and every blob.
//
//   sealed = nonce(24) | XChaCha20-Poly1305(key, payload, ad) | tag(16)
//   payload = 0x00 | body                                  (stored)
//           | 0x01 | raw_size (u64 LE) | zstd frame            (zstd)
//           | 0x02 | raw_size (u64 LE) | gzip stream           (gzip)
//   ad = "cairn/" + kind + "/" + name
//
// The associated data binds an object to its kind and name (its ID), so an
// object moved, swapped or replayed under another name fails authentication.
// Thread-safety: free functions, thread-safe.
#pragma once

#include <string_view>

#include "base/bytes.h"
#include "compress/compressor.h"
#include "crypto/crypto.h"

namespace cairn::repo {

Bytes EnvelopeAd(std::string_view kind, std::string_view name);

// Compresses `body` (when it helps) and seals it, appending to `out`.
// Returns the number of bytes appended.
size_t SealEnvelope(const crypto::Key& key, std::string_view kind, std::string_view name,
                    compress::Algorithm algo, int level, ByteView body, Bytes& out);

// Opens and decompresses. `raw_size` is the body's size when known (blobs:
// from the index) and is then checked; SIZE_MAX when unknown. Bodies larger
// than 1 GiB are refused as corrupt.
Result<Bytes> OpenEnvelope(const crypto::Key& key, std::string_view kind, std::string_view name,
                           ByteView sealed, size_t raw_size = SIZE_MAX);

}  // namespace cairn::repo
