// Version segments (repo/version_segment.h): the CBOR body of a `versions`
// envelope (docs/design.md §8).
//
// Input: a segment body; the target seals it with the test key and opens it
// as the repository does, then decodes it.
// Property: a segment that decodes, encoded again, decodes to the same
// segment (decode(encode(x)) == x).
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_util.h"
#include "fuzz/segment_equal.h"
#include "repo/version_segment.h"

using namespace cairn;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Bytes body = fuzz::SealAndOpen("versions", fuzz::TestId().Hex(), ByteView(data, size));
  Result<repo::VersionSegment> seg = repo::DecodeSegmentBody(body);
  if (!seg.ok()) {
    FUZZ_CHECK(seg.error().code() == StatusCode::kCorruption ||
               seg.error().code() == StatusCode::kUnsupported);
    return 0;
  }
  Result<repo::VersionSegment> again = repo::DecodeSegmentBody(repo::EncodeSegmentBody(*seg));
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(fuzz::SameSegment(fuzz::AsEncoded(*seg), *again));
  return 0;
}
