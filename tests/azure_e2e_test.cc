// The cairn CLI on Azure: init, backup, edit, backup, restore both versions,
// check --read-data, with `-r azure://CONTAINER/PREFIX` and the connection
// string in AZURE_STORAGE_CONNECTION_STRING, against an Azurite the test
// starts (testing/azurite_fixture.h).
#include <gtest/gtest.h>

#include <filesystem>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ctime>

#include "backend/azure/signing.h"
#include "backend/backend.h"
#include "backend/registry.h"
#include "e2e_util.h"
#include "repo/repo_lock.h"
#include "repo/repository.h"
#include "testing/azurite_fixture.h"

namespace cairn::e2e {
namespace {

using json = nlohmann::json;
using ::cairn::testing::Azurite;

std::string Join(const std::vector<std::string>& args) {
  std::string s = "cairn";
  for (const auto& a : args) s += " " + Printable(a);
  return s;
}

class AzureE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CAIRN_REQUIRE_AZURITE(server);
    server_ = server;
    location_ = "azure://" + testing::UniqueContainerName() + "/cairn/e2e";
    sb_.env()["AZURE_STORAGE_CONNECTION_STRING"] = server_->ConnectionString();
    sb_.env()["CAIRN_REPOSITORY"] = location_;
  }

  ProcResult Ok(const std::vector<std::string>& args) {
    ProcResult r = sb_.Cairn(args);
    EXPECT_EQ(r.exit_code, 0) << Join(args) << "\n" << r.Describe();
    return r;
  }
  json Json(std::vector<std::string> args) {
    args.insert(args.begin(), "--json");
    ProcResult r = Ok(args);
    try {
      return json::parse(r.out);
    } catch (const std::exception& e) {
      ADD_FAILURE() << Join(args) << ": output is not JSON: " << r.Describe();
      return json();
    }
  }

  // The repository's backend, opened with the account key.
  std::shared_ptr<backend::Backend> Backend() {
    backend::OpenOptions o;
    o.settings["azure.connection_string"] = server_->ConnectionString();
    auto b = backend::OpenBackend(location_, o);
    EXPECT_TRUE(b.ok()) << b.status().ToString();
    return b.ok() ? *b : nullptr;
  }
  // Every object of the repository: type/name -> size.
  std::map<std::string, uint64_t> Objects() {
    std::map<std::string, uint64_t> all;
    auto b = Backend();
    if (!b) return all;
    for (auto t : {backend::ObjectType::kConfig, backend::ObjectType::kKey,
                   backend::ObjectType::kPack, backend::ObjectType::kIndex,
                   backend::ObjectType::kVersions, backend::ObjectType::kLock}) {
      Status s = b->List(t, [&](const backend::ObjectInfo& info) {
        all[info.name.Path()] = info.size;
        return Status::OK();
      });
      EXPECT_TRUE(s.ok()) << s.ToString();
    }
    return all;
  }
  // A connection string holding a container SAS for the test's container.
  std::string SasConnectionString(const std::string& permissions, int64_t expiry_unix) {
    backend::azure::ContainerSasOptions o;
    o.account = std::string(backend::azure::kDevStoreAccount);
    o.container = location_.substr(8, location_.find('/', 8) - 8);
    o.permissions = permissions;
    o.expiry_unix = expiry_unix;
    std::string sas =
        backend::azure::MakeContainerSas(o, *Base64Decode(backend::azure::kDevStoreKey));
    return "BlobEndpoint=" + server_->BlobEndpoint() + ";SharedAccessSignature=" + sas;
  }

  Azurite* server_ = nullptr;
  Sandbox sb_;
  std::string location_;
};

TEST_F(AzureE2eTest, InitBackupEditBackupRestoreBothVersionsAndCheck) {
  const std::string src = sb_.Path("src");
  MakeDirs(src + "/docs");
  WriteFile(src + "/docs/note.txt", "first version\n");
  WriteFile(src + "/random.bin", RandomData(3 * (1 << 20) + 777, 1));
  WriteFile(src + "/text.txt", CompressibleData(1 << 20));

  Ok({"-r", location_, "init"});
  json b1 = Json({"-r", location_, "backup", src});
  EXPECT_EQ(b1.value("errors", json::array()).size(), 0u) << b1.dump();
  // The first state, kept to compare the restore of version 1 with.
  const std::string v1 = sb_.Path("v1");
  ASSERT_EQ(sb_.Run({"cp", "-a", src, v1}).exit_code, 0);

  // A whole-second time strictly between the two runs.
  constexpr int64_t kSec = 1000000000LL;
  int64_t between = (NowNs() / kSec + 1) * kSec;
  while (NowNs() <= between + kSec / 20) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const std::string at = Rfc3339(between, /*whole_seconds=*/true);

  WriteFile(src + "/docs/note.txt", "second version, longer than the first\n");
  PatchFile(src + "/random.bin", 1 << 20, RandomData(4096, 2));
  json b2 = Json({"-r", location_, "backup", src});
  EXPECT_EQ(b2.value("errors", json::array()).size(), 0u) << b2.dump();
  EXPECT_EQ(b2.value("files_changed", -1), 2) << b2.dump();

  json versions = Json({"-r", location_, "versions", src + "/docs/note.txt"});
  ASSERT_TRUE(versions.is_array()) << versions.dump();
  EXPECT_EQ(versions.size(), 2u) << versions.dump();

  // Both versions, byte for byte.
  Ok({"-r", location_, "restore", src, "--at", at, "--to", sb_.Path("r1")});
  for (const std::string& d : CompareTrees(v1, sb_.Path("r1") + src)) ADD_FAILURE() << d;
  Ok({"-r", location_, "restore", src, "--to", sb_.Path("r2")});
  for (const std::string& d : CompareTrees(src, sb_.Path("r2") + src)) ADD_FAILURE() << d;

  ProcResult check = Ok({"-r", location_, "check", "--read-data"});
  EXPECT_EQ(check.err.find("error"), std::string::npos) << check.Describe();

  // A new machine: no catalog, the repository alone.
  ASSERT_EQ(sb_.Run({"rm", "-rf", sb_.cache_home() + "/cairn"}).exit_code, 0);
  Ok({"-r", location_, "recover"});
  json again = Json({"-r", location_, "versions", src + "/docs/note.txt"});
  EXPECT_EQ(again.size(), 2u) << again.dump();
}

TEST_F(AzureE2eTest, TwoDevicesBackUpAtTheSameTimeAndBothRestore) {
  Ok({"-r", location_, "init"});
  const std::string a = sb_.Path("laptop"), b = sb_.Path("desktop");
  MakeDirs(a);
  MakeDirs(b);
  const std::string shared = RandomData(2 * (1 << 20), 5);
  WriteFile(a + "/shared.bin", shared);
  WriteFile(b + "/shared-copy.bin", shared);
  for (int i = 0; i < 20; ++i) {
    WriteFile(a + "/a" + std::to_string(i) + ".bin", RandomData(100000 + i, 100 + i));
    WriteFile(b + "/b" + std::to_string(i) + ".bin", RandomData(90000 + i, 200 + i));
  }
  // Two machines: own device names and own catalogs.
  CairnRunOptions da, db;
  da.set = {{"DEVICE_ID", "a"}, {"XDG_CACHE_HOME", sb_.Path("cache-a")}};
  db.set = {{"DEVICE_ID", "b"}, {"XDG_CACHE_HOME", sb_.Path("cache-b")}};
  MakeDirs(sb_.Path("cache-a"));
  MakeDirs(sb_.Path("cache-b"));
  Process pa = sb_.SpawnCairn({"-r", location_, "backup", a}, da);
  Process pb = sb_.SpawnCairn({"-r", location_, "backup", b}, db);
  ProcResult ra = pa.Wait(), rb = pb.Wait();
  ASSERT_EQ(ra.exit_code, 0) << ra.Describe();
  ASSERT_EQ(rb.exit_code, 0) << rb.Describe();

  ProcResult r1 =
      sb_.Cairn({"-r", location_, "--device", "a", "restore", a, "--to", sb_.Path("ra")}, db);
  ASSERT_EQ(r1.exit_code, 0) << r1.Describe();
  for (const std::string& d : CompareTrees(a, sb_.Path("ra") + a)) ADD_FAILURE() << d;
  ProcResult r2 = sb_.Cairn({"-r", location_, "restore", b, "--to", sb_.Path("rb")}, db);
  ASSERT_EQ(r2.exit_code, 0) << r2.Describe();
  for (const std::string& d : CompareTrees(b, sb_.Path("rb") + b)) ADD_FAILURE() << d;
  ProcResult check = sb_.Cairn({"-r", location_, "check", "--read-data"}, da);
  EXPECT_EQ(check.exit_code, 0) << check.Describe();
}

TEST_F(AzureE2eTest, ServerStoppedDuringABackupThenStartedAgainLosesNothing) {
  // An Azurite of its own, on disk, so it can be stopped and started again.
  testing::AzuriteOptions disk;
  disk.location = sb_.Path("azurite-data");
  MakeDirs(disk.location);
  auto first = testing::StartAzurite(disk);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  disk.port = (*first)->port();
  CairnRunOptions o;
  o.set["AZURE_STORAGE_CONNECTION_STRING"] = (*first)->ConnectionString();

  const std::string src = sb_.Path("src");
  MakeDirs(src);
  for (int i = 0; i < 24; ++i) {
    WriteFile(src + "/f" + std::to_string(i) + ".bin", RandomData(1 << 20, 300 + i));
  }
  ASSERT_EQ(sb_.Cairn({"-r", location_, "init"}, o).exit_code, 0);
  Process backup = sb_.SpawnCairn({"-r", location_, "backup", src}, o);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  (*first)->Stop();  // SIGTERM: Azurite keeps what it acknowledged
  ProcResult interrupted = backup.Wait();
  // Finished before the stop, or failed cleanly: never killed by a signal.
  EXPECT_GE(interrupted.exit_code, 0) << interrupted.Describe();
  if (interrupted.exit_code != 0) {
    EXPECT_NE(interrupted.err.find("cannot reach http://127.0.0.1:"), std::string::npos)
        << interrupted.Describe();
  }

  auto second = testing::StartAzurite(disk);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  ProcResult again = sb_.Cairn({"-r", location_, "backup", src}, o);
  ASSERT_EQ(again.exit_code, 0) << again.Describe();
  ProcResult check = sb_.Cairn({"-r", location_, "check", "--read-data"}, o);
  EXPECT_EQ(check.exit_code, 0) << check.Describe();
  ProcResult restore = sb_.Cairn({"-r", location_, "restore", src, "--to", sb_.Path("r")}, o);
  ASSERT_EQ(restore.exit_code, 0) << restore.Describe();
  for (const std::string& d : CompareTrees(src, sb_.Path("r") + src)) ADD_FAILURE() << d;
}

TEST_F(AzureE2eTest, ConnectionStringWithoutLocationUsesTheContainerSetting) {
  // No -r and no CAIRN_REPOSITORY: AZURE_CONTAINER_NAME (prefix "cairn").
  std::string container = testing::UniqueContainerName();
  CairnRunOptions o;
  o.unset.push_back("CAIRN_REPOSITORY");
  o.set["AZURE_CONTAINER_NAME"] = container;
  std::string src = sb_.Path("docs");
  std::filesystem::create_directories(src);
  WriteFile(src + "/a.txt", "azure default location");
  ProcResult init = sb_.Cairn({"init"}, o);
  ASSERT_EQ(init.exit_code, 0) << init.Describe();
  EXPECT_NE(init.out.find("azure://" + container + "/cairn"), std::string::npos) << init.Describe();
  ProcResult b = sb_.Cairn({"backup", src}, o);
  ASSERT_EQ(b.exit_code, 0) << b.Describe();
  ProcResult ls = sb_.Cairn({"ls", "-R", src}, o);
  ASSERT_EQ(ls.exit_code, 0) << ls.Describe();
  EXPECT_NE(ls.out.find("a.txt"), std::string::npos) << ls.Describe();
  // The same repository, named explicitly.
  ProcResult explicit_ls = sb_.Cairn({"-r", "azure://" + container + "/cairn", "ls", "-R", src}, o);
  EXPECT_EQ(explicit_ls.exit_code, 0) << explicit_ls.Describe();
}

TEST_F(AzureE2eTest, WrongKeyFailsClearlyWithoutShowingIt) {
  const std::string wrong =
      "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey="
      "d3JvbmdrZXl3cm9uZ2tleXdyb25na2V5d3Jvbmdr;BlobEndpoint=" +
      server_->BlobEndpoint();
  CairnRunOptions o;
  o.set["AZURE_STORAGE_CONNECTION_STRING"] = wrong;
  ProcResult r = sb_.Cairn({"-r", location_, "init"}, o);
  EXPECT_NE(r.exit_code, 0) << r.Describe();
  EXPECT_NE(r.err.find("AZURE_STORAGE_CONNECTION_STRING"), std::string::npos) << r.Describe();
  EXPECT_EQ(r.err.find("d3JvbmdrZXl3"), std::string::npos) << r.Describe();
  EXPECT_EQ(r.out.find("d3JvbmdrZXl3"), std::string::npos) << r.Describe();
}

TEST_F(AzureE2eTest, ExpiredOrNarrowSasFailsClearlyAndWritesNothing) {
  const std::string src = sb_.Path("src");
  MakeDirs(src);
  WriteFile(src + "/a.bin", RandomData(300000, 7));
  Ok({"-r", location_, "init"});
  Ok({"-r", location_, "backup", src});
  const auto before = Objects();
  ASSERT_FALSE(before.empty());
  WriteFile(src + "/b.bin", RandomData(400000, 8));  // something new to write

  const int64_t now = std::time(nullptr);
  struct Case {
    std::string what, conn, says;
  };
  const std::vector<Case> cases = {
      {"expired SAS", SasConnectionString("racwdl", now - 3600),
       "account key or SAS rejected: check AZURE_STORAGE_CONNECTION_STRING"},
      {"read-only SAS", SasConnectionString("rl", now + 3600), "lacks a permission"},
      {"SAS without list permission", SasConnectionString("racwd", now + 3600),
       "lacks a permission"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    CairnRunOptions o;
    o.set["AZURE_STORAGE_CONNECTION_STRING"] = c.conn;
    ProcResult r = sb_.Cairn({"-r", location_, "backup", src}, o);
    EXPECT_EQ(r.exit_code, 1) << r.Describe();
    EXPECT_NE(r.err.find(c.says), std::string::npos) << r.Describe();
    // The signature never shows.
    const std::string sig = c.conn.substr(c.conn.find("sig=") + 4, 12);
    EXPECT_EQ(r.err.find(sig), std::string::npos) << r.Describe();
    EXPECT_EQ(r.out.find(sig), std::string::npos) << r.Describe();
    EXPECT_EQ(Objects(), before) << "a refused backup changed the repository";
  }
  // Read-only credentials still restore: without a lock, saying so.
  CairnRunOptions ro;
  ro.set["AZURE_STORAGE_CONNECTION_STRING"] = SasConnectionString("rl", now + 3600);
  ProcResult restored =
      sb_.Cairn({"-r", location_, "restore", src + "/a.bin", "--to", sb_.Path("ro")}, ro);
  EXPECT_EQ(restored.exit_code, 0) << restored.Describe();
  EXPECT_NE(restored.err.find("without a repository lock"), std::string::npos)
      << restored.Describe();
  EXPECT_EQ(ReadFile(sb_.Path("ro") + src + "/a.bin"), RandomData(300000, 7));
  EXPECT_EQ(Objects(), before);

  // The repository is as the last good backup left it.
  ProcResult check = Ok({"-r", location_, "check", "--read-data"});
  EXPECT_EQ(check.err.find("error"), std::string::npos) << check.Describe();
}

// Backups and forget work with a credential that cannot delete; prune says
// at once that it needs to, before it writes anything.
TEST_F(AzureE2eTest, PruneWithACredentialThatCannotDeleteFailsBeforeWriting) {
  const std::string src = sb_.Path("src");
  MakeDirs(src);
  Ok({"-r", location_, "init"});
  const int64_t now = std::time(nullptr);
  CairnRunOptions no_delete;
  no_delete.set["AZURE_STORAGE_CONNECTION_STRING"] = SasConnectionString("racwl", now + 3600);
  // Its lock objects cannot be removed: they expire, after 3 s.
  no_delete.set["CAIRN_LOCK_TTL"] = "3";
  // The first pack holds a.bin and b.bin: once a.bin's first version is
  // forgotten, prune would repack it (write) before deleting anything.
  WriteFile(src + "/b.bin", RandomData(300000, 19));
  for (int i = 0; i < 3; ++i) {
    WriteFile(src + "/a.bin", RandomData(300000, 20 + i));
    ProcResult b = sb_.Cairn({"-r", location_, "backup", src}, no_delete);
    ASSERT_EQ(b.exit_code, 0) << b.Describe();
  }
  ProcResult f = sb_.Cairn({"-r", location_, "forget", "--keep-last", "1"}, no_delete);
  ASSERT_EQ(f.exit_code, 0) << f.Describe();
  // Lock objects a no-delete credential could not remove are left to expire.
  auto data_objects = [&] {
    std::map<std::string, uint64_t> out;
    for (const auto& [name, size] : Objects())
      if (name.rfind("locks/", 0) != 0) out[name] = size;
    return out;
  };
  const auto before = data_objects();
  ProcResult p = sb_.Cairn({"-r", location_, "prune"}, no_delete);
  EXPECT_EQ(p.exit_code, 1) << p.Describe();
  EXPECT_NE(p.err.find("cannot"), std::string::npos) << p.Describe();
  EXPECT_NE(p.err.find("nothing was written"), std::string::npos) << p.Describe();
  EXPECT_EQ(data_objects(), before);
  // With the account key it frees the space (once those locks expired).
  std::this_thread::sleep_for(std::chrono::seconds(4));
  ProcResult ok = Ok({"--json", "-r", location_, "prune"});
  EXPECT_GE(json::parse(ok.out).value("packs_deleted", 0), 2) << ok.out;
  EXPECT_EQ(ReadFile(src + "/a.bin"), RandomData(300000, 22));
  Ok({"-r", location_, "restore", src + "/a.bin", "--to", sb_.Path("r")});
  EXPECT_EQ(ReadFile(sb_.Path("r") + src + "/a.bin"), RandomData(300000, 22));
}

TEST_F(AzureE2eTest, ExclusiveLockNamesItsHolderAndExpiresWhenTheHolderIsKilled) {
  const std::string src = sb_.Path("src");
  MakeDirs(src);
  WriteFile(src + "/a.txt", "hello\n");
  Ok({"-r", location_, "init"});
  CairnRunOptions add;
  add.set["CAIRN_NEW_PASSWORD"] = "a second secret";
  ProcResult added = sb_.Cairn({"-r", location_, "key", "add", "--label", "spare"}, add);
  ASSERT_EQ(added.exit_code, 0) << added.Describe();
  json keys = Json({"-r", location_, "key", "list"});
  ASSERT_TRUE(keys.is_array() && keys.size() == 2u) << keys.dump();
  std::string spare;
  for (const auto& k : keys)
    if (k.value("label", "") == "spare") spare = k.value("id", "");
  ASSERT_FALSE(spare.empty()) << keys.dump();

  // The holder: another process that takes the exclusive lock (as prune
  // will) with a short ttl, then hangs until killed.
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const std::string conn = server_->ConnectionString();
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(ready[0]);
    backend::OpenOptions o;
    o.settings["azure.connection_string"] = conn;
    auto be = backend::OpenBackend(location_, o);
    if (!be.ok()) _exit(1);
    auto repo = repo::Repository::Open(*be, Sandbox::kPassword);
    if (!repo.ok()) _exit(2);
    repo::LockOptions lo;
    lo.exclusive = true;
    lo.ttl = std::chrono::seconds(4);
    lo.device = "holder-device";
    lo.operation = "prune";
    auto lock = repo::RepoLock::Acquire(**repo, lo);
    if (!lock.ok()) _exit(3);
    char c = 'x';
    if (write(ready[1], &c, 1) != 1) _exit(4);
    while (true) pause();
  }
  close(ready[1]);
  char c = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1) << "the lock holder did not start";
  close(ready[0]);

  CairnRunOptions no_wait;
  no_wait.set["CAIRN_LOCK_WAIT"] = "0";
  ProcResult second = sb_.Cairn({"-r", location_, "key", "remove", spare}, no_wait);
  EXPECT_EQ(second.exit_code, 11) << second.Describe();
  EXPECT_NE(second.err.find("locked"), std::string::npos) << second.Describe();
  EXPECT_NE(second.err.find("(prune) held by pid " + std::to_string(child)), std::string::npos)
      << second.Describe();
  ProcResult shared = sb_.Cairn({"-r", location_, "backup", src}, no_wait);
  EXPECT_EQ(shared.exit_code, 11) << "a backup ran beside an exclusive lock\n" << shared.Describe();

  // Killed: nothing releases the lock; it expires after its ttl.
  ASSERT_EQ(kill(child, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  CairnRunOptions wait;
  wait.set["CAIRN_LOCK_WAIT"] = "20";
  ProcResult removed = sb_.Cairn({"-r", location_, "key", "remove", spare}, wait);
  EXPECT_EQ(removed.exit_code, 0) << "the dead holder's lock did not expire\n"
                                  << removed.Describe();
  json after = Json({"-r", location_, "key", "list"});
  EXPECT_EQ(after.size(), 1u) << after.dump();
  Ok({"-r", location_, "backup", src});
}

TEST_F(AzureE2eTest, BandwidthLimitsPaceUploadsAndDownloads) {
  const std::string src = sb_.Path("src");
  MakeDirs(src);
  WriteFile(src + "/random.bin", RandomData(1 << 20, 9));
  Ok({"-r", location_, "init"});
  using Clock = std::chrono::steady_clock;
  // 1 MiB at 256 KiB/s: 4 s less the first slice; a little slack below.
  auto t0 = Clock::now();
  Ok({"-r", location_, "--limit-upload", "256", "backup", src});
  auto upload = Clock::now() - t0;
  EXPECT_GE(upload, std::chrono::milliseconds(3500));
  t0 = Clock::now();
  Ok({"-r", location_, "--limit-download", "256", "restore", src, "--to", sb_.Path("r")});
  auto download = Clock::now() - t0;
  EXPECT_GE(download, std::chrono::milliseconds(3500));
  for (const std::string& d : CompareTrees(src, sb_.Path("r") + src)) ADD_FAILURE() << d;
  std::cout << "1 MiB at 256 KiB/s: backup " << std::chrono::duration<double>(upload).count()
            << " s, restore " << std::chrono::duration<double>(download).count() << " s\n";
}

}  // namespace
}  // namespace cairn::e2e
