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
// WrongPassword when the secret does not open this slot.
Result<MasterKeys> UnwrapKeySlot(const KeySlot& slot, std::string_view secret);

Bytes EncodeKeySlot(const KeySlot& slot);
// Corruption for malformed JSON; Unsupported for a newer slot version.
Result<KeySlot> DecodeKeySlot(const Id& slot_id, ByteView data);

}  // namespace cairn::repo
