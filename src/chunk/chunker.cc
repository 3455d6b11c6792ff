// FastCDC chunker with normalized chunking (level 2) and a keyed gear table.
//
// This comment is the normative description of the algorithm (repository
// format version 1 and 2): chunk boundaries must not change between releases, or
// deduplication against existing repositories breaks. All integers are
// unsigned 64-bit with wrap-around (mod 2^64) arithmetic; LE64(b) reads 8
// bytes as a little-endian integer.
//
// 1. Gear table. For i = 0 .. 255:
//        gear[i] = LE64(SHA-256("cairn-gear-v1" || seed || u8(i))[0 .. 8))
//    i.e. the first 8 bytes of the SHA-256 digest of the 13 ASCII bytes
//    "cairn-gear-v1" (no terminator), then the 32 secret seed bytes, then the
//    single byte i; read little-endian.
//
// 2. Masks. Let b = log2(avg_size) (avg_size is a power of two). The masks
//    select the HIGH bits of the fingerprint (the high bits depend on the
//    most bytes of the window):
//        mask_small = the top (b + 2) bits set   = ~0 << (64 - (b + 2))
//        mask_large = the top (b - 2) bits set   = ~0 << (64 - (b - 2))
//    A position "matches" a mask when (fp & mask) == 0.
//
// 3. Fingerprint. fp is a gear rolling hash: fp = (fp << 1) + gear[byte].
//    After 64 updates the oldest byte has shifted out entirely, so the
//    fingerprint after byte j is exactly
//        fp(j) = sum_{k=0..63} gear[data[j-k]] << k        (mod 2^64),
//    a function of the 64-byte window ending at data[j] only.
//
// 4. Cut point of the chunk starting at data[0], given n = data.size()
//    (n >= max_size, or data holds the whole rest of the stream):
//        if n <= min_size: return n
//        end = min(n, max_size)
//        fp = 0
//        for j in [min_size - 64, min_size - 1): fp = (fp << 1) + gear[data[j]]
//                                                // warm-up, no test
//        for j in [min_size - 1, end):
//            fp = (fp << 1) + gear[data[j]]
//            mask = (j + 1 < avg_size) ? mask_small : mask_large
//            if (fp & mask) == 0: return j + 1      // chunk = data[0 .. j]
//        return end
//    So every chunk but the last is in [min_size, max_size] bytes; the 63-byte
//    warm-up makes each test a pure function of the 64 bytes ending at the
//    candidate cut, independent of where the chunk started. Lengths below
//    avg_size need b + 2 zero bits (probability 2^-(b+2)), lengths from
//    avg_size on need b - 2 (2^-(b-2)): FastCDC "normalization level 2".
//    The next chunk starts at data[result].

#include "chunk/chunker.h"

#include <openssl/evp.h>

#include <bit>
#include <cstring>
#include <string>

namespace cairn::chunk {

namespace {

constexpr char kGearLabel[] = "cairn-gear-v1";

std::array<uint64_t, 256> DeriveGear(const std::array<uint8_t, 32>& seed) {
  std::array<uint64_t, 256> gear{};
  constexpr size_t kLabelLen = sizeof(kGearLabel) - 1;
  uint8_t msg[kLabelLen + 32 + 1];
  std::memcpy(msg, kGearLabel, kLabelLen);
  std::memcpy(msg + kLabelLen, seed.data(), seed.size());
  for (int i = 0; i < 256; ++i) {
    msg[sizeof(msg) - 1] = static_cast<uint8_t>(i);
    uint8_t digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    // SHA-256 cannot fail for in-memory input short of memory exhaustion.
    EVP_Digest(msg, sizeof(msg), digest, &len, EVP_sha256(), nullptr);
    gear[i] = GetU64(digest);
  }
  return gear;
}

uint64_t TopBits(int n) { return n <= 0 ? 0 : ~uint64_t{0} << (64 - n); }

}  // namespace

Status ChunkerParams::Validate() const {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("chunker parameters (min " + std::to_string(min_size) +
                                   ", avg " + std::to_string(avg_size) + ", max " +
                                   std::to_string(max_size) + "): " + why);
  };
  if (min_size < 64) return bad("min_size must be at least 64");
  if (!(min_size < avg_size && avg_size < max_size)) {
    return bad("need min_size < avg_size < max_size");
  }
  if (!std::has_single_bit(avg_size)) return bad("avg_size must be a power of two");
  return Status::OK();
}

Chunker::Chunker(const ChunkerParams& params) : params_(params), gear_(DeriveGear(params.seed)) {
  const int b = std::countr_zero(params_.avg_size);
  mask_small_ = TopBits(b + 2);
  mask_large_ = TopBits(b - 2);
}

namespace {

// Rolls the gear hash over p[j, stop) and returns the first j + 1 whose
// fingerprint matches `mask`, or `stop` (with j == stop) when none does.
// Unrolled by four: one load, one lea and one test+branch per byte.
inline size_t Scan(const uint8_t* p, const uint64_t* gear, uint64_t mask, size_t& j, size_t stop,
                   uint64_t& fp_io) {
  uint64_t fp = fp_io;
  while (j + 4 <= stop) {
    fp = (fp << 1) + gear[p[j]];
    if ((fp & mask) == 0) return j + 1;
    fp = (fp << 1) + gear[p[j + 1]];
    if ((fp & mask) == 0) return j + 2;
    fp = (fp << 1) + gear[p[j + 2]];
    if ((fp & mask) == 0) return j + 3;
    fp = (fp << 1) + gear[p[j + 3]];
    if ((fp & mask) == 0) return j + 4;
    j += 4;
  }
  for (; j < stop; ++j) {
    fp = (fp << 1) + gear[p[j]];
    if ((fp & mask) == 0) return j + 1;
  }
  fp_io = fp;
  return 0;
}

}  // namespace

size_t Chunker::Cut(ByteView data) const {
  const size_t n = data.size();
  const size_t min = params_.min_size;
  if (n <= min) return n;
  const size_t end = n < params_.max_size ? n : params_.max_size;
  // Positions j < avg_size - 1 (chunk lengths below avg_size) use mask_small.
  const size_t normal = end < params_.avg_size - 1 ? end : params_.avg_size - 1;

  const uint8_t* p = data.data();
  const uint64_t* gear = gear_.data();
  uint64_t fp = 0;
  for (size_t j = min - 64; j < min - 1; ++j) fp = (fp << 1) + gear[p[j]];

  size_t j = min - 1;
  if (size_t cut = Scan(p, gear, mask_small_, j, normal, fp)) return cut;
  if (size_t cut = Scan(p, gear, mask_large_, j, end, fp)) return cut;
  return end;
}

}  // namespace cairn::chunk
