#include "catalog/sqlite.h"

#include <utility>

namespace cairn::catalog {

Status SqliteStatus(int rc, std::string_view what, std::string_view detail) {
  std::string msg = std::string(what) + ": " + std::string(detail);
  switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Status::Corruption(msg + " (the catalog is a cache: remove it to rebuild it)");
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::Locked(msg + " (another cairn process is writing the catalog)");
    case SQLITE_FULL:
      return Status::NoSpace(msg);
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_AUTH:
      return Status::PermissionDenied(msg);
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    default:
      return Status::IOError(msg);
  }
}

// ---- Query -----------------------------------------------------------------

Query::~Query() {
  if (stmt_ == nullptr) return;
  if (in_use_ != nullptr) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
    *in_use_ = false;
  } else {
    sqlite3_finalize(stmt_);
  }
}

Result<bool> Query::Step() {
  if (bind_rc_ != SQLITE_OK) return db_->Error(bind_rc_);
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return db_->Error(rc);
}

// ---- Db --------------------------------------------------------------------

Result<std::unique_ptr<Db>> Db::Open(const std::string& path) {
  sqlite3* raw = nullptr;
  // NOMUTEX: a Db belongs to one thread at a time, so SQLite's own locking
  // of every call is not needed.
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string detail = raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    sqlite3_close_v2(raw);
    return SqliteStatus(rc, "catalog " + path, detail);
  }
  sqlite3_busy_timeout(raw, static_cast<int>(kBusyTimeout.count()));
  return std::unique_ptr<Db>(new Db(raw, path));
}

Db::~Db() {
  for (auto& [sql, entry] : cache_) sqlite3_finalize(entry->stmt);
  sqlite3_close_v2(db_);
}

Result<Query> Db::Prepare(const char* sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end() && !it->second->in_use) {
    it->second->in_use = true;
    return Query(this, it->second->stmt, &it->second->in_use);
  }
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) return Error(rc);
  if (it != cache_.end()) return Query(this, stmt, nullptr);  // cached one is busy
  auto entry = std::make_unique<Cached>();
  entry->stmt = stmt;
  entry->in_use = true;
  bool* in_use = &entry->in_use;
  cache_.emplace(sql, std::move(entry));
  return Query(this, stmt, in_use);
}

Status Db::Exec(const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  std::string detail = err != nullptr ? err : sqlite3_errstr(rc);
  sqlite3_free(err);
  if (rc != SQLITE_OK) return SqliteStatus(rc, "catalog " + path_, detail);
  return Status::OK();
}

Status Db::Error(int rc) const { return SqliteStatus(rc, "catalog " + path_, sqlite3_errmsg(db_)); }

Status Db::Begin() {
  CAIRN_RETURN_IF_ERROR(Exec(depth_ == 0 ? "BEGIN IMMEDIATE" : "SAVEPOINT cairn_nested"));
  ++depth_;
  return Status::OK();
}

Status Db::Commit() {
  if (depth_ == 0) return Status::InvalidArgument("catalog: Commit without Begin");
  --depth_;
  if (depth_ > 0) return Exec("RELEASE cairn_nested");
  Status st = Exec("COMMIT");
  if (!st.ok() && TransactionOpen()) (void)Exec("ROLLBACK");
  return st;
}

Status Db::Rollback() {
  if (depth_ == 0) return Status::InvalidArgument("catalog: Rollback without Begin");
  --depth_;
  if (depth_ > 0) return Exec("ROLLBACK TO cairn_nested; RELEASE cairn_nested");
  if (!TransactionOpen()) return Status::OK();  // SQLite already rolled back
  return Exec("ROLLBACK");
}

// ---- ReadTransaction ---------------------------------------------------------

Status ReadTransaction::Begin() {
  if (began_ || db_->InTransaction()) return Status::OK();
  CAIRN_ASSIGN_OR_RETURN(Query q, db_->Prepare("BEGIN"));
  CAIRN_RETURN_IF_ERROR(q.Run());
  began_ = true;
  return Status::OK();
}

ReadTransaction::~ReadTransaction() {
  if (!began_) return;
  // Ending a read transaction releases a lock and cannot lose data; should
  // COMMIT fail, ROLLBACK still ends it.
  auto q = db_->Prepare("COMMIT");
  if (q.ok() && q->Run().ok()) return;
  (void)db_->Exec("ROLLBACK");
}

}  // namespace cairn::catalog
