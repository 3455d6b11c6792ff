// The storage backend interface: a small, content-agnostic object store.
//
// A backend knows nothing about packs, keys or encryption: it stores opaque
// byte strings under names (type + name). Retry, rate limiting and fault
// injection are decorators (backends that wrap a backend).
//
// Contracts every implementation keeps (checked by backend_conformance.h):
//  - Save is create-only and atomic: a reader sees the whole object or
//    nothing; on return the object is durable; AlreadyExists when the name is
//    taken (the existing object is left untouched).
//  - Replace is compare-and-swap on the object's etag: it succeeds only when
//    the current etag equals `if_match` ("" means: only when it does not
//    exist), else PreconditionFailed. Used for the few rewritten objects
//    (lock objects). Returns the new etag.
//  - Load(offset, length) returns exactly the requested range (length 0: to
//    the end); NotFound for a missing object; Corruption for a range past the
//    end.
//  - List calls `fn` once per object of that type, in no particular order;
//    an error from `fn` stops the listing and is returned. List and Stat
//    report the object's modification time as the storage keeps it (the
//    file's mtime, the blob's Last-Modified): readers judge the age of an
//    object they cannot read by it (unreadable lock objects).
//  - Errors carry a code (NotFound, PermissionDenied, NoSpace, ...) and the
//    retryable flag when a repeat may succeed.
// Thread-safety: every method may be called from many threads at once.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "base/bytes.h"

namespace cairn::backend {

enum class ObjectType { kConfig, kKey, kPack, kIndex, kVersions, kLock };

std::string_view ObjectTypeDir(ObjectType t);  // "config", "keys", "data", ...

struct ObjectName {
  ObjectType type;
  std::string name;  // a hex ID; "config" for the config object
  // The path inside the repository: "keys/<name>", "data/ab/<name>", "config".
  std::string Path() const;
  bool operator==(const ObjectName&) const = default;
};

struct ObjectInfo {
  ObjectName name;
  uint64_t size = 0;
  std::string etag;  // changes whenever the content changes
  // Base64 of the MD5 of the content when the backend stores one (Azure),
  // else "". See ContentMd5().
  std::string content_md5;
  // When the object was last written, by the storage's clock (ns since the
  // Unix epoch, UTC; whole seconds on Azure); 0 when the backend cannot tell.
  int64_t mtime = 0;
  // The blob's access tier ("Hot", "Cool", "Cold", "Archive") on Azure, ""
  // where tiers do not exist or the service did not say.
  std::string access_tier;
};

// Base64 of the MD5 of `data`: the form of ObjectInfo::content_md5.
std::string ContentMd5(ByteView data);

// An exclusive, expiring lock on a name in the backend (a flock'ed file for
// the local backend, a blob lease on Azure). Released by Release() or, best
// effort, when destroyed. If the holder process dies the lock is released
// (local) or expires after its ttl.
class BackendLock {
 public:
  // Releases the lock unless Release() already did (one attempt, errors
  // ignored: an unreleased lock expires on its own).
  virtual ~BackendLock() = default;
  // Extends the lock by its ttl. Locked when it was lost (expired, and
  // maybe taken by another holder); a retryable error when that could not
  // be found out.
  virtual Status Refresh() = 0;
  // Gives the lock up. Idempotent: OK when it is no longer held by us
  // (released before, by an attempt whose answer was lost, or expired), so
  // a repeat after an unknown outcome is safe. A retryable error when the
  // storage could not be reached: the lock may still be held then.
  virtual Status Release() = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;

  // Where the repository lives, for messages ("/home/u/.local/share/cairn/repo").
  virtual std::string Location() const = 0;

  // Creates the location (directories, container). OK if it already exists.
  virtual Status Create() = 0;
  // True when the location holds any object (init refuses such a location).
  virtual Result<bool> HasAnyObject() = 0;

  virtual Status Save(const ObjectName& name, ByteView data) = 0;
  virtual Result<std::string> Replace(const ObjectName& name, ByteView data,
                                      const std::string& if_match) = 0;
  virtual Result<Bytes> Load(const ObjectName& name, uint64_t offset = 0, uint64_t length = 0) = 0;
  virtual Result<ObjectInfo> Stat(const ObjectName& name) = 0;
  virtual Status List(ObjectType type, const std::function<Status(const ObjectInfo&)>& fn) = 0;
  // OK when the object did not exist.
  virtual Status Remove(const ObjectName& name) = 0;

  // Takes the named exclusive lock, or Locked (with who holds it, when known)
  // if another holder has it. `ttl` bounds how long a dead holder blocks
  // others where the backend cannot detect death itself.
  virtual Result<std::unique_ptr<BackendLock>> TryLock(std::string_view lock_name,
                                                       std::chrono::seconds ttl) = 0;

  // How many large writes (packs) are worth running at once: 1 for a local
  // disk, more for a remote store where each request waits on the network.
  // Callers hold one pack in memory per write in flight.
  virtual int WriteConcurrency() const { return 1; }
};

// Forwards every call to `inner`; decorators derive from it and override
// what they change.
class ForwardingBackend : public Backend {
 public:
  explicit ForwardingBackend(std::shared_ptr<Backend> inner) : inner_(std::move(inner)) {}
  std::string Location() const override { return inner_->Location(); }
  Status Create() override { return inner_->Create(); }
  Result<bool> HasAnyObject() override { return inner_->HasAnyObject(); }
  Status Save(const ObjectName& n, ByteView d) override { return inner_->Save(n, d); }
  Result<std::string> Replace(const ObjectName& n, ByteView d, const std::string& m) override {
    return inner_->Replace(n, d, m);
  }
  Result<Bytes> Load(const ObjectName& n, uint64_t o, uint64_t l) override {
    return inner_->Load(n, o, l);
  }
  Result<ObjectInfo> Stat(const ObjectName& n) override { return inner_->Stat(n); }
  Status List(ObjectType t, const std::function<Status(const ObjectInfo&)>& fn) override {
    return inner_->List(t, fn);
  }
  Status Remove(const ObjectName& n) override { return inner_->Remove(n); }
  Result<std::unique_ptr<BackendLock>> TryLock(std::string_view n,
                                               std::chrono::seconds ttl) override {
    return inner_->TryLock(n, ttl);
  }
  int WriteConcurrency() const override { return inner_->WriteConcurrency(); }

 protected:
  std::shared_ptr<Backend> inner_;
};

}  // namespace cairn::backend
