// Master keys and key slots.
//
// A repository has three random master keys (see docs/design.md, "Keys"):
// id_key (keyed chunk IDs), data_key (file content), meta_key (everything
// else). They are stored only wrapped, in key slots: each slot is a plain JSON
// object keys/<slot-id> holding Argon2id parameters and the master keys sealed
// with the key derived from one user secret. Adding, listing, removing or
// changing a slot never touches any other object.
#pragma once

#include <string>

#include "base/bytes.h"
#include "base/time_util.h"
#include "crypto/crypto.h"

namespace cairn::repo {

struct MasterKeys {
  crypto::Key id_key, data_key, meta_key;
  Id repo_id;  // binds a slot to its repository
  static MasterKeys Generate(const Id& repo_id);
};

struct KeySlot {
  Id slot_id;
  crypto::KdfParams kdf;
  TimeNs created = 0;
  std::string label;  // free text chosen by the user ("laptop", "paper copy")
  Bytes wrapped;      // sealed master keys
};

// Wraps `keys` for `secret` under a fresh slot id with the given KDF params.
Result<KeySlot> MakeKeySlot(const MasterKeys& keys, std::string_view secret,
                            const crypto::KdfParams& kdf, std::string label);
// WrongPassword when the secret does not open this slot; InvalidArgument
// (without deriving) for KDF params outside the bounds.
Result<MasterKeys> UnwrapKeySlot(const KeySlot& slot, std::string_view secret);

Bytes EncodeKeySlot(const KeySlot& slot);
// Checks everything that can be checked without the secret, so that a slot
// that passes costs at most one bounded key derivation to try: Corruption for
// malformed JSON, KDF parameters outside crypto::ValidateKdfParams' bounds
// (docs/design.md §3.2) or wrapped keys of the wrong size; Unsupported for a
// newer slot version, an unknown KDF or an `aead` other than
// crypto::kAeadName.
Result<KeySlot> DecodeKeySlot(const Id& slot_id, ByteView data);

}  // namespace cairn::repo
