// Implementation notes:
//  - libsodium and OpenSSL types stay in this file; the header is free of both.
//  - Every entry point calls EnsureInit(), so a forgotten Init() is harmless.
//  - OpenSSL algorithm objects (EVP_MD, EVP_MAC) are fetched once per process;
//    HMAC and one-shot SHA-256 contexts are kept per thread and re-keyed or
//    re-initialised per call, so the hot paths allocate nothing.
//  - Failures of OpenSSL calls on valid, already-allocated contexts mean a
//    broken library or out of memory; they abort with a message rather than
//    return a wrong digest.
#include "crypto/crypto.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sodium.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>

namespace cairn::crypto {

static_assert(kKeySize == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
static_assert(kNonceSize == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
static_assert(kTagSize == crypto_aead_xchacha20poly1305_ietf_ABYTES);
static_assert(kKeySize >= crypto_pwhash_argon2id_BYTES_MIN);
static_assert(sizeof(KdfParams{}.salt) == crypto_pwhash_argon2id_SALTBYTES);
static_assert(sizeof(Id{}.bytes) == 32);

namespace {

constexpr const char* kAuthFailed =
    "authentication failed: object altered, truncated, or encrypted with another key";

[[noreturn]] void Fatal(const char* what) {
  std::fprintf(stderr, "cairn crypto: fatal: %s\n", what);
  std::abort();
}

void Check(bool ok, const char* what) {
  if (!ok) Fatal(what);
}

void EnsureInit() {
  static std::once_flag once;
  std::call_once(once, [] {
    // 0 = initialised now, 1 = already initialised (e.g. by another library).
    if (sodium_init() < 0) Fatal("sodium_init failed");
  });
}

// SHA-256 fetched once; faster than the implicit fetch EVP_sha256() does on
// every EVP_DigestInit_ex call.
const EVP_MD* Sha256Md() {
  static const EVP_MD* md = [] {
    const EVP_MD* m = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return m != nullptr ? m : EVP_sha256();
  }();
  return md;
}

EVP_MAC* HmacMac() {
  static EVP_MAC* mac = [] {
    EVP_MAC* m = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    Check(m != nullptr, "EVP_MAC_fetch(HMAC) failed");
    return m;
  }();
  return mac;
}

struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct MacCtxFree {
  void operator()(EVP_MAC_CTX* c) const { EVP_MAC_CTX_free(c); }  // cleanses key state
};

// This thread's HMAC-SHA256 context, digest already selected; re-keyed per call.
EVP_MAC_CTX* ThreadHmacCtx() {
  thread_local std::unique_ptr<EVP_MAC_CTX, MacCtxFree> ctx = [] {
    std::unique_ptr<EVP_MAC_CTX, MacCtxFree> c(EVP_MAC_CTX_new(HmacMac()));
    Check(c != nullptr, "EVP_MAC_CTX_new failed");
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    Check(EVP_MAC_CTX_set_params(c.get(), params) == 1, "HMAC: setting digest failed");
    return c;
  }();
  return ctx.get();
}

EVP_MD_CTX* ThreadMdCtx() {
  thread_local std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx = [] {
    std::unique_ptr<EVP_MD_CTX, MdCtxFree> c(EVP_MD_CTX_new());
    Check(c != nullptr, "EVP_MD_CTX_new failed");
    return c;
  }();
  return ctx.get();
}

// `view` may point into `buf`, whose storage may move when `buf` grows. Returns
// the offset of `view` in `buf`, or -1 when it lies elsewhere.
ptrdiff_t OffsetIn(const Bytes& buf, ByteView view) {
  if (view.empty() || buf.empty()) return -1;
  auto p = reinterpret_cast<uintptr_t>(view.data());
  auto b = reinterpret_cast<uintptr_t>(buf.data());
  if (p < b || p >= b + buf.size()) return -1;
  return static_cast<ptrdiff_t>(p - b);
}

}  // namespace

void Init() { EnsureInit(); }

// ---- Key -------------------------------------------------------------------

Key::Key(ByteView b) {
  if (b.size() != kKeySize) Fatal("Key: wrong key size");
  std::memcpy(bytes_.data(), b.data(), kKeySize);
}

Key::~Key() { sodium_memzero(bytes_.data(), bytes_.size()); }

Key Key::Random() {
  EnsureInit();
  Key k;
  randombytes_buf(k.bytes_.data(), k.bytes_.size());
  return k;
}

bool Key::operator==(const Key& o) const {
  return sodium_memcmp(bytes_.data(), o.bytes_.data(), kKeySize) == 0;
}

// ---- Randomness ------------------------------------------------------------

void RandomBytes(std::span<uint8_t> out) {
  EnsureInit();
  if (!out.empty()) randombytes_buf(out.data(), out.size());
}

Id RandomId() {
  EnsureInit();
  Id id;
  randombytes_buf(id.bytes.data(), id.bytes.size());
  return id;
}

// ---- AEAD ------------------------------------------------------------------

void SealAppend(const Key& key, ByteView plain, ByteView ad, Bytes& out) {
  EnsureInit();
  const ptrdiff_t alias = OffsetIn(out, plain);
  const size_t start = out.size();
  out.resize(start + kSealOverhead + plain.size());
  if (alias >= 0) plain = ByteView(out.data() + alias, plain.size());

  uint8_t* nonce = out.data() + start;
  uint8_t* cipher = nonce + kNonceSize;
  randombytes_buf(nonce, kNonceSize);
  unsigned long long clen = 0;
  int rc = crypto_aead_xchacha20poly1305_ietf_encrypt(
      cipher, &clen, plain.data(), plain.size(), ad.data(), ad.size(), nullptr, nonce, key.data());
  Check(rc == 0 && clen == plain.size() + kTagSize, "XChaCha20-Poly1305 encryption failed");
}

Bytes Seal(const Key& key, ByteView plain, ByteView ad) {
  Bytes out;
  out.reserve(plain.size() + kSealOverhead);
  SealAppend(key, plain, ad, out);
  return out;
}

Status OpenAppend(const Key& key, ByteView sealed, ByteView ad, Bytes& out) {
  EnsureInit();
  if (sealed.size() < kSealOverhead) return Status::Corruption(kAuthFailed);
  const ptrdiff_t alias = OffsetIn(out, sealed);
  const size_t start = out.size();
  const size_t plain_size = sealed.size() - kSealOverhead;
  out.resize(start + plain_size);
  if (alias >= 0) sealed = ByteView(out.data() + alias, sealed.size());

  const uint8_t* nonce = sealed.data();
  const uint8_t* cipher = nonce + kNonceSize;
  unsigned long long mlen = 0;
  int rc = crypto_aead_xchacha20poly1305_ietf_decrypt(out.data() + start, &mlen, nullptr, cipher,
                                                      sealed.size() - kNonceSize, ad.data(),
                                                      ad.size(), nonce, key.data());
  if (rc != 0 || mlen != plain_size) {
    out.resize(start);
    return Status::Corruption(kAuthFailed);
  }
  return Status::OK();
}

Result<Bytes> Open(const Key& key, ByteView sealed, ByteView ad) {
  Bytes out;
  CAIRN_RETURN_IF_ERROR(OpenAppend(key, sealed, ad, out));
  return out;
}

// ---- Hashing ---------------------------------------------------------------

Id KeyedId(const Key& id_key, ByteView data) {
  return KeyedIdOfDigest(id_key, Sha256::Digest(data));
}

Id KeyedIdOfDigest(const Key& id_key, const Id& sha256) {
  EnsureInit();
  EVP_MAC_CTX* ctx = ThreadHmacCtx();
  Check(EVP_MAC_init(ctx, id_key.data(), kKeySize, nullptr) == 1, "HMAC init failed");
  Check(EVP_MAC_update(ctx, sha256.bytes.data(), sha256.bytes.size()) == 1, "HMAC update failed");
  Id id;
  size_t len = 0;
  Check(EVP_MAC_final(ctx, id.bytes.data(), &len, id.bytes.size()) == 1 && len == id.bytes.size(),
        "HMAC final failed");
  return id;
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  Check(ctx_ != nullptr, "EVP_MD_CTX_new failed");
  Reset();
}

Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

void Sha256::Reset() {
  Check(EVP_DigestInit_ex2(static_cast<EVP_MD_CTX*>(ctx_), Sha256Md(), nullptr) == 1,
        "SHA-256 init failed");
}

void Sha256::Update(ByteView data) {
  Check(EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data.data(), data.size()) == 1,
        "SHA-256 update failed");
}

Id Sha256::Final() {
  Id id;
  unsigned int len = 0;
  Check(EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), id.bytes.data(), &len) == 1 &&
            len == id.bytes.size(),
        "SHA-256 final failed");
  return id;
}

Id Sha256::Digest(ByteView data) {
  EVP_MD_CTX* ctx = ThreadMdCtx();
  Id id;
  unsigned int len = 0;
  Check(EVP_DigestInit_ex2(ctx, Sha256Md(), nullptr) == 1 &&
            EVP_DigestUpdate(ctx, data.data(), data.size()) == 1 &&
            EVP_DigestFinal_ex(ctx, id.bytes.data(), &len) == 1 && len == id.bytes.size(),
        "SHA-256 failed");
  return id;
}

// ---- Key derivation --------------------------------------------------------

KdfParams DefaultKdfParams() {
  KdfParams p;
  p.opslimit = 3;
  p.memlimit = 64ull << 20;
  RandomBytes(p.salt);
  return p;
}

KdfParams CheapKdfParams() {
  KdfParams p;
  p.opslimit = 1;
  p.memlimit = crypto_pwhash_argon2id_MEMLIMIT_MIN;  // 8 KiB
  RandomBytes(p.salt);
  return p;
}

Status ValidateKdfParams(const KdfParams& params) {
  static_assert(kKdfOpsMin >= crypto_pwhash_argon2id_OPSLIMIT_MIN);
  static_assert(kKdfOpsMax <= crypto_pwhash_argon2id_OPSLIMIT_MAX);
  static_assert(kKdfMemMin >= crypto_pwhash_argon2id_MEMLIMIT_MIN);
  static_assert(kKdfMemMax <= crypto_pwhash_argon2id_MEMLIMIT_MAX);
  if (params.opslimit < kKdfOpsMin || params.opslimit > kKdfOpsMax)
    return Status::InvalidArgument("key derivation: opslimit " + std::to_string(params.opslimit) +
                                   " out of range (" + std::to_string(kKdfOpsMin) + ".." +
                                   std::to_string(kKdfOpsMax) + ")");
  if (params.memlimit < kKdfMemMin || params.memlimit > kKdfMemMax)
    return Status::InvalidArgument("key derivation: memlimit " + std::to_string(params.memlimit) +
                                   " bytes out of range (" + std::to_string(kKdfMemMin) + ".." +
                                   std::to_string(kKdfMemMax) + ")");
  return Status::OK();
}

namespace {
std::atomic<uint64_t> kdf_runs{0};
}  // namespace

uint64_t KdfRunCount() { return kdf_runs.load(std::memory_order_relaxed); }

Result<Key> DeriveKey(std::string_view secret, const KdfParams& params) {
  EnsureInit();
  CAIRN_RETURN_IF_ERROR(ValidateKdfParams(params));
  if (secret.size() > crypto_pwhash_argon2id_PASSWD_MAX) {
    return Status::InvalidArgument("key derivation: secret too long");
  }
  std::array<uint8_t, kKeySize> raw;
  kdf_runs.fetch_add(1, std::memory_order_relaxed);
  int rc = crypto_pwhash(raw.data(), raw.size(), secret.data(), secret.size(), params.salt.data(),
                         params.opslimit, static_cast<size_t>(params.memlimit),
                         crypto_pwhash_ALG_ARGON2ID13);
  if (rc != 0) {
    sodium_memzero(raw.data(), raw.size());
    return Status::IOError("key derivation: Argon2id could not allocate " +
                           std::to_string(params.memlimit) + " bytes of memory");
  }
  Key key{ByteView(raw.data(), raw.size())};
  sodium_memzero(raw.data(), raw.size());
  return key;
}

}  // namespace cairn::crypto
