// Pack files: many encrypted blobs in one object, followed by an encrypted
// header that lists them, so the index can be rebuilt from packs alone.
//
//   pack = blob_0 | ... | blob_n-1 | sealed_header | header_len (u32 LE)
//   header (plaintext, before sealing) = "CPK1" | count (u32) |
//            count * ( type (u8) | id (32) | length (u32) | raw_length (u32) )
// Blob i starts at the sum of the lengths of blobs 0..i-1. The header is an
// envelope (envelope.h) of kind "packheader" named by the pack's ID.
#pragma once

#include <vector>

#include "backend/backend.h"
#include "base/bytes.h"
#include "crypto/crypto.h"

namespace cairn::repo {

// Stored in the repository: the values never change.
enum class BlobType : uint8_t { kData = 0, kMeta = 1 };

struct PackEntry {
  BlobType type = BlobType::kData;
  Id id;
  uint32_t offset = 0;
  uint32_t length = 0;      // sealed length in the pack
  uint32_t raw_length = 0;  // plaintext (uncompressed) length
};

// Appends the sealed header and its length to `pack`.
void FinishPack(const crypto::Key& meta_key, const Id& pack_id,
                const std::vector<PackEntry>& entries, Bytes& pack);

// Parses the trailer of a whole pack held in memory.
Result<std::vector<PackEntry>> ParsePackTrailer(const crypto::Key& meta_key, const Id& pack_id,
                                                ByteView pack);

// Reads only the header of a stored pack (one or two ranged loads).
Result<std::vector<PackEntry>> ReadPackHeader(backend::Backend& be, const crypto::Key& meta_key,
                                              const Id& pack_id, uint64_t pack_size);

// The ad/kind used for a blob's envelope: "blob" + hex ID.
std::string_view BlobKind(BlobType t);

}  // namespace cairn::repo
