// `cairn setup` with Azure Blob Storage, against an Azurite the test starts
// (testing/azurite_fixture.h): the connection string from the environment,
// tested by a write before anything is kept, stored only in the service's
// environment file (0600), never shown; a wrong key and an unreachable
// endpoint refused with nothing written.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

#include <ctime>

#include "backend/azure/signing.h"
#include "backend/registry.h"
#include "e2e_util.h"
#include "testing/azurite_fixture.h"

namespace cairn::e2e {
namespace {

using ::cairn::testing::Azurite;
using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

// The sandbox's environment with this connection string ("" : none).
CairnRunOptions WithConnection(const std::string& conn) {
  CairnRunOptions o;
  if (conn.empty())
    o.unset.push_back("AZURE_STORAGE_CONNECTION_STRING");
  else
    o.set["AZURE_STORAGE_CONNECTION_STRING"] = conn;
  return o;
}

class SetupAzureE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CAIRN_REQUIRE_AZURITE(server);
    server_ = server;
    container_ = testing::UniqueContainerName();
    location_ = "azure://" + container_ + "/cairn";
    for (const char* v : {"CAIRN_PASSWORD", "CAIRN_REPOSITORY", "DEVICE_ID"}) sb_.env().erase(v);
    WriteFile(sb_.home() + "/Documents/report.txt", "quarterly numbers\n");
    WriteFile(sb_.home() + "/Documents/data.bin", RandomData(300000, 3));
  }

  std::string ConfigDir() const { return sb_.config_home() + "/cairn"; }
  bool NothingWritten() const {
    std::error_code ec;
    return !fs::exists(ConfigDir(), ec) || fs::is_empty(ConfigDir(), ec);
  }

  Azurite* server_ = nullptr;
  Sandbox sb_;
  std::string container_, location_;
};

TEST_F(SetupAzureE2eTest, SetsUpOnAzureKeepsTheKeyPrivateAndBacksUp) {
  const std::string conn = server_->ConnectionString();
  ProcResult r = sb_.Cairn({"setup", "--yes", "--device", "cloudy", "--location", location_},
                           WithConnection(conn));
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  const std::string key = std::string(backend::azure::kDevStoreKey);
  EXPECT_THAT(r.out + r.err, Not(HasSubstr(key.substr(0, 20))));
  // The connection string is in the service's environment file only (0600),
  // never in the settings.
  const std::string env_file = ConfigDir() + "/cairn.env";
  struct stat st;
  ASSERT_EQ(::stat(env_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_THAT(ReadFile(env_file), HasSubstr("AZURE_STORAGE_CONNECTION_STRING='" + conn + "'"));
  std::string settings = ReadFile(ConfigDir() + "/settings.yaml");
  EXPECT_THAT(settings, HasSubstr("location: " + location_));
  EXPECT_THAT(settings, Not(HasSubstr(key.substr(0, 20))));
  // The recovery note names the variable, not its value.
  EXPECT_THAT(
      r.out,
      HasSubstr("AZURE_STORAGE_CONNECTION_STRING='<the connection string>' cairn -r " + location_));

  // The service's environment as systemd would pass it: back up, restore.
  CairnRunOptions o = WithConnection(conn);
  ProcResult b = sb_.Cairn({"backup"}, o);
  ASSERT_EQ(b.exit_code, 0) << b.Describe();
  const std::string target = sb_.Path("restored");
  ProcResult rr = sb_.Cairn({"restore", sb_.home() + "/Documents", "--to", target}, o);
  ASSERT_EQ(rr.exit_code, 0) << rr.Describe();
  EXPECT_TRUE(
      FilesEqual(sb_.home() + "/Documents/data.bin", target + sb_.home() + "/Documents/data.bin"));

  // Run again without the variable: the environment file's is used, nothing changes.
  const std::string env_text = ReadFile(env_file);
  ProcResult again = sb_.Cairn({"setup", "--yes"});
  ASSERT_EQ(again.exit_code, 0) << again.Describe();
  EXPECT_THAT(again.out, HasSubstr("is set up already"));
  EXPECT_EQ(ReadFile(env_file), env_text);
}

TEST_F(SetupAzureE2eTest, AWrongKeyIsRefusedBeforeAnythingIsWritten) {
  const std::string wrong =
      "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey="
      "d3JvbmdrZXl3cm9uZ2tleXdyb25na2V5d3Jvbmdr;BlobEndpoint=" +
      server_->BlobEndpoint();
  ProcResult r = sb_.Cairn({"setup", "--yes", "--location", location_}, WithConnection(wrong));
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("refused the credentials"));
  EXPECT_THAT(r.err, HasSubstr("AZURE_STORAGE_CONNECTION_STRING"));
  EXPECT_THAT(r.out + r.err, Not(HasSubstr("d3JvbmdrZXl3")));
  EXPECT_TRUE(NothingWritten());
}

TEST_F(SetupAzureE2eTest, ASasThatCannotWriteIsRefusedBeforeAnythingIsWritten) {
  // The container exists (made with the account key); the SAS may read and list only.
  backend::OpenOptions with_key;
  with_key.settings["azure.connection_string"] = server_->ConnectionString();
  auto be = backend::OpenBackend(location_, with_key);
  ASSERT_TRUE(be.ok()) << be.status().ToString();
  ASSERT_TRUE((*be)->Create().ok());
  backend::azure::ContainerSasOptions o;
  o.account = std::string(backend::azure::kDevStoreAccount);
  o.container = container_;
  o.permissions = "rl";
  o.expiry_unix = std::time(nullptr) + 3600;
  const std::string sas =
      backend::azure::MakeContainerSas(o, *Base64Decode(backend::azure::kDevStoreKey));
  const std::string read_only =
      "BlobEndpoint=" + server_->BlobEndpoint() + ";SharedAccessSignature=" + sas;
  ProcResult r = sb_.Cairn({"setup", "--yes", "--location", location_}, WithConnection(read_only));
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("cannot write to " + location_));
  EXPECT_THAT(r.err, HasSubstr("a SAS needs read, add, create, write, delete and list"));
  EXPECT_THAT(r.out + r.err, Not(HasSubstr(sas.substr(sas.find("sig=")))));
  EXPECT_TRUE(NothingWritten());
  // Nothing was left in the container either (the test object is gone).
  auto has = (*be)->HasAnyObject();
  ASSERT_TRUE(has.ok()) << has.status().ToString();
  EXPECT_FALSE(*has);
}

TEST_F(SetupAzureE2eTest, AnUnreachableEndpointIsRefusedBeforeAnythingIsWritten) {
  // A port nothing listens on.
  const std::string unreachable =
      "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" +
      std::string(backend::azure::kDevStoreKey) +
      ";BlobEndpoint=http://127.0.0.1:9/devstoreaccount1";
  ProcResult r =
      sb_.Cairn({"setup", "--yes", "--location", location_}, WithConnection(unreachable));
  EXPECT_EQ(r.exit_code, 1) << r.Describe();
  EXPECT_THAT(r.err, HasSubstr("cannot reach " + location_));
  EXPECT_THAT(r.err, HasSubstr("check the network"));
  EXPECT_TRUE(NothingWritten());

  // No connection string at all, no terminal to ask at.
  ProcResult none = sb_.Cairn({"setup", "--yes", "--location", location_}, WithConnection(""));
  EXPECT_EQ(none.exit_code, 1) << none.Describe();
  EXPECT_THAT(none.err, HasSubstr("needs the storage account's connection string"));
  EXPECT_TRUE(NothingWritten());
}

}  // namespace
}  // namespace cairn::e2e
