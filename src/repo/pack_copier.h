// Copying blobs between packs without opening them (docs/design.md §14a,
// §20): a blob's envelope does not depend on the pack that holds it, so
// compaction and prune move blobs *sealed* — after authenticating each one,
// so a damaged pack is never rewritten as if it were whole.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "repo/index.h"
#include "repo/pack.h"

namespace cairn::repo {

class Repository;

// A whole pack in memory whose every blob (or every blob asked for)
// authenticated.
struct VerifiedPack {
  Bytes data;
  std::vector<PackEntry> entries;
};

// Loads pack `pack_id` whole, parses its trailer and opens every blob
// (decrypt + decompress + check its id). Errors: the backend's (retryable,
// Unavailable: the caller stops); Corruption naming the pack and the first
// blob that does not authenticate or lies outside the pack (the caller
// leaves the pack alone, and `check` reports it).
// With `verify`, only the blobs for which it returns true are opened (prune
// copies only the live blobs; the others are dropped, so their bytes do not
// matter); the trailer is always authenticated.
Result<VerifiedPack> LoadVerifiedPack(
    Repository& repo, const Id& pack_id,
    const std::function<bool(const PackEntry&)>& verify = nullptr);

// Writes sealed blobs into new packs of the repository's pack size. Each
// full pack is saved at once (create-only); Finish saves the last one. The
// caller writes an index object listing new_packs() before any segment or
// deletion relies on them (§9).
class PackCopier {
 public:
  explicit PackCopier(Repository& repo) : repo_(repo) {}
  // Appends one sealed blob (its bytes as stored, `entry` as the source pack
  // listed it).
  Status Add(const PackEntry& entry, ByteView sealed);
  Status Finish();
  const std::vector<IndexedPack>& new_packs() const { return new_packs_; }
  uint64_t bytes_written() const { return bytes_written_; }

 private:
  Repository& repo_;
  Bytes out_;
  std::vector<PackEntry> entries_;
  std::vector<IndexedPack> new_packs_;
  uint64_t bytes_written_ = 0;
};

// Saves index objects listing `packs` (at most ~100,000 blob entries each,
// a few MiB). Returns the ids written.
Result<std::vector<Id>> SaveIndexObjects(Repository& repo, std::vector<IndexedPack> packs);

}  // namespace cairn::repo
