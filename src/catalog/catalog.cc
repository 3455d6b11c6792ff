#include "catalog/catalog.h"

#include "repo/version_id.h"

#include <filesystem>
#include <fstream>
#include <system_error>
#include <unordered_map>

#include "base/glob_match.h"
#include "catalog/sqlite.h"

namespace cairn::catalog {
namespace {

namespace fs = std::filesystem;
using repo::VersionRecord;

// ---- Schema ----------------------------------------------------------------
//
// paths:    one row per (device, path) ever seen. `parent` makes non-recursive
//           listing an index lookup; latest_seq/latest_time point at the
//           newest version so "latest" queries need no search.
// versions: one row per version; `seq` (the rowid) is the ingestion order,
//           the tie-breaker after backup_time. Unsigned 64-bit fields are
//           stored as their int64 bit pattern. chunks: concatenated 32-byte
//           ids; xattrs: see EncodeXattrs; sha256 NULL when all zero.
// segments: ingested version segments; versions.seg refers to segments.seg.
// All paths and devices are BLOBs, so comparisons are memcmp order.
constexpr const char kSchema[] = R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE segments(seg INTEGER PRIMARY KEY, id BLOB NOT NULL, records INTEGER NOT NULL,
  first_seq INTEGER NOT NULL DEFAULT 0);
CREATE UNIQUE INDEX segments_by_id ON segments(id);
CREATE TABLE paths(
  pid INTEGER PRIMARY KEY,
  device BLOB NOT NULL,
  path BLOB NOT NULL,
  parent BLOB NOT NULL,
  latest_seq INTEGER NOT NULL,
  latest_time INTEGER NOT NULL);
CREATE UNIQUE INDEX paths_by_device ON paths(device, path);
CREATE INDEX paths_by_path ON paths(path, device);
CREATE INDEX paths_by_parent ON paths(parent, path, device);
CREATE TABLE versions(
  seq INTEGER PRIMARY KEY,
  pid INTEGER NOT NULL,
  seg INTEGER NOT NULL,
  backup_time INTEGER NOT NULL,
  deleted INTEGER NOT NULL,
  type INTEGER NOT NULL,
  size INTEGER NOT NULL,
  mode INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  gid INTEGER NOT NULL,
  user BLOB,
  grp BLOB,
  mtime INTEGER NOT NULL,
  ctime INTEGER NOT NULL,
  inode INTEGER NOT NULL,
  dev INTEGER NOT NULL,
  rdev INTEGER NOT NULL,
  sparse INTEGER NOT NULL,
  link_target BLOB,
  sha256 BLOB,
  chunks BLOB,
  xattrs BLOB,
  vid BLOB NOT NULL);
CREATE INDEX versions_by_path ON versions(pid, backup_time);
CREATE INDEX versions_by_vid ON versions(vid);
CREATE INDEX versions_by_time ON versions(backup_time);
)sql";

// ---- Statements --------------------------------------------------------------
// Parameters: ?1 device, ?2 path / lower bound / parent, ?3 upper bound, ?4 time.

// The columns ReadRecord decodes, in order.
#define CAIRN_VERSION_COLS                                                                     \
  "p.device, p.path, v.backup_time, v.deleted, v.type, v.size, v.mode, v.uid, v.gid, v.user, " \
  "v.grp, v.mtime, v.ctime, v.inode, v.dev, v.rdev, v.sparse, v.link_target, v.sha256, "       \
  "v.chunks, v.xattrs"
constexpr int kColPath = 1;

// Joins each path row `p` to its version `v` at time ?4: the latest-version
// pointer when it is not after ?4, otherwise one descending index probe.
#define CAIRN_STATE_AT                                                                \
  " JOIN versions v ON v.seq = CASE WHEN p.latest_time <= ?4 THEN p.latest_seq ELSE " \
  "(SELECT w.seq FROM versions w WHERE w.pid = p.pid AND w.backup_time <= ?4 "        \
  "ORDER BY w.backup_time DESC, w.seq DESC LIMIT 1) END "

#define CAIRN_SELECT_STATE(index) \
  "SELECT " CAIRN_VERSION_COLS " FROM paths p INDEXED BY " index CAIRN_STATE_AT

constexpr const char kTreeSelfDev[] =
    CAIRN_SELECT_STATE("paths_by_device") "WHERE p.device = ?1 AND p.path = ?2 AND v.deleted = 0";
constexpr const char kTreeSelfAll[] =
    CAIRN_SELECT_STATE("paths_by_path") "WHERE p.path = ?2 AND v.deleted = 0 ORDER BY p.device";
constexpr const char kTreeRangeDev[] = CAIRN_SELECT_STATE(
    "paths_by_device") "WHERE p.device = ?1 AND p.path >= ?2 AND p.path < ?3 AND v.deleted = 0 "
                       "ORDER BY p.path";
constexpr const char kTreeRangeAll[] = CAIRN_SELECT_STATE(
    "paths_by_path") "WHERE p.path >= ?2 AND p.path < ?3 AND v.deleted = 0 "
                     "ORDER BY p.path, p.device";
constexpr const char kChildrenDev[] = CAIRN_SELECT_STATE(
    "paths_by_parent") "WHERE p.parent = ?2 AND p.device = ?1 AND v.deleted = 0 ORDER BY p.path";
constexpr const char kChildrenAll[] = CAIRN_SELECT_STATE(
    "paths_by_parent") "WHERE p.parent = ?2 AND v.deleted = 0 ORDER BY p.path, p.device";

constexpr const char kFindDev[] =
    "SELECT " CAIRN_VERSION_COLS
    " FROM paths p INDEXED BY paths_by_device JOIN versions v ON v.seq = p.latest_seq "
    "WHERE p.device = ?1 AND v.deleted = 0 ORDER BY p.path";
constexpr const char kFindAll[] =
    "SELECT " CAIRN_VERSION_COLS
    " FROM paths p INDEXED BY paths_by_path JOIN versions v ON v.seq = p.latest_seq "
    "WHERE v.deleted = 0 ORDER BY p.path, p.device";
constexpr const char kLatestForSkip[] =
    "SELECT " CAIRN_VERSION_COLS
    " FROM paths p INDEXED BY paths_by_device JOIN versions v ON v.seq = p.latest_seq "
    "WHERE p.device = ?1 AND p.path = ?2";

constexpr const char kLookupDev[] =
    "SELECT " CAIRN_VERSION_COLS
    " FROM paths p INDEXED BY paths_by_device JOIN versions v ON v.pid = p.pid "
    "WHERE p.device = ?1 AND p.path = ?2 AND v.backup_time <= ?4 "
    "ORDER BY v.backup_time DESC, v.seq DESC LIMIT 1";
constexpr const char kLookupAll[] =
    "SELECT " CAIRN_VERSION_COLS
    " FROM paths p INDEXED BY paths_by_path JOIN versions v ON v.pid = p.pid "
    "WHERE p.path = ?2 AND v.backup_time <= ?4 ORDER BY v.backup_time DESC, v.seq DESC LIMIT 1";
constexpr const char kVersionsDev[] =
    "SELECT " CAIRN_VERSION_COLS
    " FROM paths p INDEXED BY paths_by_device JOIN versions v ON v.pid = p.pid "
    "WHERE p.device = ?1 AND p.path = ?2 ORDER BY v.backup_time, v.seq";
constexpr const char kVersionsAll[] =
    "SELECT " CAIRN_VERSION_COLS
    " FROM paths p INDEXED BY paths_by_path JOIN versions v ON v.pid = p.pid "
    "WHERE p.path = ?2 ORDER BY v.backup_time, v.seq";
constexpr const char kVersionById[] =
    "SELECT " CAIRN_VERSION_COLS
    " FROM versions v INDEXED BY versions_by_vid JOIN paths p ON p.pid = v.pid "
    "WHERE v.vid = ?1 ORDER BY v.seq";

#undef CAIRN_SELECT_STATE
#undef CAIRN_STATE_AT
#undef CAIRN_VERSION_COLS

constexpr const char kSegmentFind[] = "SELECT seg FROM segments WHERE id = ?1";
constexpr const char kSegmentInsert[] = "INSERT INTO segments(id, records) VALUES (?1, ?2)";
constexpr const char kSegmentList[] = "SELECT id FROM segments ORDER BY seg";
// A segment's versions were inserted in one go: seq first_seq .. first_seq + records - 1.
constexpr const char kSegmentSetFirst[] = "UPDATE segments SET first_seq = ?2 WHERE seg = ?1";
constexpr const char kSegmentRange[] = "SELECT seg, first_seq, records FROM segments WHERE id = ?1";
constexpr const char kSegmentDelete[] = "DELETE FROM segments WHERE seg = ?1";
constexpr const char kVersionPidsInRange[] =
    "SELECT DISTINCT pid FROM versions WHERE seq BETWEEN ?1 AND ?2";
constexpr const char kVersionDeleteRange[] = "DELETE FROM versions WHERE seq BETWEEN ?1 AND ?2";
constexpr const char kPathNewest[] =
    "SELECT seq, backup_time FROM versions INDEXED BY versions_by_path WHERE pid = ?1 "
    "ORDER BY backup_time DESC, seq DESC LIMIT 1";
constexpr const char kPathDelete[] = "DELETE FROM paths WHERE pid = ?1";
constexpr const char kPathFind[] =
    "SELECT pid, latest_time FROM paths WHERE device = ?1 AND path = ?2";
constexpr const char kPathInsert[] =
    "INSERT INTO paths(device, path, parent, latest_seq, latest_time) VALUES (?1, ?2, ?3, 0, ?4)";
constexpr const char kPathSetLatest[] =
    "UPDATE paths SET latest_seq = ?2, latest_time = ?3 WHERE pid = ?1";
constexpr const char kVersionInsert[] =
    "INSERT INTO versions(pid, seg, backup_time, deleted, type, size, mode, uid, gid, user, grp, "
    "mtime, ctime, inode, dev, rdev, sparse, link_target, sha256, chunks, xattrs, vid) VALUES "
    "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, "
    "?21, ?22)";
constexpr const char kMetaSet[] = "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)";
constexpr const char kMetaGet[] = "SELECT value FROM meta WHERE key = ?1";
constexpr const char kMaxTime[] = "SELECT MAX(backup_time) FROM versions";
constexpr const char kDevices[] =
    "SELECT p.device, COUNT(*) FROM paths p INDEXED BY paths_by_device "
    "JOIN versions v ON v.pid = p.pid GROUP BY p.device ORDER BY p.device";
constexpr const char kCountAll[] = "SELECT COUNT(*) FROM versions";
constexpr const char kCountDev[] =
    "SELECT COUNT(*) FROM paths p INDEXED BY paths_by_device JOIN versions v ON v.pid = p.pid "
    "WHERE p.device = ?1";
constexpr const char kLatestSizesAll[] =
    "SELECT v.type, v.size FROM paths p JOIN versions v ON v.seq = p.latest_seq "
    "WHERE v.deleted = 0";
constexpr const char kLatestSizesDev[] =
    "SELECT v.type, v.size FROM paths p INDEXED BY paths_by_device "
    "JOIN versions v ON v.seq = p.latest_seq WHERE p.device = ?1 AND v.deleted = 0";

// ---- Record coding -------------------------------------------------------------

// xattrs: u32 count, then per entry u32 name length, name, u32 value length, value.
Bytes EncodeXattrs(const std::vector<repo::Xattr>& xattrs) {
  Bytes out;
  if (xattrs.empty()) return out;
  PutU32(out, static_cast<uint32_t>(xattrs.size()));
  for (const auto& x : xattrs) {
    PutU32(out, static_cast<uint32_t>(x.name.size()));
    out.insert(out.end(), x.name.begin(), x.name.end());
    PutU32(out, static_cast<uint32_t>(x.value.size()));
    out.insert(out.end(), x.value.begin(), x.value.end());
  }
  return out;
}

Status DecodeXattrs(std::string_view in, std::vector<repo::Xattr>* out) {
  out->clear();
  if (in.empty()) return Status::OK();
  auto bad = [] { return Status::Corruption("catalog: malformed xattrs column"); };
  const auto* p = reinterpret_cast<const uint8_t*>(in.data());
  size_t left = in.size();
  auto take_u32 = [&](uint32_t* v) {
    if (left < 4) return false;
    *v = GetU32(p);
    p += 4, left -= 4;
    return true;
  };
  uint32_t count = 0;
  if (!take_u32(&count) || count > left / 8) return bad();
  out->reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    repo::Xattr x;
    uint32_t n = 0;
    if (!take_u32(&n) || n > left) return bad();
    x.name.assign(reinterpret_cast<const char*>(p), n);
    p += n, left -= n;
    if (!take_u32(&n) || n > left) return bad();
    x.value.assign(p, p + n);
    p += n, left -= n;
    out->push_back(std::move(x));
  }
  if (left != 0) return bad();
  return Status::OK();
}

// Decodes the CAIRN_VERSION_COLS columns of the current row.
Result<VersionRecord> ReadRecord(const Query& q) {
  VersionRecord r;
  r.device = std::string(q.Blob(0));
  r.path = std::string(q.Blob(1));
  r.backup_time = q.Int(2);
  r.deleted = q.Int(3) != 0;
  r.type = static_cast<repo::FileType>(q.Int(4));
  r.size = q.U64(5);
  r.mode = static_cast<uint32_t>(q.Int(6));
  r.uid = static_cast<uint32_t>(q.Int(7));
  r.gid = static_cast<uint32_t>(q.Int(8));
  r.user = std::string(q.Blob(9));
  r.group = std::string(q.Blob(10));
  r.mtime = q.Int(11);
  r.ctime = q.Int(12);
  r.inode = q.U64(13);
  r.dev = q.U64(14);
  r.rdev = q.U64(15);
  r.sparse = q.Int(16) != 0;
  r.link_target = std::string(q.Blob(17));
  std::string_view sha = q.Blob(18);
  if (!sha.empty()) {
    if (sha.size() != 32) return Status::Corruption("catalog: malformed sha256 column");
    r.content_sha256 = Id::FromBytes(AsBytes(sha));
  }
  std::string_view chunks = q.Blob(19);
  if (chunks.size() % 32 != 0) return Status::Corruption("catalog: malformed chunks column");
  r.chunks.resize(chunks.size() / 32);
  for (size_t i = 0; i < r.chunks.size(); ++i) {
    std::memcpy(r.chunks[i].bytes.data(), chunks.data() + 32 * i, 32);
  }
  CAIRN_RETURN_IF_ERROR(DecodeXattrs(q.Blob(20), &r.xattrs));
  return r;
}

// "/a/b" -> "/a", "/a" -> "/", "/" -> "" (no parent), "a" -> "".
std::string_view ParentOf(std::string_view path) {
  size_t slash = path.rfind('/');
  if (slash == std::string_view::npos || path == "/") return {};
  if (slash == 0) return path.substr(0, 1);
  return path.substr(0, slash);
}

// "" -> "/", "/a/b/" -> "/a/b"; InvalidArgument unless absolute.
Result<std::string> NormalizeRoot(std::string_view root) {
  if (root.empty()) return std::string("/");
  if (root[0] != '/') {
    return Status::InvalidArgument("catalog: path \"" + std::string(root) + "\" is not absolute");
  }
  while (root.size() > 1 && root.back() == '/') root.remove_suffix(1);
  return std::string(root);
}

Status MakeParentDirs(const fs::path& file) {
  std::vector<fs::path> missing;
  std::error_code ec;
  for (fs::path dir = file.parent_path(); !dir.empty(); dir = dir.parent_path()) {
    if (fs::exists(dir, ec)) break;
    missing.push_back(dir);
    if (dir == dir.parent_path()) break;
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    fs::create_directory(*it, ec);
    if (ec && !fs::is_directory(*it)) {
      return Status::IOError("catalog: cannot create directory " + it->string() + ": " +
                             ec.message());
    }
    fs::permissions(*it, fs::perms::owner_all, fs::perm_options::replace, ec);
  }
  return Status::OK();
}

}  // namespace

// ---- Catalog::Impl --------------------------------------------------------------

class Catalog::Impl {
 public:
  explicit Impl(std::unique_ptr<Db> db) : db_(std::move(db)) {}

  Db& db() { return *db_; }

  Status Configure(const OpenOptions& options) {
    // The first statement reads the header: garbage fails here with NOTADB.
    CAIRN_RETURN_IF_ERROR(db_->Exec("PRAGMA journal_mode=WAL"));
    CAIRN_RETURN_IF_ERROR(
        db_->Exec("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=OFF; PRAGMA cache_size=-16384; "
                  "PRAGMA temp_store=MEMORY; PRAGMA journal_size_limit=16777216"));
    CAIRN_ASSIGN_OR_RETURN(int64_t version, UserVersion());
    if (version == 0) {
      CAIRN_RETURN_IF_ERROR(db_->Exec("BEGIN IMMEDIATE"));
      Status st = CreateSchemaIfEmpty();
      if (!st.ok()) {
        (void)db_->Exec("ROLLBACK");
        return st;
      }
      CAIRN_RETURN_IF_ERROR(db_->Exec("COMMIT"));
      CAIRN_ASSIGN_OR_RETURN(version, UserVersion());
    }
    if (version != kSchemaVersion) {
      return Status::Corruption("catalog " + db_->path() + " has schema version " +
                                std::to_string(version) + ", expected " +
                                std::to_string(kSchemaVersion) +
                                " (the catalog is a cache: remove it to rebuild it)");
    }
    return options.check_integrity ? QuickCheck() : Status::OK();
  }

  // REQUIRES: inside a transaction.
  Status AddSegment(const Id& segment_id, const std::vector<VersionRecord>& records) {
    {
      CAIRN_ASSIGN_OR_RETURN(Query q, db_->Prepare(kSegmentFind));
      q.BindBlob(1, segment_id.bytes.data(), segment_id.bytes.size());
      CAIRN_ASSIGN_OR_RETURN(bool found, q.Step());
      if (found) return Status::OK();
    }
    for (const auto& r : records) {
      if (r.path.empty()) {
        return Status::InvalidArgument("catalog: segment " + segment_id.Hex() +
                                       " has a version with an empty path");
      }
    }
    int64_t seg = 0;
    {
      CAIRN_ASSIGN_OR_RETURN(Query q, db_->Prepare(kSegmentInsert));
      q.BindBlob(1, segment_id.bytes.data(), segment_id.bytes.size());
      q.Bind(2, static_cast<int64_t>(records.size()));
      CAIRN_RETURN_IF_ERROR(q.Run());
      seg = db_->LastInsertRowid();
    }
    int64_t first_seq = 0;
    for (const auto& r : records) {
      CAIRN_ASSIGN_OR_RETURN(int64_t seq, InsertVersion(seg, r));
      if (first_seq == 0) first_seq = seq;
    }
    CAIRN_ASSIGN_OR_RETURN(Query q, db_->Prepare(kSegmentSetFirst));
    q.Bind(1, seg);
    q.Bind(2, first_seq);
    return q.Run();
  }

  // REQUIRES: inside a transaction.
  Status RemoveSegment(const Id& segment_id) {
    int64_t seg = 0, first = 0, count = 0;
    {
      CAIRN_ASSIGN_OR_RETURN(Query q, db_->Prepare(kSegmentRange));
      q.BindBlob(1, segment_id.bytes.data(), segment_id.bytes.size());
      CAIRN_ASSIGN_OR_RETURN(bool found, q.Step());
      if (!found) return Status::OK();
      seg = q.Int(0);
      first = q.Int(1);
      count = q.Int(2);
    }
    std::vector<int64_t> pids;
    if (count > 0) {
      {
        CAIRN_ASSIGN_OR_RETURN(Query q, db_->Prepare(kVersionPidsInRange));
        q.Bind(1, first);
        q.Bind(2, first + count - 1);
        while (true) {
          CAIRN_ASSIGN_OR_RETURN(bool row, q.Step());
          if (!row) break;
          pids.push_back(q.Int(0));
        }
      }
      CAIRN_ASSIGN_OR_RETURN(Query q, db_->Prepare(kVersionDeleteRange));
      q.Bind(1, first);
      q.Bind(2, first + count - 1);
      CAIRN_RETURN_IF_ERROR(q.Run());
    }
    {
      CAIRN_ASSIGN_OR_RETURN(Query q, db_->Prepare(kSegmentDelete));
      q.Bind(1, seg);
      CAIRN_RETURN_IF_ERROR(q.Run());
    }
    // Each touched path points at its newest remaining version, or goes.
    for (int64_t pid : pids) {
      CAIRN_ASSIGN_OR_RETURN(Query q, db_->Prepare(kPathNewest));
      q.Bind(1, pid);
      CAIRN_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) {
        CAIRN_ASSIGN_OR_RETURN(Query d, db_->Prepare(kPathDelete));
        d.Bind(1, pid);
        CAIRN_RETURN_IF_ERROR(d.Run());
        continue;
      }
      int64_t seq = q.Int(0), time = q.Int(1);
      CAIRN_ASSIGN_OR_RETURN(Query u, db_->Prepare(kPathSetLatest));
      u.Bind(1, pid);
      u.Bind(2, seq);
      u.Bind(3, time);
      CAIRN_RETURN_IF_ERROR(u.Run());
    }
    return Status::OK();
  }

 private:
  Result<int64_t> UserVersion() {
    CAIRN_ASSIGN_OR_RETURN(Query q, db_->Prepare("PRAGMA user_version"));
    CAIRN_ASSIGN_OR_RETURN(bool row, q.Step());
    return row ? q.Int(0) : 0;
  }

  // REQUIRES: inside a transaction.
  Status CreateSchemaIfEmpty() {
    CAIRN_ASSIGN_OR_RETURN(int64_t version, UserVersion());
    if (version != 0) return Status::OK();  // another process created it meanwhile
    int64_t objects = 0;
    {
      CAIRN_ASSIGN_OR_RETURN(Query q, db_->Prepare("SELECT COUNT(*) FROM sqlite_master"));
      CAIRN_ASSIGN_OR_RETURN(bool row, q.Step());
      if (row) objects = q.Int(0);
    }
    if (objects != 0) {
      return Status::Corruption("catalog " + db_->path() +
                                " is an SQLite database of unknown content (not a catalog)");
    }
    CAIRN_RETURN_IF_ERROR(db_->Exec(kSchema));
    static const std::string set_version =
        "PRAGMA user_version = " + std::to_string(kSchemaVersion);
    return db_->Exec(set_version.c_str());
  }

  Status QuickCheck() {
    CAIRN_ASSIGN_OR_RETURN(Query q, db_->Prepare("PRAGMA quick_check(1)"));
    CAIRN_ASSIGN_OR_RETURN(bool row, q.Step());
    std::string_view result = row ? q.Blob(0) : std::string_view();
    if (result != "ok") {
      return Status::Corruption("catalog " + db_->path() +
                                " failed its integrity check: " + std::string(result) +
                                " (the catalog is a cache: remove it to rebuild it)");
    }
    return Status::OK();
  }

  // Returns the new version's seq.
  Result<int64_t> InsertVersion(int64_t seg, const VersionRecord& r) {
    int64_t pid = 0;
    bool is_latest = true;
    {
      CAIRN_ASSIGN_OR_RETURN(Query q, db_->Prepare(kPathFind));
      q.BindBlob(1, r.device);
      q.BindBlob(2, r.path);
      CAIRN_ASSIGN_OR_RETURN(bool found, q.Step());
      if (found) {
        pid = q.Int(0);
        is_latest = r.backup_time >= q.Int(1);  // ties: the later ingested wins
      }
    }
    if (pid == 0) {
      CAIRN_ASSIGN_OR_RETURN(Query q, db_->Prepare(kPathInsert));
      q.BindBlob(1, r.device);
      q.BindBlob(2, r.path);
      q.BindBlob(3, ParentOf(r.path));
      q.Bind(4, r.backup_time);
      CAIRN_RETURN_IF_ERROR(q.Run());
      pid = db_->LastInsertRowid();
    }
    int64_t seq = 0;
    {
      CAIRN_ASSIGN_OR_RETURN(Query q, db_->Prepare(kVersionInsert));
      q.Bind(1, pid);
      q.Bind(2, seg);
      q.Bind(3, r.backup_time);
      q.Bind(4, r.deleted ? 1 : 0);
      q.Bind(5, static_cast<int64_t>(r.type));
      q.BindU64(6, r.size);
      q.Bind(7, r.mode);
      q.Bind(8, r.uid);
      q.Bind(9, r.gid);
      q.BindBlob(10, r.user);
      q.BindBlob(11, r.group);
      q.Bind(12, r.mtime);
      q.Bind(13, r.ctime);
      q.BindU64(14, r.inode);
      q.BindU64(15, r.dev);
      q.BindU64(16, r.rdev);
      q.Bind(17, r.sparse ? 1 : 0);
      q.BindBlob(18, r.link_target);
      if (r.content_sha256.IsZero()) {
        q.BindNull(19);
      } else {
        q.BindBlob(19, r.content_sha256.bytes.data(), 32);
      }
      // Id is exactly its 32 bytes, so the vector is already the concatenation.
      static_assert(sizeof(Id) == 32);
      q.BindBlob(20, r.chunks.data(), r.chunks.size() * sizeof(Id));
      Bytes xattrs = EncodeXattrs(r.xattrs);
      q.BindBlob(21, xattrs.data(), xattrs.size());
      repo::VersionId vid = repo::VersionIdOf(r);
      q.BindBlob(22, vid.data(), vid.size());
      CAIRN_RETURN_IF_ERROR(q.Run());
      seq = db_->LastInsertRowid();
    }
    if (is_latest) {
      CAIRN_ASSIGN_OR_RETURN(Query q, db_->Prepare(kPathSetLatest));
      q.Bind(1, pid);
      q.Bind(2, seq);
      q.Bind(3, r.backup_time);
      CAIRN_RETURN_IF_ERROR(q.Run());
    }
    return seq;
  }

  std::unique_ptr<Db> db_;
};

namespace {

// Streams every row of `q` through `fn`, optionally filtered on the path.
Status StreamRecords(Query& q, const std::function<bool(std::string_view)>& keep,
                     const std::function<Status(const VersionRecord&)>& fn) {
  while (true) {
    CAIRN_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return Status::OK();
    if (keep && !keep(q.Blob(kColPath))) continue;
    CAIRN_ASSIGN_OR_RETURN(VersionRecord r, ReadRecord(q));
    CAIRN_RETURN_IF_ERROR(fn(r));
  }
}

Result<std::optional<VersionRecord>> FirstExisting(Query& q) {
  CAIRN_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<VersionRecord>();
  CAIRN_ASSIGN_OR_RETURN(VersionRecord r, ReadRecord(q));
  if (r.deleted) return std::optional<VersionRecord>();
  return std::optional<VersionRecord>(std::move(r));
}

}  // namespace

// ---- Catalog ---------------------------------------------------------------------

Catalog::Catalog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Catalog::~Catalog() = default;

Result<std::unique_ptr<Catalog>> Catalog::Open(const std::string& path,
                                               const OpenOptions& options) {
  CAIRN_RETURN_IF_ERROR(MakeParentDirs(path));
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    // Create it private before SQLite sees it (file names are sensitive);
    // SQLite gives the -wal and -shm files the same permissions.
    { std::ofstream create(path, std::ios::binary | std::ios::app); }
    fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace,
                    ec);
  }
  CAIRN_ASSIGN_OR_RETURN(std::unique_ptr<Db> db, Db::Open(path));
  auto impl = std::make_unique<Impl>(std::move(db));
  CAIRN_RETURN_IF_ERROR(impl->Configure(options));
  return std::unique_ptr<Catalog>(new Catalog(std::move(impl)));
}

Status Catalog::Remove(const std::string& path) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    std::error_code ec;
    fs::remove(path + suffix, ec);
    if (ec) return Status::IOError("catalog: cannot remove " + path + suffix + ": " + ec.message());
  }
  return Status::OK();
}

Status Catalog::AddSegment(const Id& segment_id, const std::vector<VersionRecord>& records) {
  return impl_->db().InTransaction([&] { return impl_->AddSegment(segment_id, records); });
}

Status Catalog::AddSegments(
    const std::vector<std::pair<Id, std::vector<VersionRecord>>>& segments) {
  return impl_->db().InTransaction([&] {
    for (const auto& [id, records] : segments) {
      CAIRN_RETURN_IF_ERROR(impl_->AddSegment(id, records));
    }
    return Status::OK();
  });
}

Status Catalog::RemoveSegments(const std::vector<Id>& segment_ids) {
  return impl_->db().InTransaction([&] {
    for (const Id& id : segment_ids) CAIRN_RETURN_IF_ERROR(impl_->RemoveSegment(id));
    return Status::OK();
  });
}

Result<bool> Catalog::HasSegment(const Id& segment_id) {
  CAIRN_ASSIGN_OR_RETURN(Query q, impl_->db().Prepare(kSegmentFind));
  q.BindBlob(1, segment_id.bytes.data(), segment_id.bytes.size());
  return q.Step();
}

Result<std::vector<Id>> Catalog::Segments() {
  CAIRN_ASSIGN_OR_RETURN(Query q, impl_->db().Prepare(kSegmentList));
  std::vector<Id> ids;
  while (true) {
    CAIRN_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    std::string_view id = q.Blob(0);
    if (id.size() != 32) return Status::Corruption("catalog: malformed segment id");
    ids.push_back(Id::FromBytes(AsBytes(id)));
  }
  return ids;
}

Status Catalog::Clear() {
  return impl_->db().InTransaction([&] {
    return impl_->db().Exec(
        "DELETE FROM versions; DELETE FROM paths; DELETE FROM segments; DELETE FROM meta");
  });
}

Status Catalog::Begin() { return impl_->db().Begin(); }
Status Catalog::Commit() { return impl_->db().Commit(); }
Status Catalog::Rollback() { return impl_->db().Rollback(); }

Status Catalog::SetMeta(std::string_view key, std::string_view value) {
  CAIRN_ASSIGN_OR_RETURN(Query q, impl_->db().Prepare(kMetaSet));
  q.BindText(1, key);
  q.BindBlob(2, value);
  return q.Run();
}

Result<std::optional<std::string>> Catalog::GetMeta(std::string_view key) {
  CAIRN_ASSIGN_OR_RETURN(Query q, impl_->db().Prepare(kMetaGet));
  q.BindText(1, key);
  CAIRN_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(std::string(q.Blob(0)));
}

Result<std::optional<VersionRecord>> Catalog::Lookup(std::string_view device, std::string_view path,
                                                     TimeNs at) {
  CAIRN_ASSIGN_OR_RETURN(Query q, impl_->db().Prepare(device.empty() ? kLookupAll : kLookupDev));
  if (!device.empty()) q.BindBlob(1, device);
  q.BindBlob(2, path);
  q.Bind(4, at);
  return FirstExisting(q);
}

Result<std::vector<VersionRecord>> Catalog::Versions(std::string_view device,
                                                     std::string_view path) {
  CAIRN_ASSIGN_OR_RETURN(Query q,
                         impl_->db().Prepare(device.empty() ? kVersionsAll : kVersionsDev));
  if (!device.empty()) q.BindBlob(1, device);
  q.BindBlob(2, path);
  std::vector<VersionRecord> out;
  CAIRN_RETURN_IF_ERROR(StreamRecords(q, nullptr, [&](const VersionRecord& r) {
    out.push_back(r);
    return Status::OK();
  }));
  return out;
}

Result<std::optional<VersionRecord>> Catalog::VersionById(const repo::VersionId& id) {
  CAIRN_ASSIGN_OR_RETURN(Query q, impl_->db().Prepare(kVersionById));
  q.BindBlob(1, id.data(), id.size());
  std::optional<VersionRecord> out;
  CAIRN_RETURN_IF_ERROR(StreamRecords(q, nullptr, [&](const VersionRecord& r) {
    if (!out) out = r;  // the same record ingested twice (a compaction) is one version
    return Status::OK();
  }));
  return out;
}

Status Catalog::ListTree(std::string_view device, std::string_view root, TimeNs at, bool recursive,
                         const std::function<Status(const VersionRecord&)>& fn) {
  CAIRN_ASSIGN_OR_RETURN(std::string dir, NormalizeRoot(root));
  const bool all = device.empty();
  if (!recursive) {
    CAIRN_ASSIGN_OR_RETURN(Query q, impl_->db().Prepare(all ? kChildrenAll : kChildrenDev));
    if (!all) q.BindBlob(1, device);
    q.BindBlob(2, dir);
    q.Bind(4, at);
    return StreamRecords(q, nullptr, fn);
  }
  // Root itself sorts before everything under it.
  {
    CAIRN_ASSIGN_OR_RETURN(Query q, impl_->db().Prepare(all ? kTreeSelfAll : kTreeSelfDev));
    if (!all) q.BindBlob(1, device);
    q.BindBlob(2, dir);
    q.Bind(4, at);
    CAIRN_RETURN_IF_ERROR(StreamRecords(q, nullptr, fn));
  }
  // Under root: [dir + "/", dir + "0") ('0' is '/' + 1). For "/" the lower
  // bound is "/\0", the smallest byte string after "/" itself.
  std::string lo = dir == "/" ? std::string("/\0", 2) : dir + "/";
  std::string hi = dir == "/" ? std::string("0") : dir + "0";
  CAIRN_ASSIGN_OR_RETURN(Query q, impl_->db().Prepare(all ? kTreeRangeAll : kTreeRangeDev));
  if (!all) q.BindBlob(1, device);
  q.BindBlob(2, lo);
  q.BindBlob(3, hi);
  q.Bind(4, at);
  return StreamRecords(q, nullptr, fn);
}

Status Catalog::Find(std::string_view device, std::string_view pattern,
                     const std::function<Status(const VersionRecord&)>& fn) {
  CAIRN_ASSIGN_OR_RETURN(Query q, impl_->db().Prepare(device.empty() ? kFindAll : kFindDev));
  if (!device.empty()) q.BindBlob(1, device);
  // Names typed at a prompt: ASCII letters in either case, bytes as stored,
  // '\' to quote a wildcard.
  static constexpr GlobOptions kFindGlob{.ascii_case_insensitive = true,
                                         .utf8 = false,
                                         .backslash_escapes = true,
                                         .caret_negates = true};
  auto matches = [pattern](std::string_view path) {
    if (GlobMatch(pattern, path, kFindGlob)) return true;
    size_t slash = path.rfind('/');
    return slash != std::string_view::npos && GlobMatch(pattern, path.substr(slash + 1), kFindGlob);
  };
  return StreamRecords(q, matches, fn);
}

Result<std::optional<VersionRecord>> Catalog::LatestForSkip(std::string_view device,
                                                            std::string_view path) {
  if (device.empty()) return Status::InvalidArgument("catalog: LatestForSkip needs a device");
  CAIRN_ASSIGN_OR_RETURN(Query q, impl_->db().Prepare(kLatestForSkip));
  q.BindBlob(1, device);
  q.BindBlob(2, path);
  return FirstExisting(q);
}

Result<TimeNs> Catalog::MaxBackupTime() {
  CAIRN_ASSIGN_OR_RETURN(Query q, impl_->db().Prepare(kMaxTime));
  CAIRN_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row || q.IsNull(0)) return TimeNs{0};
  return TimeNs{q.Int(0)};
}

Result<std::vector<std::pair<std::string, uint64_t>>> Catalog::Devices() {
  CAIRN_ASSIGN_OR_RETURN(Query q, impl_->db().Prepare(kDevices));
  std::vector<std::pair<std::string, uint64_t>> out;
  while (true) {
    CAIRN_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    out.emplace_back(std::string(q.Blob(0)), q.U64(1));
  }
  return out;
}

Result<Catalog::Totals> Catalog::GetTotals(std::string_view device) {
  Totals t;
  const bool all = device.empty();
  {
    CAIRN_ASSIGN_OR_RETURN(Query q, impl_->db().Prepare(all ? kCountAll : kCountDev));
    if (!all) q.BindBlob(1, device);
    CAIRN_ASSIGN_OR_RETURN(bool row, q.Step());
    if (row) t.versions = q.U64(0);
  }
  CAIRN_ASSIGN_OR_RETURN(Query q, impl_->db().Prepare(all ? kLatestSizesAll : kLatestSizesDev));
  if (!all) q.BindBlob(1, device);
  while (true) {
    CAIRN_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    ++t.paths;
    if (q.Int(0) == static_cast<int64_t>(repo::FileType::kFile)) t.latest_bytes += q.U64(1);
  }
  return t;
}

}  // namespace cairn::catalog
