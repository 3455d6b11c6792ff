// The catalog's file, schema, metadata, segments and run history; the
// public methods that only forward to Catalog::Impl. Ingestion is in
// catalog_ingest.cc, path queries in catalog_query.cc.
#include "catalog/catalog.h"

#include <filesystem>
#include <fstream>
#include <system_error>

#include "catalog/catalog_impl.h"
#include "catalog/sqlite.h"

namespace cairn::catalog {
namespace {

namespace fs = std::filesystem;

constexpr const char kSegmentFind[] = "SELECT seg FROM segments WHERE id = ?1";
constexpr const char kSegmentList[] = "SELECT id FROM segments ORDER BY seg";
constexpr const char kSupersededInsert[] = "INSERT OR IGNORE INTO superseded(id) VALUES (?1)";
constexpr const char kSupersededDelete[] = "DELETE FROM superseded WHERE id = ?1";
constexpr const char kSupersededList[] = "SELECT id FROM superseded";
constexpr const char kMetaSet[] = "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)";
constexpr const char kMetaGet[] = "SELECT value FROM meta WHERE key = ?1";

#define CAIRN_RUN_COLS                                                      \
  "r.run, r.device, r.started, r.ended, r.complete, r.roots, r.files_new, " \
  "r.files_changed, r.files_unchanged, r.bytes_read, r.bytes_stored, r.errors FROM runs r"
constexpr const char kRunsAll[] =
    "SELECT " CAIRN_RUN_COLS " ORDER BY r.started DESC, r.ended DESC LIMIT ?2";
constexpr const char kRunsDev[] = "SELECT " CAIRN_RUN_COLS
                                  " WHERE r.device = ?1 ORDER BY r.started DESC, r.ended DESC "
                                  "LIMIT ?2";
constexpr const char kLastCompleteAll[] =
    "SELECT " CAIRN_RUN_COLS " WHERE r.complete = 1 ORDER BY r.ended DESC LIMIT 1";
constexpr const char kLastCompleteDev[] = "SELECT " CAIRN_RUN_COLS
                                          " WHERE r.device = ?1 AND r.complete = 1 "
                                          "ORDER BY r.ended DESC LIMIT 1";
#undef CAIRN_RUN_COLS

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

// Roots are absolute paths, which never hold NUL: stored NUL-separated.
std::vector<std::string> SplitRoots(std::string_view blob) {
  std::vector<std::string> roots;
  if (blob.empty()) return roots;
  size_t start = 0;
  while (true) {
    size_t nul = blob.find('\0', start);
    roots.emplace_back(blob.substr(start, nul - start));
    if (nul == std::string_view::npos) break;
    start = nul + 1;
  }
  return roots;
}

// The segment ids a one-column query `sql` returns.
Result<std::vector<Id>> ReadSegmentIds(Db& db, const char* sql) {
  CAIRN_ASSIGN_OR_RETURN(Query q, db.Prepare(sql));
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

}  // namespace

std::string JoinRoots(const std::vector<std::string>& roots) {
  std::string out;
  for (size_t i = 0; i < roots.size(); ++i) {
    if (i > 0) out.push_back('\0');
    out += roots[i];
  }
  return out;
}

int64_t VersionKey(const repo::VersionId& id) {
  auto k = static_cast<int64_t>(id[0]) << 16 | static_cast<int64_t>(id[1]) << 8 | id[2];
  return k - (int64_t{1} << 23);  // -2^23 .. 2^23-1: SQLite's 3-byte integers
}

std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t slash = path.find('/', start);
    parts.push_back(path.substr(start, slash - start));
    if (slash == std::string_view::npos) return parts;
    start = slash + 1;
  }
}

SegmentInfo SegmentInfo::Of(const repo::VersionSegment& s) {
  SegmentInfo info;
  info.run_id = s.run_id;
  info.sequence = s.sequence;
  info.final = s.final;
  info.device = s.device;
  info.created = s.created;
  info.roots = s.roots;
  info.compacted = !s.supersedes.empty() || !s.runs.empty();
  info.runs = s.runs;
  info.forget = s.forget;
  info.stats = {.files_new = s.files_new,
                .files_changed = s.files_changed,
                .files_unchanged = s.files_unchanged,
                .bytes_read = s.bytes_read,
                .bytes_stored = s.bytes_stored,
                .errors = s.errors};
  return info;
}

// ---- Catalog::Impl: the file ---------------------------------------------------

Status Catalog::Impl::Configure(const OpenOptions& options) {
  // The first statement reads the header: garbage fails here with NOTADB.
  CAIRN_RETURN_IF_ERROR(db_->Exec("PRAGMA journal_mode=WAL"));
  // mmap_size: pages are read from a mapping of the file, not copied in by
  // a read() each: paths resolved name by name touch many pages of a large
  // catalog (a million versions: random lookups 2x faster). The catch SQLite
  // documents: an I/O error on the disk then kills the process (SIGBUS)
  // instead of failing a call. The catalog is a local cache; accepted.
  CAIRN_RETURN_IF_ERROR(
      db_->Exec("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=OFF; PRAGMA cache_size=-16384; "
                "PRAGMA temp_store=MEMORY; PRAGMA journal_size_limit=16777216; "
                "PRAGMA mmap_size=1073741824"));
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

Result<int64_t> Catalog::Impl::UserVersion() {
  CAIRN_ASSIGN_OR_RETURN(Query q, db_->Prepare("PRAGMA user_version"));
  CAIRN_ASSIGN_OR_RETURN(bool row, q.Step());
  return row ? q.Int(0) : 0;
}

// REQUIRES: inside a transaction.
Status Catalog::Impl::CreateSchemaIfEmpty() {
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
  static const std::string set_version = "PRAGMA user_version = " + std::to_string(kSchemaVersion);
  return db_->Exec(set_version.c_str());
}

Status Catalog::Impl::QuickCheck() {
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

Status Catalog::Impl::Commit() {
  Status st = db_->Commit();
  if (!st.ok()) ForgetCaches();  // a failed COMMIT is rolled back
  return st;
}

Status Catalog::Impl::Rollback() {
  ForgetCaches();
  return db_->Rollback();
}

void Catalog::Impl::ForgetCaches() {
  chain_.clear();
  folders_.clear();
  device_ids_.clear();
  device_names_.clear();
  attrs_ids_.clear();
  attrs_.clear();
}

// ---- Catalog -------------------------------------------------------------------

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

Status Catalog::AddSegment(const Id& segment_id, const SegmentInfo& info,
                           const std::vector<repo::VersionRecord>& records) {
  return impl_->InTransaction([&] { return impl_->AddSegment(segment_id, info, records); });
}

Status Catalog::AddSegments(const std::vector<NewSegment>& segments) {
  return impl_->InTransaction([&] {
    for (const auto& s : segments)
      CAIRN_RETURN_IF_ERROR(impl_->AddSegment(s.id, s.info, s.records));
    return Status::OK();
  });
}

Status Catalog::AddRunHistory(const SegmentInfo& info) {
  return impl_->InTransaction([&] { return impl_->AddRun(info); });
}

Status Catalog::RemoveSegments(const std::vector<Id>& segment_ids) {
  return impl_->InTransaction([&] {
    for (const Id& id : segment_ids) CAIRN_RETURN_IF_ERROR(impl_->RemoveSegment(id));
    return Status::OK();
  });
}

Result<bool> Catalog::HasSegment(const Id& segment_id) {
  CAIRN_ASSIGN_OR_RETURN(Query q, impl_->db().Prepare(kSegmentFind));
  q.BindBlob(1, segment_id.bytes.data(), segment_id.bytes.size());
  return q.Step();
}

Result<std::vector<Id>> Catalog::Segments() { return ReadSegmentIds(impl_->db(), kSegmentList); }

// Runs the one-parameter statement `sql` for each id, in one transaction.
Status Catalog::Impl::RunForEachId(const char* sql, const std::vector<Id>& ids) {
  if (ids.empty()) return Status::OK();
  return InTransaction([&]() -> Status {
    for (const Id& id : ids) {
      CAIRN_ASSIGN_OR_RETURN(Query q, db().Prepare(sql));
      q.BindBlob(1, id.bytes.data(), id.bytes.size());
      CAIRN_RETURN_IF_ERROR(q.Run());
    }
    return Status::OK();
  });
}

Status Catalog::MarkSuperseded(const std::vector<Id>& segment_ids) {
  return impl_->RunForEachId(kSupersededInsert, segment_ids);
}

Status Catalog::ForgetSuperseded(const std::vector<Id>& segment_ids) {
  return impl_->RunForEachId(kSupersededDelete, segment_ids);
}

Result<std::vector<Id>> Catalog::Superseded() {
  return ReadSegmentIds(impl_->db(), kSupersededList);
}

Status Catalog::Clear() {
  return impl_->InTransaction([&] { return impl_->ClearAll(); });
}

Status Catalog::Begin() { return impl_->Begin(); }
Status Catalog::Commit() { return impl_->Commit(); }
Status Catalog::Rollback() { return impl_->Rollback(); }

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

namespace {

Result<std::vector<RunInfo>> ReadRuns(Catalog::Impl& impl, Query& q) {
  std::vector<RunInfo> runs;
  while (true) {
    CAIRN_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return runs;
    RunInfo r;
    std::string_view id = q.Blob(0);
    if (id.size() != 32) return Status::Corruption("catalog: malformed run id");
    r.run_id = Id::FromBytes(AsBytes(id));
    CAIRN_ASSIGN_OR_RETURN(r.device, impl.DeviceName(q.Int(1)));
    r.start = q.Int(2);
    r.end = q.Int(3);
    r.complete = q.Int(4) != 0;
    r.roots = SplitRoots(q.Blob(5));
    r.stats = {.files_new = q.U64(6),
               .files_changed = q.U64(7),
               .files_unchanged = q.U64(8),
               .bytes_read = q.U64(9),
               .bytes_stored = q.U64(10),
               .errors = q.U64(11)};
    runs.push_back(std::move(r));
  }
}

}  // namespace

Result<std::vector<RunInfo>> Catalog::Runs(std::string_view device, size_t limit) {
  if (limit == 0) return std::vector<RunInfo>();
  std::optional<int64_t> dev;
  if (!device.empty()) {
    CAIRN_ASSIGN_OR_RETURN(dev, impl_->DeviceId(device, false));
    if (!dev) return std::vector<RunInfo>();
  }
  CAIRN_ASSIGN_OR_RETURN(Query q, impl_->db().Prepare(dev ? kRunsDev : kRunsAll));
  if (dev) q.Bind(1, *dev);
  q.Bind(2, limit > static_cast<size_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(limit));
  return ReadRuns(*impl_, q);
}

Result<std::optional<RunInfo>> Catalog::LastCompleteRun(std::string_view device) {
  std::optional<int64_t> dev;
  if (!device.empty()) {
    CAIRN_ASSIGN_OR_RETURN(dev, impl_->DeviceId(device, false));
    if (!dev) return std::optional<RunInfo>();
  }
  CAIRN_ASSIGN_OR_RETURN(Query q, impl_->db().Prepare(dev ? kLastCompleteDev : kLastCompleteAll));
  if (dev) q.Bind(1, *dev);
  CAIRN_ASSIGN_OR_RETURN(auto runs, ReadRuns(*impl_, q));
  if (runs.empty()) return std::optional<RunInfo>();
  return std::optional<RunInfo>(std::move(runs.front()));
}

}  // namespace cairn::catalog
