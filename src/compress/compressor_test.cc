#include "compress/compressor.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <random>
#include <string>
#include <thread>
#include <vector>

namespace cairn::compress {
namespace {

Bytes RandomData(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  Bytes out(n);
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

// Source-code-like text: compressible, but not trivially.
Bytes TextData(size_t n) {
  static const char* kWords[] = {"int",    "return", "if",     "for",   "const", "auto",
                                 "Status", "Bytes",  "size_t", "while", "chunk", "repo",
                                 "{",      "}",      "(",      ")",     ";",     "=",
                                 "+",      "data",   "out",    "in",    "level", "\n"};
  std::mt19937 rng(7);
  std::string s;
  while (s.size() < n) {
    s += kWords[rng() % (sizeof(kWords) / sizeof(kWords[0]))];
    s += ' ';
  }
  s.resize(n);
  return Bytes(s.begin(), s.end());
}

struct Case {
  Algorithm algo;
  int level;
};

const Case kCases[] = {{Algorithm::kZstd, 1},  {Algorithm::kZstd, 3}, {Algorithm::kZstd, 9},
                       {Algorithm::kZstd, 19}, {Algorithm::kGzip, 1}, {Algorithm::kGzip, 6},
                       {Algorithm::kGzip, 9}};

TEST(CompressorTest, RoundTripEachAlgorithmAndLevel) {
  for (size_t size : {size_t{1000}, size_t{4096}, size_t{1} << 20, (size_t{1} << 20) + 3}) {
    Bytes text = TextData(size);
    for (const Case& c : kCases) {
      Bytes out = {0xAA, 0xBB};  // appends after existing bytes
      Algorithm used = CompressAppend(c.algo, c.level, text, out);
      ASSERT_EQ(used, c.algo) << AlgorithmName(c.algo) << " " << c.level << " size " << size;
      ASSERT_EQ(out[0], 0xAA);
      ASSERT_EQ(out[1], 0xBB);
      ByteView compressed = ByteView(out).subspan(2);
      EXPECT_LT(compressed.size(), text.size());

      Bytes back = {0x01};
      Status st = DecompressAppend(used, compressed, text.size(), back);
      ASSERT_TRUE(st.ok()) << st.ToString();
      ASSERT_EQ(back.size(), text.size() + 1);
      EXPECT_EQ(back[0], 0x01);
      EXPECT_TRUE(std::equal(text.begin(), text.end(), back.begin() + 1))
          << AlgorithmName(c.algo) << " " << c.level;
    }
  }
}

TEST(CompressorTest, NoneRoundTripAppendsNothing) {
  Bytes text = TextData(1000);
  Bytes out;
  EXPECT_EQ(CompressAppend(Algorithm::kNone, 0, text, out), Algorithm::kNone);
  EXPECT_TRUE(out.empty());
  Bytes back;
  ASSERT_TRUE(DecompressAppend(Algorithm::kNone, text, text.size(), back).ok());
  EXPECT_EQ(back, text);
  EXPECT_EQ(DecompressAppend(Algorithm::kNone, text, text.size() + 1, back).code(),
            StatusCode::kCorruption);
}

TEST(CompressorTest, IncompressibleDataReturnsNoneAndAppendsNothing) {
  Bytes random = RandomData(256 * 1024, 1);
  for (const Case& c : kCases) {
    Bytes out = {1, 2, 3};
    EXPECT_EQ(CompressAppend(c.algo, c.level, random, out), Algorithm::kNone)
        << AlgorithmName(c.algo) << " " << c.level;
    EXPECT_EQ(out, (Bytes{1, 2, 3}));
  }
}

TEST(CompressorTest, TinyAndEmptyInputsAreStoredAsIs) {
  for (size_t n : {size_t{0}, size_t{1}, size_t{10}}) {
    Bytes in(n, 'a');
    for (const Case& c : kCases) {
      Bytes out;
      EXPECT_EQ(CompressAppend(c.algo, c.level, in, out), Algorithm::kNone) << n;
      EXPECT_TRUE(out.empty());
    }
  }
}

TEST(CompressorTest, CompressibleTextShrinks) {
  Bytes text = TextData(1 << 20);
  for (const Case& c : kCases) {
    Bytes out;
    ASSERT_EQ(CompressAppend(c.algo, c.level, text, out), c.algo);
    EXPECT_LT(out.size(), text.size() / 2) << AlgorithmName(c.algo) << " " << c.level;
  }
  // Higher zstd levels do at least as well on this text.
  Bytes z1, z19;
  CompressAppend(Algorithm::kZstd, 1, text, z1);
  CompressAppend(Algorithm::kZstd, 19, text, z19);
  EXPECT_LE(z19.size(), z1.size());
}

TEST(CompressorTest, GzipIsARealGzipStream) {
  Bytes text = TextData(50000);
  Bytes out;
  ASSERT_EQ(CompressAppend(Algorithm::kGzip, 6, text, out), Algorithm::kGzip);
  ASSERT_GE(out.size(), 18u);
  EXPECT_EQ(out[0], 0x1f);
  EXPECT_EQ(out[1], 0x8b);
  EXPECT_EQ(out[2], 8);  // deflate
  // ISIZE trailer = length mod 2^32, little-endian.
  EXPECT_EQ(GetU32(out.data() + out.size() - 4), text.size());

  // An independent decoder (zlib's uncompress-like path with auto-detect)
  // reads it.
  z_stream z{};
  ASSERT_EQ(inflateInit2(&z, 15 + 32), Z_OK);
  Bytes back(text.size());
  z.next_in = out.data();
  z.avail_in = static_cast<uInt>(out.size());
  z.next_out = back.data();
  z.avail_out = static_cast<uInt>(back.size());
  EXPECT_EQ(inflate(&z, Z_FINISH), Z_STREAM_END);
  inflateEnd(&z);
  EXPECT_EQ(back, text);
}

TEST(CompressorTest, ZstdIsARealZstdFrame) {
  Bytes text = TextData(50000);
  Bytes out;
  ASSERT_EQ(CompressAppend(Algorithm::kZstd, 3, text, out), Algorithm::kZstd);
  EXPECT_EQ(GetU32(out.data()), 0xFD2FB528u);  // zstd magic
}

TEST(CompressorTest, WrongRawSizeIsCorruption) {
  Bytes text = TextData(100000);
  for (const Case& c : kCases) {
    Bytes out;
    ASSERT_EQ(CompressAppend(c.algo, c.level, text, out), c.algo);
    for (size_t wrong : {text.size() - 1, text.size() + 1, size_t{0}, text.size() * 2}) {
      Bytes back = {9};
      Status st = DecompressAppend(c.algo, out, wrong, back);
      EXPECT_EQ(st.code(), StatusCode::kCorruption) << AlgorithmName(c.algo) << " " << wrong;
      EXPECT_EQ(back, Bytes{9}) << "nothing appended on error";
    }
  }
}

TEST(CompressorTest, CorruptInputIsCorruption) {
  Bytes text = TextData(100000);
  for (const Case& c : kCases) {
    Bytes good;
    ASSERT_EQ(CompressAppend(c.algo, c.level, text, good), c.algo);

    // Truncated.
    Bytes back;
    EXPECT_EQ(
        DecompressAppend(c.algo, ByteView(good).first(good.size() / 2), text.size(), back).code(),
        StatusCode::kCorruption);
    EXPECT_TRUE(back.empty());
    EXPECT_EQ(
        DecompressAppend(c.algo, ByteView(good).first(good.size() - 1), text.size(), back).code(),
        StatusCode::kCorruption);
    EXPECT_EQ(DecompressAppend(c.algo, ByteView(), text.size(), back).code(),
              StatusCode::kCorruption);

    // Trailing garbage.
    Bytes longer = good;
    longer.push_back(0);
    EXPECT_EQ(DecompressAppend(c.algo, longer, text.size(), back).code(), StatusCode::kCorruption)
        << AlgorithmName(c.algo);

    // Flipped bytes: the decoder or its checksum (gzip CRC-32; for zstd,
    // the size or block structure) must notice. Try a spread of positions;
    // every one of them must be either rejected or decode to other bytes
    // than the original... and for gzip, every flip is rejected.
    int rejected = 0;
    for (size_t pos = 0; pos < good.size(); pos += good.size() / 16 + 1) {
      Bytes bad = good;
      bad[pos] ^= 0x5a;
      Bytes out;
      Status st = DecompressAppend(c.algo, bad, text.size(), out);
      if (!st.ok()) {
        EXPECT_EQ(st.code(), StatusCode::kCorruption) << st.ToString();
        EXPECT_TRUE(out.empty());
        ++rejected;
      } else {
        EXPECT_NE(out, text) << "flip at " << pos << " went unnoticed and unchanged";
      }
      if (c.algo == Algorithm::kGzip) {
        EXPECT_FALSE(st.ok()) << "gzip flip at " << pos;
      }
    }
    EXPECT_GT(rejected, 0);
  }

  // Garbage that is no stream at all.
  Bytes junk = RandomData(1000, 5);
  Bytes back;
  EXPECT_EQ(DecompressAppend(Algorithm::kZstd, junk, 5000, back).code(), StatusCode::kCorruption);
  EXPECT_EQ(DecompressAppend(Algorithm::kGzip, junk, 5000, back).code(), StatusCode::kCorruption);
  // A raw size beyond any possible deflate ratio is refused before allocating.
  EXPECT_EQ(DecompressAppend(Algorithm::kGzip, junk, size_t{1} << 40, back).code(),
            StatusCode::kCorruption);
  EXPECT_EQ(DecompressAppend(static_cast<Algorithm>(7), junk, 1000, back).code(),
            StatusCode::kCorruption);
  EXPECT_TRUE(back.empty());
}

TEST(CompressorTest, ParseAlgorithm) {
  EXPECT_EQ(*ParseAlgorithm("zstd"), Algorithm::kZstd);
  EXPECT_EQ(*ParseAlgorithm("gzip"), Algorithm::kGzip);
  EXPECT_EQ(*ParseAlgorithm("none"), Algorithm::kNone);
  for (std::string_view bad : {"", "ZSTD", "lz4", "zstd ", "gz"}) {
    auto r = ParseAlgorithm(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
    const std::string& m = r.error().message();
    EXPECT_NE(m.find("zstd"), std::string::npos) << m;
    EXPECT_NE(m.find("gzip"), std::string::npos) << m;
    EXPECT_NE(m.find("none"), std::string::npos) << m;
  }
  for (Algorithm a : {Algorithm::kNone, Algorithm::kZstd, Algorithm::kGzip}) {
    EXPECT_EQ(*ParseAlgorithm(AlgorithmName(a)), a);
  }
  // The stored values never change.
  EXPECT_EQ(static_cast<int>(Algorithm::kNone), 0);
  EXPECT_EQ(static_cast<int>(Algorithm::kZstd), 1);
  EXPECT_EQ(static_cast<int>(Algorithm::kGzip), 2);
}

TEST(CompressorTest, LevelsDefaultsAndValidation) {
  EXPECT_EQ(DefaultLevel(Algorithm::kZstd), 1);
  EXPECT_EQ(DefaultLevel(Algorithm::kGzip), 6);
  EXPECT_EQ(DefaultLevel(Algorithm::kNone), 0);
  for (Algorithm a : {Algorithm::kNone, Algorithm::kZstd, Algorithm::kGzip}) {
    EXPECT_TRUE(ValidateLevel(a, DefaultLevel(a)).ok());
  }
  EXPECT_TRUE(ValidateLevel(Algorithm::kZstd, 1).ok());
  EXPECT_TRUE(ValidateLevel(Algorithm::kZstd, 19).ok());
  EXPECT_TRUE(ValidateLevel(Algorithm::kGzip, 1).ok());
  EXPECT_TRUE(ValidateLevel(Algorithm::kGzip, 9).ok());
  EXPECT_TRUE(ValidateLevel(Algorithm::kNone, 12345).ok());
  EXPECT_TRUE(ValidateLevel(Algorithm::kNone, -1).ok());

  struct Bad {
    Algorithm a;
    int level;
    const char* range;
  };
  for (const Bad& b : {Bad{Algorithm::kZstd, 0, "1..19"}, Bad{Algorithm::kZstd, 20, "1..19"},
                       Bad{Algorithm::kZstd, -5, "1..19"}, Bad{Algorithm::kGzip, 0, "1..9"},
                       Bad{Algorithm::kGzip, 10, "1..9"}}) {
    Status st = ValidateLevel(b.a, b.level);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(st.message().find(b.range), std::string::npos) << st.message();
    EXPECT_NE(st.message().find(AlgorithmName(b.a)), std::string::npos) << st.message();
  }
}

TEST(CompressorTest, OutOfRangeLevelIsClampedNotFatal) {
  Bytes text = TextData(10000);
  Bytes out;
  ASSERT_EQ(CompressAppend(Algorithm::kGzip, 42, text, out), Algorithm::kGzip);
  Bytes back;
  ASSERT_TRUE(DecompressAppend(Algorithm::kGzip, out, text.size(), back).ok());
  EXPECT_EQ(back, text);
}

TEST(CompressorTest, ManyThreadsAlternatingLevels) {
  // Per-thread contexts are reused across calls with different levels.
  Bytes text = TextData(200000);
  std::vector<std::thread> threads;
  threads.reserve(4);
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        const Case& c = kCases[(i + t) % std::size(kCases)];
        Bytes out;
        if (CompressAppend(c.algo, c.level, text, out) != c.algo) ++failures[t];
        Bytes back;
        if (!DecompressAppend(c.algo, out, text.size(), back).ok() || back != text) {
          ++failures[t];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int f : failures) EXPECT_EQ(f, 0);
}

}  // namespace
}  // namespace cairn::compress
