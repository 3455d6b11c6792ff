#include "repo/repository.h"

#include <sys/mman.h>

#include <algorithm>

#include "repo/envelope.h"

namespace cairn::repo {

using backend::ObjectName;
using backend::ObjectType;

namespace {
const ObjectName kConfigName{ObjectType::kConfig, "config"};

const crypto::Key& KeyFor(const MasterKeys& k, BlobType t) {
  return t == BlobType::kData ? k.data_key : k.meta_key;
}
}  // namespace

Repository::Repository(std::shared_ptr<backend::Backend> be, RepoConfig config, MasterKeys keys,
                       Id slot)
    : backend_(std::move(be)), config_(config), keys_(std::move(keys)), slot_in_use_(slot) {}

Repository::~Repository() {
  // Joined outside mu_: the uploaders take it on their way out.
  std::vector<std::jthread> uploaders;
  {
    MutexLock lock(mu_);
    while (uploads_in_flight_ != 0) uploads_done_.wait(mu_);
    uploaders.swap(uploaders_);
  }
  for (auto& t : uploaders) t.request_stop();
  upload_cv_.notify_all();
  uploaders.clear();  // joins
}

void Repository::EnqueueUpload(OpenPack pack) {
  MutexLock lock(mu_);
  if (uploaders_.empty()) {
    // Packs are written (and fsynced) while the next fills; memory in packs
    // stays within (1 + uploaders + kMaxQueuedPacks) * pack_size.
    const int uploaders = std::clamp(backend_->WriteConcurrency(), 1, 16);
    for (int i = 0; i < uploaders; ++i)
      uploaders_.emplace_back([this](std::stop_token st) { UploaderLoop(st); });
  }
  while (upload_queue_.size() >= kMaxQueuedPacks) upload_cv_.wait(mu_);
  upload_queue_.push_back(std::move(pack));
  upload_cv_.notify_all();
}

void Repository::UploaderLoop(std::stop_token stop) {
  while (true) {
    OpenPack pack;
    {
      MutexLock lock(mu_);
      // The predicate runs inside wait() with mu_ held.
      if (!upload_cv_.wait(mu_, stop, [&] {
            mu_.AssertHeld();
            return !upload_queue_.empty();
          }))
        return;
      pack = std::move(upload_queue_.front());
      upload_queue_.pop_front();
      upload_cv_.notify_all();
    }
    UploadPack(std::move(pack));
  }
}

Result<std::unique_ptr<Repository>> Repository::Init(std::shared_ptr<backend::Backend> be,
                                                     std::string_view secret,
                                                     const InitOptions& options) {
  crypto::Init();
  CAIRN_ASSIGN_OR_RETURN(bool has_objects, be->HasAnyObject());
  if (has_objects)
    return Status::AlreadyExists(be->Location() +
                                 " already holds data; choose an empty location for a new "
                                 "repository");
  CAIRN_RETURN_IF_ERROR(be->Create());
  RepoConfig config;
  config.repo_id = crypto::RandomId();
  config.created = NowNs();
  config.chunker = options.chunker;
  crypto::RandomBytes(config.chunker.seed);
  CAIRN_RETURN_IF_ERROR(config.chunker.Validate());
  config.pack_size = options.pack_size;
  MasterKeys keys = MasterKeys::Generate(config.repo_id);
  CAIRN_ASSIGN_OR_RETURN(KeySlot slot, MakeKeySlot(keys, secret, options.kdf, options.key_label));
  // The key slot first: a config without any key would be unusable.
  CAIRN_RETURN_IF_ERROR(
      be->Save(ObjectName{ObjectType::kKey, slot.slot_id.Hex()}, EncodeKeySlot(slot)));
  Bytes sealed;
  SealEnvelope(keys.meta_key, "config", "config", compress::Algorithm::kNone, 0,
               EncodeRepoConfig(config), sealed);
  CAIRN_RETURN_IF_ERROR(be->Save(kConfigName, sealed));
  return std::unique_ptr<Repository>(new Repository(std::move(be), config, keys, slot.slot_id));
}

namespace {

// "a; b; c (and 4 more)": the skipped slots named in an error message, short
// even when someone planted hundreds.
std::string JoinSkipped(const std::vector<std::string>& skipped) {
  constexpr size_t kShown = 4;
  std::string out;
  for (size_t i = 0; i < skipped.size() && i < kShown; ++i) out += (i ? "; " : "") + skipped[i];
  if (skipped.size() > kShown) out += " (and " + std::to_string(skipped.size() - kShown) + " more)";
  return out;
}

}  // namespace

Status Repository::RequireFormat(int major) {
  if (config_.format_major >= major) return Status::OK();
  for (int attempt = 0; attempt < 3; ++attempt) {
    CAIRN_ASSIGN_OR_RETURN(backend::ObjectInfo info, backend_->Stat(kConfigName));
    CAIRN_ASSIGN_OR_RETURN(Bytes sealed, backend_->Load(kConfigName));
    CAIRN_ASSIGN_OR_RETURN(Bytes body, OpenEnvelope(keys_.meta_key, "config", "config", sealed));
    CAIRN_ASSIGN_OR_RETURN(RepoConfig now, DecodeRepoConfig(body));
    if (now.repo_id != config_.repo_id)
      return Status::Corruption("the config object changed to another repository's");
    if (now.format_major >= major) {
      config_.format_major = now.format_major;
      return Status::OK();
    }
    now.format_major = major;
    now.format_minor = kFormatMinor;
    Bytes next;
    SealEnvelope(keys_.meta_key, "config", "config", compress::Algorithm::kNone, 0,
                 EncodeRepoConfig(now), next);
    auto replaced = backend_->Replace(kConfigName, next, info.etag);
    if (replaced.ok()) {
      config_.format_major = major;
      return Status::OK();
    }
    // Another writer changed it meanwhile (perhaps raising it too): look again.
    if (replaced.error().code() != StatusCode::kPreconditionFailed &&
        replaced.error().code() != StatusCode::kAlreadyExists)
      return replaced.error().WithContext("raising the repository's format version");
  }
  return Status::Unavailable("the config object kept changing while raising its format version");
}

Result<std::unique_ptr<Repository>> Repository::Open(std::shared_ptr<backend::Backend> be,
                                                     std::string_view secret,
                                                     const OpenOptions& options) {
  crypto::Init();
  auto sealed_config = be->Load(kConfigName, 0, 0);
  if (!sealed_config.ok()) {
    if (sealed_config.error().IsNotFound())
      return Status::NoRepository("there is no cairn repository at " + be->Location() +
                                  ": create one with `cairn init` or point --repo at it");
    return sealed_config.error();
  }
  std::vector<Id> slot_ids;
  CAIRN_RETURN_IF_ERROR(be->List(ObjectType::kKey, [&](const backend::ObjectInfo& info) {
    auto id = Id::FromHex(info.name.name);
    if (id.ok()) slot_ids.push_back(*id);
    return Status::OK();
  }));
  if (slot_ids.empty())
    return Status::Corruption("the repository at " + be->Location() + " has no key slots");
  if (options.preferred_slot) {
    auto it = std::find(slot_ids.begin(), slot_ids.end(), *options.preferred_slot);
    if (it != slot_ids.end()) std::rotate(slot_ids.begin(), it, it + 1);
  }
  // Slots are unauthenticated objects anyone with write access can add: one
  // that cannot be tried, or that opens to keys that are not this
  // repository's, is skipped with a warning and never ends the search.
  std::vector<std::string> skipped;
  Status load_error;               // the first slot that could not be read (not NotFound)
  Status unsupported;              // the first slot of a newer or foreign format
  Status foreign_keys;             // the first slot that opened but whose keys do not fit
  std::vector<std::string> tried;  // slots whose key derivation ran (first 16 hex digits)
  for (const Id& sid : slot_ids) {
    auto skip = [&](const Status& why) {
      skipped.push_back("skipped key slot " + sid.Hex().substr(0, 16) + ": " + why.message());
    };
    auto data = be->Load(ObjectName{ObjectType::kKey, sid.Hex()}, 0, 0);
    if (!data.ok()) {
      if (data.error().IsNotFound()) continue;  // removed since the listing
      if (load_error.ok()) load_error = data.error();
      skip(data.error());
      continue;
    }
    auto slot = DecodeKeySlot(sid, *data);
    if (!slot.ok()) {
      if (slot.error().code() == StatusCode::kUnsupported && unsupported.ok())
        unsupported = slot.error();
      skip(slot.error());
      continue;
    }
    tried.push_back(sid.Hex().substr(0, 16));
    auto keys = UnwrapKeySlot(*slot, secret);
    if (!keys.ok()) {
      // Not this secret's slot: the normal case with several keys, no warning.
      if (keys.error().code() != StatusCode::kWrongPassword) skip(keys.error());
      continue;
    }
    auto body = OpenEnvelope(keys->meta_key, "config", "config", *sealed_config);
    if (!body.ok()) {
      Status st = Status::Corruption(
          "the config object does not authenticate with the keys of key slot " +
          sid.Hex().substr(0, 16) + ": the config or the slot was altered or replaced");
      if (foreign_keys.ok()) foreign_keys = st;
      skip(st);
      continue;
    }
    // The config authenticated: its content is the repository's own, and a
    // problem with it is the repository's, not this slot's.
    CAIRN_ASSIGN_OR_RETURN(RepoConfig config, DecodeRepoConfig(*body));
    if (config.repo_id != keys->repo_id) {
      Status st = Status::Corruption("key slot " + sid.Hex().substr(0, 16) +
                                     " and the config belong to different repositories");
      if (foreign_keys.ok()) foreign_keys = st;
      skip(st);
      continue;
    }
    auto repo = std::unique_ptr<Repository>(new Repository(std::move(be), config, *keys, sid));
    repo->warnings_ = std::move(skipped);
    return repo;
  }
  const std::string also = skipped.empty() ? std::string() : " [" + JoinSkipped(skipped) + "]";
  if (!foreign_keys.ok()) return Status::Corruption(foreign_keys.message() + also);
  // The slot that would have opened may be the one that could not be read.
  if (!load_error.ok())
    return load_error.WithContext("no key slot opened, and reading one failed" + also);
  if (tried.empty()) {
    if (!unsupported.ok()) return Status::Unsupported(unsupported.message() + also);
    return Status::Corruption("no key slot of the repository at " + be->Location() + " is usable" +
                              also);
  }
  // A wrong secret and a damaged slot (salt or wrapped keys altered) look
  // the same to the AEAD: name the slots tried, so that someone sure of the
  // secret knows which object to put back.
  std::string tried_list;
  for (size_t i = 0; i < tried.size() && i < 3; ++i) tried_list += (i ? ", " : "") + tried[i];
  if (tried.size() > 3) tried_list += " and " + std::to_string(tried.size() - 3) + " more";
  const bool one = tried.size() == 1;
  return Status::WrongPassword(
      "wrong password: no key slot of the repository at " + be->Location() +
      " opens with the given secret (check --password-file, CAIRN_PASSWORD or "
      "BACKUP_ENCRYPTION_KEY). Tried key slot" +
      (one ? " " : "s ") + tried_list + ": if the secret is right, " +
      (one ? "that slot is" : "one of them is") +
      " damaged; open the repository with another key, or put back its file under keys/ from a "
      "copy of the storage" +
      also);
}

bool Repository::SyncGeneration(const std::string& generation_etag) {
  bool drop = index_loaded_ && generation_etag != index_generation_;
  index_generation_ = generation_etag;
  if (!drop) return false;
  index_.Clear();
  index_loaded_ = false;
  orphans_adopted_ = false;
  MutexLock lock(mu_);
  loaded_index_objects_.clear();
  // Packs saved without an index object yet may have been deleted as
  // orphans: LoadIndex adopts the ones that are still there.
  unindexed_.clear();
  return true;
}

Status Repository::LoadIndex(bool adopt_orphan_packs) {
  index_loaded_ = true;
  std::vector<Id> ids;
  CAIRN_RETURN_IF_ERROR(backend_->List(ObjectType::kIndex, [&](const backend::ObjectInfo& info) {
    auto id = Id::FromHex(info.name.name);
    if (id.ok()) ids.push_back(*id);
    return Status::OK();
  }));
  bool damaged = false;  // an index object that cannot be read: its packs are unlisted
  for (const Id& id : ids) {
    {
      MutexLock lock(mu_);
      if (loaded_index_objects_.count(id)) continue;
    }
    auto body = LoadSealed(ObjectType::kIndex, "index", id);
    constexpr char kInstead[] =
        "; the packs it listed are read from their own headers instead (the next backup "
        "indexes them again)";
    if (!body.ok()) {
      if (body.error().code() != StatusCode::kCorruption) return body.error();
      warnings_.push_back("index " + id.Hex() + ": " + body.error().message() + kInstead);
      damaged = true;
    } else if (auto packs = DecodeIndexBody(*body); !packs.ok()) {
      warnings_.push_back("index " + id.Hex() + ": " + packs.error().message() + kInstead);
      damaged = true;
    } else {
      for (const IndexedPack& p : *packs) index_.AddPack(p.pack_id, p.entries);
    }
    MutexLock lock(mu_);
    loaded_index_objects_.insert(id);  // a damaged one is reported once
  }
  // A damaged index object hides the chunks of every pack only it listed,
  // though the packs are intact: they are found as orphans are, from their
  // headers (design.md §7), so restore and check still read them.
  if ((!adopt_orphan_packs && !damaged) || orphans_adopted_) return Status::OK();
  orphans_adopted_ = true;
  std::vector<backend::ObjectInfo> orphans;
  CAIRN_RETURN_IF_ERROR(backend_->List(ObjectType::kPack, [&](const backend::ObjectInfo& info) {
    auto id = Id::FromHex(info.name.name);
    if (id.ok() && !index_.HasPack(*id)) orphans.push_back(info);
    return Status::OK();
  }));
  for (const auto& info : orphans) {
    Id pid = *Id::FromHex(info.name.name);
    auto entries = ReadPackHeader(*backend_, keys_.meta_key, pid, info.size);
    if (!entries.ok()) {
      warnings_.push_back("unindexed pack " + pid.Hex() +
                          " is unreadable: " + entries.error().message());
      continue;
    }
    index_.AddPack(pid, *entries);
    MutexLock lock(mu_);
    unindexed_.push_back(IndexedPack{pid, *entries});
  }
  return Status::OK();
}

void Repository::SetCompression(compress::Algorithm algo, int level) {
  algo_ = algo;
  level_ = level;
}

namespace {

// A pack buffer is filled once and freed: with 4 KiB pages that is ~4,000
// page faults (each zeroing a page) per 16 MiB pack. Transparent huge pages
// over the 2 MiB-aligned part of the buffer cut that to a handful. Advice
// only: where THP is off, nothing changes.
void AdviseHugePages(void* p, size_t size) {
  constexpr uintptr_t kHuge = 2u << 20;
  const uintptr_t at = reinterpret_cast<uintptr_t>(p);
  const uintptr_t begin = (at + kHuge - 1) & ~(kHuge - 1);
  const uintptr_t end = (at + size) & ~(kHuge - 1);
  // p plus an offset, not an integer cast back to a pointer:
  if (end > begin) (void)madvise(static_cast<char*>(p) + (begin - at), end - begin, MADV_HUGEPAGE);
}

}  // namespace

Result<bool> Repository::StoreBlob(BlobType type, const Id& id, ByteView plaintext) {
  if (index_.Contains(id)) {
    MutexLock lock(mu_);
    ++stats_.blobs_duplicate;
    return false;
  }
  {
    MutexLock lock(mu_);
    if (!upload_error_.ok()) return upload_error_;
    if (pending_.count(id)) {
      ++stats_.blobs_duplicate;
      return false;
    }
  }
  thread_local Bytes sealed;
  sealed.clear();
  SealEnvelope(KeyFor(keys_, type), BlobKind(type), id.Hex(), algo_, level_, plaintext, sealed);
  OpenPack ready;
  bool have_ready = false;
  {
    MutexLock lock(mu_);
    if (pending_.count(id) || index_.Contains(id)) {
      ++stats_.blobs_duplicate;
      return false;
    }
    pending_.insert(id);
    PackEntry e;
    e.type = type;
    e.id = id;
    e.offset = static_cast<uint32_t>(current_.data.size());
    e.length = static_cast<uint32_t>(sealed.size());
    e.raw_length = static_cast<uint32_t>(plaintext.size());
    current_.entries.push_back(e);
    if (current_.data.empty()) {
      current_.data.reserve(config_.pack_size + (1 << 20));
      AdviseHugePages(current_.data.data(), current_.data.capacity());
    }
    current_.data.insert(current_.data.end(), sealed.begin(), sealed.end());
    ++stats_.blobs_new;
    stats_.bytes_raw_new += plaintext.size();
    stats_.bytes_stored_new += sealed.size();
    if (current_.data.size() >= config_.pack_size) {
      ready = std::move(current_);
      current_ = OpenPack();
      have_ready = true;
      ++uploads_in_flight_;
    }
  }
  if (sealed.capacity() > (16u << 20)) Bytes().swap(sealed);
  if (have_ready) EnqueueUpload(std::move(ready));
  return true;
}

void Repository::UploadPack(OpenPack pack) {
  Id pack_id = crypto::RandomId();
  FinishPack(keys_.meta_key, pack_id, pack.entries, pack.data);
  Status st = backend_->Save(ObjectName{ObjectType::kPack, pack_id.Hex()}, pack.data);
  MutexLock lock(mu_);
  if (st.ok()) {
    index_.AddPack(pack_id, pack.entries);
    ++stats_.packs_written;
  } else if (upload_error_.ok()) {
    upload_error_ = st.WithContext("saving a pack");
  }
  for (const PackEntry& e : pack.entries) pending_.erase(e.id);
  if (st.ok()) unindexed_.push_back(IndexedPack{pack_id, std::move(pack.entries)});
  --uploads_in_flight_;
  uploads_done_.notify_all();
}

Status Repository::Flush() {
  OpenPack ready;
  bool have_ready = false;
  {
    MutexLock lock(mu_);
    if (!current_.entries.empty()) {
      ready = std::move(current_);
      current_ = OpenPack();
      have_ready = true;
      ++uploads_in_flight_;
    }
  }
  if (have_ready) UploadPack(std::move(ready));
  std::vector<IndexedPack> to_index;
  {
    MutexLock lock(mu_);
    while (uploads_in_flight_ != 0) uploads_done_.wait(mu_);
    if (!upload_error_.ok()) return upload_error_;
    to_index.swap(unindexed_);
  }
  if (to_index.empty()) return Status::OK();
  Id index_id = crypto::RandomId();
  Status st = SaveSealed(ObjectType::kIndex, "index", index_id, EncodeIndexBody(to_index));
  MutexLock lock(mu_);
  if (!st.ok()) {
    // Keep them: a later Flush retries, and a later run adopts the packs.
    unindexed_.insert(unindexed_.end(), to_index.begin(), to_index.end());
    return st.WithContext("saving an index object");
  }
  ++stats_.index_objects_written;
  loaded_index_objects_.insert(index_id);
  return Status::OK();
}

void Repository::ClearUploadError() {
  MutexLock lock(mu_);
  upload_error_ = Status::OK();
}

Result<Bytes> Repository::OpenBlob(const Id& id, const BlobLocation& loc, ByteView sealed) {
  auto plain =
      OpenEnvelope(KeyFor(keys_, loc.type), BlobKind(loc.type), id.Hex(), sealed, loc.raw_length);
  if (!plain.ok())
    return plain.error().WithContext("chunk " + id.Hex().substr(0, 16) + " in pack " +
                                     index_.PackId(loc.pack).Hex().substr(0, 16));
  return plain;
}

Result<Bytes> Repository::LoadBlob(const Id& id) {
  auto loc = index_.Find(id);
  if (!loc) return Status::NotFound("chunk " + id.Hex() + " is not in the index");
  Id pack = index_.PackId(loc->pack);
  auto sealed = backend_->Load(ObjectName{ObjectType::kPack, pack.Hex()}, loc->offset, loc->length);
  if (!sealed.ok()) {
    if (sealed.error().IsNotFound())
      return Status::Corruption("pack " + pack.Hex() + " is missing");
    return sealed.error();
  }
  return OpenBlob(id, *loc, *sealed);
}

StoreStats Repository::store_stats() {
  MutexLock lock(mu_);
  return stats_;
}

Status Repository::SaveSealed(ObjectType type, std::string_view kind, const Id& id, ByteView body) {
  Bytes sealed;
  SealEnvelope(keys_.meta_key, kind, id.Hex(), compress::Algorithm::kZstd, 3, body, sealed);
  return backend_->Save(ObjectName{type, id.Hex()}, sealed);
}

Result<Bytes> Repository::LoadSealed(ObjectType type, std::string_view kind, const Id& id) {
  CAIRN_ASSIGN_OR_RETURN(Bytes sealed, backend_->Load(ObjectName{type, id.Hex()}, 0, 0));
  return OpenEnvelope(keys_.meta_key, kind, id.Hex(), sealed);
}

Result<Id> Repository::SaveSegment(const VersionSegment& segment) {
  Id id = crypto::RandomId();
  CAIRN_RETURN_IF_ERROR(
      SaveSealed(ObjectType::kVersions, "versions", id, EncodeSegmentBody(segment)));
  return id;
}

Status Repository::ListSegments(const std::function<Status(const Id&)>& fn) {
  return backend_->List(ObjectType::kVersions, [&](const backend::ObjectInfo& info) {
    auto id = Id::FromHex(info.name.name);
    if (!id.ok()) return Status::OK();
    return fn(*id);
  });
}

Result<VersionSegment> Repository::LoadSegment(const Id& id) {
  auto body = LoadSealed(ObjectType::kVersions, "versions", id);
  if (!body.ok()) return body.error().WithContext("version segment " + id.Hex());
  auto seg = DecodeSegmentBody(*body);
  if (!seg.ok()) return seg.error().WithContext("version segment " + id.Hex());
  return seg;
}

Result<std::vector<KeySlot>> Repository::ListKeySlots(std::vector<std::string>* skipped) {
  std::vector<KeySlot> out;
  CAIRN_RETURN_IF_ERROR(backend_->List(ObjectType::kKey, [&](const backend::ObjectInfo& info) {
    auto id = Id::FromHex(info.name.name);
    if (!id.ok()) return Status::OK();
    auto data = backend_->Load(info.name, 0, 0);
    if (!data.ok() && data.error().IsNotFound()) return Status::OK();  // removed meanwhile
    if (!data.ok()) return data.error();
    // A slot no reader would try (see Open) is not a key of this repository:
    // leave it out rather than fail the listing.
    auto slot = DecodeKeySlot(*id, *data);
    if (!slot.ok()) {
      if (skipped)
        skipped->push_back("skipped key slot " + id->Hex().substr(0, 16) + ": " +
                           slot.error().message());
      return Status::OK();
    }
    out.push_back(std::move(*slot));
    return Status::OK();
  }));
  std::sort(out.begin(), out.end(),
            [](const KeySlot& a, const KeySlot& b) { return a.created < b.created; });
  return out;
}

Result<Id> Repository::AddKeySlot(std::string_view secret, const crypto::KdfParams& kdf,
                                  std::string label) {
  CAIRN_ASSIGN_OR_RETURN(KeySlot slot, MakeKeySlot(keys_, secret, kdf, std::move(label)));
  CAIRN_RETURN_IF_ERROR(
      backend_->Save(ObjectName{ObjectType::kKey, slot.slot_id.Hex()}, EncodeKeySlot(slot)));
  return slot.slot_id;
}

Status Repository::RemoveKeySlot(const Id& slot_id) {
  CAIRN_ASSIGN_OR_RETURN(auto slots, ListKeySlots());
  bool found = false;
  for (const auto& s : slots) found |= s.slot_id == slot_id;
  const ObjectName name{ObjectType::kKey, slot_id.Hex()};
  if (!found) {
    // A slot no reader would use (damaged, foreign, out of bounds: Open
    // skips it) is not a working key: removing it never locks anyone out.
    auto info = backend_->Stat(name);
    if (!info.ok()) {
      if (info.error().IsNotFound()) return Status::NotFound("no key slot " + slot_id.Hex());
      return info.error();
    }
    return backend_->Remove(name);
  }
  if (slots.size() <= 1)
    return Status::InvalidArgument(
        "refusing to remove the last key: the repository would be "
        "unreadable forever");
  return backend_->Remove(name);
}

}  // namespace cairn::repo
