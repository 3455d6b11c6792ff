// The cairn CLI on Azure through a fault-injecting proxy
// (testing/fault_proxy.h) in front of Azurite: 503 ServerBusy with
// Retry-After, 500, connection resets, responses lost after the request was
// applied, stalled connections and cut bodies on every kind of request a
// backup, a restore and a check send. Each is retried: the commands succeed,
// the restore is byte-identical, and the proxy's log proves that every fault
// fired. Also: the number of requests a backup costs, counted at the proxy.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "backend/azure/azure_backend.h"
#include "backend/azure/connection_string.h"
#include "backend/registry.h"
#include "e2e_util.h"
#include "repo/repo_lock.h"
#include "testing/azurite_fixture.h"
#include "testing/fault_proxy.h"

namespace cairn::e2e {
namespace {

using ::cairn::testing::Azurite;
using ::cairn::testing::FaultAction;
using ::cairn::testing::FaultActionName;
using ::cairn::testing::FaultProxy;
using ::cairn::testing::FaultProxyOptions;
using ::cairn::testing::FaultRule;
using ::cairn::testing::ProxiedRequest;

std::string Join(const std::vector<std::string>& args) {
  std::string s = "cairn";
  for (const auto& a : args) s += " " + Printable(a);
  return s;
}

class AzureFaultE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CAIRN_REQUIRE_AZURITE(server);
    server_ = server;
    FaultProxyOptions po;
    po.upstream_port = server_->port();
    po.stall_limit = std::chrono::seconds(60);
    auto proxy = FaultProxy::Start(po);
    ASSERT_TRUE(proxy.ok()) << proxy.status().ToString();
    proxy_ = std::move(*proxy);
    location_ = "azure://" + testing::UniqueContainerName() + "/p";
    // The development account, reached through the proxy.
    sb_.env()["AZURE_STORAGE_CONNECTION_STRING"] =
        "DefaultEndpointsProtocol=http;AccountName=" +
        std::string(backend::azure::kDevStoreAccount) +
        ";AccountKey=" + std::string(backend::azure::kDevStoreKey) +
        ";BlobEndpoint=" + proxy_->Origin() + "/" + std::string(backend::azure::kDevStoreAccount) +
        ";";
    sb_.env()["CAIRN_REPOSITORY"] = location_;
  }

  ProcResult Ok(const std::vector<std::string>& args) {
    ProcResult r = sb_.Cairn(args);
    EXPECT_EQ(r.exit_code, 0) << Join(args) << "\n"
                              << r.Describe() << "\nrequests:\n"
                              << proxy_->Dump();
    return r;
  }

  // Arms `rule` and remembers it, for ExpectAllFired().
  void Arm(const std::string& what, FaultRule rule) {
    FaultAction action = rule.action;
    armed_.push_back({what, proxy_->AddRule(std::move(rule)), action});
  }
  // Every rule armed since the last call acted on a request, and that
  // request was sent again later and answered.
  void ExpectAllFired() {
    const std::vector<ProxiedRequest> log = proxy_->Log();
    for (const Armed& a : armed_) {
      EXPECT_GE(proxy_->Fired(a.index), 1) << a.what << " never fired:\n" << proxy_->Dump();
      auto faulted = std::find_if(log.begin(), log.end(), [&](const ProxiedRequest& r) {
        return r.rule == a.index && r.action == a.action;
      });
      if (faulted == log.end()) {
        ADD_FAILURE() << a.what << ": no request got the fault:\n" << proxy_->Dump();
        continue;
      }
      auto repeat = std::find_if(faulted + 1, log.end(), [&](const ProxiedRequest& r) {
        return r.method == faulted->method && r.target == faulted->target && r.forwarded &&
               r.status != 0;
      });
      EXPECT_NE(repeat, log.end()) << a.what << ": never repeated:\n" << proxy_->Dump();
    }
    armed_.clear();
  }

  struct Armed {
    std::string what;
    int index;
    FaultAction action;
  };

  Azurite* server_ = nullptr;
  std::unique_ptr<FaultProxy> proxy_;
  Sandbox sb_;
  std::string location_;
  std::vector<Armed> armed_;
};

TEST_F(AzureFaultE2eTest, BackupRestoreAndCheckGetThroughEveryKindOfFault) {
  const std::string src = sb_.Path("src");
  MakeDirs(src + "/docs");
  WriteFile(src + "/docs/note.txt", "through a faulty network\n");
  WriteFile(src + "/a.bin", RandomData(5 * (1 << 20) + 123, 1));
  WriteFile(src + "/b.bin", RandomData(3 * (1 << 20), 2));
  for (int i = 0; i < 30; ++i) {
    WriteFile(src + "/docs/small" + std::to_string(i), RandomData(20000 + i, 100 + i));
  }

  // init: the container, the config and key objects.
  Arm("503 on creating the container", {"PUT", "restype=container", FaultAction::kServerBusy});
  Arm("lost answer to saving the config", {"PUT", "/config", FaultAction::kLoseResponse});
  Arm("reset on saving the key", {"PUT", "/keys/", FaultAction::kResetBeforeForward});
  Ok({"-r", location_, "init"});
  ExpectAllFired();

  // backup: the lease, lock objects, packs, index, version segments, listings.
  Arm("503 on the lease", {"PUT", "comp=lease", FaultAction::kServerBusy});
  Arm("500 on removing the lock object", {"DELETE", "/locks/", FaultAction::kInternalError});
  Arm("cut listing", {"GET", "comp=list", FaultAction::kTruncateBody});
  Arm("503 on a pack", {"PUT", "/data/", FaultAction::kServerBusy});
  Arm("lost answer to a pack", {"PUT", "/data/", FaultAction::kLoseResponse, /*skip=*/1});
  Arm("reset on an index", {"PUT", "/index/", FaultAction::kResetBeforeForward});
  Arm("lost answer to a version segment", {"PUT", "/versions/", FaultAction::kLoseResponse});
  Arm("500 on a version segment", {"PUT", "/versions/", FaultAction::kInternalError, 1});
  const size_t before = proxy_->Count();
  Ok({"-r", location_, "backup", src});
  ExpectAllFired();
  EXPECT_GT(proxy_->Count(), before);

  // restore: pack reads cut short, reset, refused.
  Arm("cut pack read", {"GET", "/data/", FaultAction::kTruncateBody});
  Arm("reset on a pack read", {"GET", "/data/", FaultAction::kResetBeforeForward, 1});
  Arm("500 on a pack read", {"GET", "/data/", FaultAction::kInternalError, 2});
  Ok({"-r", location_, "restore", src, "--to", sb_.Path("r")});
  ExpectAllFired();
  for (const std::string& d : CompareTrees(src, sb_.Path("r") + src)) ADD_FAILURE() << d;

  // check --read-data on a machine without the catalog: every object read.
  ASSERT_EQ(sb_.Run({"rm", "-rf", sb_.cache_home() + "/cairn"}).exit_code, 0);
  Arm("503 on reading an index", {"GET", "/index/", FaultAction::kServerBusy});
  Arm("lost answer to a version read", {"GET", "/versions/", FaultAction::kLoseResponse});
  Arm("cut pack read in check", {"GET", "/data/", FaultAction::kTruncateBody});
  Ok({"-r", location_, "check", "--read-data"});
  ExpectAllFired();

  // Nothing was stored twice or left half-done: a new backup finds nothing
  // to store.
  proxy_->ClearRules();
  ProcResult again = Ok({"--json", "-r", location_, "backup", src});
  nlohmann::json j = nlohmann::json::parse(again.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(j.is_object()) << again.Describe();
  EXPECT_EQ(j.value("files_changed", -1), 0) << again.Describe();
}

// Prune through faults on every kind of request it sends (reading packs
// to repack, writing new packs and index objects, the generation, deleting
// index objects and packs): it completes, frees exactly what it should (a
// second prune finds nothing), and every kept version restores.
TEST_F(AzureFaultE2eTest, PruneGetsThroughFaultsAndDeletesExactlyWhatItShould) {
  const std::string src = sb_.Path("src");
  MakeDirs(src);
  for (int i = 0; i < 8; ++i)
    WriteFile(src + "/f" + std::to_string(i), RandomData(200000 + i, 300 + i));
  Ok({"-r", location_, "init"});
  Ok({"-r", location_, "backup", src});  // one pack
  for (int i = 0; i < 4; ++i)
    WriteFile(src + "/f" + std::to_string(i), RandomData(210000, 400 + i));
  Ok({"-r", location_, "backup", src});
  WriteFile(src + "/big", RandomData(3 * (1 << 20), 9));
  Ok({"-r", location_, "backup", src});
  WriteFile(src + "/big", RandomData(3 * (1 << 20), 10));
  Ok({"-r", location_, "backup", src});
  // The first pack is half unused (repacked), the third wholly (deleted).
  Ok({"-r", location_, "forget", "--keep-last", "1"});

  Arm("503 on reading a pack to repack", {"GET", "/data/", FaultAction::kServerBusy});
  Arm("lost answer to the new pack", {"PUT", "/data/", FaultAction::kLoseResponse});
  Arm("reset on the new index", {"PUT", "/index/", FaultAction::kResetBeforeForward});
  Arm("500 on the generation", {"PUT", "/locks/generation", FaultAction::kInternalError});
  Arm("503 on deleting an index object", {"DELETE", "/index/", FaultAction::kServerBusy});
  Arm("lost answer to deleting a pack", {"DELETE", "/data/", FaultAction::kLoseResponse});
  Arm("reset on deleting a pack", {"DELETE", "/data/", FaultAction::kResetBeforeForward, 1});
  ProcResult pruned = Ok({"--json", "-r", location_, "prune"});
  ExpectAllFired();
  nlohmann::json p = nlohmann::json::parse(pruned.out, nullptr, false);
  ASSERT_TRUE(p.is_object()) << pruned.Describe();
  EXPECT_GE(p.value("packs_deleted", 0), 2) << pruned.out;
  EXPECT_EQ(p.value("packs_written", 0), 1) << pruned.out;

  proxy_->ClearRules();
  ProcResult again = Ok({"--json", "-r", location_, "prune", "--dry-run"});
  nlohmann::json a = nlohmann::json::parse(again.out, nullptr, false);
  EXPECT_EQ(a.value("bytes_to_free", -1), 0) << again.out;
  EXPECT_EQ(a.value("young_orphans", -1), 0) << again.out;  // no half-written pack left
  ASSERT_EQ(sb_.Run({"rm", "-rf", sb_.cache_home() + "/cairn"}).exit_code, 0);
  ProcResult check = Ok({"-r", location_, "check", "--read-data"});
  EXPECT_EQ(check.err.find("error"), std::string::npos) << check.Describe();
  Ok({"-r", location_, "restore", src, "--to", sb_.Path("r")});
  for (const std::string& d : CompareTrees(src, sb_.Path("r") + src)) ADD_FAILURE() << d;
}

TEST_F(AzureFaultE2eTest, StalledConnectionsAreAbandonedAndRetried) {
  // A short stall timeout, so a stalled request is given up in seconds.
  const std::string config = sb_.Path("settings.yaml");
  WriteFile(config, "azure:\n  stall_timeout_seconds: 2\n");
  const std::string src = sb_.Path("src");
  MakeDirs(src);
  WriteFile(src + "/a.bin", RandomData(3 * (1 << 20), 7));
  WriteFile(src + "/b.txt", "small\n");
  Ok({"--config", config, "-r", location_, "init"});
  // A stalled upload is noticed once curl's speed average (over ~5 s) drops
  // under 1 byte/s: ~2 + 5 s; a stalled download after ~2 s.
  Arm("stalled pack upload", {"PUT", "/data/", FaultAction::kStall});
  auto start = std::chrono::steady_clock::now();
  Ok({"--config", config, "-r", location_, "backup", src});
  ExpectAllFired();
  Arm("stalled pack read", {"GET", "/data/", FaultAction::kStall});
  Ok({"--config", config, "-r", location_, "restore", src, "--to", sb_.Path("r")});
  ExpectAllFired();
  for (const std::string& d : CompareTrees(src, sb_.Path("r") + src)) ADD_FAILURE() << d;
  // Not the default minute per stall.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(45));
}

TEST_F(AzureFaultE2eTest, ALostAnswerToTheLeaseDoesNotLockUsOut) {
  const std::string src = sb_.Path("src");
  MakeDirs(src);
  WriteFile(src + "/a.txt", "leases\n");
  Ok({"-r", location_, "init"});
  Ok({"-r", location_, "backup", src});  // makes the lease blob
  CairnRunOptions quick;
  quick.set["CAIRN_LOCK_WAIT"] = "0";
  // The acquire is applied by the service; its answer is lost whole (the
  // HTTP client may repeat the request itself), or cut (RetryBackend does).
  for (FaultAction action : {FaultAction::kLoseResponse, FaultAction::kTruncateBody}) {
    WriteFile(src + "/a.txt", "leases, again: " + std::string(FaultActionName(action)) + "\n");
    FaultRule acquire{"PUT", "comp=lease", action};
    acquire.head_contains = "x-ms-lease-action: acquire";
    Arm("answer to the lease acquire: " + std::string(FaultActionName(action)), acquire);
    const auto start = std::chrono::steady_clock::now();
    ProcResult r = sb_.Cairn({"-r", location_, "backup", src}, quick);
    EXPECT_EQ(r.exit_code, 0) << r.Describe() << "\nrequests:\n" << proxy_->Dump();
    // Not by waiting out our own lease (15 s), which a taker would do for a
    // lease it did not recognise as its own.
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10)) << proxy_->Dump();
    ExpectAllFired();
  }
}

// The lock phase of a backup and of a restore (taking: the lease acquire,
// the listing of locks/, the lock object's upload, the lease release;
// releasing: the lock object's removal) with one fault at a time, each kind
// in turn: the command completes, and leaves nothing that refuses the next
// one (the lease is free, no lock object is left), which runs without
// waiting (CAIRN_LOCK_WAIT=0).
TEST_F(AzureFaultE2eTest, OneFaultInTheLockPhaseNeverLocksTheNextCommandOut) {
  const std::string src = sb_.Path("src");
  MakeDirs(src);
  WriteFile(src + "/a.txt", "locks\n");
  Ok({"-r", location_, "init"});
  Ok({"-r", location_, "backup", src});  // makes the lease blob
  auto parsed = backend::azure::ParseAzureLocation(location_);
  ASSERT_TRUE(parsed.ok());
  // Another process's view, straight to Azurite: is anything left held?
  auto direct =
      backend::azure::AzureBackend::Open(server_->Connection(), parsed->first, parsed->second);
  ASSERT_TRUE(direct.ok()) << direct.status().ToString();
  auto expect_nothing_held = [&](const std::string& what) {
    auto lease = (*direct)->TryLock("repository", std::chrono::seconds(15));
    EXPECT_TRUE(lease.ok()) << what << ": the lease was left held: " << lease.status().ToString()
                            << "\nrequests:\n"
                            << proxy_->Dump();
    if (lease.ok()) {
      EXPECT_TRUE((*lease)->Release().ok());
    }
    int objects = 0;
    EXPECT_TRUE((*direct)
                    ->List(backend::ObjectType::kLock,
                           [&](const backend::ObjectInfo&) {
                             ++objects;
                             return Status::OK();
                           })
                    .ok());
    EXPECT_EQ(objects, 0) << what << ": a lock object was left behind\n" << proxy_->Dump();
  };

  struct Step {
    std::string what;
    FaultRule rule;
  };
  auto lease = [](const char* action) {
    FaultRule r{"PUT", "comp=lease"};
    r.head_contains = std::string("x-ms-lease-action: ") + action;
    return r;
  };
  FaultRule upload{"PUT", "/locks/"};
  upload.head_contains = "x-ms-blob-type";  // the lock object, not a lease request
  const std::vector<Step> steps = {
      {"the lease acquire", lease("acquire")},
      {"the listing of locks/", {"GET", "locks%2F"}},
      {"the lock object's upload", upload},
      {"the lease release", lease("release")},
      {"the lock object's removal", {"DELETE", "/locks/"}},
  };
  const FaultAction actions[] = {FaultAction::kServerBusy, FaultAction::kInternalError,
                                 FaultAction::kResetBeforeForward, FaultAction::kLoseResponse,
                                 FaultAction::kTruncateBody};
  CairnRunOptions no_wait;
  no_wait.set["CAIRN_LOCK_WAIT"] = "0";
  int round = 0;
  for (const char* command : {"backup", "restore"}) {
    for (const Step& step : steps) {
      FaultRule rule = step.rule;
      rule.action = actions[round % std::size(actions)];
      const std::string what = std::string(command) + ", " +
                               std::string(FaultActionName(rule.action)) + " on " + step.what;
      SCOPED_TRACE(what);
      Arm(what, rule);
      std::vector<std::string> args = {"-r", location_, command, src};
      if (std::string(command) == "backup") {
        WriteFile(src + "/a.txt", "locks, round " + std::to_string(round) + "\n");
      } else {
        args.insert(args.end(), {"--to", sb_.Path("r" + std::to_string(round))});
      }
      ProcResult r = sb_.Cairn(args, no_wait);
      EXPECT_EQ(r.exit_code, 0) << r.Describe() << "\nrequests:\n" << proxy_->Dump();
      ExpectAllFired();
      proxy_->ClearRules();
      expect_nothing_held(what);
      ++round;
    }
  }
  // The next command, with no fault at all, runs at once.
  proxy_->ClearLog();
  ProcResult next = sb_.Cairn({"-r", location_, "backup", src}, no_wait);
  EXPECT_EQ(next.exit_code, 0) << next.Describe();
  EXPECT_EQ(proxy_->Count("PUT", "comp=lease"), 2u) << "one acquire, one release\n"
                                                    << proxy_->Dump();
}

// Refreshing a held lock (write a new lock object, check and remove the old
// one) through one fault on each of its requests: the lock is never
// declared lost, and is released whole at the end.
TEST_F(AzureFaultE2eTest, OneFaultOnARefreshDoesNotLoseTheLock) {
  Ok({"-r", location_, "init"});
  backend::OpenOptions o;
  o.settings["azure.connection_string"] =
      sb_.env()["AZURE_STORAGE_CONNECTION_STRING"];  // via the proxy
  auto be = backend::OpenBackend(location_, o);
  ASSERT_TRUE(be.ok()) << be.status().ToString();
  auto repo = repo::Repository::Open(*be, Sandbox::kPassword);
  ASSERT_TRUE(repo.ok()) << repo.status().ToString();
  repo::LockOptions lo;
  lo.ttl = std::chrono::seconds(6);  // refreshed every 2 s, lost 4 s after a write
  lo.operation = "backup";
  FaultRule upload{"PUT", "/locks/", FaultAction::kServerBusy};
  upload.head_contains = "x-ms-blob-type";
  upload.skip = 1;  // the first upload is the taking
  Arm("503 on writing the refreshed lock object", upload);
  Arm("lost answer to checking the old one", {"HEAD", "/locks/", FaultAction::kLoseResponse});
  Arm("reset on removing the old one", {"DELETE", "/locks/", FaultAction::kResetBeforeForward});
  auto lock = repo::RepoLock::Acquire(**repo, lo);
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  // Two refreshes and change: every fault has fired by then.
  std::this_thread::sleep_for(std::chrono::milliseconds(5500));
  EXPECT_TRUE((*lock)->health().ok()) << (*lock)->health().ToString() << "\n" << proxy_->Dump();
  EXPECT_FALSE((*lock)->lost());
  ExpectAllFired();
  auto locks = repo::RepoLock::ListLocks(**repo);
  ASSERT_TRUE(locks.ok()) << locks.status().ToString();
  EXPECT_EQ(locks->size(), 1u) << "refreshes left old lock objects behind";
  lock->reset();
  locks = repo::RepoLock::ListLocks(**repo);
  ASSERT_TRUE(locks.ok());
  EXPECT_TRUE(locks->empty());
  // And the next command is not refused.
  CairnRunOptions no_wait;
  no_wait.set["CAIRN_LOCK_WAIT"] = "0";
  ProcResult check = sb_.Cairn({"-r", location_, "check"}, no_wait);
  EXPECT_EQ(check.exit_code, 0) << check.Describe();
}

// Transactions cost money: a backup of new data sends no more than one
// request per 4 MiB of it, on average. Counted exactly at the proxy: every
// request `cairn backup` sends (lease, locks, listings, packs, index,
// versions), not those of `init`, which are reported separately.
TEST_F(AzureFaultE2eTest, ABackupOfNewDataSendsAtMostOneRequestPer4MiB) {
  const std::string src = sb_.Path("src");
  MakeDirs(src + "/small");
  uint64_t bytes = 0;
  auto write = [&](const std::string& path, size_t n, uint64_t seed) {
    WriteFile(path, RandomData(n, seed));
    bytes += n;
  };
  // 128 MiB of incompressible data: three large files, a few medium ones,
  // many small ones.
  write(src + "/large1.bin", 40 << 20, 1);
  write(src + "/large2.bin", 30 << 20, 2);
  write(src + "/large3.bin", 20 << 20, 3);
  for (int i = 0; i < 8; ++i) write(src + "/m" + std::to_string(i) + ".bin", 4 << 20, 10 + i);
  const size_t small = ((128ull << 20) - bytes) / 200;
  for (int i = 0; i < 199; ++i) {
    write(src + "/small/s" + std::to_string(i), small, 100 + i);
  }
  write(src + "/small/last", (128ull << 20) - bytes, 999);
  ASSERT_EQ(bytes, 128ull << 20);

  Ok({"-r", location_, "init"});
  const size_t init_requests = proxy_->Count();
  proxy_->ClearLog();
  Ok({"-r", location_, "backup", src});
  const size_t requests = proxy_->Count();
  const double per_4mib = static_cast<double>(requests) / (static_cast<double>(bytes) / (4 << 20));
  char line[256];
  std::snprintf(line, sizeof(line),
                "backup of %.0f MiB new data: %zu requests (%zu PUT /data/), %.2f per 4 MiB; init: "
                "%zu requests",
                static_cast<double>(bytes) / (1 << 20), requests, proxy_->Count("PUT", "/data/"),
                per_4mib, init_requests);
  std::printf("%s\n", line);
  if (!GetEnv("CAIRN_PROXY_LOG").empty()) std::printf("%s", proxy_->Dump().c_str());
  RecordProperty("requests_per_4mib", line);
  EXPECT_LE(requests, bytes / (4 << 20)) << line << "\n" << proxy_->Dump();
  // Every byte went up exactly once: no request was repeated.
  EXPECT_EQ(proxy_->Count(), proxy_->CountForwarded());
}

}  // namespace
}  // namespace cairn::e2e
