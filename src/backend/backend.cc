#include "backend/backend.h"

#include <openssl/evp.h>

namespace cairn::backend {

std::string ContentMd5(ByteView data) {
  uint8_t md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), md, &n, EVP_md5(), nullptr);
  return Base64Encode(ByteView(md, n));
}

std::string_view ObjectTypeDir(ObjectType t) {
  switch (t) {
    case ObjectType::kConfig:
      return "config";
    case ObjectType::kKey:
      return "keys";
    case ObjectType::kPack:
      return "data";
    case ObjectType::kIndex:
      return "index";
    case ObjectType::kVersions:
      return "versions";
    case ObjectType::kLock:
      return "locks";
  }
  return "unknown";
}

std::string ObjectName::Path() const {
  if (type == ObjectType::kConfig) return "config";
  std::string path(ObjectTypeDir(type));
  path += '/';
  if (type == ObjectType::kPack) {
    // Packs are spread over 256 subdirectories by the first two hex digits of
    // their ID so no directory grows past a few thousand entries.
    path += std::string_view(name).substr(0, 2);
    path += '/';
  }
  path += name;
  return path;
}

}  // namespace cairn::backend
