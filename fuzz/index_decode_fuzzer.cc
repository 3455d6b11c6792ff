// Index objects (repo/index.h): the body of an `index` envelope.
//
// Input: an index body; the target seals it with the test key and opens it
// as the repository does, then decodes it.
// Properties: a body that decodes encodes back to the same bytes
// (decode(encode(x)) == x); adding its packs to an Index finds every blob
// of its first occurrence.
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_util.h"
#include "repo/index.h"

using namespace cairn;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Bytes body = fuzz::SealAndOpen("index", fuzz::TestId().Hex(), ByteView(data, size));
  Result<std::vector<repo::IndexedPack>> packs = repo::DecodeIndexBody(body);
  if (!packs.ok()) {
    FUZZ_CHECK(packs.error().code() == StatusCode::kCorruption);
    return 0;
  }
  FUZZ_CHECK(repo::EncodeIndexBody(*packs) == body);
  repo::Index index;
  for (const repo::IndexedPack& p : *packs) index.AddPack(p.pack_id, p.entries);
  for (const repo::IndexedPack& p : *packs) {
    FUZZ_CHECK(index.HasPack(p.pack_id));
    for (const repo::PackEntry& e : p.entries) {
      std::optional<repo::BlobLocation> at = index.Find(e.id);
      FUZZ_CHECK(at.has_value());
    }
  }
  return 0;
}
