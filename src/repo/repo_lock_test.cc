// RepoLock: unreadable lock objects, the lost signal, the priority of a
// waiting exclusive taker, and waiting out the backend's mutual exclusion.
// Real files (LocalBackend), FaultBackend for refreshes that fail.
#include "repo/repo_lock.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "backend/local/local_backend.h"
#include "backend/retry_backend.h"
#include "repo/generation.h"
#include "testing/assert_ok.h"
#include "testing/fault_backend.h"
#include "testing/file_util.h"
#include "testing/temp_dir.h"

namespace cairn::repo {
namespace {

using backend::ObjectName;
using backend::ObjectType;
using testing::FaultBackend;
using Method = testing::FaultBackend::Method;
using Clock = std::chrono::steady_clock;

constexpr char kPassword[] = "pw";

InitOptions CheapInit() {
  InitOptions o;
  o.kdf = crypto::CheapKdfParams();
  o.pack_size = 64 * 1024;
  return o;
}

std::shared_ptr<backend::LocalBackend> Local(const std::string& dir) {
  auto be = backend::LocalBackend::Open(dir);
  EXPECT_TRUE(be.ok()) << be.status().ToString();
  return *be;
}

LockOptions Shared(std::string device = "dev") {
  LockOptions o;
  o.operation = "backup";
  o.device = std::move(device);
  return o;
}

LockOptions Exclusive() {
  LockOptions o;
  o.exclusive = true;
  o.operation = "prune";
  o.device = "pruner";
  return o;
}

void SetMtime(const std::string& path, TimeNs t) {
  struct timespec times[2];
  times[0].tv_sec = times[1].tv_sec = t / 1'000'000'000;
  times[0].tv_nsec = times[1].tv_nsec = t % 1'000'000'000;
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0) << path;
}

// Polls `done` for up to `limit`.
bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  auto until = Clock::now() + limit;
  while (Clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

class RepoLockRulesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto repo = Repository::Init(Local(dir_.path()), kPassword, CheapInit());
    ASSERT_TRUE(repo.ok()) << repo.status().ToString();
    repo_ = std::move(*repo);
  }
  // Another process's view of the same repository, through a FaultBackend.
  std::unique_ptr<Repository> OpenFaulty() {
    fault_ = std::make_shared<FaultBackend>(Local(dir_.path()));
    auto repo = Repository::Open(fault_, kPassword);
    EXPECT_TRUE(repo.ok()) << repo.status().ToString();
    return repo.ok() ? std::move(*repo) : nullptr;
  }
  std::string LockPath(const Id& id) const { return dir_.Sub("locks/" + id.Hex()); }

  testing::TempDir dir_;
  std::unique_ptr<Repository> repo_;
  std::shared_ptr<FaultBackend> fault_;
};

TEST_F(RepoLockRulesTest, AnUnreadableLockObjectCountsUntilItsModificationTimePlusTheMaxTtl) {
  const Id id = crypto::RandomId();
  const std::string path = LockPath(id);
  testing::WriteFile(path, "not an envelope", 0600);
  auto locks = RepoLock::ListLocks(*repo_);
  ASSERT_TRUE(locks.ok()) << locks.status().ToString();
  ASSERT_EQ(locks->size(), 1u);
  EXPECT_EQ((*locks)[0].id, id);
  EXPECT_FALSE((*locks)[0].unreadable.empty());
  EXPECT_GT((*locks)[0].mtime, 0);
  EXPECT_EQ((*locks)[0].expires, (*locks)[0].mtime + std::chrono::nanoseconds(kMaxLockTtl).count());

  // It may be anyone's lock, of any kind: neither taker proceeds.
  auto excl = RepoLock::Acquire(*repo_, Exclusive());
  ASSERT_EQ(excl.status().code(), StatusCode::kLocked) << excl.status().ToString();
  EXPECT_NE(excl.status().message().find("unreadable lock object locks/" + id.Hex()),
            std::string::npos)
      << excl.status().message();
  EXPECT_EQ(RepoLock::Acquire(*repo_, Shared()).status().code(), StatusCode::kLocked);
  EXPECT_TRUE(testing::Exists(path)) << "a live lock was removed";

  // Written longer ago than any lock can live unrefreshed: dead, removed.
  SetMtime(path,
           NowNs() - std::chrono::nanoseconds(kMaxLockTtl + std::chrono::seconds(60)).count());
  auto later = RepoLock::Acquire(*repo_, Exclusive());
  ASSERT_TRUE(later.ok()) << later.status().ToString();
  EXPECT_FALSE(testing::Exists(path));
}

TEST_F(RepoLockRulesTest, ALockObjectThatCannotBeLoadedDoesNotLetAnExclusiveTakerThrough) {
  auto shared = RepoLock::Acquire(*repo_, Shared("laptop"));
  ASSERT_TRUE(shared.ok()) << shared.status().ToString();
  auto other = OpenFaulty();
  ASSERT_NE(other, nullptr);
  fault_->FailNext(Method::kLoad, 1, Status::IOError("read error (injected)"));
  auto excl = RepoLock::Acquire(*other, Exclusive());
  ASSERT_EQ(excl.status().code(), StatusCode::kLocked) << excl.status().ToString();
  EXPECT_NE(excl.status().message().find("read error"), std::string::npos)
      << excl.status().message();
}

TEST_F(RepoLockRulesTest, AFailedRefreshFiresTheLostSignalAndNothingIsRefreshedAfter) {
  auto repo = OpenFaulty();
  ASSERT_NE(repo, nullptr);
  LockOptions o = Shared();
  o.ttl = std::chrono::seconds(3);  // refresh every 1 s; lost 2 s after the last write
  auto lock = RepoLock::Acquire(*repo, o);
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  std::stop_source outer;
  std::stop_token writer_stop = (*lock)->StopToken(outer.get_token());
  EXPECT_OK((*lock)->health());
  EXPECT_FALSE((*lock)->lost());

  const auto failing = Clock::now();
  fault_->FailNext(Method::kSave, 1000, Status::IOError("the disk went away (injected)"));
  ASSERT_TRUE(
      WaitFor([&] { return (*lock)->lost_token().stop_requested(); }, std::chrono::seconds(8)))
      << "the lost signal never fired";
  // Before the lock could expire (3 s after its last write, at most 1 s
  // before the faults began), so the writer stops while it still holds it.
  EXPECT_LT(Clock::now() - failing, std::chrono::milliseconds(3000));
  EXPECT_TRUE(writer_stop.stop_requested());
  EXPECT_FALSE(outer.stop_requested());
  Status health = (*lock)->health();
  EXPECT_EQ(health.code(), StatusCode::kLocked);
  EXPECT_NE(health.message().find("disk went away"), std::string::npos) << health.ToString();

  // Storage is back: no refresh pretends all is well.
  fault_->ClearFaults();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const int saves = fault_->Calls(Method::kSave);
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  EXPECT_EQ(fault_->Calls(Method::kSave), saves) << "a lost lock was refreshed";
  EXPECT_FALSE((*lock)->health().ok());
  EXPECT_TRUE((*lock)->lost());
  // And the lost holder's object has expired: a prune may proceed.
  auto excl = RepoLock::Acquire(*repo_, Exclusive());
  EXPECT_TRUE(excl.ok()) << excl.status().ToString();
}

TEST_F(RepoLockRulesTest, ALockObjectRemovedBySomeoneElseIsLost) {
  LockOptions o = Shared();
  o.ttl = std::chrono::seconds(3);
  auto lock = RepoLock::Acquire(*repo_, o);
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  auto locks = RepoLock::ListLocks(*repo_);
  ASSERT_TRUE(locks.ok());
  ASSERT_EQ(locks->size(), 1u);
  // An exclusive taker on a machine whose clock runs ahead judged it
  // expired and removed it.
  ASSERT_OK(repo_->backend().Remove(ObjectName{ObjectType::kLock, (*locks)[0].id.Hex()}));
  ASSERT_TRUE(WaitFor([&] { return (*lock)->lost(); }, std::chrono::seconds(4)));
  EXPECT_NE((*lock)->health().message().find("removed by someone else"), std::string::npos)
      << (*lock)->health().ToString();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  locks = RepoLock::ListLocks(*repo_);
  ASSERT_TRUE(locks.ok());
  EXPECT_TRUE(locks->empty()) << "the lost lock was written again";
}

TEST_F(RepoLockRulesTest, AHolderThatKeepsRefreshingStaysHealthy) {
  LockOptions o = Shared();
  o.ttl = std::chrono::seconds(3);
  auto lock = RepoLock::Acquire(*repo_, o);
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  std::this_thread::sleep_for(std::chrono::milliseconds(4500));  // > the ttl
  EXPECT_OK((*lock)->health());
  EXPECT_FALSE((*lock)->lost());
  auto locks = RepoLock::ListLocks(*repo_);
  ASSERT_TRUE(locks.ok());
  ASSERT_EQ(locks->size(), 1u) << "the refresh left old objects behind";
  EXPECT_GT((*locks)[0].expires, NowNs());
  EXPECT_EQ(RepoLock::Acquire(*repo_, Exclusive()).status().code(), StatusCode::kLocked);
  lock->reset();
  locks = RepoLock::ListLocks(*repo_);
  ASSERT_TRUE(locks.ok());
  EXPECT_TRUE(locks->empty());
}

TEST_F(RepoLockRulesTest, AWaitingExclusiveTakerIsNotStarvedByARelayOfSharedTakers) {
  // Devices backing up back to back: a new shared lock is taken before the
  // last one is released, so there is never a moment without one.
  std::atomic<bool> stop{false};
  std::atomic<int> taken{0}, refused{0};
  std::unique_ptr<RepoLock> first;
  {
    auto l = RepoLock::Acquire(*repo_, Shared("relay"));
    ASSERT_TRUE(l.ok()) << l.status().ToString();
    first = std::move(*l);
  }
  std::jthread relay([&] {
    std::unique_ptr<RepoLock> held = std::move(first);
    while (!stop) {
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
      auto next = RepoLock::Acquire(*repo_, Shared("relay"));
      if (next.ok()) {
        ++taken;
        held = std::move(*next);  // the new one first, then the old one goes
      } else {
        ++refused;
        held.reset();
      }
    }
  });
  ASSERT_TRUE(WaitFor([&] { return taken >= 3; }, std::chrono::seconds(5)));
  LockOptions o = Exclusive();
  o.wait = std::chrono::seconds(20);
  const auto start = Clock::now();
  auto excl = RepoLock::Acquire(*repo_, o);
  const auto waited = Clock::now() - start;
  stop = true;
  relay.join();
  ASSERT_TRUE(excl.ok()) << excl.status().ToString();
  EXPECT_LT(waited, std::chrono::seconds(10));
  EXPECT_GE(refused.load(), 1) << "no shared taker ever waited behind the exclusive one";
  // The intent is gone with the wait: only the exclusive lock is left.
  auto locks = RepoLock::ListLocks(*repo_);
  ASSERT_TRUE(locks.ok());
  ASSERT_EQ(locks->size(), 1u);
  EXPECT_TRUE((*locks)[0].exclusive);
  EXPECT_FALSE((*locks)[0].intent);
}

TEST_F(RepoLockRulesTest, AnIntentHoldsSharedTakersBackOnlyWithinItsPriority) {
  auto craft = [&](TimeNs priority_until) {
    TimeNs now = NowNs();
    std::string body =
        R"({"host":"h","pid":7,"device":"pruner","operation":"prune","exclusive":true,)"
        R"("intent":true,"created":)" +
        std::to_string(now - 1'000'000'000) + R"(,"expires":)" +
        std::to_string(now + 60'000'000'000) + R"(,"priority_until":)" +
        std::to_string(priority_until) + "}";
    Id id = crypto::RandomId();
    EXPECT_OK(repo_->SaveSealed(ObjectType::kLock, "lock", id, AsBytes(body)));
    return id;
  };
  Id waiting = craft(NowNs() + 60'000'000'000);
  auto refused = RepoLock::Acquire(*repo_, Shared());
  ASSERT_EQ(refused.status().code(), StatusCode::kLocked);
  EXPECT_NE(refused.status().message().find("waiting since"), std::string::npos)
      << refused.status().message();
  // Another exclusive taker is not held back by it.
  {
    auto excl = RepoLock::Acquire(*repo_, Exclusive());
    EXPECT_TRUE(excl.ok()) << excl.status().ToString();
  }
  ASSERT_OK(repo_->backend().Remove(ObjectName{ObjectType::kLock, waiting.Hex()}));
  craft(NowNs() - 1'000'000'000);  // its priority is used up
  auto shared = RepoLock::Acquire(*repo_, Shared());
  EXPECT_TRUE(shared.ok()) << shared.status().ToString();
}

TEST_F(RepoLockRulesTest, ATakerWaitsForTheMutualExclusionInsteadOfFailing) {
  // Another process in the middle of taking or releasing its lock.
  auto mutex = repo_->backend().TryLock("repository", kMutexTtl);
  ASSERT_TRUE(mutex.ok()) << mutex.status().ToString();
  std::jthread releaser([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(800));
    (void)(*mutex)->Release();
  });
  LockOptions o = Shared();
  o.wait = std::chrono::seconds(0);  // no waiting for locks, still for the mutex
  auto lock = RepoLock::Acquire(*repo_, o);
  EXPECT_TRUE(lock.ok()) << lock.status().ToString();
}

TEST_F(RepoLockRulesTest, AFailedTakeLeavesNothingBehind) {
  auto repo = OpenFaulty();
  ASSERT_NE(repo, nullptr);
  // The lock object lands, its answer is lost (no RetryBackend here).
  fault_->LoseNextAnswers(Method::kSave, 1);
  auto lock = RepoLock::Acquire(*repo, Exclusive());
  ASSERT_FALSE(lock.ok());
  auto locks = RepoLock::ListLocks(*repo_);
  ASSERT_TRUE(locks.ok());
  EXPECT_TRUE(locks->empty()) << "a lock object was left behind";
  // And the mutual exclusion was released.
  auto mutex = repo_->backend().TryLock("repository", kMutexTtl);
  EXPECT_TRUE(mutex.ok()) << mutex.status().ToString();
}

}  // namespace
}  // namespace cairn::repo

namespace cairn::repo {
namespace {

// The generation object lives in locks/ but is not a lock: takers of either
// kind proceed beside it, and each lock reports the etag its listing saw.
TEST_F(RepoLockRulesTest, TheGenerationIsSeenByEveryLockAndBlocksNoOne) {
  auto first = RepoLock::Acquire(*repo_, Shared());
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ((*first)->generation_etag(), "");  // never advanced
  first->reset();

  auto excl = RepoLock::Acquire(*repo_, Exclusive());
  ASSERT_TRUE(excl.ok()) << excl.status().ToString();
  auto g1 = AdvanceGeneration(*repo_, "pruner", "prune");
  ASSERT_TRUE(g1.ok()) << g1.status().ToString();
  EXPECT_EQ(g1->generation.number, 1u);
  auto g2 = AdvanceGeneration(*repo_, "pruner", "compact");
  ASSERT_TRUE(g2.ok()) << g2.status().ToString();
  EXPECT_EQ(g2->generation.number, 2u);
  EXPECT_NE(g1->etag, g2->etag);
  excl->reset();

  auto listed = RepoLock::ListLocks(*repo_);
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty()) << listed->front().Describe();
  auto shared = RepoLock::Acquire(*repo_, Shared());
  ASSERT_TRUE(shared.ok()) << shared.status().ToString();
  EXPECT_EQ((*shared)->generation_etag(), g2->etag);
  shared->reset();
  auto again = RepoLock::Acquire(*repo_, Exclusive());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  auto read = LoadGeneration(*repo_);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->generation.number, 2u);
  EXPECT_EQ(read->generation.operation, "compact");
  EXPECT_EQ(read->etag, g2->etag);
}

// A Replace whose answer was lost landed all the same: the retry (here by
// RetryBackend, which compares content) counts it as done, not as someone
// else's change.
TEST_F(RepoLockRulesTest, AnAdvanceWhoseAnswerWasLostIsNotDoneTwice) {
  auto faulty = OpenFaulty();
  ASSERT_NE(faulty, nullptr);
  backend::RetryOptions ro;
  ro.sleep = [](std::chrono::milliseconds) {};
  auto retrying = Repository::Open(std::make_shared<backend::RetryBackend>(fault_, ro), kPassword);
  ASSERT_TRUE(retrying.ok()) << retrying.status().ToString();
  fault_->LoseNextAnswers(Method::kReplace, 1);
  auto g = AdvanceGeneration(**retrying, "pruner", "prune");
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->generation.number, 1u);
  auto read = LoadGeneration(*repo_);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->generation.number, 1u);
  EXPECT_EQ(read->etag, g->etag);
}

// The index in memory is dropped only when the generation moved since it
// was loaded.
TEST_F(RepoLockRulesTest, TheIndexIsReloadedOnlyWhenTheGenerationMoved) {
  ASSERT_OK(repo_->LoadIndex(false));
  EXPECT_FALSE(repo_->SyncGeneration(""));
  ASSERT_OK(repo_->LoadIndex(false));
  auto g = AdvanceGeneration(*repo_, "pruner", "prune");
  ASSERT_TRUE(g.ok());
  EXPECT_TRUE(repo_->SyncGeneration(g->etag));
  EXPECT_FALSE(repo_->SyncGeneration(g->etag));  // not loaded since: nothing to drop
  ASSERT_OK(repo_->LoadIndex(false));
  EXPECT_FALSE(repo_->SyncGeneration(g->etag));
}

}  // namespace
}  // namespace cairn::repo
