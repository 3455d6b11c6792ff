// AzureBackend against Azurite: the conformance suite, authorization (wrong
// key, SAS, read-only SAS), leases, block uploads, prefixes and the
// registry. Azurite is installed and started by testing/azurite_fixture.h.
#include "backend/azure/azure_backend.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <set>
#include <thread>

#include "backend/azure/signing.h"
#include "backend/registry.h"
#include "testing/assert_ok.h"
#include "testing/azurite_fixture.h"
#include "testing/backend_conformance.h"

namespace cairn::backend::azure {
namespace {

using ::cairn::testing::Azurite;
using ::cairn::testing::BackendConformanceTest;
using ::cairn::testing::BackendFactory;
using ::cairn::testing::BackendFactoryName;
using ::cairn::testing::UniqueContainerName;

// Each conformance case gets its own container in the process's Azurite.
std::shared_ptr<Backend> MakeFreshAzureBackend() {
  std::string why;
  Azurite* server = testing::SharedAzurite(&why);
  if (server == nullptr) {
    ADD_FAILURE() << why;
    return nullptr;
  }
  auto b = AzureBackend::Open(server->Connection(), UniqueContainerName(), "repo/one");
  if (!b.ok()) {
    ADD_FAILURE() << b.status().ToString();
    return nullptr;
  }
  return *b;
}

// Instantiated only where Azurite can run; AzuriteTest.IsAvailable says why
// not (and fails in CI).
std::vector<BackendFactory> AzureFactories() {
  if (!testing::AzuriteUnavailableReason().empty()) return {};
  return {BackendFactory{"Azure", &MakeFreshAzureBackend}};
}

INSTANTIATE_TEST_SUITE_P(Azure, BackendConformanceTest, ::testing::ValuesIn(AzureFactories()),
                         BackendFactoryName);

TEST(AzuriteTest, IsAvailable) {
  CAIRN_REQUIRE_AZURITE(server);
  EXPECT_GT(server->port(), 0);
}

const ObjectName kPack{ObjectType::kPack, "ab" + std::string(62, '1')};
const ObjectName kKey{ObjectType::kKey, std::string(64, 'c')};

class AzureBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CAIRN_REQUIRE_AZURITE(server);
    server_ = server;
    container_ = UniqueContainerName();
    auto b = AzureBackend::Open(server_->Connection(), container_, "pre/fix");
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    backend_ = *b;
    ASSERT_OK(backend_->Create());
  }

  // A backend on the same container through a SAS with `permissions`.
  std::shared_ptr<AzureBackend> SasBackend(const std::string& permissions) {
    ContainerSasOptions o;
    o.account = std::string(kDevStoreAccount);
    o.container = container_;
    o.permissions = permissions;
    o.expiry_unix = std::time(nullptr) + 3600;
    std::string sas = MakeContainerSas(o, *Base64Decode(kDevStoreKey));
    auto conn = ParseConnectionString("BlobEndpoint=" + server_->BlobEndpoint() +
                                      ";SharedAccessSignature=" + sas);
    EXPECT_TRUE(conn.ok()) << conn.status().ToString();
    auto b = AzureBackend::Open(*conn, container_, "pre/fix");
    EXPECT_TRUE(b.ok()) << b.status().ToString();
    return *b;
  }

  // A plain request through a read SAS (independent of the backend's own
  // code paths), for looking at what the service stored and answers.
  HttpResponse Raw(const std::string& method, const std::string& blob, HeaderList headers = {}) {
    ContainerSasOptions o;
    o.account = std::string(kDevStoreAccount);
    o.container = container_;
    o.permissions = "r";
    o.expiry_unix = std::time(nullptr) + 3600;
    HttpClient http;
    HttpRequest req;
    req.method = method;
    req.url = server_->BlobEndpoint() + "/" + container_ + "/" + blob + "?" +
              MakeContainerSas(o, *Base64Decode(kDevStoreKey));
    req.headers = std::move(headers);
    req.headers.emplace_back("x-ms-version", "2023-11-03");
    auto resp = http.Send(req);
    EXPECT_TRUE(resp.ok()) << resp.status().ToString();
    return resp.ok() ? *resp : HttpResponse{};
  }
  // The stored Content-MD5 of a blob.
  std::string StoredMd5(const std::string& blob) {
    HttpResponse r = Raw("HEAD", blob);
    EXPECT_EQ(r.status, 200);
    return r.Header("content-md5");
  }

  Azurite* server_ = nullptr;
  std::string container_;
  std::shared_ptr<AzureBackend> backend_;
};

TEST_F(AzureBackendTest, UploadsCarryContentMd5) {
  ASSERT_OK(backend_->Save(kKey, AsBytes("hello world")));
  EXPECT_EQ(StoredMd5(backend_->BlobName(kKey)), "XrY7u+Ae7tCTyyK7j1rNww==");
  const ObjectName lock{ObjectType::kLock, std::string(64, 'e')};
  ASSERT_TRUE(backend_->Replace(lock, AsBytes("hello world"), "").ok());
  EXPECT_EQ(StoredMd5(backend_->BlobName(lock)), "XrY7u+Ae7tCTyyK7j1rNww==");
  // What Load checks: the MD5 of whole downloads, and of ranges when asked.
  EXPECT_EQ(Raw("GET", backend_->BlobName(kKey)).Header("content-md5"), "XrY7u+Ae7tCTyyK7j1rNww==");
  HttpResponse range = Raw("GET", backend_->BlobName(kKey),
                           {{"x-ms-range", "bytes=6-10"}, {"x-ms-range-get-content-md5", "true"}});
  EXPECT_EQ(range.status, 206);
  EXPECT_EQ(AsString(range.body), "world");
  EXPECT_EQ(range.Header("content-md5"), Md5Base64(AsBytes("world")));
}

TEST_F(AzureBackendTest, PacksGoToTheConfiguredTierAndMetadataStaysHot) {
  AzureOptions options;
  options.pack_access_tier = "Cool";
  options.single_put_max = 1 << 20;
  options.block_size = 512 << 10;
  auto b = AzureBackend::Open(server_->Connection(), container_, "pre/fix", options);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  const ObjectName big{ObjectType::kPack, "cd" + std::string(62, '2')};
  ASSERT_OK((*b)->Save(kPack, AsBytes("small pack")));
  ASSERT_OK((*b)->Save(big, Bytes(3 << 20, 1)));  // in blocks
  ASSERT_OK((*b)->Save(kKey, AsBytes("a key")));
  EXPECT_EQ(Raw("HEAD", (*b)->BlobName(kPack)).Header("x-ms-access-tier"), "Cool");
  EXPECT_EQ(Raw("HEAD", (*b)->BlobName(big)).Header("x-ms-access-tier"), "Cool");
  EXPECT_NE(Raw("HEAD", (*b)->BlobName(kKey)).Header("x-ms-access-tier"), "Cool");
  // The listing and Stat report the tier (for whoever must rehydrate).
  auto stat = (*b)->Stat(kPack);
  ASSERT_TRUE(stat.ok()) << stat.status().ToString();
  EXPECT_EQ(stat->access_tier, "Cool");
  int listed = 0;
  ASSERT_OK((*b)->List(ObjectType::kPack, [&](const ObjectInfo& info) {
    EXPECT_EQ(info.access_tier, "Cool") << info.name.name;
    ++listed;
    return Status::OK();
  }));
  EXPECT_EQ(listed, 2);
  options.pack_access_tier = "Archive";
  EXPECT_EQ(AzureBackend::Open(server_->Connection(), container_, "p", options).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(AzureBackendTest, TheLeaseOfAHolderThatVanishedExpiresOnItsOwn) {
  // The holder: another process, as far as the service can tell.
  auto holder = AzureBackend::Open(server_->Connection(), container_, "pre/fix");
  ASSERT_TRUE(holder.ok());
  auto lock = (*holder)->TryLock("repository", std::chrono::seconds(1));  // clamped to 15 s
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  // A crashed holder: neither renewed nor released. (Kept reachable from a
  // static, so that LeakSanitizer does not count what stands for the crashed
  // process's memory.)
  static BackendLock* vanished_holder = nullptr;
  vanished_holder = lock->release();
  ASSERT_NE(vanished_holder, nullptr);
  EXPECT_EQ(backend_->TryLock("repository", std::chrono::seconds(15)).status().code(),
            StatusCode::kLocked);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(25);
  Result<std::unique_ptr<BackendLock>> taken = Status::Locked("not tried");
  while (std::chrono::steady_clock::now() < deadline) {
    taken = backend_->TryLock("repository", std::chrono::seconds(15));
    if (taken.ok() || taken.error().code() != StatusCode::kLocked) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  ASSERT_TRUE(taken.ok()) << "15 s after the holder vanished: " << taken.status().ToString();
}

TEST_F(AzureBackendTest, ObjectsLiveUnderThePrefix) {
  EXPECT_EQ(backend_->BlobName(kPack), "pre/fix/data/ab/" + kPack.name);
  EXPECT_EQ(backend_->BlobName(ObjectName{ObjectType::kConfig, "config"}), "pre/fix/config");
  EXPECT_EQ(backend_->Location(), "azure://" + container_ + "/pre/fix");
  ASSERT_OK(backend_->Save(kPack, AsBytes("pack")));
  // Another prefix in the same container is another repository; the
  // container as a whole is not empty.
  auto other = AzureBackend::Open(server_->Connection(), container_, "other");
  ASSERT_TRUE(other.ok());
  auto any = (*other)->HasAnyObject();
  ASSERT_TRUE(any.ok()) << any.status().ToString();
  EXPECT_FALSE(*any);
  EXPECT_EQ((*other)->Stat(kPack).status().code(), StatusCode::kNotFound);
  auto whole = AzureBackend::Open(server_->Connection(), container_, "");
  ASSERT_TRUE(whole.ok());
  any = (*whole)->HasAnyObject();
  ASSERT_TRUE(any.ok());
  EXPECT_TRUE(*any);
}

TEST_F(AzureBackendTest, WrongAccountKeyIsPermissionDeniedAndNeverShown) {
  const std::string wrong_key = Base64Encode(AsBytes(std::string(64, 'k')));
  auto conn = ParseConnectionString(
      "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
      "AccountKey=" +
      wrong_key + ";BlobEndpoint=" + server_->BlobEndpoint());
  ASSERT_TRUE(conn.ok());
  auto b = AzureBackend::Open(*conn, container_, "pre/fix");
  ASSERT_TRUE(b.ok());
  for (const Status& s : {(*b)->Create(), (*b)->Save(kKey, AsBytes("x")), (*b)->Load(kKey).status(),
                          (*b)->Stat(kKey).status()}) {
    EXPECT_EQ(s.code(), StatusCode::kPermissionDenied) << s.ToString();
    EXPECT_FALSE(s.retryable());
    EXPECT_NE(s.message().find("account key or SAS rejected: check "
                               "AZURE_STORAGE_CONNECTION_STRING"),
              std::string::npos)
        << s.ToString();
    EXPECT_EQ(s.message().find(wrong_key.substr(0, 8)), std::string::npos) << s.ToString();
    EXPECT_EQ(s.message().find(std::string(kDevStoreKey).substr(0, 8)), std::string::npos);
  }
}

TEST_F(AzureBackendTest, ContainerSasWorksForEverything) {
  std::shared_ptr<AzureBackend> sas = SasBackend("racwdl");
  ASSERT_OK(sas->Create());  // the container exists: fine without create rights
  ASSERT_OK(sas->Save(kPack, AsBytes("through a SAS")));
  auto loaded = sas->Load(kPack);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(AsString(*loaded), "through a SAS");
  auto part = sas->Load(kPack, 8, 3);
  ASSERT_TRUE(part.ok()) << part.status().ToString();
  EXPECT_EQ(AsString(*part), "a S");
  int listed = 0;
  ASSERT_OK(sas->List(ObjectType::kPack, [&](const ObjectInfo&) {
    ++listed;
    return Status::OK();
  }));
  EXPECT_EQ(listed, 1);
  auto etag = sas->Replace(kKey, AsBytes("v1"), "");
  ASSERT_TRUE(etag.ok()) << etag.status().ToString();
  ASSERT_TRUE(sas->Replace(kKey, AsBytes("v2"), *etag).ok());
  {
    auto lock = sas->TryLock("repository", std::chrono::seconds(15));
    ASSERT_TRUE(lock.ok()) << lock.status().ToString();
    EXPECT_EQ(backend_->TryLock("repository", std::chrono::seconds(15)).status().code(),
              StatusCode::kLocked);
  }
  ASSERT_OK(sas->Remove(kPack));
  EXPECT_EQ(backend_->Stat(kPack).status().code(), StatusCode::kNotFound);
}

TEST_F(AzureBackendTest, ReadOnlySasRefusesWritesClearly) {
  ASSERT_OK(backend_->Save(kPack, AsBytes("written with the key")));
  std::shared_ptr<AzureBackend> ro = SasBackend("rl");
  auto loaded = ro->Load(kPack);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(AsString(*loaded), "written with the key");
  for (const Status& s : {ro->Save(kKey, AsBytes("x")), ro->Remove(kPack),
                          ro->Replace(kKey, AsBytes("x"), "").status()}) {
    EXPECT_EQ(s.code(), StatusCode::kPermissionDenied) << s.ToString();
    EXPECT_NE(s.message().find("AZURE_STORAGE_CONNECTION_STRING"), std::string::npos)
        << s.ToString();
    EXPECT_EQ(s.message().find("sig="), std::string::npos) << s.ToString();
  }
  EXPECT_EQ(backend_->Stat(kKey).status().code(), StatusCode::kNotFound) << "nothing half-written";
  EXPECT_TRUE(backend_->Stat(kPack).ok());
}

TEST_F(AzureBackendTest, LeaseLockIsExclusiveNamesItsHolderAndIsReleased) {
  auto lock = backend_->TryLock("repository", std::chrono::seconds(30));
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  // Another process would see the same: a second backend object.
  auto other = AzureBackend::Open(server_->Connection(), container_, "pre/fix");
  ASSERT_TRUE(other.ok());
  auto second = (*other)->TryLock("repository", std::chrono::seconds(30));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code(), StatusCode::kLocked);
  EXPECT_NE(second.error().message().find("held by another process"), std::string::npos)
      << second.error().ToString();
  // The same object taking it twice is refused too.
  EXPECT_EQ(backend_->TryLock("repository", std::chrono::seconds(30)).status().code(),
            StatusCode::kLocked);
  // The lease blob tells the storage nothing about the holder.
  EXPECT_TRUE(
      Raw("GET", backend_->BlobName({ObjectType::kLock, "repository"}) + ".lease").body.empty());
  ASSERT_OK((*lock)->Refresh());
  lock->reset();
  auto again = (*other)->TryLock("repository", std::chrono::seconds(30));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(backend_->TryLock("a/b", std::chrono::seconds(30)).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(AzureBackendTest, LargeObjectsGoUpInBlocks) {
  AzureOptions options;
  options.single_put_max = 1 << 20;
  options.block_size = 256 << 10;
  auto b = AzureBackend::Open(server_->Connection(), container_, "pre/fix", options);
  ASSERT_TRUE(b.ok());
  Bytes data((3 << 20) + 12345);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 2654435761u >> 13);
  ASSERT_OK((*b)->Save(kPack, data));
  auto info = (*b)->Stat(kPack);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->size, data.size());
  auto loaded = (*b)->Load(kPack);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_TRUE(*loaded == data);
  EXPECT_EQ(StoredMd5((*b)->BlobName(kPack)), Md5Base64(data));
  // A range across a block boundary.
  auto part = (*b)->Load(kPack, (256 << 10) - 10, 20);
  ASSERT_TRUE(part.ok()) << part.status().ToString();
  EXPECT_TRUE(std::equal(part->begin(), part->end(), data.begin() + (256 << 10) - 10));
  // Create-only holds for block uploads too, and the original stays.
  Bytes other(data.size(), 7);
  EXPECT_EQ((*b)->Save(kPack, other).code(), StatusCode::kAlreadyExists);
  loaded = (*b)->Load(kPack);
  ASSERT_TRUE(loaded.ok());
  EXPECT_TRUE(*loaded == data);
}

TEST_F(AzureBackendTest, ListingFollowsNextMarkerAcrossPages) {
  AzureOptions options;
  options.list_page_size = 7;
  auto b = AzureBackend::Open(server_->Connection(), container_, "pre/fix", options);
  ASSERT_TRUE(b.ok());
  std::set<std::string> want;
  for (int i = 0; i < 40; ++i) {
    std::string id = HexEncode(Md5(AsBytes(std::to_string(i)))) + std::string(32, '0');
    ASSERT_OK((*b)->Save(ObjectName{ObjectType::kPack, id}, AsBytes("p")));
    want.insert(id);
  }
  ASSERT_OK((*b)->Save(kKey, AsBytes("k")));
  std::set<std::string> got;
  ASSERT_OK((*b)->List(ObjectType::kPack, [&](const ObjectInfo& info) {
    EXPECT_TRUE(got.insert(info.name.name).second) << "listed twice: " << info.name.name;
    return Status::OK();
  }));
  EXPECT_EQ(got, want);
}

TEST_F(AzureBackendTest, RegistryOpensAzureLocations) {
  OpenOptions options;
  options.settings["azure.connection_string"] = server_->ConnectionString();
  auto b = OpenBackend("azure://" + container_ + "/via/registry/", options);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ((*b)->Location(), "azure://" + container_ + "/via/registry");
  ASSERT_OK((*b)->Create());
  ASSERT_OK((*b)->Save(kKey, AsBytes("k")));
  auto direct = AzureBackend::Open(server_->Connection(), container_, "via/registry");
  ASSERT_TRUE(direct.ok());
  EXPECT_TRUE((*direct)->Stat(kKey).ok());

  auto bad = OpenBackend("azure://Bad_Name/x", options);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.error().message().find("3-63 lowercase letters, digits and dashes"),
            std::string::npos)
      << bad.error().ToString();
}

// Runs tests/azurite/sdk_interop.js (the official JS SDK) with `args`;
// returns its stdout, or fails the test.
std::string RunSdk(const std::vector<std::string>& args) {
  std::string cmd = "NODE_PATH='" + testing::NodeModulesDir() + "' node '" CAIRN_SDK_INTEROP_JS "'";
  for (const std::string& a : args) cmd += " '" + a + "'";  // no quotes inside: hex, base64, URLs
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) {
    ADD_FAILURE() << "cannot run node";
    return "";
  }
  std::string out;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof(buf), p)) out.append(buf, n);
  int status = ::pclose(p);
  EXPECT_EQ(status, 0) << "sdk_interop.js " << args[0] << " failed: " << out;
  return out;
}

TEST(AzureSdkInteropTest, TheOfficialSdkReadsWhatCairnWroteAndViceVersa) {
  CAIRN_REQUIRE_AZURITE(shared);
  (void)shared;
  testing::AzuriteOptions options;
  options.skip_api_version_check = true;  // the SDK speaks a newer API version
  auto server = testing::StartAzurite(options);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const std::string container = UniqueContainerName();
  AzureOptions small_blocks;
  small_blocks.single_put_max = 1 << 20;
  small_blocks.block_size = 256 << 10;
  auto b = AzureBackend::Open((*server)->Connection(), container, "interop", small_blocks);
  ASSERT_TRUE(b.ok());
  ASSERT_OK((*b)->Create());
  Bytes big((2 << 20) + 5);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i * 7 + (i >> 11));
  ASSERT_OK((*b)->Save(kPack, big));  // in blocks
  ASSERT_OK((*b)->Save(kKey, AsBytes("a key object")));

  const std::string conn = (*server)->ConnectionString();
  std::string listing = RunSdk({"list", conn, container, "interop/"});
  EXPECT_NE(
      listing.find((*b)->BlobName(kPack) + " " + std::to_string(big.size()) + " " + Md5Base64(big)),
      std::string::npos)
      << listing;
  EXPECT_NE(listing.find((*b)->BlobName(kKey) + " 12 " + Md5Base64(AsBytes("a key object"))),
            std::string::npos)
      << listing;
  EXPECT_EQ(RunSdk({"get", conn, container, (*b)->BlobName(kPack)}), Base64Encode(big));

  const ObjectName from_sdk{ObjectType::kIndex, std::string(64, 'd')};
  const std::string content = "written by @azure/storage-blob";
  RunSdk({"put", conn, container, (*b)->BlobName(from_sdk), Base64Encode(AsBytes(content))});
  auto loaded = (*b)->Load(from_sdk);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(AsString(*loaded), content);
  auto part = (*b)->Load(from_sdk, 11, 6);
  ASSERT_TRUE(part.ok()) << part.status().ToString();
  EXPECT_EQ(AsString(*part), "@azure");
  int listed = 0;
  ASSERT_OK((*b)->List(ObjectType::kIndex, [&](const ObjectInfo& info) {
    EXPECT_EQ(info.name, from_sdk);
    EXPECT_EQ(info.size, content.size());
    ++listed;
    return Status::OK();
  }));
  EXPECT_EQ(listed, 1);
}

TEST(AzureUnreachableTest, TransportErrorsAreRetryableAndShowNoSecret) {
  auto conn = ParseConnectionString(
      "BlobEndpoint=http://127.0.0.1:1/devstoreaccount1;SharedAccessSignature=sv=2022-11-02&sr=c&"
      "sp=r&se=2030-01-01T00%3A00%3A00Z&sig=c2VjcmV0");
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  auto b = AzureBackend::Open(*conn, "container", "p");
  ASSERT_TRUE(b.ok());
  Status s = (*b)->Stat(kKey).status();
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  EXPECT_TRUE(s.retryable());
  EXPECT_NE(s.message().find("cannot reach http://127.0.0.1:1/devstoreaccount1/container/p/keys/"),
            std::string::npos)
      << s.ToString();
  EXPECT_EQ(s.message().find("c2VjcmV0"), std::string::npos) << s.ToString();
}

TEST(AzureLocationTest, ParsesContainerAndPrefix) {
  auto l = ParseAzureLocation("azure://backups");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->first, "backups");
  EXPECT_EQ(l->second, "");
  l = ParseAzureLocation("azure://my-backups-2/a/b/");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->first, "my-backups-2");
  EXPECT_EQ(l->second, "a/b");
  for (const char* bad :
       {"azure://", "azure://ab", "azure://Backups", "azure://a--b", "azure://-ab", "azure://ab-",
        "azure://a_b/x",
        "azure://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}) {
    EXPECT_EQ(ParseAzureLocation(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace cairn::backend::azure
