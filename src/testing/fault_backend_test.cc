#include "testing/fault_backend.h"

#include <gtest/gtest.h>

#include "testing/assert_ok.h"
#include "testing/local_backend_util.h"

namespace cairn::testing {
namespace {

using backend::LocalBackend;
using backend::ObjectInfo;
using backend::ObjectName;
using backend::ObjectType;
using Method = FaultBackend::Method;

class FaultBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    local_ = MakeTempLocalBackend();
    ASSERT_NE(local_, nullptr);
    ASSERT_OK(local_->Create());
    fault_ = std::make_shared<FaultBackend>(local_);
  }
  static ObjectName Key(int i) { return ObjectName{ObjectType::kKey, "k" + std::to_string(i)}; }

  std::shared_ptr<LocalBackend> local_;
  std::shared_ptr<FaultBackend> fault_;
};

TEST_F(FaultBackendTest, AByteBudgetSimulatesAFullDisk) {
  fault_->SetByteBudget(100);
  ASSERT_OK(fault_->Save(Key(1), Bytes(60, 'a')));
  Status s = fault_->Save(Key(2), Bytes(50, 'b'));  // does not fit
  EXPECT_EQ(s.code(), StatusCode::kNoSpace) << s.ToString();
  EXPECT_FALSE(s.retryable());
  EXPECT_EQ(local_->Stat(Key(2)).status().code(), StatusCode::kNotFound) << "wrote anyway";
  // The disk stays full, even for what would fit.
  EXPECT_EQ(fault_->Save(Key(3), Bytes(1, 'c')).code(), StatusCode::kNoSpace);
  EXPECT_EQ(fault_->Replace(Key(4), Bytes(1, 'd'), "").status().code(), StatusCode::kNoSpace);
  EXPECT_EQ(local_->Stat(Key(3)).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(fault_->Calls(Method::kSave), 3);
  EXPECT_TRUE(local_->Stat(Key(1)).ok());
}

TEST_F(FaultBackendTest, AnExactlyUsedBudgetIsAFullDisk) {
  fault_->SetByteBudget(10);
  ASSERT_OK(fault_->Save(Key(1), Bytes(10, 'a')));
  EXPECT_EQ(fault_->Save(Key(2), Bytes{}).code(), StatusCode::kNoSpace);
}

TEST_F(FaultBackendTest, AFailedWriteDoesNotUseTheBudget) {
  fault_->SetByteBudget(10);
  ASSERT_OK(fault_->Save(Key(1), Bytes(6, 'a')));
  EXPECT_TRUE(fault_->Save(Key(1), Bytes(4, 'a')).IsAlreadyExists());
  EXPECT_TRUE(fault_->Save(Key(2), Bytes(4, 'b')).ok()) << "the refused save used the budget";
}

TEST_F(FaultBackendTest, FailsTheNthCall) {
  fault_->FailNth(Method::kSave, 2, Status::NoSpace("injected"));
  ASSERT_OK(fault_->Save(Key(1), AsBytes("1")));
  EXPECT_EQ(fault_->Save(Key(2), AsBytes("2")).code(), StatusCode::kNoSpace);
  ASSERT_OK(fault_->Save(Key(3), AsBytes("3")));
  EXPECT_TRUE(local_->Stat(Key(1)).ok());
  EXPECT_EQ(local_->Stat(Key(2)).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(local_->Stat(Key(3)).ok());
  EXPECT_EQ(fault_->Calls(Method::kSave), 3);
}

TEST_F(FaultBackendTest, FailsTheNextCallsThenRecovers) {
  fault_->FailNext(Method::kLoad, 2, Status::Unavailable("busy"));
  ASSERT_OK(local_->Save(Key(1), AsBytes("v")));
  auto r1 = fault_->Load(Key(1), 0, 0);
  ASSERT_FALSE(r1.ok());
  EXPECT_TRUE(r1.error().retryable());
  EXPECT_FALSE(fault_->Load(Key(1), 0, 0).ok());
  auto r3 = fault_->Load(Key(1), 0, 0);
  ASSERT_TRUE(r3.ok()) << r3.status().ToString();
  EXPECT_EQ(AsString(*r3), "v");
  EXPECT_EQ(fault_->Calls(Method::kLoad), 3);
  EXPECT_EQ(fault_->Calls(Method::kSave), 0);  // only calls through the decorator count
}

TEST_F(FaultBackendTest, ALostAnswerStillWrites) {
  fault_->LoseNextAnswers(Method::kSave, 1);
  Status s = fault_->Save(Key(1), AsBytes("applied"));
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_TRUE(s.retryable());
  auto loaded = local_->Load(Key(1), 0, 0);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(AsString(*loaded), "applied");
  ASSERT_OK(fault_->Save(Key(2), AsBytes("normal again")));
}

TEST_F(FaultBackendTest, CutsAListShort) {
  for (int i = 0; i < 5; ++i) ASSERT_OK(local_->Save(Key(i), AsBytes("k")));
  fault_->FailListAfter(2, Status::Unavailable("reset"));
  int n = 0;
  Status s = fault_->List(ObjectType::kKey, [&](const ObjectInfo&) {
    ++n;
    return Status::OK();
  });
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(n, 2);
  n = 0;
  ASSERT_OK(fault_->List(ObjectType::kKey, [&](const ObjectInfo&) {
    ++n;
    return Status::OK();
  }));
  EXPECT_EQ(n, 5);
}

TEST_F(FaultBackendTest, ClearFaultsRemovesThemAll) {
  fault_->FailNext(Method::kSave, 5, Status::IOError("x"));
  fault_->SetByteBudget(0);
  fault_->ClearFaults();
  ASSERT_OK(fault_->Save(Key(1), AsBytes("fine")));
  EXPECT_EQ(fault_->Calls(Method::kSave), 1);
}

}  // namespace
}  // namespace cairn::testing
