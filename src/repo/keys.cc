#include "repo/keys.h"

#include <nlohmann/json.hpp>

#include "repo/json_number.h"

namespace cairn::repo {

using json = nlohmann::json;

namespace {
constexpr int kSlotVersion = 1;
// id_key | data_key | meta_key | repo_id, sealed.
constexpr size_t kWrappedPlainSize = 4 * 32;
constexpr size_t kWrappedSize = kWrappedPlainSize + crypto::kSealOverhead;

Bytes SlotAd(const Id& slot_id) {
  std::string ad = "cairn/keyslot/" + slot_id.Hex();
  return Bytes(ad.begin(), ad.end());
}
}  // namespace

MasterKeys MasterKeys::Generate(const Id& repo_id) {
  MasterKeys k;
  k.id_key = crypto::Key::Random();
  k.data_key = crypto::Key::Random();
  k.meta_key = crypto::Key::Random();
  k.repo_id = repo_id;
  return k;
}

Result<KeySlot> MakeKeySlot(const MasterKeys& keys, std::string_view secret,
                            const crypto::KdfParams& kdf, std::string label) {
  KeySlot slot;
  slot.slot_id = crypto::RandomId();
  slot.kdf = kdf;
  slot.created = NowNs();
  slot.label = std::move(label);
  CAIRN_ASSIGN_OR_RETURN(crypto::Key kek, crypto::DeriveKey(secret, kdf));
  Bytes plain;
  plain.reserve(kWrappedPlainSize);
  plain.insert(plain.end(), keys.id_key.data(), keys.id_key.data() + 32);
  plain.insert(plain.end(), keys.data_key.data(), keys.data_key.data() + 32);
  plain.insert(plain.end(), keys.meta_key.data(), keys.meta_key.data() + 32);
  plain.insert(plain.end(), keys.repo_id.bytes.begin(), keys.repo_id.bytes.end());
  slot.wrapped = crypto::Seal(kek, plain, SlotAd(slot.slot_id));
  std::fill(plain.begin(), plain.end(), 0);
  return slot;
}

Result<MasterKeys> UnwrapKeySlot(const KeySlot& slot, std::string_view secret) {
  CAIRN_ASSIGN_OR_RETURN(crypto::Key kek, crypto::DeriveKey(secret, slot.kdf));
  auto plain = crypto::Open(kek, slot.wrapped, SlotAd(slot.slot_id));
  if (!plain.ok())
    return Status::WrongPassword("the secret does not open key slot " +
                                 slot.slot_id.Hex().substr(0, 8));
  if (plain->size() != kWrappedPlainSize)
    return Status::Corruption("key slot holds malformed keys");
  MasterKeys k;
  k.id_key = crypto::Key(ByteView(plain->data(), 32));
  k.data_key = crypto::Key(ByteView(plain->data() + 32, 32));
  k.meta_key = crypto::Key(ByteView(plain->data() + 64, 32));
  k.repo_id = Id::FromBytes(ByteView(plain->data() + 96, 32));
  std::fill(plain->begin(), plain->end(), 0);
  return k;
}

Bytes EncodeKeySlot(const KeySlot& slot) {
  json j = {
      {"version", kSlotVersion},
      {"kdf", "argon2id13"},
      {"opslimit", slot.kdf.opslimit},
      {"memlimit", slot.kdf.memlimit},
      {"salt", Base64Encode(slot.kdf.salt)},
      {"created", FormatRfc3339(slot.created)},
      {"label", slot.label},
      {"aead", crypto::kAeadName},
      {"wrapped", Base64Encode(slot.wrapped)},
  };
  std::string s = j.dump(2) + "\n";
  return Bytes(s.begin(), s.end());
}

Result<KeySlot> DecodeKeySlot(const Id& slot_id, ByteView data) {
  json j;
  try {
    j = json::parse(AsString(data));
  } catch (const std::exception& e) {
    return Status::Corruption("key slot " + slot_id.Hex().substr(0, 8) + " is not valid JSON");
  }
  try {
    const std::optional<int> version = WholeNumber<int>(j.at("version"));
    if (!version)
      return Status::Corruption("key slot " + slot_id.Hex().substr(0, 8) +
                                " has a version that is not a whole number");
    if (*version > kSlotVersion)
      return Status::Unsupported("key slot format " + std::to_string(*version) +
                                 " is newer than this cairn supports; upgrade cairn");
    if (j.at("kdf").get<std::string>() != "argon2id13")
      return Status::Unsupported("key slot " + slot_id.Hex().substr(0, 8) + " uses an unknown KDF");
    const std::string aead = j.at("aead").get<std::string>();
    if (aead != crypto::kAeadName)
      return Status::Unsupported("key slot " + slot_id.Hex().substr(0, 8) +
                                 " uses an unknown cipher '" + aead + "' (cairn uses " +
                                 std::string(crypto::kAeadName) + ")");
    KeySlot slot;
    slot.slot_id = slot_id;
    // JSON numbers that are negative or fractional would convert silently.
    if (!j.at("opslimit").is_number_unsigned() || !j.at("memlimit").is_number_unsigned())
      return Status::Corruption("key slot " + slot_id.Hex().substr(0, 8) +
                                " has KDF parameters that are not whole numbers");
    slot.kdf.opslimit = j.at("opslimit").get<uint64_t>();
    slot.kdf.memlimit = j.at("memlimit").get<uint64_t>();
    // Refused here, before anyone derives a key: a slot is unauthenticated,
    // so its cost is whatever its writer chose.
    if (Status st = crypto::ValidateKdfParams(slot.kdf); !st.ok())
      return Status::Corruption("key slot " + slot_id.Hex().substr(0, 8) +
                                " has KDF parameters outside cairn's bounds: " + st.message());
    Result<Bytes> salt = Base64Decode(j.at("salt").get<std::string>());
    if (!salt.ok() || salt->size() != slot.kdf.salt.size())
      return Status::Corruption("key slot " + slot_id.Hex().substr(0, 8) +
                                " has a salt that is not 16 bytes of base64");
    std::copy(salt->begin(), salt->end(), slot.kdf.salt.begin());
    Result<Bytes> wrapped = Base64Decode(j.at("wrapped").get<std::string>());
    if (!wrapped.ok())
      return Status::Corruption("key slot " + slot_id.Hex().substr(0, 8) +
                                " holds wrapped keys that are not base64");
    slot.wrapped = std::move(*wrapped);
    if (slot.wrapped.size() != kWrappedSize)
      return Status::Corruption("key slot " + slot_id.Hex().substr(0, 8) +
                                " holds wrapped keys of the wrong size");
    auto created = ParseTime(j.value("created", std::string("1970-01-01T00:00:00Z")));
    slot.created = created.ok() ? *created : 0;
    slot.label = j.value("label", std::string());
    return slot;
  } catch (const std::exception& e) {
    return Status::Corruption("key slot " + slot_id.Hex().substr(0, 8) +
                              " is malformed: " + e.what());
  }
}

}  // namespace cairn::repo
