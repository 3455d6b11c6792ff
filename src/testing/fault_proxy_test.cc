// FaultProxy between AzureBackend and Azurite: every fault it injects is
// retried by RetryBackend and nothing is lost; the proxy's log proves that
// each fault happened and that the request was repeated. Also: the proxy
// itself (keep-alive, counting, rule scheduling, shutdown).
#include "testing/fault_proxy.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <thread>

#include "backend/azure/azure_backend.h"
#include "backend/retry_backend.h"
#include "testing/assert_ok.h"
#include "testing/azurite_fixture.h"

namespace cairn::testing {
namespace {

using backend::ObjectInfo;
using backend::ObjectName;
using backend::ObjectType;
using backend::RetryBackend;
using backend::RetryOptions;
using backend::azure::AzureBackend;
using backend::azure::AzureConnection;
using backend::azure::AzureOptions;
using backend::azure::kDevStoreAccount;
using backend::azure::Md5;
using backend::azure::ParseConnectionString;

Bytes Pattern(size_t n, uint32_t seed) {
  Bytes b(n);
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    b[i] = static_cast<uint8_t>(x);
  }
  return b;
}

// The status a client gets for a faulted request (0: no complete answer).
int FaultStatus(FaultAction action) {
  if (action == FaultAction::kServerBusy) return 503;
  if (action == FaultAction::kInternalError) return 500;
  if (action == FaultAction::kTooManyRequests) return 429;
  return 0;
}

ObjectName PackName(int i) {
  std::string hex = HexEncode(Md5(AsBytes("pack" + std::to_string(i))));
  return ObjectName{ObjectType::kPack, hex + hex};
}

class FaultProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CAIRN_REQUIRE_AZURITE(server);
    server_ = server;
    FaultProxyOptions po;
    po.upstream_port = server_->port();
    po.stall_limit = std::chrono::seconds(30);
    auto proxy = FaultProxy::Start(po);
    ASSERT_TRUE(proxy.ok()) << proxy.status().ToString();
    proxy_ = std::move(*proxy);
    container_ = UniqueContainerName();

    AzureConnection via_proxy = server_->Connection();
    via_proxy.blob_endpoint = proxy_->Origin() + "/" + std::string(kDevStoreAccount);
    AzureOptions options;
    options.http.stall_timeout = std::chrono::seconds(1);
    options.single_put_max = 1 << 20;  // larger objects go up in blocks
    options.block_size = 256 << 10;
    options.block_parallelism = 2;
    auto azure = AzureBackend::Open(via_proxy, container_, "p", options);
    ASSERT_TRUE(azure.ok()) << azure.status().ToString();
    azure_ = *azure;
    RetryOptions ro;
    ro.max_attempts = 5;
    ro.initial_delay = std::chrono::milliseconds(10);
    ro.max_delay = std::chrono::milliseconds(100);
    retry_ = std::make_shared<RetryBackend>(azure_, ro);

    // A second view that bypasses the proxy, to check what was stored.
    auto direct = AzureBackend::Open(server_->Connection(), container_, "p");
    ASSERT_TRUE(direct.ok());
    direct_ = *direct;
    ASSERT_OK(retry_->Create());
  }

  // The requests (in order) with `method` whose target contains `part`.
  std::vector<ProxiedRequest> Requests(std::string_view method, std::string_view part) const {
    std::vector<ProxiedRequest> out;
    for (const ProxiedRequest& r : proxy_->Log()) {
      if (r.method == method && r.target.find(part) != std::string::npos) out.push_back(r);
    }
    return out;
  }

  // The fault fired on the first request for `part` and a later one
  // succeeded upstream with `ok_status`.
  void ExpectFaultThenSuccess(FaultAction action, std::string_view method, std::string_view part,
                              int ok_status) {
    std::vector<ProxiedRequest> reqs = Requests(method, part);
    ASSERT_GE(reqs.size(), 2u) << "the request was not repeated:\n" << proxy_->Dump();
    EXPECT_EQ(reqs.front().action, action) << proxy_->Dump();
    EXPECT_EQ(reqs.front().status, FaultStatus(action))
        << "what the client got for the faulted request:\n"
        << proxy_->Dump();
    const ProxiedRequest& last = reqs.back();
    EXPECT_EQ(last.action, FaultAction::kForward) << proxy_->Dump();
    EXPECT_TRUE(last.forwarded) << proxy_->Dump();
    EXPECT_EQ(last.status, ok_status) << proxy_->Dump();
  }

  void ExpectLeaseSurvivesALostAcquireAnswer(FaultAction action);

  Azurite* server_ = nullptr;
  std::unique_ptr<FaultProxy> proxy_;
  std::string container_;
  std::shared_ptr<AzureBackend> azure_;
  std::shared_ptr<RetryBackend> retry_;
  std::shared_ptr<AzureBackend> direct_;
};

TEST_F(FaultProxyTest, ForwardsUnchangedKeepsConnectionsAliveAndCounts) {
  const ObjectName pack = PackName(0);
  const Bytes data = Pattern(100000, 1);
  proxy_->ClearLog();
  ASSERT_OK(retry_->Save(pack, data));
  auto loaded = retry_->Load(pack, 0, 0);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_TRUE(*loaded == data);
  auto part = retry_->Load(pack, 10, 20);
  ASSERT_TRUE(part.ok()) << part.status().ToString();
  EXPECT_TRUE(std::equal(part->begin(), part->end(), data.begin() + 10));
  auto info = retry_->Stat(pack);  // HEAD: a Content-Length but no body
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->size, data.size());
  int listed = 0;  // Azurite answers listings chunked
  ASSERT_OK(retry_->List(ObjectType::kPack, [&](const ObjectInfo& i) {
    EXPECT_EQ(i.name, pack);
    ++listed;
    return Status::OK();
  }));
  EXPECT_EQ(listed, 1);
  // An error answer from upstream (404, chunked XML) is relayed too.
  EXPECT_EQ(retry_->Load(PackName(1), 0, 0).status().code(), StatusCode::kNotFound);

  std::vector<ProxiedRequest> log = proxy_->Log();
  ASSERT_EQ(log.size(), 6u) << proxy_->Dump();
  std::set<uint64_t> connections;
  for (const ProxiedRequest& r : log) {
    EXPECT_EQ(r.action, FaultAction::kForward);
    EXPECT_TRUE(r.forwarded);
    EXPECT_EQ(r.status, r.upstream_status);
    connections.insert(r.connection);
  }
  EXPECT_EQ(connections.size(), 1u) << "one client connection, reused:\n" << proxy_->Dump();
  EXPECT_EQ(log[0].method, "PUT");
  EXPECT_EQ(log[0].status, 201);
  EXPECT_EQ(log[0].request_body_bytes, data.size());
  EXPECT_EQ(log[5].status, 404);
  EXPECT_EQ(proxy_->Count(), 6u);
  EXPECT_EQ(proxy_->Count("GET"), 4u);
  EXPECT_EQ(proxy_->Count("GET", "comp=list"), 1u);
  EXPECT_EQ(proxy_->CountForwarded("HEAD"), 1u);
  EXPECT_EQ(proxy_->ForwardedBodyBytes(), data.size());
}

TEST_F(FaultProxyTest, RulesSkipThenFireTheirCountAndCountEveryMatch) {
  // The 2nd and 3rd GET fail; the rule counts all four.
  int rule = proxy_->AddRule({"GET", "/data/", FaultAction::kInternalError, /*skip=*/1,
                              /*times=*/2});
  const ObjectName pack = PackName(2);
  ASSERT_OK(direct_->Save(pack, Pattern(1000, 2)));
  proxy_->ClearLog();
  EXPECT_TRUE(azure_->Load(pack, 0, 0).ok());
  EXPECT_EQ(azure_->Load(pack, 0, 0).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(azure_->Load(pack, 0, 0).status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(azure_->Load(pack, 0, 0).ok());
  EXPECT_EQ(proxy_->Fired(rule), 2);
  EXPECT_EQ(proxy_->Count("GET"), 4u);
  EXPECT_EQ(proxy_->CountForwarded("GET"), 2u);
  proxy_->ClearRules();
  EXPECT_TRUE(azure_->Load(pack, 0, 0).ok());
  EXPECT_EQ(proxy_->Fired(rule), 2);
}

TEST_F(FaultProxyTest, ServerBusyCarriesRetryAfterAndTheAzureErrorCode) {
  proxy_->AddRule({"HEAD", "", FaultAction::kServerBusy, 0, 1, /*retry_after=*/7});
  Status s = azure_->Stat(PackName(3)).status();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  EXPECT_TRUE(s.retryable());
  EXPECT_NE(s.message().find("503"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("retry after 7 s"), std::string::npos) << s.ToString();
  proxy_->AddRule({"GET", "", FaultAction::kServerBusy, 0, 1, 3});
  s = azure_->Load(PackName(3), 0, 0).status();
  EXPECT_NE(s.message().find("ServerBusy"), std::string::npos) << s.ToString();
}

TEST_F(FaultProxyTest, TooManyRequestsCarriesRetryAfterAndIsRetryable) {
  int rule = proxy_->AddRule({"HEAD", "", FaultAction::kTooManyRequests, 0, 1, /*retry_after=*/4});
  Status s = azure_->Stat(PackName(6)).status();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  EXPECT_TRUE(s.retryable());
  EXPECT_NE(s.message().find("429"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("retry after 4 s"), std::string::npos) << s.ToString();
  EXPECT_EQ(s.retry_after(), std::chrono::seconds(4));
  EXPECT_EQ(proxy_->Fired(rule), 1);
  std::vector<ProxiedRequest> log = proxy_->Log();
  ASSERT_FALSE(log.empty());
  EXPECT_EQ(log.back().status, 429);
  EXPECT_FALSE(log.back().forwarded);
  // The connection stays usable: the next request on it is answered.
  s = azure_->Stat(PackName(6)).status();
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
}

TEST_F(FaultProxyTest, RedactsSasSignaturesInTheLog) {
  proxy_->AddRule({"GET", "", FaultAction::kInternalError});
  auto conn = ParseConnectionString("BlobEndpoint=" + proxy_->Origin() +
                                    "/devstoreaccount1;SharedAccessSignature=sv=2022-11-02&sr=c&"
                                    "sp=r&se=2030-01-01T00%3A00%3A00Z&sig=c2VjcmV0");
  ASSERT_TRUE(conn.ok());
  auto b = AzureBackend::Open(*conn, container_, "p");
  ASSERT_TRUE(b.ok());
  (void)(*b)->Load(PackName(4), 0, 0);
  std::vector<ProxiedRequest> log = proxy_->Log();
  ASSERT_FALSE(log.empty());
  EXPECT_EQ(log.back().target.find("c2VjcmV0"), std::string::npos) << log.back().target;
  EXPECT_NE(log.back().target.find("sig=REDACTED"), std::string::npos) << log.back().target;
}

TEST_F(FaultProxyTest, StopsPromptlyWithAStalledConnection) {
  proxy_->AddRule({"GET", "", FaultAction::kStall});
  AzureConnection conn = server_->Connection();
  conn.blob_endpoint = proxy_->Origin() + "/devstoreaccount1";
  AzureOptions slow;
  slow.http.stall_timeout = std::chrono::seconds(60);
  auto b = AzureBackend::Open(conn, container_, "p", slow);
  ASSERT_TRUE(b.ok());
  Status outcome;
  std::thread client([&] { outcome = (*b)->Load(PackName(5), 0, 0).status(); });
  while (proxy_->Count("GET") == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  auto start = std::chrono::steady_clock::now();
  proxy_.reset();  // wakes the stalled connection, joins every thread
  client.join();   // its connection was reset
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_EQ(outcome.code(), StatusCode::kUnavailable) << outcome.ToString();
}

// Every fault, on a write, a read and a listing: RetryBackend gets through,
// and the data is intact.
class FaultKindTest : public FaultProxyTest, public ::testing::WithParamInterface<FaultAction> {};

TEST_P(FaultKindTest, SaveLoadAndListAreRetriedAndLoseNothing) {
  const FaultAction action = GetParam();
  const ObjectName pack = PackName(10);
  const Bytes data = Pattern(300000, 10);

  // Save (Put Blob, create-only).
  int rule = proxy_->AddRule({"PUT", "/data/", action});
  ASSERT_OK(retry_->Save(pack, data));
  EXPECT_EQ(proxy_->Fired(rule), 1);
  std::vector<ProxiedRequest> puts = Requests("PUT", "/data/");
  ASSERT_GE(puts.size(), 2u) << proxy_->Dump();
  EXPECT_EQ(puts[0].action, action) << proxy_->Dump();
  if (action == FaultAction::kLoseResponse || action == FaultAction::kTruncateBody) {
    // Applied upstream, answer lost: the repeat finds the blob there (409),
    // which RetryBackend must take as its own success.
    EXPECT_TRUE(puts[0].forwarded);
    EXPECT_EQ(puts[0].upstream_status, 201);
    EXPECT_EQ(puts[0].status, 0);
    EXPECT_EQ(puts[1].upstream_status, 409) << proxy_->Dump();
  } else {
    ExpectFaultThenSuccess(action, "PUT", "/data/", 201);
  }
  if (action == FaultAction::kServerBusy) {
    // The service's Retry-After (1 s) was waited.
    EXPECT_GE(puts[1].time - puts[0].time, std::chrono::milliseconds(950)) << proxy_->Dump();
  }
  auto stored = direct_->Load(pack, 0, 0);
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  EXPECT_TRUE(*stored == data);

  // Load (Get Blob).
  proxy_->ClearLog();
  rule = proxy_->AddRule({"GET", "/data/", action});
  auto loaded = retry_->Load(pack, 0, 0);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString() << "\n" << proxy_->Dump();
  EXPECT_TRUE(*loaded == data);
  EXPECT_EQ(proxy_->Fired(rule), 1);
  ExpectFaultThenSuccess(action, "GET", "/data/", 200);

  // List (List Blobs).
  proxy_->ClearLog();
  rule = proxy_->AddRule({"GET", "comp=list", action});
  std::vector<ObjectName> listed;
  ASSERT_OK(retry_->List(ObjectType::kPack, [&](const ObjectInfo& info) {
    listed.push_back(info.name);
    EXPECT_EQ(info.size, data.size());
    return Status::OK();
  }));
  EXPECT_EQ(listed, std::vector<ObjectName>{pack});
  EXPECT_EQ(proxy_->Fired(rule), 1);
  ExpectFaultThenSuccess(action, "GET", "comp=list", 200);
}

// Without kStall: a stalled upload is given up only after curl's speed
// average (over ~5 s) drops, ~7 s here; SaveLoadAndList covers it.
class BlockFaultTest : public FaultKindTest {};

TEST_P(BlockFaultTest, BlockUploadsAreRetriedAndLoseNothing) {
  const FaultAction action = GetParam();
  const ObjectName pack = PackName(20);
  const Bytes data = Pattern((1 << 20) + 5000, 20);  // 5 blocks of 256 KiB
  // The third Put Block, and the Put Block List.
  int block_rule =
      proxy_->AddRule({"PUT", "comp=block&", action, /*skip=*/2, 1, /*retry_after=*/0});
  int commit_rule = proxy_->AddRule({"PUT", "comp=blocklist", action, 0, 1, 0});
  ASSERT_OK(retry_->Save(pack, data));
  EXPECT_EQ(proxy_->Fired(block_rule), 1) << proxy_->Dump();
  EXPECT_EQ(proxy_->Fired(commit_rule), 1) << proxy_->Dump();
  // Each fault failed its attempt, so at least two commits were sent.
  EXPECT_GE(proxy_->Count("PUT", "comp=blocklist"), 2u) << proxy_->Dump();
  auto stored = direct_->Load(pack, 0, 0);
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  EXPECT_TRUE(*stored == data);
  auto info = direct_->Stat(pack);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->size, data.size());
}

TEST_P(FaultKindTest, RangedLoadsAndStatAreRetried) {
  const FaultAction action = GetParam();
  const ObjectName pack = PackName(30);
  const Bytes data = Pattern(200000, 30);
  ASSERT_OK(direct_->Save(pack, data));
  proxy_->ClearLog();
  proxy_->AddRule({"GET", "/data/", action, 0, 1, /*retry_after=*/0});
  proxy_->AddRule({"HEAD", "/data/", action, 0, 1, 0});
  auto part = retry_->Load(pack, 1000, 50000);
  ASSERT_TRUE(part.ok()) << part.status().ToString() << "\n" << proxy_->Dump();
  EXPECT_TRUE(std::equal(part->begin(), part->end(), data.begin() + 1000));
  EXPECT_EQ(part->size(), 50000u);
  ExpectFaultThenSuccess(action, "GET", "/data/", 206);
  auto info = retry_->Stat(pack);
  ASSERT_TRUE(info.ok()) << info.status().ToString() << "\n" << proxy_->Dump();
  EXPECT_EQ(info->size, data.size());
  ExpectFaultThenSuccess(action, "HEAD", "/data/", 200);
}

std::string FaultName(const ::testing::TestParamInfo<FaultAction>& info) {
  std::string name(FaultActionName(info.param));
  std::erase(name, '-');
  return name;
}

INSTANTIATE_TEST_SUITE_P(Faults, FaultKindTest,
                         ::testing::Values(FaultAction::kServerBusy, FaultAction::kInternalError,
                                           FaultAction::kResetBeforeForward,
                                           FaultAction::kLoseResponse, FaultAction::kStall,
                                           FaultAction::kTruncateBody,
                                           FaultAction::kTooManyRequests),
                         FaultName);
INSTANTIATE_TEST_SUITE_P(Faults, BlockFaultTest,
                         ::testing::Values(FaultAction::kServerBusy, FaultAction::kInternalError,
                                           FaultAction::kResetBeforeForward,
                                           FaultAction::kLoseResponse, FaultAction::kTruncateBody),
                         FaultName);

// A lost answer to Replace (compare-and-swap): the repeat's 412/409 is
// recognised as our own write.
TEST_F(FaultProxyTest, ReplaceWithALostAnswerIsRecognisedAsOurOwn) {
  const ObjectName lock{ObjectType::kLock, std::string(64, 'a')};
  auto etag = retry_->Replace(lock, AsBytes("v1"), "");
  ASSERT_TRUE(etag.ok()) << etag.status().ToString();
  int rule = proxy_->AddRule({"PUT", "/locks/", FaultAction::kLoseResponse});
  auto next = retry_->Replace(lock, AsBytes("v2 longer"), *etag);
  ASSERT_TRUE(next.ok()) << next.status().ToString() << "\n" << proxy_->Dump();
  EXPECT_EQ(proxy_->Fired(rule), 1);
  EXPECT_GE(proxy_->Count("PUT", "/locks/"), 3u) << proxy_->Dump();
  auto stored = direct_->Load(lock, 0, 0);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(AsString(*stored), "v2 longer");
  // The etag returned is the current one: a further Replace with it works.
  EXPECT_TRUE(retry_->Replace(lock, AsBytes("v3"), *next).ok());
}

// A lease whose acquire was applied but whose answer was lost must not
// lock us out of our own repository: whether libcurl repeats the request
// (nothing of the answer arrived) or RetryBackend does (part of it did).
void FaultProxyTest::ExpectLeaseSurvivesALostAcquireAnswer(FaultAction action) {
  // The lease blob exists (made on first use): the next acquire is granted.
  ASSERT_TRUE(retry_->TryLock("repository", std::chrono::seconds(15)).ok());
  FaultRule acquire{"PUT", "comp=lease", action};
  acquire.head_contains = "x-ms-lease-action: acquire";
  int rule = proxy_->AddRule(acquire);
  auto lock = retry_->TryLock("repository", std::chrono::seconds(30));
  EXPECT_EQ(proxy_->Fired(rule), 1) << proxy_->Dump();
  ASSERT_TRUE(lock.ok()) << lock.status().ToString() << "\n" << proxy_->Dump();
  std::vector<ProxiedRequest> leases = Requests("PUT", "comp=lease");
  auto lost = std::find_if(leases.begin(), leases.end(),
                           [&](const ProxiedRequest& r) { return r.action == action; });
  ASSERT_NE(lost, leases.end()) << proxy_->Dump();
  EXPECT_EQ(lost->lease_action, "acquire") << "the log names the lease action";
  // Applied upstream, then asked again and granted.
  EXPECT_EQ(lost->upstream_status / 100, 2) << proxy_->Dump();
  ASSERT_NE(lost + 1, leases.end()) << proxy_->Dump();
  EXPECT_EQ((lost + 1)->status / 100, 2) << proxy_->Dump();
  ASSERT_OK((*lock)->Refresh());
  // Ours alone: another holder is refused.
  EXPECT_EQ(direct_->TryLock("repository", std::chrono::seconds(30)).status().code(),
            StatusCode::kLocked);
}

TEST_F(FaultProxyTest, LeaseAcquireWithALostAnswerStillLocks) {
  ExpectLeaseSurvivesALostAcquireAnswer(FaultAction::kLoseResponse);
}

TEST_F(FaultProxyTest, LeaseAcquireWithACutAnswerStillLocks) {
  ExpectLeaseSurvivesALostAcquireAnswer(FaultAction::kTruncateBody);
}

}  // namespace
}  // namespace cairn::testing
