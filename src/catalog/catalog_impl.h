// Catalog::Impl: the schema's tables and the state shared by the catalog's
// ingestion (catalog_ingest.cc) and queries (catalog_query.cc): interned
// devices and attributes, and the resolution of paths to nodes of the name tree.
//
// Internal to src/catalog; a Catalog's thread-safety contract applies.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "catalog/catalog.h"
#include "catalog/sqlite.h"
#include "repo/version_id.h"

namespace cairn::catalog {

// ---- Schema 3 ------------------------------------------------------------------
//
// names, nodes: the paths as a tree of names shared by all devices: a path
//           is its components split at '/' ("/a/b" is "", "a", "b"; "/" is
//           "", ""; so any byte string maps to exactly one node and back).
//           Node 0 is the virtual parent of the first component. `names`,
//           keyed by (parent, name), resolves paths and lists folders in name
//           order; `nodes` maps a node to its parent (for walking up: a
//           node's own name is found among its siblings), so each name is
//           stored once. A child is added after its parent: ids grow
//           downwards. `kids` is 1 once the node has had a child (it may
//           stay 1 after they are removed: listings then look in vain, once).
// versions: one row per version; `seq` (the rowid) is the ingestion order,
//           the tie-breaker after bt (backup_time). `latest` is 1 on the last
//           version in order of each (node, device), so "now" needs no search.
//           `vkey` is the first 3 bytes of the version id (repo/version_id.h)
//           as a signed int (3 bytes on disk): candidates are checked against
//           the full id. `rec` holds every other field
//           (catalog/version_coding.h), an `attrs` id among them.
// devices, attrs: interned device names, and the attributes many versions
//           share (uid, gid, user, group, file-system device; id 0, with no
//           row, is all zero and empty). Rows are never deleted (not even by
//           Clear), so their ids can be cached for the connection's life.
// segments: ingested version segments; a segment's versions were inserted
//           together (seq first_seq .. first_seq + records - 1); max_time is
//           their greatest bt.
// runs:     the run history, from segment headers (kept when segments go).
// superseded: segments a compacted segment replaces, so a later sync never
//           ingests one still in the repository (a compaction that has not
//           deleted them yet, or was interrupted); forgotten once gone.
// forgotten: version ids that forget segments (retention, design.md §19)
//           name: their rows are deleted when met and never inserted again,
//           whatever the order in which segments arrive.
inline constexpr const char kSchema[] = R"sql(
CREATE TABLE superseded(id BLOB PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE forgotten(vid BLOB PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE meta(key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE devices(id INTEGER PRIMARY KEY, name BLOB NOT NULL UNIQUE);
CREATE TABLE attrs(id INTEGER PRIMARY KEY, uid INTEGER NOT NULL, gid INTEGER NOT NULL,
  user BLOB NOT NULL, grp BLOB NOT NULL, dev INTEGER NOT NULL, UNIQUE(uid, gid, user, grp, dev));
CREATE TABLE segments(seg INTEGER PRIMARY KEY, id BLOB NOT NULL UNIQUE,
  first_seq INTEGER NOT NULL, records INTEGER NOT NULL, max_time INTEGER NOT NULL);
CREATE TABLE nodes(id INTEGER PRIMARY KEY, parent INTEGER NOT NULL);
CREATE TABLE names(parent INTEGER NOT NULL, name BLOB NOT NULL, id INTEGER NOT NULL,
  kids INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(parent, name)) WITHOUT ROWID;
CREATE TABLE versions(
  seq INTEGER PRIMARY KEY,
  node INTEGER NOT NULL,
  device INTEGER NOT NULL,
  latest INTEGER NOT NULL,
  deleted INTEGER NOT NULL,
  bt INTEGER NOT NULL,
  vkey INTEGER NOT NULL,
  rec BLOB NOT NULL);
CREATE INDEX versions_by_node ON versions(node, device, latest);
CREATE INDEX versions_by_vkey ON versions(vkey);
CREATE TABLE runs(
  run BLOB PRIMARY KEY,
  device INTEGER NOT NULL,
  started INTEGER NOT NULL,
  ended INTEGER NOT NULL,
  complete INTEGER NOT NULL,
  roots BLOB NOT NULL,
  files_new INTEGER NOT NULL DEFAULT 0,
  files_changed INTEGER NOT NULL DEFAULT 0,
  files_unchanged INTEGER NOT NULL DEFAULT 0,
  bytes_read INTEGER NOT NULL DEFAULT 0,
  bytes_stored INTEGER NOT NULL DEFAULT 0,
  errors INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
CREATE INDEX runs_by_device ON runs(device, started);
)sql";

// The version columns ReadVersion decodes, in order, from `versions v`.
#define CAIRN_VERSION_COLS "v.seq, v.device, v.deleted, v.bt, v.rec"
inline constexpr int kVersionCols = 5;

// A version row as read, not yet decoded (listings decode only what they
// emit).
struct RawVersion {
  int64_t seq = 0;
  int64_t device = 0;
  bool deleted = false;
  TimeNs bt = 0;
  std::string rec;
};

// "Later in order": by (backup_time, ingestion order).
inline bool Before(const RawVersion& a, const RawVersion& b) {
  return a.bt != b.bt ? a.bt < b.bt : a.seq < b.seq;
}

// versions.vkey of a version id: its first 3 bytes as a signed int, which
// SQLite stores in 3 bytes. A million versions give about 0.06 other
// versions per key.
int64_t VersionKey(const repo::VersionId& id);

// Splits a path into its components ("/a/b" -> "", "a", "b").
std::vector<std::string_view> SplitPath(std::string_view path);
// Backup roots as one BLOB (NUL-separated: paths hold no NUL).
std::string JoinRoots(const std::vector<std::string>& roots);

class Catalog::Impl {
 public:
  explicit Impl(std::unique_ptr<Db> db) : db_(std::move(db)) {}

  Db& db() { return *db_; }

  Status Configure(const OpenOptions& options);

  // Transactions that also forget what the cache learnt inside them when
  // they are rolled back (ids of rows that no longer exist).
  Status Begin() { return db_->Begin(); }
  Status Commit();
  Status Rollback();
  Status RunForEachId(const char* sql, const std::vector<Id>& ids);
  template <typename F>
  Status InTransaction(F&& body) {
    CAIRN_RETURN_IF_ERROR(Begin());
    Status st = body();
    if (!st.ok()) {
      (void)Rollback();
      return st;
    }
    return Commit();
  }
  // Drops every cached id (after rows were deleted, or a rollback).
  void ForgetCaches();

  // ---- Ingestion (catalog_ingest.cc); REQUIRE: inside a transaction.
  Status AddSegment(const Id& segment_id, const SegmentInfo& info,
                    const std::vector<repo::VersionRecord>& records);
  Status RemoveSegment(const Id& segment_id);
  // Records `ids` as forgotten and deletes the versions that have them.
  Status ForgetVersions(const std::vector<repo::VersionId>& ids);
  // The runs a segment header tells of, into the history.
  Status AddRun(const SegmentInfo& info);
  Status ClearAll();

  // ---- Names and interned strings
  // The node of `path`; nullopt if the catalog has none. With `create`, it
  // and the nodes above it are added (REQUIRES: inside a transaction).
  Result<std::optional<int64_t>> Node(std::string_view path, bool create);
  // The path of `node`. Corruption if the tree is broken.
  Result<std::string> PathOf(int64_t node);
  // The id of a device name; nullopt if the catalog has never seen it. With
  // `create`, it is added (REQUIRES: inside a transaction).
  Result<std::optional<int64_t>> DeviceId(std::string_view name, bool create);
  Result<std::string> DeviceName(int64_t id);
  // The attributes versions share with many others (attrs table).
  struct SharedAttrs {
    uint32_t uid = 0, gid = 0;
    std::string user, group;
    uint64_t dev = 0;
  };
  // The id of r's shared attributes, added if new (REQUIRES: inside a
  // transaction).
  Result<int64_t> AttrsId(const repo::VersionRecord& r);
  Result<const SharedAttrs*> Attrs(int64_t id);

  // ---- Reading versions
  // The CAIRN_VERSION_COLS columns of q's current row, from column `first`.
  static RawVersion ReadRaw(const Query& q, int first);
  // The full record of a raw row at `path`.
  Result<repo::VersionRecord> Decode(const RawVersion& raw, std::string_view path);
  // Every version of `node` on `device` (all devices if 0), in no order.
  Status VersionsOf(int64_t node, int64_t device, std::vector<RawVersion>* out);
  // Among `candidates` (versions of one path), the state at `at`: the last in
  // order with a wall-clock time <= at (any, for kLatest); nullptr if none.
  Result<const RawVersion*> StateAt(const std::vector<RawVersion>& candidates, TimeNs at);

 private:
  Result<int64_t> UserVersion();
  Status CreateSchemaIfEmpty();
  Status QuickCheck();
  // Drops the node caches (chain_, folders_) if another connection committed
  // since they were filled (it may have removed nodes, whose ids may be
  // given again).
  Status CheckDataVersion();
  Result<int64_t> InsertVersion(const repo::VersionRecord& r, const repo::VersionId& id,
                                int64_t device);
  // After versions of (node, device) were deleted: marks its newest
  // remaining one latest (none left: nothing).
  Status Relatest(int64_t node, int64_t device);
  // Adds `run` to the history or merges it into the row of the same run.
  Status UpsertRun(const RunInfo& run);
  // Deletes `node` and then its parents while they have no version and no
  // child left.
  Status CollectNode(int64_t node);

  std::unique_ptr<Db> db_;
  int64_t data_version_ = -1;
  // The folders of the last path resolved: their components and node ids,
  // so paths asked in walk order cost one lookup for their last component.
  std::vector<std::pair<std::string, int64_t>> chain_;
  // Parent and name of folders met by PathOf (the upper levels of every
  // path), at most kMaxFolders.
  static constexpr size_t kMaxFolders = 8192;
  std::unordered_map<int64_t, std::pair<int64_t, std::string>> folders_;
  std::unordered_map<std::string, int64_t> device_ids_;
  std::unordered_map<int64_t, std::string> device_names_;
  std::unordered_map<std::string, int64_t> attrs_ids_;  // by AttrsKey
  std::unordered_map<int64_t, SharedAttrs> attrs_;
  std::string rec_buffer_;  // InsertVersion's encoding, reused
};

}  // namespace cairn::catalog
