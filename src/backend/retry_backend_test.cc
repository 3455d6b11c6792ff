#include "backend/retry_backend.h"

#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "testing/assert_ok.h"
#include "testing/fault_backend.h"
#include "testing/local_backend_util.h"

namespace cairn::backend {
namespace {

using ::cairn::testing::FaultBackend;
using ::cairn::testing::MakeTempLocalBackend;
using Method = FaultBackend::Method;
using std::chrono::milliseconds;

class RetryBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    local_ = MakeTempLocalBackend();
    ASSERT_NE(local_, nullptr);
    ASSERT_OK(local_->Create());
    fault_ = std::make_shared<FaultBackend>(local_);
    MakeRetry(RetryOptions{});
  }
  // Options as given, but sleeping only in `sleeps_`.
  void MakeRetry(RetryOptions options) {
    options.sleep = [this](milliseconds d) { sleeps_.push_back(d); };
    retry_ = std::make_shared<RetryBackend>(fault_, std::move(options));
  }

  std::shared_ptr<LocalBackend> local_;
  std::shared_ptr<FaultBackend> fault_;
  std::shared_ptr<RetryBackend> retry_;
  std::vector<milliseconds> sleeps_;
  const ObjectName name_{ObjectType::kPack, "ab" + std::string(62, '1')};
};

TEST_F(RetryBackendTest, RetriesRetryableFailuresWithGrowingDelays) {
  fault_->FailNext(Method::kSave, 3, Status::Unavailable("server busy"));
  ASSERT_OK(retry_->Save(name_, AsBytes("data")));
  EXPECT_EQ(fault_->Calls(Method::kSave), 4);
  ASSERT_EQ(sleeps_.size(), 3u);
  // 100 ms doubling, each drawn from [d/2, d].
  EXPECT_GE(sleeps_[0], milliseconds(50));
  EXPECT_LE(sleeps_[0], milliseconds(100));
  EXPECT_GE(sleeps_[1], milliseconds(100));
  EXPECT_LE(sleeps_[1], milliseconds(200));
  EXPECT_GE(sleeps_[2], milliseconds(200));
  EXPECT_LE(sleeps_[2], milliseconds(400));
  auto loaded = local_->Load(name_, 0, 0);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(AsString(*loaded), "data");
}

TEST_F(RetryBackendTest, NonRetryableErrorsAreReturnedAtOnce) {
  fault_->FailNext(Method::kSave, 1, Status::NoSpace("disk full"));
  Status s = retry_->Save(name_, AsBytes("data"));
  EXPECT_EQ(s.code(), StatusCode::kNoSpace) << s.ToString();
  EXPECT_EQ(fault_->Calls(Method::kSave), 1);
  EXPECT_EQ(local_->Stat(name_).status().code(), StatusCode::kNotFound);

  // A real NotFound from the backend is not retried either.
  EXPECT_EQ(retry_->Load(name_, 0, 0).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(fault_->Calls(Method::kLoad), 1);
  EXPECT_TRUE(sleeps_.empty());
}

TEST_F(RetryBackendTest, GivesUpAfterMaxAttemptsWithDelaysBounded) {
  RetryOptions options;
  options.max_delay = milliseconds(300);
  MakeRetry(options);
  ASSERT_OK(local_->Save(name_, AsBytes("data")));
  fault_->FailNext(Method::kLoad, 100, Status::Unavailable("server busy"));
  auto r = retry_->Load(name_, 0, 0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.error().message().find("gave up after 5 attempts"), std::string::npos)
      << r.error().ToString();
  EXPECT_NE(r.error().message().find("server busy"), std::string::npos);
  EXPECT_EQ(fault_->Calls(Method::kLoad), 5);
  ASSERT_EQ(sleeps_.size(), 4u);
  for (milliseconds d : sleeps_) EXPECT_LE(d, milliseconds(300));
}

TEST_F(RetryBackendTest, StopsAtTheTotalTimeBound) {
  RetryOptions options;
  options.total_time = milliseconds(40);  // less than the first wait
  MakeRetry(options);
  fault_->FailNext(Method::kStat, 100, Status::Unavailable("server busy"));
  EXPECT_EQ(retry_->Stat(name_).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(fault_->Calls(Method::kStat), 1);
  EXPECT_TRUE(sleeps_.empty());
}

TEST_F(RetryBackendTest, RetriesEveryMethod) {
  ASSERT_OK(local_->Save(name_, AsBytes("data")));
  for (Method m : {Method::kCreate, Method::kHasAnyObject, Method::kLoad, Method::kStat,
                   Method::kList, Method::kRemove, Method::kTryLock}) {
    fault_->FailNext(m, 1, Status::Unavailable("blip"));
  }
  ASSERT_OK(retry_->Create());
  auto any = retry_->HasAnyObject();
  ASSERT_TRUE(any.ok());
  EXPECT_TRUE(*any);
  auto loaded = retry_->Load(name_, 1, 2);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(AsString(*loaded), "at");
  auto info = retry_->Stat(name_);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->size, 4u);
  int listed = 0;
  ASSERT_OK(retry_->List(ObjectType::kPack, [&](const ObjectInfo&) {
    ++listed;
    return Status::OK();
  }));
  EXPECT_EQ(listed, 1);
  auto lock = retry_->TryLock("repository", std::chrono::seconds(30));
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  ASSERT_OK(retry_->Remove(name_));
  EXPECT_EQ(local_->Stat(name_).status().code(), StatusCode::kNotFound);
  for (Method m : {Method::kCreate, Method::kHasAnyObject, Method::kLoad, Method::kStat,
                   Method::kList, Method::kRemove, Method::kTryLock}) {
    EXPECT_EQ(fault_->Calls(m), 2) << static_cast<int>(m);
  }
}

TEST_F(RetryBackendTest, LockReleaseAndRefreshAreRetried) {
  auto lock = retry_->TryLock("repository", std::chrono::seconds(30));
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  fault_->FailNext(Method::kLockRefresh, 1, Status::Unavailable("blip"));
  ASSERT_OK((*lock)->Refresh());
  EXPECT_EQ(fault_->Calls(Method::kLockRefresh), 2);
  // The release is lost once, failed once: it is repeated until it lands,
  // and the repeat of a release that was applied is no error.
  fault_->LoseNextAnswers(Method::kLockRelease, 1);
  fault_->FailNext(Method::kLockRelease, 1, Status::Unavailable("blip"));
  ASSERT_OK((*lock)->Release());
  EXPECT_EQ(fault_->Calls(Method::kLockRelease), 3);
  // Released although the object still lives: the next taker gets it.
  auto next = local_->TryLock("repository", std::chrono::seconds(30));
  EXPECT_TRUE(next.ok()) << next.status().ToString();
}

TEST_F(RetryBackendTest, ASaveWhoseAnswerWasLostIsASuccess) {
  fault_->LoseNextAnswers(Method::kSave, 1);
  ASSERT_OK(retry_->Save(name_, AsBytes("data")));
  EXPECT_EQ(fault_->Calls(Method::kSave), 2);  // the retry found it there
  EXPECT_EQ(fault_->Calls(Method::kStat), 1);  // and checked its size
  EXPECT_EQ(fault_->Calls(Method::kLoad), 1);  // and, with no MD5 stored, its bytes
  auto loaded = local_->Load(name_, 0, 0);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(AsString(*loaded), "data");
}

// Azure answers a create-only write (If-None-Match: *) that finds the blob
// with 409, but a service may answer 412 Precondition Failed instead: after a
// lost answer, that too is our own write when the stored bytes match, and a
// conflict when they do not.
TEST_F(RetryBackendTest, PreconditionFailedAfterALostSaveIsDecidedByTheStoredBytes) {
  fault_->LoseNextAnswers(Method::kSave, 1);
  fault_->FailNth(Method::kSave, 2, Status::PreconditionFailed("the blob exists (412)"));
  ASSERT_OK(retry_->Save(name_, AsBytes("data")));
  EXPECT_EQ(fault_->Calls(Method::kSave), 2);
  EXPECT_EQ(fault_->Calls(Method::kStat), 1);

  const ObjectName other{ObjectType::kPack, "cd" + std::string(62, '2')};
  ASSERT_OK(local_->Save(other, AsBytes("THEIRS")));
  fault_->FailNext(Method::kSave, 1, Status::Unavailable("blip"));
  fault_->FailNext(Method::kSave, 1, Status::PreconditionFailed("the blob exists (412)"));
  Status s = retry_->Save(other, AsBytes("mine!!"));
  EXPECT_EQ(s.code(), StatusCode::kPreconditionFailed) << s.ToString();
  EXPECT_EQ(fault_->Calls(Method::kSave), 4);  // the blip, then the 412
  EXPECT_EQ(fault_->Calls(Method::kStat), 2);  // the stored object was looked at
  auto loaded = local_->Load(other, 0, 0);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(AsString(*loaded), "THEIRS");
}

TEST_F(RetryBackendTest, AlreadyExistsOnTheFirstAttemptIsAConflict) {
  ASSERT_OK(local_->Save(name_, AsBytes("data")));
  Status s = retry_->Save(name_, AsBytes("data"));
  EXPECT_TRUE(s.IsAlreadyExists()) << s.ToString();
  EXPECT_EQ(fault_->Calls(Method::kSave), 1);
  EXPECT_EQ(fault_->Calls(Method::kStat), 0);
}

TEST_F(RetryBackendTest, AlreadyExistsOfAnotherSizeAfterARetryIsAConflict) {
  ASSERT_OK(local_->Save(name_, AsBytes("someone else's")));
  fault_->FailNext(Method::kSave, 1, Status::Unavailable("blip"));
  Status s = retry_->Save(name_, AsBytes("mine"));
  EXPECT_TRUE(s.IsAlreadyExists()) << s.ToString();
  EXPECT_EQ(fault_->Calls(Method::kSave), 2);
  auto loaded = local_->Load(name_, 0, 0);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(AsString(*loaded), "someone else's");
}

TEST_F(RetryBackendTest, AlreadyExistsOfTheSameSizeButOtherBytesAfterARetryIsAConflict) {
  ASSERT_OK(local_->Save(name_, AsBytes("THEIRS")));
  fault_->FailNext(Method::kSave, 1, Status::Unavailable("blip"));
  Status s = retry_->Save(name_, AsBytes("mine!!"));
  EXPECT_TRUE(s.IsAlreadyExists()) << s.ToString();
  auto loaded = local_->Load(name_, 0, 0);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(AsString(*loaded), "THEIRS");
}

// A backend that reports the MD5 of what it stores, as Azure does.
class Md5ReportingBackend : public ForwardingBackend {
 public:
  using ForwardingBackend::ForwardingBackend;
  Result<ObjectInfo> Stat(const ObjectName& n) override {
    CAIRN_ASSIGN_OR_RETURN(ObjectInfo info, inner_->Stat(n));
    CAIRN_ASSIGN_OR_RETURN(Bytes content, inner_->Load(n, 0, 0));
    info.content_md5 = ContentMd5(content);
    return info;
  }
};

TEST_F(RetryBackendTest, WithAStoredMd5TheLengthAndMd5DecideWithoutDownloading) {
  auto md5 = std::make_shared<Md5ReportingBackend>(local_);
  fault_ = std::make_shared<FaultBackend>(md5);
  MakeRetry(RetryOptions{});

  // Ours, whose answer was lost: a success.
  fault_->LoseNextAnswers(Method::kSave, 1);
  ASSERT_OK(retry_->Save(name_, AsBytes("data")));
  EXPECT_EQ(fault_->Calls(Method::kStat), 1);
  EXPECT_EQ(fault_->Calls(Method::kLoad), 0);

  // Someone else's of the same length: a conflict.
  const ObjectName other{ObjectType::kPack, "cd" + std::string(62, '2')};
  ASSERT_OK(local_->Save(other, AsBytes("DATA")));
  fault_->FailNext(Method::kSave, 1, Status::Unavailable("blip"));
  Status s = retry_->Save(other, AsBytes("data"));
  EXPECT_TRUE(s.IsAlreadyExists()) << s.ToString();
  EXPECT_EQ(fault_->Calls(Method::kLoad), 0);
  EXPECT_EQ(ContentMd5(AsBytes("")), "1B2M2Y8AsgTpgAmY7PhCfg==");  // RFC 1321's MD5("")
}

TEST_F(RetryBackendTest, RetryAfterFromTheServiceIsWaitedAtLeast) {
  fault_->FailNext(Method::kSave, 2,
                   Status::Unavailable("ServerBusy").WithRetryAfter(std::chrono::seconds(3)));
  ASSERT_OK(retry_->Save(name_, AsBytes("data")));
  ASSERT_EQ(sleeps_.size(), 2u);
  EXPECT_GE(sleeps_[0], std::chrono::seconds(3));
  EXPECT_GE(sleeps_[1], std::chrono::seconds(3));
  EXPECT_LE(sleeps_[1], std::chrono::seconds(4));

  // A Retry-After beyond the total time bound ends the retries at once.
  RetryOptions options;
  options.total_time = std::chrono::seconds(10);
  MakeRetry(options);
  sleeps_.clear();
  fault_->FailNext(Method::kLoad, 1,
                   Status::Unavailable("ServerBusy").WithRetryAfter(std::chrono::seconds(30)));
  EXPECT_EQ(retry_->Load(name_, 0, 0).status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(sleeps_.empty());
}

TEST_F(RetryBackendTest, AReplaceWhoseAnswerWasLostIsASuccess) {
  ObjectName lock{ObjectType::kLock, "l1"};
  fault_->LoseNextAnswers(Method::kReplace, 1);
  auto etag = retry_->Replace(lock, AsBytes("mine"), "");
  ASSERT_TRUE(etag.ok()) << etag.status().ToString();
  EXPECT_EQ(fault_->Calls(Method::kReplace), 2);
  auto info = local_->Stat(lock);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(*etag, info->etag);
  // The etag is usable for the next compare-and-swap.
  fault_->LoseNextAnswers(Method::kReplace, 1);
  auto next = retry_->Replace(lock, AsBytes("mine, refreshed"), *etag);
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  auto loaded = local_->Load(lock, 0, 0);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(AsString(*loaded), "mine, refreshed");
}

TEST_F(RetryBackendTest, AReplaceThatLostTheRaceAfterARetryFails) {
  ObjectName lock{ObjectType::kLock, "l1"};
  ASSERT_TRUE(local_->Replace(lock, AsBytes("theirs"), "").ok());
  fault_->FailNext(Method::kReplace, 1, Status::Unavailable("blip"));
  auto etag = retry_->Replace(lock, AsBytes("mine!!"), "");
  ASSERT_FALSE(etag.ok());
  EXPECT_EQ(etag.error().code(), StatusCode::kPreconditionFailed) << etag.error().ToString();
  auto loaded = local_->Load(lock, 0, 0);
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(AsString(*loaded), "theirs");
}

TEST_F(RetryBackendTest, ARetriedListPassesEachObjectOnce) {
  for (int i = 0; i < 10; ++i) {
    ASSERT_OK(local_->Save(ObjectName{ObjectType::kIndex, "i" + std::to_string(i)}, AsBytes("x")));
  }
  fault_->FailListAfter(4, Status::Unavailable("connection reset"));
  std::map<std::string, int> seen;
  ASSERT_OK(retry_->List(ObjectType::kIndex, [&](const ObjectInfo& info) {
    ++seen[info.name.name];
    return Status::OK();
  }));
  EXPECT_EQ(fault_->Calls(Method::kList), 2);
  EXPECT_EQ(seen.size(), 10u);
  for (const auto& [name, count] : seen) EXPECT_EQ(count, 1) << name;
}

TEST_F(RetryBackendTest, TheCallersOwnListErrorIsNotRetried) {
  ASSERT_OK(local_->Save(ObjectName{ObjectType::kIndex, "i1"}, AsBytes("x")));
  Status s = retry_->List(ObjectType::kIndex, [](const ObjectInfo&) {
    return Status::Unavailable("the caller's own trouble");
  });
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "the caller's own trouble");
  EXPECT_EQ(fault_->Calls(Method::kList), 1);
}

}  // namespace
}  // namespace cairn::backend
