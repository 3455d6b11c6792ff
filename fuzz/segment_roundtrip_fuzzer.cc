// Round trip of version segments (repo/version_segment.h): a segment built
// from the input (every field, records of every kind, runs, forget ids),
// encoded to CBOR, sealed and opened with the test key and decoded, is the
// segment it was: decode(encode(x)) == x.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_util.h"
#include "fuzz/segment_equal.h"
#include "repo/version_segment.h"

using namespace cairn;

namespace {

Id TakeId(FuzzedDataProvider& in) {
  Id id;
  in.ConsumeData(id.bytes.data(), id.bytes.size());
  return id;
}

std::string TakePath(FuzzedDataProvider& in) {
  std::string p = "/" + in.ConsumeRandomLengthString(64);
  for (char& c : p)
    if (c == '\0') c = '_';  // paths never hold NUL (the decoder refuses them)
  return p;
}

repo::VersionRecord TakeRecord(FuzzedDataProvider& in, const std::string& segment_device) {
  repo::VersionRecord r;
  r.path = TakePath(in);
  r.device = in.ConsumeBool() ? segment_device : in.ConsumeRandomLengthString(16);
  r.backup_time = in.ConsumeIntegral<int64_t>();
  r.wall_time = in.ConsumeIntegral<int64_t>();
  if (in.ConsumeBool()) {  // a tombstone carries nothing else
    r.deleted = true;
    return r;
  }
  r.type = static_cast<repo::FileType>(in.ConsumeIntegralInRange<int>(1, 8));
  r.size = in.ConsumeIntegral<uint64_t>();
  r.mode = in.ConsumeIntegral<uint32_t>();
  r.uid = in.ConsumeIntegral<uint32_t>();
  r.gid = in.ConsumeIntegral<uint32_t>();
  r.user = in.ConsumeRandomLengthString(8);
  r.group = in.ConsumeRandomLengthString(8);
  r.mtime = in.ConsumeIntegral<int64_t>();
  r.ctime = in.ConsumeIntegral<int64_t>();
  r.inode = in.ConsumeIntegral<uint64_t>();
  r.dev = in.ConsumeIntegral<uint64_t>();
  r.rdev = in.ConsumeIntegral<uint64_t>();
  r.sparse = in.ConsumeBool();
  r.link_target = in.ConsumeRandomLengthString(32);
  if (r.type == repo::FileType::kFile) {  // only files have content
    r.content_sha256 = TakeId(in);
    const size_t chunks = in.ConsumeIntegralInRange<size_t>(0, 4);
    for (size_t i = 0; i < chunks; ++i) r.chunks.push_back(TakeId(in));
  }
  const size_t xattrs = in.ConsumeIntegralInRange<size_t>(0, 3);
  for (size_t i = 0; i < xattrs; ++i) {
    repo::Xattr x;
    x.name = in.ConsumeRandomLengthString(16);
    std::string v = in.ConsumeRandomLengthString(32);
    x.value.assign(v.begin(), v.end());
    r.xattrs.push_back(std::move(x));
  }
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  repo::VersionSegment s;
  s.run_id = TakeId(in);
  s.sequence = in.ConsumeIntegral<uint32_t>();
  s.final = in.ConsumeBool();
  s.device = in.ConsumeRandomLengthString(16);
  s.created = in.ConsumeIntegral<int64_t>();
  const size_t roots = in.ConsumeIntegralInRange<size_t>(0, 3);
  for (size_t i = 0; i < roots; ++i) s.roots.push_back(TakePath(in));
  const size_t supersedes = in.ConsumeIntegralInRange<size_t>(0, 3);
  for (size_t i = 0; i < supersedes; ++i) s.supersedes.push_back(TakeId(in));
  const size_t runs = in.ConsumeIntegralInRange<size_t>(0, 2);
  for (size_t i = 0; i < runs; ++i) {
    repo::RunInfo run;
    run.run_id = TakeId(in);
    run.device = in.ConsumeRandomLengthString(16);
    run.start = in.ConsumeIntegral<int64_t>();
    run.end = in.ConsumeIntegral<int64_t>();
    run.complete = in.ConsumeBool();
    run.files_new = in.ConsumeIntegral<uint64_t>();
    run.files_changed = in.ConsumeIntegral<uint64_t>();
    run.files_unchanged = in.ConsumeIntegral<uint64_t>();
    run.bytes_read = in.ConsumeIntegral<uint64_t>();
    run.bytes_stored = in.ConsumeIntegral<uint64_t>();
    run.errors = in.ConsumeIntegral<uint64_t>();
    s.runs.push_back(std::move(run));
  }
  const size_t forget = in.ConsumeIntegralInRange<size_t>(0, 3);
  for (size_t i = 0; i < forget; ++i) {
    repo::VersionId v{};
    in.ConsumeData(v.data(), v.size());
    s.forget.push_back(v);
  }
  if (s.final) {
    s.files_new = in.ConsumeIntegral<uint64_t>();
    s.files_changed = in.ConsumeIntegral<uint64_t>();
    s.files_unchanged = in.ConsumeIntegral<uint64_t>();
    s.bytes_read = in.ConsumeIntegral<uint64_t>();
    s.bytes_stored = in.ConsumeIntegral<uint64_t>();
    s.errors = in.ConsumeIntegral<uint64_t>();
  }
  const size_t records = in.ConsumeIntegralInRange<size_t>(0, 8);
  for (size_t i = 0; i < records && in.remaining_bytes() > 0; ++i)
    s.records.push_back(TakeRecord(in, s.device));

  Bytes body = fuzz::SealAndOpen("versions", fuzz::TestId().Hex(), repo::EncodeSegmentBody(s));
  Result<repo::VersionSegment> back = repo::DecodeSegmentBody(body);
  FUZZ_CHECK(back.ok());
  FUZZ_CHECK(fuzz::SameSegment(s, *back));
  return 0;
}
