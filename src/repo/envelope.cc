#include "repo/envelope.h"

namespace cairn::repo {

Bytes EnvelopeAd(std::string_view kind, std::string_view name) {
  std::string ad = "cairn/";
  ad += kind;
  ad += '/';
  ad += name;
  return Bytes(ad.begin(), ad.end());
}

size_t SealEnvelope(const crypto::Key& key, std::string_view kind, std::string_view name,
                    compress::Algorithm algo, int level, ByteView body, Bytes& out) {
  thread_local Bytes payload;
  payload.clear();
  payload.push_back(0);
  PutU64(payload, body.size());
  compress::Algorithm used = compress::Algorithm::kNone;
  if (algo != compress::Algorithm::kNone)
    used = compress::CompressAppend(algo, level, body, payload);
  if (used == compress::Algorithm::kNone) {
    payload.resize(1);
    payload.insert(payload.end(), body.begin(), body.end());
  }
  payload[0] = static_cast<uint8_t>(used);
  size_t before = out.size();
  crypto::SealAppend(key, payload, EnvelopeAd(kind, name), out);
  if (payload.capacity() > (64u << 20)) Bytes().swap(payload);
  return out.size() - before;
}

Result<Bytes> OpenEnvelope(const crypto::Key& key, std::string_view kind, std::string_view name,
                           ByteView sealed, size_t raw_size) {
  Bytes payload;
  Status st = crypto::OpenAppend(key, sealed, EnvelopeAd(kind, name), payload);
  if (!st.ok())
    return Status::Corruption(std::string(kind) + " " + std::string(name).substr(0, 16) +
                              ": authentication failed (altered, truncated or misplaced)");
  if (payload.empty()) return Status::Corruption(std::string(kind) + ": empty payload");
  auto algo = static_cast<compress::Algorithm>(payload[0]);
  if (algo == compress::Algorithm::kNone) {
    ByteView body(payload.data() + 1, payload.size() - 1);
    if (raw_size != SIZE_MAX && body.size() != raw_size)
      return Status::Corruption(std::string(kind) + ": unexpected size");
    payload.erase(payload.begin());
    return payload;
  }
  if (algo != compress::Algorithm::kZstd && algo != compress::Algorithm::kGzip)
    return Status::Corruption(std::string(kind) + ": unknown compression " +
                              std::to_string(payload[0]));
  if (payload.size() < 9) return Status::Corruption(std::string(kind) + ": truncated payload");
  uint64_t expect = GetU64(payload.data() + 1);
  if (expect > (1ull << 30) || (raw_size != SIZE_MAX && expect != raw_size))
    return Status::Corruption(std::string(kind) + ": unexpected size");
  ByteView body(payload.data() + 9, payload.size() - 9);
  Bytes out;
  out.reserve(expect);
  CAIRN_RETURN_IF_ERROR(compress::DecompressAppend(algo, body, expect, out));
  return out;
}

}  // namespace cairn::repo
