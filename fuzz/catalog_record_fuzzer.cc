// The catalog's compact encoding of a version record (catalog's
// version_coding.h): what every listing, search and restore decodes from
// the local SQLite file, which is rebuilt from repository records.
//
// Input: a mode byte, then
//   even: a record built from the input (any times, sizes, links, xattrs,
//         chunks), encoded and decoded: decode(encode(x)) == x on every
//         field the encoding holds, and PeekVersion agrees;
//   odd:  an encoded record as stored (a damaged catalog): decoding fails
//         cleanly or succeeds, never crashes.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>

#include "catalog/version_coding.h"
#include "fuzz/fuzz_util.h"

using namespace cairn;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  FuzzedDataProvider in(data + 1, size - 1);
  if (data[0] & 1) {
    repo::VersionRecord out;
    out.backup_time = in.ConsumeIntegral<int64_t>();
    const std::string rec = in.ConsumeRemainingBytesAsString();
    int64_t attrs = 0;
    (void)catalog::DecodeVersion(rec, &out, &attrs);
    (void)catalog::PeekVersion(rec, out.backup_time);
    return 0;
  }
  repo::VersionRecord r;
  r.backup_time = in.ConsumeIntegral<int64_t>();
  r.wall_time = in.ConsumeIntegral<int64_t>();
  r.type = static_cast<repo::FileType>(in.ConsumeIntegralInRange<int>(1, 8));
  r.size = in.ConsumeIntegral<uint64_t>();
  r.mode = in.ConsumeIntegral<uint32_t>();
  r.mtime = in.ConsumeIntegral<int64_t>();
  r.ctime = in.ConsumeIntegral<int64_t>();
  r.inode = in.ConsumeIntegral<uint64_t>();
  r.rdev = in.ConsumeIntegral<uint64_t>();
  r.sparse = in.ConsumeBool();
  r.link_target = in.ConsumeRandomLengthString(32);
  if (in.ConsumeBool()) in.ConsumeData(r.content_sha256.bytes.data(), 32);
  const size_t chunks = in.ConsumeIntegralInRange<size_t>(0, 4);
  for (size_t i = 0; i < chunks; ++i) {
    Id c;
    in.ConsumeData(c.bytes.data(), 32);
    r.chunks.push_back(c);
  }
  const size_t xattrs = in.ConsumeIntegralInRange<size_t>(0, 3);
  for (size_t i = 0; i < xattrs; ++i) {
    repo::Xattr x;
    x.name = in.ConsumeRandomLengthString(16);
    std::string v = in.ConsumeRandomLengthString(32);
    x.value.assign(v.begin(), v.end());
    r.xattrs.push_back(std::move(x));
  }
  const int64_t attrs = in.ConsumeIntegralInRange<int64_t>(0, INT64_MAX);

  std::string rec;
  catalog::EncodeVersion(r, attrs, &rec);
  repo::VersionRecord back;
  back.backup_time = r.backup_time;
  int64_t back_attrs = -1;
  Status st = catalog::DecodeVersion(rec, &back, &back_attrs);
  FUZZ_CHECK(st.ok());
  FUZZ_CHECK(back_attrs == attrs);
  FUZZ_CHECK(back.wall_time == r.wall_time && back.type == r.type && back.size == r.size &&
             back.mode == r.mode && back.mtime == r.mtime && back.ctime == r.ctime &&
             back.inode == r.inode && back.rdev == r.rdev && back.sparse == r.sparse &&
             back.link_target == r.link_target && back.content_sha256 == r.content_sha256 &&
             back.chunks == r.chunks && back.xattrs == r.xattrs);
  Result<catalog::VersionPeek> peek = catalog::PeekVersion(rec, r.backup_time);
  FUZZ_CHECK(peek.ok());
  FUZZ_CHECK(peek->wall == r.WallTime() && peek->type == r.type && peek->size == r.size);
  return 0;
}
