// RetryBackend: repeats calls that failed with a retryable Status.
//
// Backends classify their errors (Status::retryable()); this decorator never
// guesses: a non-retryable error is returned at once. Retries back off
// exponentially with jitter, within a bound on attempts and on total time; a
// Retry-After the service sent (Status::retry_after) is waited at least.
//
// A retried write may have been applied although its answer was lost, so:
//  - Save: AlreadyExists (or PreconditionFailed) after an attempt whose
//    outcome is unknown counts as success only when the stored object has
//    the length and the MD5 of what was sent (or, on a backend that keeps
//    no MD5, the same bytes).
//  - Replace: PreconditionFailed after such an attempt counts as success
//    when the stored object holds exactly what was sent (Replace is for small
//    objects); the current etag is returned.
//  - List: objects already passed to `fn` by a failed attempt are not passed
//    again; an error returned by `fn` itself is never retried.
//  - TryLock: a repeated acquire must recognise a lock its lost attempt
//    took (the backends do: a flock dies with its attempt, an Azure acquire
//    proposes the same lease id). The lock it returns retries Refresh and
//    Release (Release is idempotent), and releases when destroyed; it must
//    not outlive this backend.
//
// Thread-safety: as the wrapped backend; the decorator has no shared mutable
// state.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include "backend/backend.h"

namespace cairn::backend {

struct RetryOptions {
  int max_attempts = 5;  // including the first
  std::chrono::milliseconds initial_delay{100};
  std::chrono::milliseconds max_delay{5000};
  // No retry starts whose wait would end later than this after the first try.
  std::chrono::milliseconds total_time{60000};
  // How to wait; tests replace it to run without sleeping.
  std::function<void(std::chrono::milliseconds)> sleep;
};

class RetryBackend : public ForwardingBackend {
 public:
  explicit RetryBackend(std::shared_ptr<Backend> inner, RetryOptions options = {});

  Status Create() override;
  Result<bool> HasAnyObject() override;
  Status Save(const ObjectName& name, ByteView data) override;
  Result<std::string> Replace(const ObjectName& name, ByteView data,
                              const std::string& if_match) override;
  Result<Bytes> Load(const ObjectName& name, uint64_t offset, uint64_t length) override;
  Result<ObjectInfo> Stat(const ObjectName& name) override;
  Status List(ObjectType type, const std::function<Status(const ObjectInfo&)>& fn) override;
  Status Remove(const ObjectName& name) override;
  Result<std::unique_ptr<BackendLock>> TryLock(std::string_view lock_name,
                                               std::chrono::seconds ttl) override;

 private:
  class RetryingLock;

  // Calls `attempt(n)` (n = 1, 2, ...) until it returns OK, a non-retryable
  // error, or the attempt/time bounds are hit; returns the last Status.
  Status Retry(std::string_view what, const std::function<Status(int)>& attempt);
  // OK when `name` holds exactly `data`; AlreadyExists when it holds
  // something else; the error when it cannot be read.
  Status StoredEquals(const ObjectName& name, ByteView data);

  RetryOptions options_;
};

}  // namespace cairn::backend
