#include "chunk/chunker.h"

#include <gtest/gtest.h>
#include <openssl/sha.h>

#include <algorithm>
#include <functional>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace cairn::chunk {
namespace {

// Deterministic pseudo-random bytes (SplitMix64).
Bytes RandomData(size_t n, uint64_t seed) {
  Bytes out(n);
  uint64_t s = seed;
  for (size_t i = 0; i < n; i += 8) {
    s += 0x9e3779b97f4a7c15ULL;
    uint64_t z = s;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    for (size_t k = 0; k < 8 && i + k < n; ++k) out[i + k] = static_cast<uint8_t>(z >> (8 * k));
  }
  return out;
}

ChunkerParams SmallParams(uint8_t seed_byte = 1) {
  ChunkerParams p;
  p.min_size = 2 * 1024;
  p.avg_size = 8 * 1024;
  p.max_size = 32 * 1024;
  p.seed.fill(seed_byte);
  return p;
}

ChunkerParams DefaultParams(uint8_t seed_byte = 1) {
  ChunkerParams p;
  p.seed.fill(seed_byte);
  return p;
}

// Chunk lengths of a whole stream, feeding at most `window` bytes at a time
// (like a reader with a buffer of max_size bytes would).
std::vector<size_t> CutAll(const Chunker& c, ByteView data) {
  std::vector<size_t> lens;
  size_t pos = 0;
  while (pos < data.size()) {
    ByteView rest = data.subspan(pos);
    if (rest.size() > c.params().max_size) rest = rest.first(c.params().max_size);
    size_t n = c.Cut(rest);
    EXPECT_GE(n, 1u);
    EXPECT_LE(n, rest.size());
    lens.push_back(n);
    pos += n;
  }
  return lens;
}

std::vector<size_t> ChunkHashes(ByteView data, const std::vector<size_t>& lens) {
  std::vector<size_t> hashes;
  size_t pos = 0;
  for (size_t n : lens) {
    hashes.push_back(std::hash<std::string_view>{}(AsString(data.subspan(pos, n))));
    pos += n;
  }
  return hashes;
}

// Fraction of chunks of `b` whose content also occurs as a chunk of `a`.
double SharedFraction(const std::vector<size_t>& a, const std::vector<size_t>& b) {
  std::unordered_set<size_t> set(a.begin(), a.end());
  size_t shared = 0;
  for (size_t h : b) shared += set.count(h);
  return static_cast<double>(shared) / static_cast<double>(b.size());
}

TEST(ChunkerParamsTest, ValidateAcceptsDefaultsAndRejectsBadParams) {
  EXPECT_TRUE(ChunkerParams{}.Validate().ok());
  EXPECT_TRUE(SmallParams().Validate().ok());

  auto with = [](uint32_t min, uint32_t avg, uint32_t max) {
    ChunkerParams p;
    p.min_size = min;
    p.avg_size = avg;
    p.max_size = max;
    return p.Validate();
  };
  EXPECT_EQ(with(63, 1024, 4096).code(), StatusCode::kInvalidArgument);  // min < 64
  EXPECT_EQ(with(0, 1024, 4096).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(with(1024, 1024, 4096).code(), StatusCode::kInvalidArgument);  // min == avg
  EXPECT_EQ(with(2048, 1024, 4096).code(), StatusCode::kInvalidArgument);  // min > avg
  EXPECT_EQ(with(256, 1024, 1024).code(), StatusCode::kInvalidArgument);   // avg == max
  EXPECT_EQ(with(256, 1000, 4096).code(), StatusCode::kInvalidArgument);   // not a power of 2
  EXPECT_EQ(with(256, 3072, 4096).code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(with(64, 128, 129).ok());
  EXPECT_NE(with(256, 1000, 4096).message().find("power of two"), std::string::npos);
}

TEST(ChunkerTest, ShortInputIsOneChunk) {
  Chunker c(SmallParams());
  Bytes data = RandomData(c.params().min_size, 7);
  for (size_t n : {size_t{0}, size_t{1}, size_t{100}, data.size() - 1, data.size()}) {
    EXPECT_EQ(c.Cut(ByteView(data).first(n)), n);
  }
  auto lens = CutAll(c, ByteView(data).first(1000));
  ASSERT_EQ(lens.size(), 1u);
  EXPECT_EQ(lens[0], 1000u);
}

TEST(ChunkerTest, LengthsWithinBounds) {
  for (const ChunkerParams& p : {SmallParams(), DefaultParams()}) {
    Chunker c(p);
    Bytes data = RandomData(24 * 1024 * 1024 + 12345, 42);
    auto lens = CutAll(c, data);
    ASSERT_GT(lens.size(), 2u);
    size_t total = 0;
    for (size_t i = 0; i < lens.size(); ++i) {
      total += lens[i];
      EXPECT_LE(lens[i], p.max_size) << i;
      if (i + 1 < lens.size()) {
        EXPECT_GE(lens[i], p.min_size) << i;
      }
    }
    EXPECT_EQ(total, data.size());
  }
}

TEST(ChunkerTest, ZeroDataCutsAtMax) {
  // A constant stream never matches (or always matches) the same way; either
  // way the result stays within bounds and is deterministic.
  Chunker c(SmallParams());
  Bytes zeros(200 * 1024, 0);
  auto lens = CutAll(c, zeros);
  for (size_t i = 0; i + 1 < lens.size(); ++i) {
    EXPECT_GE(lens[i], c.params().min_size);
    EXPECT_LE(lens[i], c.params().max_size);
  }
  EXPECT_EQ(lens, CutAll(c, zeros));
}

TEST(ChunkerTest, DeterministicForSameSeed) {
  Bytes data = RandomData(8 * 1024 * 1024, 3);
  Chunker a(SmallParams(9));
  Chunker b(SmallParams(9));
  EXPECT_EQ(CutAll(a, data), CutAll(b, data));
}

TEST(ChunkerTest, DifferentSeedGivesDifferentBoundaries) {
  Bytes data = RandomData(8 * 1024 * 1024, 3);
  auto a = CutAll(Chunker(SmallParams(1)), data);
  ChunkerParams p = SmallParams(1);
  p.seed[31] ^= 1;  // a one-bit change in the seed
  auto b = CutAll(Chunker(p), data);
  EXPECT_NE(a, b);
  // Essentially no chunk in common.
  EXPECT_LT(SharedFraction(ChunkHashes(data, a), ChunkHashes(data, b)), 0.05);
}

TEST(ChunkerTest, AverageSizeNearTarget) {
  Bytes data = RandomData(64 * 1024 * 1024, 11);
  for (const ChunkerParams& p : {SmallParams(), DefaultParams()}) {
    auto lens = CutAll(Chunker(p), data);
    double mean = static_cast<double>(data.size()) / static_cast<double>(lens.size());
    EXPECT_GT(mean, 0.7 * p.avg_size) << "avg " << p.avg_size << " chunks " << lens.size();
    EXPECT_LT(mean, 1.3 * p.avg_size) << "avg " << p.avg_size << " chunks " << lens.size();
  }
}

TEST(ChunkerTest, InsertionChangesOnlyNearbyChunks) {
  Bytes data = RandomData(32 * 1024 * 1024, 5);
  Bytes edited = data;
  const size_t mid = edited.size() / 2 + 777;
  const Bytes insert = {'c', 'a', 'i', 'r', 'n'};
  edited.insert(edited.begin() + static_cast<std::ptrdiff_t>(mid), insert.begin(), insert.end());

  for (const ChunkerParams& p : {SmallParams(), DefaultParams()}) {
    Chunker c(p);
    auto before = CutAll(c, data);
    auto after = CutAll(c, edited);
    auto hb = ChunkHashes(data, before);
    auto ha = ChunkHashes(edited, after);
    EXPECT_GE(SharedFraction(hb, ha), 0.8) << "avg " << p.avg_size;
    // Stronger: at most 3 chunks differ in total.
    std::unordered_set<size_t> set(hb.begin(), hb.end());
    size_t differing = 0;
    for (size_t h : ha) differing += set.count(h) == 0;
    EXPECT_LE(differing, 3u) << "avg " << p.avg_size;

    // Boundaries before the edit are identical; after it they are shifted by
    // the insertion length once the chunker has resynchronized.
    std::vector<size_t> cuts_b, cuts_a;
    size_t pos = 0;
    for (size_t n : before) cuts_b.push_back(pos += n);
    pos = 0;
    for (size_t n : after) cuts_a.push_back(pos += n);
    std::vector<size_t> head_b, head_a;
    for (size_t x : cuts_b) {
      if (x < mid) head_b.push_back(x);
    }
    for (size_t x : cuts_a) {
      if (x < mid) head_a.push_back(x);
    }
    EXPECT_EQ(head_b, head_a);
    EXPECT_EQ(cuts_b.back() + insert.size(), cuts_a.back());
  }
}

TEST(ChunkerTest, CutDependsOnlyOnWindowNotOnChunkStart) {
  // The decision at each candidate position uses the 64 bytes ending there,
  // so chunking a suffix that starts at a boundary reproduces the same cuts.
  Chunker c(SmallParams());
  Bytes data = RandomData(4 * 1024 * 1024, 8);
  auto lens = CutAll(c, data);
  ASSERT_GT(lens.size(), 10u);
  size_t skip = lens[0] + lens[1] + lens[2];
  auto tail = CutAll(c, ByteView(data).subspan(skip));
  EXPECT_EQ(tail, std::vector<size_t>(lens.begin() + 3, lens.end()));
}

// A literal, slow transcription of the algorithm documented in chunker.cc, to
// pin the format: the fingerprint is recomputed from the 64-byte window.
size_t ReferenceCut(const ChunkerParams& p, ByteView data) {
  uint64_t gear[256];
  for (int i = 0; i < 256; ++i) {
    Bytes msg(reinterpret_cast<const uint8_t*>("cairn-gear-v1"),
              reinterpret_cast<const uint8_t*>("cairn-gear-v1") + 13);
    msg.insert(msg.end(), p.seed.begin(), p.seed.end());
    msg.push_back(static_cast<uint8_t>(i));
    uint8_t d[32];
    SHA256(msg.data(), msg.size(), d);
    gear[i] = GetU64(d);
  }
  int b = 0;
  while ((uint32_t{1} << b) != p.avg_size) ++b;
  const uint64_t mask_small = ~uint64_t{0} << (64 - (b + 2));
  const uint64_t mask_large = ~uint64_t{0} << (64 - (b - 2));
  if (data.size() <= p.min_size) return data.size();
  size_t end = std::min<size_t>(data.size(), p.max_size);
  for (size_t j = p.min_size - 1; j < end; ++j) {
    uint64_t fp = 0;
    for (size_t k = 0; k < 64; ++k) fp += gear[data[j - k]] << k;
    uint64_t mask = (j + 1 < p.avg_size) ? mask_small : mask_large;
    if ((fp & mask) == 0) return j + 1;
  }
  return end;
}

TEST(ChunkerTest, MatchesDocumentedAlgorithm) {
  ChunkerParams p;
  p.min_size = 64;
  p.avg_size = 256;
  p.max_size = 1024;
  for (int i = 0; i < 32; ++i) p.seed[i] = static_cast<uint8_t>(i * 7 + 1);
  Chunker c(p);
  Bytes data = RandomData(256 * 1024, 99);
  size_t pos = 0;
  int chunks = 0;
  bool saw_large_mask_cut = false;
  while (pos < data.size()) {
    ByteView rest = ByteView(data).subspan(pos);
    if (rest.size() > p.max_size) rest = rest.first(p.max_size);
    size_t n = c.Cut(rest);
    ASSERT_EQ(n, ReferenceCut(p, rest)) << "chunk " << chunks;
    saw_large_mask_cut |= n >= p.avg_size && n < p.max_size;
    pos += n;
    ++chunks;
  }
  EXPECT_GT(chunks, 500);
  EXPECT_TRUE(saw_large_mask_cut);
}

TEST(ChunkerTest, GoldenBoundaries) {
  // Pins the repository format: changing these numbers breaks deduplication
  // against existing repositories.
  ChunkerParams p = SmallParams();
  for (int i = 0; i < 32; ++i) p.seed[i] = static_cast<uint8_t>(i);
  Bytes data = RandomData(64 * 1024, 2024);
  auto lens = CutAll(Chunker(p), data);
  const std::vector<size_t> golden = {8266, 2969, 8740, 10296, 8908, 10536, 8917, 6904};
  EXPECT_EQ(lens, golden);
}

}  // namespace
}  // namespace cairn::chunk
