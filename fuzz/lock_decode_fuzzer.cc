// Lock objects (repo/repo_lock.h, docs/design.md §11): the JSON body of a
// `lock` envelope, and what lock takers do with what they decode: decide
// whether it expired or blocks them, and describe it in messages.
//
// Input: a lock body; the target seals it with the test key and opens it as
// a lock taker does, then decodes it.
// Properties: a decoded lock encodes and decodes to the same fields; the
// decisions answer for any times (no overflow), an expired lock blocks
// nobody.
#include <cstddef>
#include <cstdint>
#include <limits>

#include "fuzz/fuzz_util.h"
#include "repo/repo_lock.h"

using namespace cairn;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Bytes body = fuzz::SealAndOpen("lock", fuzz::TestId().Hex(), ByteView(data, size));
  Result<repo::LockInfo> lock = repo::DecodeLock(fuzz::TestId(), body);
  if (!lock.ok()) {
    FUZZ_CHECK(lock.error().code() == StatusCode::kCorruption);
    return 0;
  }
  Result<repo::LockInfo> again = repo::DecodeLock(fuzz::TestId(), repo::EncodeLock(*lock));
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->host == lock->host && again->pid == lock->pid &&
             again->device == lock->device && again->operation == lock->operation &&
             again->exclusive == lock->exclusive && again->created == lock->created &&
             again->expires == lock->expires && again->intent == lock->intent &&
             (!lock->intent || again->priority_until == lock->priority_until));
  for (TimeNs now : {std::numeric_limits<TimeNs>::min(), TimeNs{0}, lock->created, lock->expires,
                     NowNs(), std::numeric_limits<TimeNs>::max()}) {
    const bool expired = lock->Expired(now);
    const bool shared = lock->BlocksShared(now);
    const bool exclusive = lock->BlocksExclusive(now);
    if (expired) FUZZ_CHECK(!shared && !exclusive);
  }
  FUZZ_CHECK(!lock->Describe().empty());
  return 0;
}
