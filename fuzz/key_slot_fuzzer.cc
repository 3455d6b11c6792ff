// Key slots (repo/keys.h, docs/design.md §3.2): plain JSON that anyone who
// can write to the storage can add, read before any key is known.
//
// Input: a slot's JSON, as stored.
// Properties: a slot that decodes has KDF parameters within the bounds (so
// trying it costs at most one bounded derivation) and wrapped keys of the
// one size; it encodes and decodes to the same slot; when its parameters
// are the cheapest, unwrapping it with a wrong secret is WrongPassword.
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_util.h"
#include "repo/keys.h"

using namespace cairn;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::TestKey();  // crypto::Init
  Result<repo::KeySlot> slot = repo::DecodeKeySlot(fuzz::TestId(), ByteView(data, size));
  if (!slot.ok()) {
    FUZZ_CHECK(slot.error().code() == StatusCode::kCorruption ||
               slot.error().code() == StatusCode::kUnsupported);
    return 0;
  }
  FUZZ_CHECK(crypto::ValidateKdfParams(slot->kdf).ok());
  FUZZ_CHECK(slot->wrapped.size() == 128 + crypto::kSealOverhead);
  Result<repo::KeySlot> again = repo::DecodeKeySlot(fuzz::TestId(), repo::EncodeKeySlot(*slot));
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->kdf.opslimit == slot->kdf.opslimit &&
             again->kdf.memlimit == slot->kdf.memlimit && again->kdf.salt == slot->kdf.salt &&
             again->label == slot->label && again->wrapped == slot->wrapped);
  if (slot->kdf.opslimit == crypto::kKdfOpsMin && slot->kdf.memlimit == crypto::kKdfMemMin) {
    Result<repo::MasterKeys> keys = repo::UnwrapKeySlot(*slot, "not the secret");
    FUZZ_CHECK(!keys.ok() && keys.error().code() == StatusCode::kWrongPassword);
  }
  return 0;
}
