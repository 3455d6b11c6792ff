#include "repo/pack_copier.h"

#include "crypto/crypto.h"
#include "repo/repository.h"

namespace cairn::repo {

using backend::ObjectName;
using backend::ObjectType;

namespace {
constexpr size_t kMaxEntriesPerIndexObject = 100000;
}  // namespace

Result<VerifiedPack> LoadVerifiedPack(Repository& repo, const Id& pack_id,
                                      const std::function<bool(const PackEntry&)>& verify) {
  VerifiedPack out;
  CAIRN_ASSIGN_OR_RETURN(out.data,
                         repo.backend().Load(ObjectName{ObjectType::kPack, pack_id.Hex()}, 0, 0));
  auto entries = ParsePackTrailer(repo.keys().meta_key, pack_id, out.data);
  if (!entries.ok())
    return Status::Corruption("pack " + pack_id.Hex() + ": " + entries.error().message());
  for (const PackEntry& e : *entries) {
    if (uint64_t{e.offset} + e.length > out.data.size())
      return Status::Corruption("pack " + pack_id.Hex() + ": blob " + e.id.Hex().substr(0, 16) +
                                " lies outside the pack");
    if (verify && !verify(e)) continue;
    BlobLocation loc{0, e.offset, e.length, e.raw_length, e.type};
    auto plain = repo.OpenBlob(e.id, loc, ByteView(out.data.data() + e.offset, e.length));
    if (!plain.ok())
      return Status::Corruption("pack " + pack_id.Hex() + ": blob " + e.id.Hex().substr(0, 16) +
                                ": " + plain.error().message());
  }
  out.entries = std::move(*entries);
  return out;
}

Status PackCopier::Add(const PackEntry& entry, ByteView sealed) {
  PackEntry e = entry;
  e.offset = static_cast<uint32_t>(out_.size());
  e.length = static_cast<uint32_t>(sealed.size());
  out_.insert(out_.end(), sealed.begin(), sealed.end());
  entries_.push_back(e);
  if (out_.size() >= repo_.config().pack_size) return Finish();
  return Status::OK();
}

Status PackCopier::Finish() {
  if (entries_.empty()) return Status::OK();
  Id pack_id = crypto::RandomId();
  FinishPack(repo_.keys().meta_key, pack_id, entries_, out_);
  CAIRN_RETURN_IF_ERROR(repo_.backend().Save(ObjectName{ObjectType::kPack, pack_id.Hex()}, out_));
  bytes_written_ += out_.size();
  new_packs_.push_back(IndexedPack{pack_id, std::move(entries_)});
  out_.clear();
  entries_.clear();
  return Status::OK();
}

Result<std::vector<Id>> SaveIndexObjects(Repository& repo, std::vector<IndexedPack> packs) {
  std::vector<Id> written;
  std::vector<IndexedPack> batch;
  size_t entries = 0;
  auto flush = [&]() -> Status {
    if (batch.empty()) return Status::OK();
    Id id = crypto::RandomId();
    CAIRN_RETURN_IF_ERROR(repo.SaveSealed(ObjectType::kIndex, "index", id, EncodeIndexBody(batch)));
    written.push_back(id);
    batch.clear();
    entries = 0;
    return Status::OK();
  };
  for (IndexedPack& p : packs) {
    entries += p.entries.size();
    batch.push_back(std::move(p));
    if (entries >= kMaxEntriesPerIndexObject) CAIRN_RETURN_IF_ERROR(flush());
  }
  CAIRN_RETURN_IF_ERROR(flush());
  return written;
}

}  // namespace cairn::repo
