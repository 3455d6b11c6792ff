#include "crypto/crypto.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace cairn::crypto {
namespace {

Bytes Pattern(size_t n, uint8_t seed = 1) {
  Bytes b(n);
  uint32_t x = seed * 2654435761u + 12345u;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1103515245u + 12345u;
    b[i] = static_cast<uint8_t>(x >> 24);
  }
  return b;
}

Bytes FromHex(std::string_view hex) {
  auto r = HexDecode(hex);
  EXPECT_TRUE(r.ok()) << hex;
  return r.ok() ? *r : Bytes{};
}

void ExpectAuthFailure(const Status& st) {
  EXPECT_EQ(st.code(), StatusCode::kCorruption) << st.ToString();
  EXPECT_NE(st.message().find("authentication failed"), std::string::npos) << st.message();
}

// ---- Key / randomness ------------------------------------------------------

TEST(KeyTest, RandomKeysDifferAndCompare) {
  Init();
  Key a = Key::Random();
  Key b = Key::Random();
  EXPECT_FALSE(a == b);
  Key a2(a.view());
  EXPECT_TRUE(a == a2);
  Key copy = a;  // NOLINT(performance-unnecessary-copy-initialization): the copy is tested
  EXPECT_TRUE(copy == a);
  EXPECT_TRUE(Key() == Key(Bytes(kKeySize, 0)));
  EXPECT_FALSE(Key() == a);
}

TEST(RandomTest, RandomIdAndBytes) {
  Id a = RandomId();
  Id b = RandomId();
  EXPECT_NE(a, b);
  EXPECT_FALSE(a.IsZero());
  Bytes x(64, 0), y(64, 0);
  RandomBytes(x);
  RandomBytes(y);
  EXPECT_NE(x, y);
  EXPECT_NE(x, Bytes(64, 0));
  RandomBytes(std::span<uint8_t>());  // empty is fine
}

// ---- AEAD ------------------------------------------------------------------

TEST(SealTest, RoundTripSizes) {
  Key key = Key::Random();
  const Bytes ad = Pattern(13, 9);
  for (size_t n : {size_t{0}, size_t{1}, size_t{1} << 20}) {
    Bytes plain = Pattern(n);
    Bytes sealed = Seal(key, plain, ad);
    EXPECT_EQ(sealed.size(), n + kSealOverhead) << n;
    if (n >= 16) {
      // The plaintext does not appear verbatim after the nonce (for one
      // byte that happens by chance once in 256 keys: not checked).
      EXPECT_FALSE(std::equal(plain.begin(), plain.end(), sealed.begin() + kNonceSize)) << n;
    }
    auto opened = Open(key, sealed, ad);
    ASSERT_TRUE(opened.ok()) << n << " " << opened.status().ToString();
    EXPECT_EQ(*opened, plain) << n;
  }
}

TEST(SealTest, EmptyAssociatedData) {
  Key key = Key::Random();
  Bytes plain = Pattern(100);
  Bytes sealed = Seal(key, plain, {});
  auto opened = Open(key, sealed, {});
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(*opened, plain);
  // Empty ad and non-empty ad are not interchangeable.
  ExpectAuthFailure(Open(key, sealed, AsBytes("x")).status());
}

TEST(SealTest, AppendKeepsPrefix) {
  Key key = Key::Random();
  Bytes plain = Pattern(500);
  Bytes out = {1, 2, 3};
  SealAppend(key, plain, AsBytes("ad"), out);
  ASSERT_EQ(out.size(), 3 + plain.size() + kSealOverhead);
  EXPECT_EQ(out[0], 1);
  EXPECT_EQ(out[2], 3);

  Bytes back = {7, 8};
  ASSERT_TRUE(OpenAppend(key, ByteView(out).subspan(3), AsBytes("ad"), back).ok());
  ASSERT_EQ(back.size(), 2 + plain.size());
  EXPECT_EQ(back[0], 7);
  EXPECT_EQ(back[1], 8);
  EXPECT_TRUE(std::equal(plain.begin(), plain.end(), back.begin() + 2));
}

TEST(SealTest, InputMayLiveInOutputBuffer) {
  Key key = Key::Random();
  const Bytes plain = Pattern(4000);
  Bytes buf = plain;
  buf.shrink_to_fit();  // force a reallocation when SealAppend grows `buf`
  SealAppend(key, buf, {}, buf);
  ASSERT_EQ(buf.size(), 2 * plain.size() + kSealOverhead);
  ByteView sealed = ByteView(buf).subspan(plain.size());

  Bytes buf2(sealed.begin(), sealed.end());
  buf2.shrink_to_fit();
  ASSERT_TRUE(OpenAppend(key, buf2, {}, buf2).ok());
  ASSERT_EQ(buf2.size(), sealed.size() + plain.size());
  EXPECT_TRUE(std::equal(plain.begin(), plain.end(), buf2.begin() + sealed.size()));
}

TEST(SealTest, NoncesAreRandom) {
  Key key = Key::Random();
  Bytes plain = Pattern(64);
  Bytes a = Seal(key, plain, {});
  Bytes b = Seal(key, plain, {});
  EXPECT_NE(a, b);
  EXPECT_FALSE(std::equal(a.begin(), a.begin() + kNonceSize, b.begin()));
}

TEST(SealTest, WrongKeyFails) {
  Key key = Key::Random();
  Bytes sealed = Seal(key, Pattern(100), AsBytes("ad"));
  Bytes out = {42};
  ExpectAuthFailure(OpenAppend(Key::Random(), sealed, AsBytes("ad"), out));
  EXPECT_EQ(out, Bytes{42});  // nothing appended
  ExpectAuthFailure(Open(Key(), sealed, AsBytes("ad")).status());
}

TEST(SealTest, WrongAssociatedDataFails) {
  Key key = Key::Random();
  Bytes sealed = Seal(key, Pattern(100), AsBytes("pack:1"));
  ExpectAuthFailure(Open(key, sealed, AsBytes("pack:2")).status());
  ExpectAuthFailure(Open(key, sealed, {}).status());
  EXPECT_TRUE(Open(key, sealed, AsBytes("pack:1")).ok());
}

TEST(SealTest, FlippedBitFails) {
  Key key = Key::Random();
  const size_t n = 100;
  const Bytes sealed = Seal(key, Pattern(n), AsBytes("ad"));
  ASSERT_TRUE(Open(key, sealed, AsBytes("ad")).ok());
  struct Where {
    const char* what;
    size_t pos;
  };
  const Where places[] = {
      {"nonce first byte", 0},
      {"nonce last byte", kNonceSize - 1},
      {"ciphertext first byte", kNonceSize},
      {"ciphertext last byte", kNonceSize + n - 1},
      {"tag first byte", kNonceSize + n},
      {"tag last byte", kNonceSize + n + kTagSize - 1},
  };
  for (const Where& w : places) {
    for (int bit : {0, 7}) {
      Bytes bad = sealed;
      bad[w.pos] ^= static_cast<uint8_t>(1u << bit);
      Bytes out = {5};
      Status st = OpenAppend(key, bad, AsBytes("ad"), out);
      SCOPED_TRACE(std::string(w.what) + " bit " + std::to_string(bit));
      ExpectAuthFailure(st);
      EXPECT_EQ(out, Bytes{5});
    }
  }
}

TEST(SealTest, TruncatedFails) {
  Key key = Key::Random();
  const Bytes sealed = Seal(key, Pattern(100), {});
  for (size_t len :
       {size_t{0}, size_t{1}, kNonceSize, kSealOverhead - 1, kSealOverhead, sealed.size() - 1}) {
    Bytes out = {9, 9};
    Status st = OpenAppend(key, ByteView(sealed).first(len), {}, out);
    SCOPED_TRACE("length " + std::to_string(len));
    ExpectAuthFailure(st);
    EXPECT_EQ(out, (Bytes{9, 9}));
  }
  // Extending the box is also detected.
  Bytes longer = sealed;
  longer.push_back(0);
  ExpectAuthFailure(Open(key, longer, {}).status());
}

TEST(SealTest, EmptyPlaintextIsAuthenticated) {
  Key key = Key::Random();
  Bytes sealed = Seal(key, {}, {});
  ASSERT_EQ(sealed.size(), kSealOverhead);
  sealed.back() ^= 1;
  ExpectAuthFailure(Open(key, sealed, {}).status());
}

// ---- SHA-256 ---------------------------------------------------------------

TEST(Sha256Test, KnownAnswers) {
  // FIPS 180-2 examples.
  EXPECT_EQ(Sha256::Digest(AsBytes("abc")).Hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256::Digest({}).Hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(
      Sha256::Digest(AsBytes("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")).Hex(),
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(Sha256::Digest(Bytes(1000000, 'a')).Hex(),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256Test, StreamingEqualsOneShot) {
  const Bytes data = Pattern(300000, 3);
  const Id want = Sha256::Digest(data);
  for (size_t piece :
       {size_t{1}, size_t{63}, size_t{64}, size_t{65}, size_t{4096}, size_t{100000}}) {
    Sha256 h;
    ByteView rest = data;
    if (piece == 1) rest = rest.first(1000);  // keep the byte-by-byte case quick
    while (!rest.empty()) {
      size_t k = std::min(piece, rest.size());
      h.Update(rest.first(k));
      h.Update({});  // empty updates are no-ops
      rest = rest.subspan(k);
    }
    Id got = h.Final();
    if (piece == 1) {
      EXPECT_EQ(got, Sha256::Digest(ByteView(data).first(1000)));
    } else {
      EXPECT_EQ(got, want) << piece;
    }
  }
}

TEST(Sha256Test, ResetAfterFinal) {
  Sha256 h;
  h.Update(AsBytes("garbage"));
  (void)h.Final();
  h.Reset();
  h.Update(AsBytes("a"));
  h.Update(AsBytes("bc"));
  EXPECT_EQ(h.Final().Hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  // Reset also discards pending input.
  h.Reset();
  h.Update(AsBytes("xyz"));
  h.Reset();
  EXPECT_EQ(h.Final(), Sha256::Digest({}));
}

// ---- Keyed chunk IDs: HMAC-SHA256(id_key, SHA-256(data)) --------------------

// Key 00 01 02 ... 1f (32 bytes). Expected values computed on the development
// machine with OpenSSL 3.0:
//   K=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
//   printf '%s' "what do ya want for nothing?" | openssl dgst -sha256 -binary |
//     openssl dgst -sha256 -mac HMAC -macopt hexkey:$K
//   printf '' | openssl dgst -sha256 -binary | openssl dgst -sha256 -mac HMAC -macopt hexkey:$K
Key CountingKey() {
  Bytes k(kKeySize);
  for (size_t i = 0; i < k.size(); ++i) k[i] = static_cast<uint8_t>(i);
  return Key(k);
}

TEST(KeyedIdTest, KnownAnswer) {
  Key key = CountingKey();
  EXPECT_EQ(KeyedId(key, AsBytes("what do ya want for nothing?")).Hex(),
            "c616a746ef609c12dd21f0c7942beb5a6c1ec36dad9bf26063334fd94287d4c8");
  EXPECT_EQ(KeyedId(key, {}).Hex(),
            "d43ab268ace84897c7c38db898ceba8460c30c061f52a2ea4c514367ed85f6fa");
}

TEST(KeyedIdTest, DependsOnKeyAndData) {
  Key a = Key::Random();
  Key b = Key::Random();
  Bytes data = Pattern(10000);
  Id ia = KeyedId(a, data);
  EXPECT_EQ(KeyedId(a, data), ia);  // re-keying the per-thread context is sound
  EXPECT_NE(KeyedId(b, data), ia);
  EXPECT_EQ(KeyedId(a, data), ia);
  data[5000] ^= 1;
  EXPECT_NE(KeyedId(a, data), ia);
  // Not a plain hash.
  EXPECT_NE(KeyedId(a, data), Sha256::Digest(data));
  // The digest form names the same chunk: one pass of hashing serves a file
  // made of one chunk.
  EXPECT_EQ(KeyedIdOfDigest(a, Sha256::Digest(data)), KeyedId(a, data));
  EXPECT_NE(KeyedIdOfDigest(b, Sha256::Digest(data)), KeyedId(a, data));
}

TEST(KeyedIdTest, ThreadsAgree) {
  std::vector<Key> keys;
  keys.reserve(4);
  for (int i = 0; i < 4; ++i) keys.push_back(Key::Random());
  const Bytes data = Pattern(50000, 7);
  std::vector<Id> want;
  want.reserve(keys.size());
  for (const Key& k : keys) want.push_back(KeyedId(k, data));

  std::vector<int> mismatches(keys.size(), 0);
  {
    std::vector<std::jthread> threads;
    for (size_t t = 0; t < keys.size(); ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 200; ++i) {
          size_t k = (t + i) % keys.size();
          if (KeyedId(keys[k], data) != want[k]) ++mismatches[t];
          if (Sha256::Digest(AsBytes("abc")).Hex() !=
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") {
            ++mismatches[t];
          }
        }
      });
    }
  }
  for (size_t t = 0; t < keys.size(); ++t) EXPECT_EQ(mismatches[t], 0) << t;
}

// ---- Key derivation --------------------------------------------------------

TEST(KdfTest, ParamPresets) {
  KdfParams d = DefaultKdfParams();
  EXPECT_EQ(d.opslimit, 3u);
  EXPECT_EQ(d.memlimit, 64ull << 20);
  KdfParams c1 = CheapKdfParams();
  KdfParams c2 = CheapKdfParams();
  EXPECT_EQ(c1.opslimit, 1u);
  EXPECT_EQ(c1.memlimit, 8192u);
  EXPECT_NE(c1.salt, c2.salt);
  EXPECT_NE(c1.salt, d.salt);
  EXPECT_NE(c1.salt, (std::array<uint8_t, 16>{}));
}

TEST(KdfTest, DeterministicAndSensitive) {
  KdfParams p = CheapKdfParams();
  auto k1 = DeriveKey("correct horse", p);
  auto k2 = DeriveKey("correct horse", p);
  ASSERT_TRUE(k1.ok()) << k1.status().ToString();
  ASSERT_TRUE(k2.ok()) << k2.status().ToString();
  EXPECT_TRUE(*k1 == *k2);
  EXPECT_FALSE(*k1 == Key());

  auto other_secret = DeriveKey("correct horsf", p);
  ASSERT_TRUE(other_secret.ok());
  EXPECT_FALSE(*other_secret == *k1);

  KdfParams p2 = p;
  p2.salt[15] ^= 1;
  auto other_salt = DeriveKey("correct horse", p2);
  ASSERT_TRUE(other_salt.ok());
  EXPECT_FALSE(*other_salt == *k1);

  KdfParams p3 = p;
  p3.opslimit = 2;
  auto other_ops = DeriveKey("correct horse", p3);
  ASSERT_TRUE(other_ops.ok());
  EXPECT_FALSE(*other_ops == *k1);

  auto empty = DeriveKey("", p);
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(*empty == *k1);
}

TEST(KdfTest, RejectsOutOfRangeParams) {
  KdfParams p = CheapKdfParams();
  auto check = [&](KdfParams bad, const char* what) {
    auto r = DeriveKey("pw", bad);
    ASSERT_FALSE(r.ok()) << what;
    EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument)
        << what << ": " << r.error().ToString();
  };
  KdfParams q = p;
  q.memlimit = 0;
  check(q, "memlimit 0");
  q.memlimit = 8191;
  check(q, "memlimit below 8 KiB");
  q.memlimit = ~0ull;
  check(q, "memlimit huge");
  q = p;
  q.opslimit = 0;
  check(q, "opslimit 0");
  q.opslimit = 1ull << 32;
  check(q, "opslimit 2^32");
  // cairn's own bounds are tighter than libsodium's: a slot cannot make a
  // reader run 17 passes or allocate more than 4 GiB.
  q = p;
  q.opslimit = kKdfOpsMax + 1;
  check(q, "opslimit 17");
  q = p;
  q.memlimit = kKdfMemMax + 1024;
  check(q, "memlimit above 4 GiB");
}

TEST(KdfTest, BoundsAreCheckedBeforeAnyDerivation) {
  KdfParams p = CheapKdfParams();
  p.opslimit = 1ull << 31;  // would run for hours if derived
  const uint64_t before = KdfRunCount();
  EXPECT_EQ(ValidateKdfParams(p).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(DeriveKey("pw", p).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(KdfRunCount(), before);
  ASSERT_TRUE(DeriveKey("pw", CheapKdfParams()).ok());
  EXPECT_EQ(KdfRunCount(), before + 1);
}

TEST(KdfTest, BoundsHoldWhatCairnWrites) {
  EXPECT_TRUE(ValidateKdfParams(DefaultKdfParams()).ok());
  EXPECT_TRUE(ValidateKdfParams(CheapKdfParams()).ok());
  KdfParams edge = CheapKdfParams();
  edge.opslimit = kKdfOpsMax;
  edge.memlimit = kKdfMemMax;
  EXPECT_TRUE(ValidateKdfParams(edge).ok());
}

TEST(KdfTest, Argon2idKnownAnswer) {
  // From libsodium test/default/pwhash_argon2id.c (tv3, an entry that must
  // verify): "$argon2id$v=19$m=4882,t=2,p=1$bA81arsiXysd3WbTRzmEOw$Nm8QBM+7RH1D
  // Xo9rvp5cwKEOOOfD2g6JuxlXihoNcpE" for the empty password. Salt and hash are
  // the base64 fields decoded to hex.
  KdfParams p;
  p.opslimit = 2;
  p.memlimit = 4882ull * 1024;
  Bytes salt = FromHex("6c0f356abb225f2b1ddd66d34739843b");
  ASSERT_EQ(salt.size(), p.salt.size());
  std::copy(salt.begin(), salt.end(), p.salt.begin());
  auto k = DeriveKey("", p);
  ASSERT_TRUE(k.ok()) << k.status().ToString();
  EXPECT_EQ(HexEncode(k->view()),
            "366f1004cfbb447d435e8f6bbe9e5cc0a10e38e7c3da0e89bb19578a1a0d7291");
}

}  // namespace
}  // namespace cairn::crypto
