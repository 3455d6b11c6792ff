// Cryptographic primitives for cairn. Everything here is a thin wrapper over
// libsodium (AEAD, Argon2id, randomness) and OpenSSL (SHA-256 / HMAC with
// SHA-NI). The repository format (docs/design.md) fixes the algorithms:
//  - AEAD: XChaCha20-Poly1305 (IETF), 24-byte random nonce: random nonces are
//    safe at any repository size.
//  - Keyed chunk IDs: HMAC-SHA256(id_key, plaintext).
//  - Content checksums: SHA-256 (what `sha256sum` prints).
//  - Password KDF: Argon2id13.
// Thread-safety: all free functions are thread-safe; Sha256 objects are not
// shared between threads.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "base/bytes.h"

namespace cairn::crypto {

constexpr size_t kKeySize = 32;
constexpr size_t kNonceSize = 24;
constexpr size_t kTagSize = 16;
constexpr size_t kSealOverhead = kNonceSize + kTagSize;
// The AEAD's name in the config object and key slots: the only value cairn
// writes and the only one it accepts.
constexpr std::string_view kAeadName = "xchacha20-poly1305";

// Must be called once before any other function (idempotent, thread-safe).
void Init();

// A 256-bit secret key; wiped from memory when destroyed.
class Key {
 public:
  Key() { bytes_.fill(0); }
  explicit Key(ByteView b);  // REQUIRES: b.size() == kKeySize
  ~Key();
  Key(const Key&) = default;
  Key& operator=(const Key&) = default;
  static Key Random();
  const uint8_t* data() const { return bytes_.data(); }
  ByteView view() const { return ByteView(bytes_.data(), bytes_.size()); }
  bool operator==(const Key& o) const;

 private:
  std::array<uint8_t, kKeySize> bytes_;
};

void RandomBytes(std::span<uint8_t> out);
Id RandomId();

// Encrypts `plain` with `ad` as associated data, appending
// nonce(24) | ciphertext | tag(16) to `out`.
void SealAppend(const Key& key, ByteView plain, ByteView ad, Bytes& out);
Bytes Seal(const Key& key, ByteView plain, ByteView ad);

// Verifies and decrypts a sealed box made by SealAppend with the same key and
// ad; appends the plaintext to `out`. Corruption (and nothing appended) when
// the box is truncated, altered, or was sealed with another key or ad.
Status OpenAppend(const Key& key, ByteView sealed, ByteView ad, Bytes& out);
Result<Bytes> Open(const Key& key, ByteView sealed, ByteView ad);

// The ID of a chunk: HMAC-SHA256(id_key, SHA-256(data)). Keyed over the
// plain digest so that a file made of one chunk is hashed once: its SHA-256
// (the file's content hash) gives its chunk ID through KeyedIdOfDigest.
Id KeyedId(const Key& id_key, ByteView data);
// HMAC-SHA256(id_key, sha256): KeyedId of data whose SHA-256 is `sha256`.
Id KeyedIdOfDigest(const Key& id_key, const Id& sha256);

// Streaming SHA-256.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(ByteView data);
  Id Final();  // the object may not be used afterwards, except Reset()
  void Reset();
  static Id Digest(ByteView data);

 private:
  void* ctx_;  // EVP_MD_CTX*
};

struct KdfParams {
  uint64_t opslimit = 3;
  uint64_t memlimit = 64ull << 20;  // bytes
  std::array<uint8_t, 16> salt{};
};

// The KDF parameters cairn accepts (docs/design.md §3.2). Key slots are plain
// JSON that anyone with write access to the storage can add, so a reader must
// not let a slot choose an arbitrary cost: outside these bounds a slot is
// refused before any key derivation runs. The bounds hold everything cairn
// has ever written (default 3 passes / 64 MiB; the tests' 1 pass / 8 KiB)
// with room for stronger keys, and cap the worst a planted slot can cost.
constexpr uint64_t kKdfOpsMin = 1;
constexpr uint64_t kKdfOpsMax = 16;
constexpr uint64_t kKdfMemMin = 8ull << 10;  // libsodium's argon2id minimum
constexpr uint64_t kKdfMemMax = 4ull << 30;

// OK when `params` is within the bounds above; InvalidArgument naming the
// offending value otherwise. Cheap: derives nothing.
Status ValidateKdfParams(const KdfParams& params);

// Default cost (64 MiB, 3 passes) with a fresh random salt.
KdfParams DefaultKdfParams();
// Cheap cost for tests (8 KiB, 1 pass) with a fresh random salt. Never chosen
// by the shipped CLI: only a test build (CAIRN_TEST_HOOKS) or a test asks
// for it.
KdfParams CheapKdfParams();
// Argon2id(secret, salt) -> 32-byte key. InvalidArgument for params outside
// ValidateKdfParams' bounds (checked before any work), IOError when memory
// cannot be allocated.
Result<Key> DeriveKey(std::string_view secret, const KdfParams& params);
// How many times this process has run Argon2id (DeriveKey calls that got
// past the bounds check). An observable for tests: "refused without running
// the KDF" and "the preferred slot was tried first" are assertions on it.
uint64_t KdfRunCount();

}  // namespace cairn::crypto
