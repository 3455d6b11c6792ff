// FaultBackend: a decorator for tests that injects programmed failures and
// counts calls. Test-only (cairn_testing).
//
// Faults: fail the Nth call or the next N calls of a method with a given
// Status (without reaching the wrapped backend); "lose the answer" of a
// write (applied to the wrapped backend, but Unavailable is returned, as
// when a response is lost on the network); end a List with an error part
// way; and a byte budget that simulates a full disk.
//
// Thread-safety: every method may be called from many threads; faults are
// taken in call order.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "backend/backend.h"

namespace cairn::testing {

class FaultBackend : public backend::ForwardingBackend {
 public:
  enum class Method {
    kCreate,
    kHasAnyObject,
    kSave,
    kReplace,
    kLoad,
    kStat,
    kList,
    kRemove,
    kTryLock,
    // BackendLock::Refresh and Release of a lock TryLock returned.
    kLockRefresh,
    kLockRelease,
  };
  static constexpr size_t kMethodCount = 11;

  explicit FaultBackend(std::shared_ptr<backend::Backend> inner)
      : ForwardingBackend(std::move(inner)) {}

  // The `nth` call of `m` (1-based, counted since construction) returns
  // `status` without reaching the wrapped backend.
  void FailNth(Method m, int nth, Status status);
  // The next `count` calls of `m` return `status` without reaching the
  // wrapped backend.
  void FailNext(Method m, int count, Status status);
  // The next `count` calls of `m` are applied to the wrapped backend, then
  // answer Unavailable (retryable) whatever happened.
  void LoseNextAnswers(Method m, int count);
  // The next List passes at most `items` objects to its callback, then
  // returns `status`.
  void FailListAfter(int items, Status status);
  // Saves and Replaces may store `bytes` more in total. Once they are used
  // up, or a write does not fit, every Save and Replace writes nothing and
  // returns NoSpace: the disk is full.
  void SetByteBudget(uint64_t bytes);
  // Removes all pending faults and the byte budget; counts stay.
  void ClearFaults();

  // How many times `m` was called (faulted calls included).
  int Calls(Method m) const;

  Status Create() override;
  Result<bool> HasAnyObject() override;
  Status Save(const backend::ObjectName& name, ByteView data) override;
  Result<std::string> Replace(const backend::ObjectName& name, ByteView data,
                              const std::string& if_match) override;
  Result<Bytes> Load(const backend::ObjectName& name, uint64_t offset, uint64_t length) override;
  Result<backend::ObjectInfo> Stat(const backend::ObjectName& name) override;
  Status List(backend::ObjectType type,
              const std::function<Status(const backend::ObjectInfo&)>& fn) override;
  Status Remove(const backend::ObjectName& name) override;
  // The lock it returns suffers the faults of kLockRefresh and kLockRelease
  // (a lost answer to Release: released, Unavailable returned); it must not
  // outlive this backend.
  Result<std::unique_ptr<backend::BackendLock>> TryLock(std::string_view lock_name,
                                                        std::chrono::seconds ttl) override;

 private:
  class FaultLock;

  struct Fault {
    enum Kind { kFail, kLoseAnswer } kind;
    Status status;  // for kFail
  };
  struct Pending {
    Fault fault;
    int remaining;
  };
  struct PerMethod {
    int calls = 0;
    std::map<int, Status> nth;
    std::deque<Pending> next;
  };

  // Counts a call of `m` and returns the fault it must suffer, if any.
  std::optional<Fault> Begin(Method m);
  // Reserves `bytes` of the budget: NoSpace when the disk is "full".
  Status Reserve(const backend::ObjectName& name, uint64_t bytes);
  void Refund(uint64_t bytes);

  mutable std::mutex mu_;
  std::array<PerMethod, kMethodCount> methods_;
  std::optional<uint64_t> budget_;  // bytes left; unset: unlimited
  bool disk_full_ = false;
  std::optional<std::pair<int, Status>> list_fault_;
};

}  // namespace cairn::testing
