// What the fuzz targets of this folder share: a fixed test key (so a target
// can seal its input and reach the code behind the AEAD check), the names
// the envelopes are bound to, and FUZZ_CHECK, a property that aborts (a
// crash libFuzzer records) when it does not hold.
// Test code: linked into the fuzz targets only (CAIRN_FUZZ).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

#include "base/bytes.h"
#include "crypto/crypto.h"
#include "repo/envelope.h"

namespace cairn::fuzz {

[[noreturn]] inline void Fail(const char* what, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: property violated: %s\n", file, line, what);
  std::abort();
}

#define FUZZ_CHECK(cond)                                         \
  do {                                                           \
    if (!(cond)) ::cairn::fuzz::Fail(#cond, __FILE__, __LINE__); \
  } while (0)

// 32 fixed bytes 0x01, 0x02, ...: the key every target seals with.
inline const crypto::Key& TestKey() {
  static const crypto::Key key = [] {
    crypto::Init();
    Bytes b(crypto::kKeySize);
    for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>(i + 1);
    return crypto::Key(b);
  }();
  return key;
}

// A fixed object id (0xa0, 0xa1, ...), the name envelopes are bound to.
inline const Id& TestId() {
  static const Id id = [] {
    Id v;
    for (size_t i = 0; i < v.bytes.size(); ++i) v.bytes[i] = static_cast<uint8_t>(0xa0 + i);
    return v;
  }();
  return id;
}

// Seals `body` as the repository stores an object of `kind` named `name`
// (stored, not compressed: envelope_open fuzzes the compression), then
// opens it again as a reader does. The open must succeed: what comes back
// is the body the parser behind the envelope gets.
inline Bytes SealAndOpen(std::string_view kind, std::string_view name, ByteView body) {
  Bytes sealed;
  repo::SealEnvelope(TestKey(), kind, name, compress::Algorithm::kNone, 0, body, sealed);
  Result<Bytes> opened = repo::OpenEnvelope(TestKey(), kind, name, sealed);
  FUZZ_CHECK(opened.ok());
  FUZZ_CHECK(*opened == Bytes(body.begin(), body.end()));
  return std::move(*opened);
}

inline std::string AsText(const uint8_t* data, size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

}  // namespace cairn::fuzz
