#include "testing/fault_backend.h"

#include <utility>

namespace cairn::testing {

using backend::BackendLock;
using backend::ObjectInfo;
using backend::ObjectName;
using backend::ObjectType;

namespace {

Status LostAnswer(std::string_view what) {
  return Status::Unavailable(std::string(what) + ": the answer was lost (injected fault)");
}

}  // namespace

void FaultBackend::FailNth(Method m, int nth, Status status) {
  std::lock_guard lock(mu_);
  methods_[static_cast<size_t>(m)].nth[nth] = std::move(status);
}

void FaultBackend::FailNext(Method m, int count, Status status) {
  std::lock_guard lock(mu_);
  methods_[static_cast<size_t>(m)].next.push_back(
      Pending{Fault{Fault::kFail, std::move(status)}, count});
}

void FaultBackend::LoseNextAnswers(Method m, int count) {
  std::lock_guard lock(mu_);
  methods_[static_cast<size_t>(m)].next.push_back(
      Pending{Fault{Fault::kLoseAnswer, Status::OK()}, count});
}

void FaultBackend::FailListAfter(int items, Status status) {
  std::lock_guard lock(mu_);
  list_fault_.emplace(items, std::move(status));
}

void FaultBackend::SetByteBudget(uint64_t bytes) {
  std::lock_guard lock(mu_);
  budget_ = bytes;
  disk_full_ = false;
}

void FaultBackend::ClearFaults() {
  std::lock_guard lock(mu_);
  for (PerMethod& pm : methods_) {
    pm.nth.clear();
    pm.next.clear();
  }
  budget_.reset();
  disk_full_ = false;
  list_fault_.reset();
}

int FaultBackend::Calls(Method m) const {
  std::lock_guard lock(mu_);
  return methods_[static_cast<size_t>(m)].calls;
}

std::optional<FaultBackend::Fault> FaultBackend::Begin(Method m) {
  std::lock_guard lock(mu_);
  PerMethod& pm = methods_[static_cast<size_t>(m)];
  ++pm.calls;
  if (auto it = pm.nth.find(pm.calls); it != pm.nth.end()) {
    Fault f{Fault::kFail, std::move(it->second)};
    pm.nth.erase(it);
    return f;
  }
  while (!pm.next.empty() && pm.next.front().remaining <= 0) pm.next.pop_front();
  if (pm.next.empty()) return std::nullopt;
  Fault f = pm.next.front().fault;
  if (--pm.next.front().remaining <= 0) pm.next.pop_front();
  return f;
}

Status FaultBackend::Reserve(const ObjectName& name, uint64_t bytes) {
  std::lock_guard lock(mu_);
  if (!budget_) return Status::OK();
  if (disk_full_ || bytes > *budget_) {
    disk_full_ = true;
    return Status::NoSpace("disk full writing " + name.Path() +
                           ": free some space and run again (injected fault)");
  }
  *budget_ -= bytes;
  if (*budget_ == 0) disk_full_ = true;
  return Status::OK();
}

void FaultBackend::Refund(uint64_t bytes) {
  std::lock_guard lock(mu_);
  if (!budget_) return;
  *budget_ += bytes;
  if (bytes > 0) disk_full_ = false;
}

Status FaultBackend::Create() {
  std::optional<Fault> f = Begin(Method::kCreate);
  if (f && f->kind == Fault::kFail) return f->status;
  Status s = inner_->Create();
  if (f) return LostAnswer("create");
  return s;
}

Result<bool> FaultBackend::HasAnyObject() {
  std::optional<Fault> f = Begin(Method::kHasAnyObject);
  if (f && f->kind == Fault::kFail) return f->status;
  Result<bool> r = inner_->HasAnyObject();
  if (f) return LostAnswer("check for objects");
  return r;
}

Status FaultBackend::Save(const ObjectName& name, ByteView data) {
  std::optional<Fault> f = Begin(Method::kSave);
  if (f && f->kind == Fault::kFail) return f->status;
  CAIRN_RETURN_IF_ERROR(Reserve(name, data.size()));
  Status s = inner_->Save(name, data);
  if (!s.ok()) Refund(data.size());
  if (f) return LostAnswer("save " + name.Path());
  return s;
}

Result<std::string> FaultBackend::Replace(const ObjectName& name, ByteView data,
                                          const std::string& if_match) {
  std::optional<Fault> f = Begin(Method::kReplace);
  if (f && f->kind == Fault::kFail) return f->status;
  CAIRN_RETURN_IF_ERROR(Reserve(name, data.size()));
  Result<std::string> r = inner_->Replace(name, data, if_match);
  if (!r.ok()) Refund(data.size());
  if (f) return LostAnswer("replace " + name.Path());
  return r;
}

Result<Bytes> FaultBackend::Load(const ObjectName& name, uint64_t offset, uint64_t length) {
  std::optional<Fault> f = Begin(Method::kLoad);
  if (f && f->kind == Fault::kFail) return f->status;
  Result<Bytes> r = inner_->Load(name, offset, length);
  if (f) return LostAnswer("load " + name.Path());
  return r;
}

Result<ObjectInfo> FaultBackend::Stat(const ObjectName& name) {
  std::optional<Fault> f = Begin(Method::kStat);
  if (f && f->kind == Fault::kFail) return f->status;
  Result<ObjectInfo> r = inner_->Stat(name);
  if (f) return LostAnswer("stat " + name.Path());
  return r;
}

Status FaultBackend::List(ObjectType type, const std::function<Status(const ObjectInfo&)>& fn) {
  std::optional<Fault> f = Begin(Method::kList);
  if (f && f->kind == Fault::kFail) return f->status;
  std::optional<std::pair<int, Status>> cut;
  {
    std::lock_guard lock(mu_);
    cut = std::exchange(list_fault_, std::nullopt);
  }
  Status s;
  if (cut) {
    int left = cut->first;
    bool cut_off = false;
    s = inner_->List(type, [&](const ObjectInfo& info) {
      if (left-- <= 0) {
        cut_off = true;
        return Status::Cancelled("cut off");
      }
      return fn(info);
    });
    if (cut_off) s = cut->second;
  } else {
    s = inner_->List(type, fn);
  }
  if (f) return LostAnswer("list");
  return s;
}

Status FaultBackend::Remove(const ObjectName& name) {
  std::optional<Fault> f = Begin(Method::kRemove);
  if (f && f->kind == Fault::kFail) return f->status;
  Status s = inner_->Remove(name);
  if (f) return LostAnswer("remove " + name.Path());
  return s;
}

class FaultBackend::FaultLock : public BackendLock {
 public:
  FaultLock(FaultBackend& backend, std::unique_ptr<BackendLock> inner)
      : backend_(backend), inner_(std::move(inner)) {}
  Status Refresh() override {
    std::optional<Fault> f = backend_.Begin(Method::kLockRefresh);
    if (f && f->kind == Fault::kFail) return f->status;
    Status s = inner_->Refresh();
    if (f) return LostAnswer("refresh lock");
    return s;
  }
  Status Release() override {
    std::optional<Fault> f = backend_.Begin(Method::kLockRelease);
    if (f && f->kind == Fault::kFail) return f->status;
    Status s = inner_->Release();
    if (f) return LostAnswer("release lock");
    return s;
  }

 private:
  FaultBackend& backend_;
  std::unique_ptr<BackendLock> inner_;
};

Result<std::unique_ptr<BackendLock>> FaultBackend::TryLock(std::string_view lock_name,
                                                           std::chrono::seconds ttl) {
  std::optional<Fault> f = Begin(Method::kTryLock);
  if (f && f->kind == Fault::kFail) return f->status;
  Result<std::unique_ptr<BackendLock>> r = inner_->TryLock(lock_name, ttl);
  if (f) return LostAnswer("lock " + std::string(lock_name));
  if (!r.ok()) return r;
  return std::unique_ptr<BackendLock>(new FaultLock(*this, std::move(*r)));
}

}  // namespace cairn::testing
