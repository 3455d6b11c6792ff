#include "daemon/queue.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <utility>

namespace cairn::daemon {
namespace {

constexpr const char* kFormat = "cairn-daemon-queue 1";

// The stored spelling of a kind: fixed numbers, never the enum's values.
int KindCode(watch::EventKind kind) {
  switch (kind) {
    case watch::EventKind::kRemoved:
      return 1;
    case watch::EventKind::kRescan:
      return 2;
    default:
      return 0;
  }
}

watch::EventKind KindOf(int code) {
  switch (code) {
    case 1:
      return watch::EventKind::kRemoved;
    case 2:
      return watch::EventKind::kRescan;
    default:
      return watch::EventKind::kChanged;
  }
}

// The one place SQLite result codes become Status codes.
Status SqlStatus(sqlite3* db, int rc, const std::string& what) {
  std::string msg =
      "daemon queue: " + what + ": " + (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Status::Corruption(msg);
    case SQLITE_FULL:
      return Status(StatusCode::kNoSpace, msg);
    default:  // SQLITE_CANTOPEN, SQLITE_PERM, SQLITE_READONLY and the rest
      return Status::IOError(msg);
  }
}

// One prepared statement, finalised when it goes.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  void Bind(int i, int64_t v) { Note(sqlite3_bind_int64(stmt_, i, v)); }
  void BindBlob(int i, std::string_view s) {
    Note(s.empty() ? sqlite3_bind_zeroblob(stmt_, i, 0)
                   : sqlite3_bind_blob64(stmt_, i, s.data(), s.size(), SQLITE_TRANSIENT));
  }
  void BindText(int i, std::string_view s) {
    Note(sqlite3_bind_text64(stmt_, i, s.data(), s.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  }
  // True with a row, false when done.
  Result<bool> Step() {
    if (rc_ != SQLITE_OK) return SqlStatus(db_, rc_, "preparing a statement");
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return SqlStatus(db_, rc, "running a statement");
  }
  Status Run() {
    Result<bool> r = Step();
    if (!r.ok()) return r.error();
    return Status::OK();
  }
  Status Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    return Status::OK();
  }
  int64_t Int(int col) { return sqlite3_column_int64(stmt_, col); }
  std::string Blob(int col) {
    const void* p = sqlite3_column_blob(stmt_, col);
    int n = sqlite3_column_bytes(stmt_, col);
    return p == nullptr ? std::string() : std::string(static_cast<const char*>(p), n);
  }

 private:
  void Note(int rc) {
    if (rc != SQLITE_OK && rc_ == SQLITE_OK) rc_ = rc;
  }
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_OK;
};

// Commits when told, rolls back otherwise.
class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db) {
    rc_ = sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
  }
  ~Transaction() {
    if (rc_ == SQLITE_OK && !done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  Status begun() const {
    return rc_ == SQLITE_OK ? Status::OK() : SqlStatus(db_, rc_, "starting a transaction");
  }
  Status Commit() {
    done_ = true;
    int rc = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
      return SqlStatus(db_, rc, "committing");
    }
    return Status::OK();
  }

 private:
  sqlite3* db_;
  int rc_;
  bool done_ = false;
};

}  // namespace

Result<std::unique_ptr<PersistentQueue>> PersistentQueue::Open(const std::string& path) {
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Status st = SqlStatus(raw, rc, "opening " + path);
    sqlite3_close(raw);
    return st;
  }
  std::unique_ptr<PersistentQueue> q(new PersistentQueue(raw, 0));
  // It names the user's files: theirs alone (SQLite gives its -wal and -shm
  // files the same mode).
  (void)::chmod(path.c_str(), 0600);
  sqlite3_busy_timeout(raw, 5000);
  CAIRN_RETURN_IF_ERROR(q->Exec("PRAGMA journal_mode=WAL"));
  CAIRN_RETURN_IF_ERROR(q->Exec("PRAGMA synchronous=NORMAL"));
  CAIRN_RETURN_IF_ERROR(
      q->Exec("CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
              "CREATE TABLE IF NOT EXISTS pending(path BLOB PRIMARY KEY, kind INTEGER NOT NULL,"
              " is_dir INTEGER NOT NULL, first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,"
              " seq INTEGER NOT NULL) WITHOUT ROWID;"
              "CREATE TABLE IF NOT EXISTS jobs(name TEXT PRIMARY KEY, last_run INTEGER NOT NULL);"
              "INSERT OR IGNORE INTO meta(key, value) VALUES('format', 'cairn-daemon-queue 1');"));
  {
    Stmt s(raw, "SELECT value FROM meta WHERE key = 'format'");
    CAIRN_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row || s.Blob(0) != kFormat)
      return Status::Corruption("daemon queue: " + path + " is not a queue file of this cairn");
  }
  Stmt s(raw, "SELECT COALESCE(MAX(seq), 0) FROM pending");
  CAIRN_ASSIGN_OR_RETURN(bool row, s.Step());
  if (row) q->seq_ = s.Int(0);
  return q;
}

PersistentQueue::~PersistentQueue() { sqlite3_close(db_); }

Status PersistentQueue::Exec(const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  sqlite3_free(err);
  if (rc != SQLITE_OK) return SqlStatus(db_, rc, "setting up");
  return Status::OK();
}

Status PersistentQueue::DropUnder(const std::string& path) {
  // Everything strictly under `path`: from path + "/" up to path + "0"
  // ('0' follows '/'); BLOBs compare bytewise.
  const std::string lo = path == "/" ? "/" : path + "/";
  const std::string hi = path == "/" ? "0" : path + "0";
  Stmt s(db_, "DELETE FROM pending WHERE path >= ?1 AND path < ?2 AND path != ?3");
  s.BindBlob(1, lo);
  s.BindBlob(2, hi);
  s.BindBlob(3, path);
  return s.Run();
}

Status PersistentQueue::Put(watch::EventKind kind, const std::string& path, bool is_dir,
                            TimeNs now) {
  if (kind == watch::EventKind::kRemoved && is_dir) CAIRN_RETURN_IF_ERROR(DropUnder(path));
  // A pending rescan covers a later change of the same path (the rule of
  // ChangeQueue::Add).
  Stmt s(db_,
         "INSERT INTO pending(path, kind, is_dir, first_seen, last_seen, seq)"
         " VALUES(?1, ?2, ?3, ?4, ?4, ?5) ON CONFLICT(path) DO UPDATE SET"
         " kind = CASE WHEN pending.kind = 2 AND excluded.kind = 0 THEN 2 ELSE excluded.kind END,"
         " is_dir = CASE WHEN pending.kind = 2 AND excluded.kind = 0 THEN 1"
         " ELSE excluded.is_dir END,"
         " last_seen = excluded.last_seen, seq = excluded.seq");
  s.BindBlob(1, path);
  s.Bind(2, KindCode(kind));
  s.Bind(3, is_dir ? 1 : 0);
  s.Bind(4, now);
  s.Bind(5, ++seq_);
  return s.Run();
}

Status PersistentQueue::Record(std::span<const watch::WatchEvent> events, TimeNs now) {
  if (events.empty()) return Status::OK();
  Transaction tx(db_);
  CAIRN_RETURN_IF_ERROR(tx.begun());
  for (const watch::WatchEvent& e : events) {
    switch (e.kind) {
      case watch::EventKind::kChanged:
      case watch::EventKind::kRemoved:
        CAIRN_RETURN_IF_ERROR(Put(e.kind, e.path, e.is_dir, now));
        break;
      case watch::EventKind::kRescan:
        CAIRN_RETURN_IF_ERROR(Put(watch::EventKind::kRescan, e.path, true, now));
        break;
      case watch::EventKind::kMoved:
        CAIRN_RETURN_IF_ERROR(Put(watch::EventKind::kRemoved, e.path, e.is_dir, now));
        CAIRN_RETURN_IF_ERROR(Put(e.is_dir ? watch::EventKind::kRescan : watch::EventKind::kChanged,
                                  e.to, e.is_dir, now));
        break;
    }
  }
  return tx.Commit();
}

Result<std::vector<PersistentQueue::Entry>> PersistentQueue::All() {
  Stmt s(db_, "SELECT path, kind, is_dir, first_seen, last_seen, seq FROM pending ORDER BY path");
  std::vector<Entry> out;
  while (true) {
    CAIRN_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    Entry e;
    e.path = s.Blob(0);
    e.kind = KindOf(static_cast<int>(s.Int(1)));
    e.is_dir = s.Int(2) != 0;
    e.first_seen = s.Int(3);
    e.last_seen = s.Int(4);
    e.seq = s.Int(5);
    out.push_back(std::move(e));
  }
  return out;
}

Status PersistentQueue::Remove(std::span<const std::string> paths, int64_t up_to_seq) {
  if (paths.empty()) return Status::OK();
  Transaction tx(db_);
  CAIRN_RETURN_IF_ERROR(tx.begun());
  Stmt s(db_, "DELETE FROM pending WHERE path = ?1 AND seq <= ?2");
  for (const std::string& p : paths) {
    s.BindBlob(1, p);
    s.Bind(2, up_to_seq);
    CAIRN_RETURN_IF_ERROR(s.Run());
    CAIRN_RETURN_IF_ERROR(s.Reset());
  }
  return tx.Commit();
}

Status PersistentQueue::RemoveThrough(int64_t up_to_seq) {
  Stmt s(db_, "DELETE FROM pending WHERE seq <= ?1");
  s.Bind(1, up_to_seq);
  return s.Run();
}

Result<uint64_t> PersistentQueue::Size() {
  Stmt s(db_, "SELECT COUNT(*) FROM pending");
  CAIRN_ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? static_cast<uint64_t>(s.Int(0)) : 0;
}

Result<std::optional<TimeNs>> PersistentQueue::JobLastRun(const std::string& name) {
  Stmt s(db_, "SELECT last_run FROM jobs WHERE name = ?1");
  s.BindText(1, name);
  CAIRN_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<TimeNs>();
  return std::optional<TimeNs>(s.Int(0));
}

Status PersistentQueue::SetJobLastRun(const std::string& name, TimeNs when) {
  Stmt s(db_,
         "INSERT INTO jobs(name, last_run) VALUES(?1, ?2)"
         " ON CONFLICT(name) DO UPDATE SET last_run = excluded.last_run");
  s.BindText(1, name);
  s.Bind(2, when);
  return s.Run();
}

}  // namespace cairn::daemon
