// Pack trailers (repo/pack.h): the sealed header at the end of a pack and
// its length, read from a whole pack (ParsePackTrailer) and from storage by
// ranged loads (ReadPackHeader).
//
// Input: a flags byte, a 16-bit length of the blob area, then
//   flags & 1 == 0: the header's plaintext ("CPK1" | count | entries); the
//                   target builds the pack: that many zero bytes of blobs,
//                   the header sealed with the test key, its length;
//   flags & 1 == 1: the whole pack as stored (forged trailers).
// ReadPackHeader loads through a backend that answers each load with the
// bytes asked for, or (flags & 2) fewer, as broken or hostile storage may.
// Properties: both readers agree; the entries found tile the blob area
// exactly, in order.
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_util.h"
#include "repo/pack.h"

using namespace cairn;

namespace {

// Holds one pack; Load answers a range of it, or less when asked to.
class OnePackBackend : public backend::Backend {
 public:
  OnePackBackend(ByteView pack, size_t cut) : pack_(pack.begin(), pack.end()), cut_(cut) {}
  std::string Location() const override { return "fuzz:"; }
  Status Create() override { return Status::OK(); }
  Result<bool> HasAnyObject() override { return true; }
  Status Save(const backend::ObjectName&, ByteView) override {
    return Status::IOError("read only");
  }
  Result<std::string> Replace(const backend::ObjectName&, ByteView, const std::string&) override {
    return Status::IOError("read only");
  }
  Result<Bytes> Load(const backend::ObjectName&, uint64_t offset, uint64_t length) override {
    if (offset > pack_.size()) return Status::IOError("range outside the object");
    uint64_t n =
        length == 0 ? pack_.size() - offset : std::min<uint64_t>(length, pack_.size() - offset);
    n -= std::min<uint64_t>(n, cut_);  // a short answer
    return Bytes(pack_.data() + offset, pack_.data() + offset + n);
  }
  Result<backend::ObjectInfo> Stat(const backend::ObjectName&) override {
    backend::ObjectInfo info;
    info.size = pack_.size();
    return info;
  }
  Status List(backend::ObjectType,
              const std::function<Status(const backend::ObjectInfo&)>&) override {
    return Status::OK();
  }
  Status Remove(const backend::ObjectName&) override { return Status::IOError("read only"); }
  Result<std::unique_ptr<backend::BackendLock>> TryLock(std::string_view,
                                                        std::chrono::seconds) override {
    return Status::IOError("no locks");
  }

 private:
  Bytes pack_;
  size_t cut_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  const uint8_t flags = data[0];
  const size_t blob_area = data[1] | (size_t{data[2]} << 8);
  ByteView rest(data + 3, size - 3);
  const crypto::Key& key = fuzz::TestKey();
  const Id& pack_id = fuzz::TestId();
  Bytes pack;
  if (flags & 1) {
    pack.assign(rest.begin(), rest.end());
  } else {
    pack.assign(blob_area, 0);
    const size_t before = pack.size();
    Bytes payload{0};  // stored
    payload.insert(payload.end(), rest.begin(), rest.end());
    crypto::SealAppend(key, payload, repo::EnvelopeAd("packheader", pack_id.Hex()), pack);
    PutU32(pack, static_cast<uint32_t>(pack.size() - before));
  }
  Result<std::vector<repo::PackEntry>> whole = repo::ParsePackTrailer(key, pack_id, pack);
  if (whole.ok()) {
    uint64_t offset = 0;
    for (const repo::PackEntry& e : *whole) {
      FUZZ_CHECK(e.offset == offset);
      offset += e.length;
    }
    FUZZ_CHECK(offset + 4 <= pack.size());
  }
  const size_t cut = (flags & 2) ? (flags >> 2) : 0;
  OnePackBackend be(pack, cut);
  Result<std::vector<repo::PackEntry>> ranged = repo::ReadPackHeader(be, key, pack_id, pack.size());
  if (cut == 0) {
    FUZZ_CHECK(ranged.ok() == whole.ok());
    if (ranged.ok()) FUZZ_CHECK(ranged->size() == whole->size());
  }
  return 0;
}
