// Micro-benchmarks of the per-byte hot paths: chunking, compression and (when
// the crypto module is built) sealing and hashing. Throughput is reported as
// bytes/second of input.
//   cmake -B build-bench -G Ninja -DCAIRN_BUILD_BENCH=ON -DCMAKE_BUILD_TYPE=Release
//   ninja -C build-bench micro_bench && build-bench/bench/micro_bench

#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>

#include "chunk/chunker.h"
#include "compress/compressor.h"
#ifdef CAIRN_BENCH_CRYPTO
#include <openssl/evp.h>
#include <sodium.h>

#include "crypto/crypto.h"
#endif

namespace cairn {
namespace {

constexpr size_t kMiB = size_t{1} << 20;

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

// Source-code-like text: identifiers, numbers and punctuation on short lines.
Bytes SourceLikeText(size_t n) {
  static const char* kWords[] = {
      "int",   "return", "if",      "for",   "const",  "auto", "Status",   "Bytes",    "size_t",
      "while", "chunk",  "repo",    "std::", "vector", "data", "out",      "level",    "params_",
      "0",     "1",      "nullptr", "ok()",  "->",     "::",   "(",        ")",        "{",
      "}",     ";",      "=",       "+",     "<",      "&&",   "// note:", "#include", "\n  "};
  uint64_t s = 12345;
  std::string text;
  text.reserve(n + 16);
  while (text.size() < n) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    text += kWords[(s >> 33) % (sizeof(kWords) / sizeof(kWords[0]))];
    if ((s >> 20) % 3 != 0) text += ' ';
    if ((s >> 40) % 17 == 0) text += std::to_string((s >> 8) % 100000);
  }
  text.resize(n);
  return Bytes(text.begin(), text.end());
}

void BM_ChunkerCut(benchmark::State& state) {
  const Bytes data = RandomData(64 * kMiB, 1);
  chunk::ChunkerParams params;
  for (int i = 0; i < 32; ++i) params.seed[i] = static_cast<uint8_t>(i);
  const chunk::Chunker chunker(params);
  size_t chunks = 0;
  for ([[maybe_unused]] auto _ : state) {
    size_t pos = 0;
    while (pos < data.size()) {
      ByteView rest = ByteView(data).subspan(pos);
      if (rest.size() > params.max_size) rest = rest.first(params.max_size);
      pos += chunker.Cut(rest);
      ++chunks;
    }
    benchmark::DoNotOptimize(pos);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
  state.counters["avg_chunk"] =
      static_cast<double>(state.iterations() * data.size()) / static_cast<double>(chunks);
}
BENCHMARK(BM_ChunkerCut)->Unit(benchmark::kMillisecond);

// One 1 MiB chunk at a time (the default average chunk size).
void BM_Compress(benchmark::State& state, compress::Algorithm algo) {
  const int level = static_cast<int>(state.range(0));
  const Bytes text = SourceLikeText(kMiB);
  Bytes out;
  size_t compressed = 0;
  for ([[maybe_unused]] auto _ : state) {
    out.clear();
    if (compress::CompressAppend(algo, level, text, out) != algo) {
      state.SkipWithError("data was not compressible");
      break;
    }
    compressed = out.size();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["ratio"] = static_cast<double>(text.size()) / static_cast<double>(compressed);
}
BENCHMARK_CAPTURE(BM_Compress, zstd, compress::Algorithm::kZstd)->Arg(1)->Arg(3)->Arg(6);
BENCHMARK_CAPTURE(BM_Compress, gzip, compress::Algorithm::kGzip)->Arg(6);

void BM_Decompress(benchmark::State& state, compress::Algorithm algo) {
  const int level = static_cast<int>(state.range(0));
  const Bytes text = SourceLikeText(kMiB);
  Bytes compressed;
  if (compress::CompressAppend(algo, level, text, compressed) != algo) {
    state.SkipWithError("data was not compressible");
    return;
  }
  Bytes out;
  for ([[maybe_unused]] auto _ : state) {
    out.clear();
    if (!compress::DecompressAppend(algo, compressed, text.size(), out).ok()) {
      state.SkipWithError("decompression failed");
      break;
    }
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK_CAPTURE(BM_Decompress, zstd, compress::Algorithm::kZstd)->Arg(3);
BENCHMARK_CAPTURE(BM_Decompress, gzip, compress::Algorithm::kGzip)->Arg(6);

#ifdef CAIRN_BENCH_CRYPTO
void BM_Seal(benchmark::State& state) {
  crypto::Init();
  const crypto::Key key = crypto::Key::Random();
  const Bytes plain = RandomData(kMiB, 2);
  const Bytes ad = {1, 2, 3, 4};
  Bytes out;
  out.reserve(plain.size() + crypto::kSealOverhead);
  for ([[maybe_unused]] auto _ : state) {
    out.clear();
    crypto::SealAppend(key, plain, ad, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * plain.size()));
}
BENCHMARK(BM_Seal);

void BM_Sha256(benchmark::State& state) {
  crypto::Init();
  const Bytes data = RandomData(kMiB, 3);
  for ([[maybe_unused]] auto _ : state) benchmark::DoNotOptimize(crypto::Sha256::Digest(data));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
}
BENCHMARK(BM_Sha256);

void BM_KeyedId(benchmark::State& state) {
  crypto::Init();
  const crypto::Key key = crypto::Key::Random();
  const Bytes data = RandomData(kMiB, 4);
  for ([[maybe_unused]] auto _ : state) benchmark::DoNotOptimize(crypto::KeyedId(key, data));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
}
BENCHMARK(BM_KeyedId);

// The AEAD cairn does not use, measured beside the one it does (BM_Seal,
// XChaCha20-Poly1305): AES-256-GCM with AES-NI, libsodium's implementation.
void BM_AesGcmSeal(benchmark::State& state) {
  crypto::Init();
  if (crypto_aead_aes256gcm_is_available() == 0) {
    state.SkipWithError("no AES-NI");
    return;
  }
  unsigned char key[crypto_aead_aes256gcm_KEYBYTES];
  unsigned char nonce[crypto_aead_aes256gcm_NPUBBYTES] = {};
  randombytes_buf(key, sizeof key);
  const Bytes plain = RandomData(kMiB, 2);
  const Bytes ad = {1, 2, 3, 4};
  Bytes out(plain.size() + crypto_aead_aes256gcm_ABYTES);
  for ([[maybe_unused]] auto _ : state) {
    unsigned long long n = 0;
    crypto_aead_aes256gcm_encrypt(out.data(), &n, plain.data(), plain.size(), ad.data(), ad.size(),
                                  nullptr, nonce, key);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * plain.size()));
}
BENCHMARK(BM_AesGcmSeal);

// Content-MD5 of every Azure upload (the service checks it).
void BM_Md5(benchmark::State& state) {
  const Bytes data = RandomData(kMiB, 5);
  unsigned char md[EVP_MAX_MD_SIZE];
  for ([[maybe_unused]] auto _ : state) {
    unsigned int n = 0;
    EVP_Digest(data.data(), data.size(), md, &n, EVP_md5(), nullptr);
    benchmark::DoNotOptimize(md);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * data.size()));
}
BENCHMARK(BM_Md5);
#endif  // CAIRN_BENCH_CRYPTO

}  // namespace
}  // namespace cairn

BENCHMARK_MAIN();
