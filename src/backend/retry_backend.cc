#include "backend/retry_backend.h"

#include <algorithm>
#include <optional>
#include <random>
#include <ranges>
#include <set>
#include <thread>
#include <utility>

namespace cairn::backend {

namespace {

// A delay drawn uniformly from [d/2, d]: spreads out clients that failed
// together while keeping the exponential growth.
std::chrono::milliseconds Jitter(std::chrono::milliseconds d) {
  if (d.count() <= 1) return d;
  thread_local std::mt19937_64 rng(std::random_device{}());
  std::uniform_int_distribution<int64_t> dist(d.count() / 2, d.count());
  return std::chrono::milliseconds(dist(rng));
}

std::string Describe(const ObjectName& name) { return name.Path(); }

}  // namespace

RetryBackend::RetryBackend(std::shared_ptr<Backend> inner, RetryOptions options)
    : ForwardingBackend(std::move(inner)), options_(std::move(options)) {
  if (!options_.sleep) {
    options_.sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
  }
  options_.max_attempts = std::max(1, options_.max_attempts);
}

Status RetryBackend::Retry(std::string_view what, const std::function<Status(int)>& attempt) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point start = Clock::now();
  std::chrono::milliseconds delay = options_.initial_delay;
  for (int n = 1;; ++n) {
    Status s = attempt(n);
    if (s.ok() || !s.retryable()) return s;
    if (n >= options_.max_attempts) {
      return s.WithContext(std::string(what) + ": gave up after " + std::to_string(n) +
                           " attempts");
    }
    // The service's Retry-After is a floor: waiting less only earns
    // another refusal.
    std::chrono::milliseconds wait =
        std::max(Jitter(std::min(delay, options_.max_delay)), s.retry_after());
    auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    if (elapsed + wait > options_.total_time) {
      return s.WithContext(std::string(what) + ": gave up after " + std::to_string(n) +
                           " attempts in " + std::to_string(elapsed.count()) + " ms");
    }
    options_.sleep(wait);
    delay = std::min(delay * 2, options_.max_delay);
  }
}

Status RetryBackend::Create() {
  return Retry("create", [&](int) { return inner_->Create(); });
}

Result<bool> RetryBackend::HasAnyObject() {
  bool any = false;
  Status s = Retry("check for objects", [&](int) {
    Result<bool> r = inner_->HasAnyObject();
    if (r.ok()) any = *r;
    return r.status();
  });
  if (!s.ok()) return s;
  return any;
}

Status RetryBackend::Save(const ObjectName& name, ByteView data) {
  bool outcome_unknown = false;  // an earlier attempt may have been applied
  return Retry("save " + Describe(name), [&](int) {
    Status s = inner_->Save(name, data);
    bool exists = s.IsAlreadyExists() || s.code() == StatusCode::kPreconditionFailed;
    if (exists && outcome_unknown) {
      // Our own earlier attempt may be what is there. Success only when the
      // stored object provably holds what we sent; a different object under
      // this name, or one we cannot check, stays a conflict: never claim a
      // save we cannot confirm.
      Status same = StoredEquals(name, data);
      if (same.ok()) return Status::OK();
      if (same.retryable()) return same;
      return s;
    }
    if (!s.ok() && s.retryable()) outcome_unknown = true;
    return s;
  });
}

Status RetryBackend::StoredEquals(const ObjectName& name, ByteView data) {
  Result<ObjectInfo> info = inner_->Stat(name);
  if (!info.ok()) return info.error();
  if (info->size != data.size()) return Status::AlreadyExists("different length");
  if (!info->content_md5.empty()) {
    if (info->content_md5 == ContentMd5(data)) return Status::OK();
    return Status::AlreadyExists("different content (MD5)");
  }
  // No stored digest (the local backend): compare the content itself.
  Result<Bytes> stored = inner_->Load(name, 0, 0);
  if (!stored.ok()) return stored.error();
  if (std::ranges::equal(*stored, data)) return Status::OK();
  return Status::AlreadyExists("different content");
}

Result<std::string> RetryBackend::Replace(const ObjectName& name, ByteView data,
                                          const std::string& if_match) {
  bool outcome_unknown = false;
  std::string etag;
  Status s = Retry("replace " + Describe(name), [&](int) {
    Result<std::string> r = inner_->Replace(name, data, if_match);
    if (r.ok()) {
      etag = *r;
      return Status::OK();
    }
    Status err = r.error();
    if (err.code() == StatusCode::kPreconditionFailed && outcome_unknown) {
      // Our own lost write looks like someone else's: check the content.
      Result<ObjectInfo> info = inner_->Stat(name);
      if (info.ok() && info->size == data.size()) {
        Result<Bytes> stored = inner_->Load(name, 0, 0);
        if (stored.ok() && std::ranges::equal(*stored, data)) {
          // The etag of what we just read; if it changed since, the
          // caller's next Replace fails its precondition, as it should.
          etag = info->etag;
          return Status::OK();
        }
      }
      return err;
    }
    if (err.retryable()) outcome_unknown = true;
    return err;
  });
  if (!s.ok()) return s;
  return etag;
}

Result<Bytes> RetryBackend::Load(const ObjectName& name, uint64_t offset, uint64_t length) {
  Bytes data;
  Status s = Retry("load " + Describe(name), [&](int) {
    Result<Bytes> r = inner_->Load(name, offset, length);
    if (r.ok()) data = std::move(*r);
    return r.status();
  });
  if (!s.ok()) return s;
  return data;
}

Result<ObjectInfo> RetryBackend::Stat(const ObjectName& name) {
  std::optional<ObjectInfo> info;
  Status s = Retry("stat " + Describe(name), [&](int) {
    Result<ObjectInfo> r = inner_->Stat(name);
    if (r.ok()) info = std::move(*r);
    return r.status();
  });
  if (!s.ok()) return s;
  return *std::move(info);
}

Status RetryBackend::List(ObjectType type, const std::function<Status(const ObjectInfo&)>& fn) {
  std::set<std::string> seen;  // passed to fn by an earlier attempt
  std::optional<Status> fn_error;
  Status s = Retry("list " + std::string(ObjectTypeDir(type)), [&](int) {
    Status r = inner_->List(type, [&](const ObjectInfo& info) {
      if (!seen.insert(info.name.name).second) return Status::OK();
      Status e = fn(info);
      if (!e.ok()) fn_error = e;
      return e;
    });
    // The caller's own error ends the listing, retryable or not.
    if (fn_error) return Status::Cancelled("stopped by the caller");
    return r;
  });
  if (fn_error) return *fn_error;
  return s;
}

Status RetryBackend::Remove(const ObjectName& name) {
  return Retry("remove " + Describe(name), [&](int) { return inner_->Remove(name); });
}

// The inner lock, with Refresh and Release retried like any call: a
// release that failed once would leave the lock to block every other taker
// until it expires.
class RetryBackend::RetryingLock final : public BackendLock {
 public:
  RetryingLock(RetryBackend& backend, std::string name, std::unique_ptr<BackendLock> inner)
      : backend_(backend), name_(std::move(name)), inner_(std::move(inner)) {}
  // A holder that never called Release gets the retries here; one whose
  // Release failed already is not kept waiting twice (the inner lock tries
  // once more as it goes).
  ~RetryingLock() override {
    if (!release_tried_) (void)Release();
  }
  Status Refresh() override {
    return backend_.Retry("refresh lock " + name_, [&](int) { return inner_->Refresh(); });
  }
  Status Release() override {
    release_tried_ = true;
    return backend_.Retry("release lock " + name_, [&](int) { return inner_->Release(); });
  }

 private:
  RetryBackend& backend_;
  std::string name_;
  std::unique_ptr<BackendLock> inner_;
  bool release_tried_ = false;
};

Result<std::unique_ptr<BackendLock>> RetryBackend::TryLock(std::string_view lock_name,
                                                           std::chrono::seconds ttl) {
  std::unique_ptr<BackendLock> lock;
  Status s = Retry("lock " + std::string(lock_name), [&](int) {
    Result<std::unique_ptr<BackendLock>> r = inner_->TryLock(lock_name, ttl);
    if (r.ok()) lock = std::move(*r);
    return r.status();
  });
  if (!s.ok()) return s;
  return std::unique_ptr<BackendLock>(
      new RetryingLock(*this, std::string(lock_name), std::move(lock)));
}

}  // namespace cairn::backend
