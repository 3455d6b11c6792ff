// Repository: an unlocked repository on a backend. Owns the master keys, the
// config and the in-memory chunk index; stores and loads blobs through packs;
// saves and loads index objects, version segments and key slots.
//
// Write ordering (docs/design.md "Write ordering"): a pack is saved before
// the index object that lists it, and Flush() must return OK before a version
// segment that references blobs stored earlier is saved.
// Thread-safety: StoreBlob, LoadBlob, OpenBlob, store_stats and the index
// are safe from many threads; the other methods are called from one thread.
// Uploader threads (started by the first full pack) share the upload state
// with them under mu_; the GUARDED_BY annotations say which, and clang checks
// them (base/thread_annotations.h).
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "backend/backend.h"
#include "base/mutex.h"
#include "compress/compressor.h"
#include "repo/index.h"
#include "repo/keys.h"
#include "repo/repo_config.h"
#include "repo/version_segment.h"

namespace cairn::repo {

struct InitOptions {
  crypto::KdfParams kdf = crypto::DefaultKdfParams();
  chunk::ChunkerParams chunker;  // seed is generated
  uint64_t pack_size = 16ull << 20;
  std::string key_label;
};

struct OpenOptions {
  // The slot to try first: the one that opened last time on this machine.
  // Slots before it in the listing (a planted one included) then cost the
  // owner nothing. A slot id the repository does not have is ignored.
  std::optional<Id> preferred_slot;
};

struct StoreStats {
  uint64_t blobs_new = 0, blobs_duplicate = 0;
  uint64_t bytes_raw_new = 0;     // plaintext bytes of new blobs
  uint64_t bytes_stored_new = 0;  // sealed bytes of new blobs
  uint64_t packs_written = 0, index_objects_written = 0;
};

class Repository {
 public:
  // Creates a new repository at an empty location. AlreadyExists when the
  // location holds objects.
  static Result<std::unique_ptr<Repository>> Init(std::shared_ptr<backend::Backend> be,
                                                  std::string_view secret,
                                                  const InitOptions& options);
  // Opens an existing repository with the first key slot that opens with
  // `secret` (options.preferred_slot first, then the listing's order). A slot
  // that cannot be read or decoded, is outside the KDF bounds (refused
  // without deriving), names a foreign cipher, or opens to keys that do not
  // authenticate the config is skipped; on success the skipped slots are in
  // warnings(). When none opens: NoRepository when there is no config;
  // Corruption when a slot opened but its keys do not fit the config, or no
  // slot is usable at all; the read error when a slot could not be read;
  // Unsupported when every slot is of a newer or foreign format;
  // WrongPassword otherwise (the skipped slots are named in the message).
  // Unsupported for a config of a newer format.
  static Result<std::unique_ptr<Repository>> Open(std::shared_ptr<backend::Backend> be,
                                                  std::string_view secret,
                                                  const OpenOptions& options = {});
  ~Repository();

  backend::Backend& backend() { return *backend_; }
  std::shared_ptr<backend::Backend> shared_backend() { return backend_; }
  const RepoConfig& config() const { return config_; }
  // Raises the repository's format version to at least `major` (rewriting
  // the config object by compare-and-swap; another writer raising it at the
  // same time is fine), before writing what an older reader would
  // misread. OK at once when it is already there. REQUIRES: major <=
  // kFormatMajor.
  Status RequireFormat(int major);
  const MasterKeys& keys() const { return keys_; }
  const Id& key_slot_in_use() const { return slot_in_use_; }
  Index& index() { return index_; }

  // Loads the index objects not loaded yet (the first call loads them all;
  // a long-lived repository pays only for what other writers added since).
  // With adopt_orphan_packs, the first such call also reads the header of
  // every pack that no index lists (left by an interrupted backup) and adds
  // it; the next Flush() writes an index object for them so their chunks are
  // reused. Unreadable index objects are skipped and reported in warnings()
  // (once); when there is one, the orphan packs are adopted whatever
  // adopt_orphan_packs says (its packs are among them), so nothing it listed
  // becomes unreadable. REQUIRES: not called concurrently with itself.
  Status LoadIndex(bool adopt_orphan_packs);
  // Tells the repository the generation (repo/generation.h; its etag, as
  // the lock just taken saw it: RepoLock::generation_etag) under which the
  // next LoadIndex runs. When the in-memory index was loaded under another
  // generation, a deleting operation (compaction, prune) ran since: the index
  // is dropped and the next LoadIndex loads it whole, so nothing is
  // deduplicated against a deleted chunk. Returns whether it was dropped.
  // REQUIRES: no run in progress (nothing pending upload).
  bool SyncGeneration(const std::string& generation_etag) EXCLUDES(mu_);
  // Skipped key slots (from Open) and unreadable index objects or packs
  // (from LoadIndex), in the order met.
  const std::vector<std::string>& warnings() const { return warnings_; }

  void SetCompression(compress::Algorithm algo, int level);

  // Stores a blob unless one with this ID is already stored or pending.
  // Returns true when it was new. Returns the first pack-upload error, once
  // one happened (the run must stop; everything flushed before is intact).
  Result<bool> StoreBlob(BlobType type, const Id& id, ByteView plaintext) EXCLUDES(mu_);
  // Writes the open pack, waits for uploads in flight and saves an index
  // object for every pack not yet indexed. On OK, every blob stored so far
  // is durable and findable by a later Open.
  Status Flush() EXCLUDES(mu_);
  // A failed pack upload makes StoreBlob and Flush fail until this is
  // called: the run that met the error stops, and the next run (after the
  // network came back) starts with a clean slate. Blobs of the failed pack
  // were never indexed, so they are stored again when needed.
  void ClearUploadError() EXCLUDES(mu_);
  // Decrypts and decompresses a blob. NotFound when the index has no such
  // blob; Corruption when the stored bytes do not authenticate.
  Result<Bytes> LoadBlob(const Id& id);
  // Opens one blob from bytes already loaded (restore reads packs whole).
  Result<Bytes> OpenBlob(const Id& id, const BlobLocation& loc, ByteView sealed);
  StoreStats store_stats() EXCLUDES(mu_);

  Result<Id> SaveSegment(const VersionSegment& segment);
  Status ListSegments(const std::function<Status(const Id&)>& fn);
  Result<VersionSegment> LoadSegment(const Id& id);

  // The decodable slots, oldest first. A slot DecodeKeySlot refuses is left
  // out (Open would skip it too) and, when `skipped` is given, named there.
  Result<std::vector<KeySlot>> ListKeySlots(std::vector<std::string>* skipped = nullptr);
  Result<Id> AddKeySlot(std::string_view secret, const crypto::KdfParams& kdf, std::string label);
  // Refuses to remove the last slot.
  Status RemoveKeySlot(const Id& slot_id);

  // Generic sealed metadata objects (locks).
  Status SaveSealed(backend::ObjectType type, std::string_view kind, const Id& id, ByteView body);
  Result<Bytes> LoadSealed(backend::ObjectType type, std::string_view kind, const Id& id);

 private:
  Repository(std::shared_ptr<backend::Backend> be, RepoConfig config, MasterKeys keys, Id slot);
  struct OpenPack {
    Bytes data;
    std::vector<PackEntry> entries;
  };
  void UploadPack(OpenPack pack) EXCLUDES(mu_);
  // Hands a full pack to the uploader threads; waits while kMaxQueuedPacks
  // are already queued (bounded memory). REQUIRES: uploads_in_flight_ was
  // incremented for it.
  void EnqueueUpload(OpenPack pack) EXCLUDES(mu_);
  void UploaderLoop(std::stop_token stop) EXCLUDES(mu_);
  static constexpr size_t kMaxQueuedPacks = 1;

  std::shared_ptr<backend::Backend> backend_;
  RepoConfig config_;
  MasterKeys keys_;
  Id slot_in_use_;
  Index index_;
  std::vector<std::string> warnings_;
  compress::Algorithm algo_ = compress::Algorithm::kZstd;
  int level_ = 3;

  Mutex mu_;
  std::condition_variable_any uploads_done_;  // uploads_in_flight_ went down; waits on mu_
  OpenPack current_ GUARDED_BY(mu_);
  std::unordered_set<Id, IdHash> pending_ GUARDED_BY(mu_);  // in an open or uploading pack
  // Index objects already in index_ (loaded or written here).
  std::unordered_set<Id, IdHash> loaded_index_objects_ GUARDED_BY(mu_);
  bool orphans_adopted_ = false;  // LoadIndex's contract: one caller at a time
  bool index_loaded_ = false;     // LoadIndex ran (since the last SyncGeneration drop)
  std::string index_generation_;  // etag of locks/generation the index was loaded under
  std::vector<IndexedPack> unindexed_ GUARDED_BY(mu_);  // saved packs without an index object
  int uploads_in_flight_ GUARDED_BY(mu_) = 0;           // queued + being uploaded
  std::deque<OpenPack> upload_queue_ GUARDED_BY(mu_);
  std::condition_variable_any upload_cv_;                // queue changed; waits on mu_
  std::vector<std::jthread> uploaders_ GUARDED_BY(mu_);  // started on the first full pack
  Status upload_error_ GUARDED_BY(mu_);
  StoreStats stats_ GUARDED_BY(mu_);
};

}  // namespace cairn::repo
