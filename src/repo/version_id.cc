#include "repo/version_id.h"

#include <cstring>

#include "crypto/crypto.h"

namespace cairn::repo {

VersionId VersionIdOf(const VersionRecord& r) {
  // Length-prefixed fields, so no two records encode alike.
  std::string buf = "cairn version id v1";
  auto put = [&](std::string_view field) {
    uint64_t n = field.size();
    buf.append(reinterpret_cast<const char*>(&n), sizeof(n));
    buf.append(field);
  };
  put(r.device);
  put(r.path);
  int64_t t = r.backup_time;
  put(std::string_view(reinterpret_cast<const char*>(&t), sizeof(t)));
  put(r.deleted ? "d" : "v");
  put(std::string_view(reinterpret_cast<const char*>(r.content_sha256.bytes.data()),
                       r.content_sha256.bytes.size()));
  Id digest = crypto::Sha256::Digest(AsBytes(buf));
  VersionId id;
  std::memcpy(id.data(), digest.bytes.data(), id.size());
  return id;
}

std::string VersionIdHex(const VersionId& id) { return HexEncode(ByteView(id.data(), id.size())); }

Result<VersionId> ParseVersionId(std::string_view hex) {
  auto bytes = hex.size() == 2 * sizeof(VersionId) ? HexDecode(hex) : Result<Bytes>(Status::OK());
  if (hex.size() != 2 * sizeof(VersionId) || !bytes.ok())
    return Status::InvalidArgument("'" + std::string(hex) +
                                   "' is not a version id (24 hex digits, as `cairn versions` "
                                   "shows in its ID column)");
  VersionId id;
  std::memcpy(id.data(), bytes->data(), id.size());
  return id;
}

}  // namespace cairn::repo
