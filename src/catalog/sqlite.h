// The catalog's SQLite layer: one connection with cached prepared statements
// (Db), one execution of a statement (Query), nestable transactions, busy
// handling, and the mapping of SQLite result codes to Status.
//
// Internal to src/catalog. Thread-safety: a Db and its Queries belong to one
// thread at a time (the Catalog's contract).
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/status.h"

namespace cairn::catalog {

// The single place SQLite result codes become Status codes; the message is
// "<what>: <detail>" plus what to do (a corrupt catalog can be removed, it is
// a cache; a busy one is being written by another process).
Status SqliteStatus(int rc, std::string_view what, std::string_view detail);

class Db;

// One execution of a prepared statement. Borrows a cached statement (reset
// and unbound when the Query ends) or owns a fresh one when the cached one is
// already running (a callback re-entering the catalog).
// A bind error is remembered and returned by the next Step.
class Query {
 public:
  Query(Db* db, sqlite3_stmt* stmt, bool* in_use) : db_(db), stmt_(stmt), in_use_(in_use) {}
  Query(Query&& o) noexcept : db_(o.db_), stmt_(o.stmt_), in_use_(o.in_use_), bind_rc_(o.bind_rc_) {
    o.stmt_ = nullptr;
    o.in_use_ = nullptr;
  }
  Query& operator=(Query&&) = delete;
  ~Query();

  void Bind(int i, int64_t v) { Note(sqlite3_bind_int64(stmt_, i, v)); }
  void BindU64(int i, uint64_t v) { Bind(i, static_cast<int64_t>(v)); }
  // Binds a BLOB (never NULL, even when empty). The bytes are copied.
  void BindBlob(int i, const void* data, size_t n) {
    if (n == 0) {
      Note(sqlite3_bind_zeroblob(stmt_, i, 0));
    } else {
      Note(sqlite3_bind_blob64(stmt_, i, data, n, SQLITE_TRANSIENT));
    }
  }
  void BindBlob(int i, std::string_view s) { BindBlob(i, s.data(), s.size()); }
  void BindNull(int i) { Note(sqlite3_bind_null(stmt_, i)); }
  void BindText(int i, std::string_view s) {
    Note(sqlite3_bind_text64(stmt_, i, s.empty() ? "" : s.data(), s.size(), SQLITE_TRANSIENT,
                             SQLITE_UTF8));
  }

  // True when a row is available, false when done.
  Result<bool> Step();
  // Runs a statement that returns no rows.
  Status Run() {
    CAIRN_ASSIGN_OR_RETURN(bool row, Step());
    (void)row;
    return Status::OK();
  }

  bool IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  uint64_t U64(int col) const { return static_cast<uint64_t>(Int(col)); }
  // Valid until the next Step.
  std::string_view Blob(int col) const {
    const void* p = sqlite3_column_blob(stmt_, col);
    int n = sqlite3_column_bytes(stmt_, col);
    if (p == nullptr || n <= 0) return {};
    return std::string_view(static_cast<const char*>(p), static_cast<size_t>(n));
  }

 private:
  void Note(int rc) {
    if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  }

  Db* db_;
  sqlite3_stmt* stmt_;
  bool* in_use_;  // null when this Query owns stmt_
  int bind_rc_ = SQLITE_OK;
};

// An open connection with a cache of prepared statements.
class Db {
 public:
  // How long a statement waits for another process's write transaction
  // before failing with Locked.
  static constexpr std::chrono::milliseconds kBusyTimeout{5000};

  // Opens (creating if needed) the database file at `path`. Errors name the
  // file as "catalog <path>".
  static Result<std::unique_ptr<Db>> Open(const std::string& path);

  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // `sql` must be a string with static storage (statements are cached by its
  // address).
  Result<Query> Prepare(const char* sql);
  // Runs one or more statements that return nothing of interest.
  Status Exec(const char* sql);

  // Transactions nest: the outermost Begin is BEGIN IMMEDIATE (the write
  // lock is taken at once, so two writers wait instead of deadlocking),
  // inner ones are savepoints. Commit/Rollback end the innermost one;
  // InvalidArgument without a matching Begin. A failed outermost COMMIT is
  // rolled back.
  Status Begin();
  Status Commit();
  Status Rollback();
  // Runs `body` inside Begin/Commit; rolls back if it fails.
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

  // Whether a transaction is open (a write transaction of Begin, or a read
  // transaction of ReadTransaction).
  bool InTransaction() const { return depth_ > 0 || TransactionOpen(); }

  // The Status of SQLite error `rc` on this connection (with its message).
  Status Error(int rc) const;
  int64_t LastInsertRowid() const { return sqlite3_last_insert_rowid(db_); }
  const std::string& path() const { return path_; }

 private:
  Db(sqlite3* handle, std::string path) : db_(handle), path_(std::move(path)) {}
  // Whether SQLite has a transaction open (it may have rolled one back by
  // itself, e.g. on SQLITE_FULL).
  bool TransactionOpen() const { return sqlite3_get_autocommit(db_) == 0; }

  struct Cached {
    sqlite3_stmt* stmt = nullptr;
    bool in_use = false;
  };
  sqlite3* db_;
  std::string path_;
  int depth_ = 0;  // Begin nesting
  // Keyed by the statement text's address; unique_ptr keeps in_use stable.
  std::unordered_map<const char*, std::unique_ptr<Cached>> cache_;
};

// A read transaction for a query made of many statements: they all see one
// snapshot, and the connection takes its read lock once instead of once per
// statement (a system call or two each time). Inside an open transaction it
// does nothing. REQUIRES: no write (Begin) while it is open.
class ReadTransaction {
 public:
  explicit ReadTransaction(Db* db) : db_(db) {}
  ReadTransaction(const ReadTransaction&) = delete;
  ReadTransaction& operator=(const ReadTransaction&) = delete;
  ~ReadTransaction();

  Status Begin();

 private:
  Db* db_;
  bool began_ = false;
};

}  // namespace cairn::catalog
