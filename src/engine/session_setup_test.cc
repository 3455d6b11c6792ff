// Session::ProbeLocation, CheckWritable, DiscardCreatedRepository and the
// secret file (engine/secret_file.h): what `cairn setup` relies on.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "engine/secret_file.h"
#include "engine/session_test_util.h"

namespace cairn::engine {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

class SessionSetupTest : public SessionFixture {};

TEST_F(SessionSetupTest, ProbeCreatesAnEmptyFolderAndLeavesNoObject) {
  auto s = Make();
  ASSERT_NE(s, nullptr);
  auto state = s->ProbeLocation();
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  EXPECT_FALSE(state->has_repository);
  EXPECT_FALSE(state->has_other_data);
  EXPECT_TRUE(state->created_folder);
  ASSERT_TRUE(fs::is_directory(repo()));
  // The probe object is gone: init still finds an empty place.
  env_["CAIRN_PASSWORD"] = "pw";
  auto init = Make()->Init("first");
  EXPECT_TRUE(init.ok()) << init.status().ToString();
}

TEST_F(SessionSetupTest, ProbeFindsARepositoryAndForeignData) {
  InitRepository();
  auto state = Make()->ProbeLocation();
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  EXPECT_TRUE(state->has_repository);
  EXPECT_FALSE(state->created_folder);

  fs::remove_all(repo());
  testing::WriteFile(repo() + "/holiday.jpg", "not a repository");
  auto other = Make()->ProbeLocation();
  ASSERT_TRUE(other.ok()) << other.status().ToString();
  EXPECT_FALSE(other->has_repository);
  EXPECT_TRUE(other->has_other_data);
}

TEST_F(SessionSetupTest, ProbeRefusesAFileAndAnUnreachablePlace) {
  testing::WriteFile(home_.Sub("plain-file"), "x");
  auto o = Options();
  o.repository = home_.Sub("plain-file");
  auto file = Make(o)->ProbeLocation();
  ASSERT_FALSE(file.ok());
  EXPECT_THAT(file.status().message(), HasSubstr("is a file, not a folder"));

  o.repository = home_.Sub("plain-file/repo");  // under a file: can never be made
  auto under = Make(o)->ProbeLocation();
  ASSERT_FALSE(under.ok());
  EXPECT_THAT(under.status().message(), HasSubstr("cannot "));
  EXPECT_THAT(under.status().message(), HasSubstr(home_.Sub("plain-file/repo")));
}

TEST_F(SessionSetupTest, CheckWritableOpensAndLocks) {
  InitRepository();
  auto s = Make();
  EXPECT_TRUE(s->CheckWritable().ok());
  // No lock object (named by a 64-digit hex id) is left behind; the lock
  // folder also holds the backend's mutex file.
  int lock_objects = 0;
  for (auto& e : fs::directory_iterator(repo() + "/locks"))
    if (e.path().filename().string().size() == 64) ++lock_objects;
  EXPECT_EQ(lock_objects, 0);
  env_["CAIRN_PASSWORD"] = "wrong";
  Status wrong = Make()->CheckWritable();
  EXPECT_EQ(wrong.code(), StatusCode::kWrongPassword) << wrong.ToString();
}

TEST_F(SessionSetupTest, DiscardRemovesOnlyWhatThisSessionCreated) {
  env_["CAIRN_PASSWORD"] = "pw";
  auto s = Make();
  ASSERT_TRUE(s->Init("first").ok());
  ASSERT_TRUE(s->DiscardCreatedRepository().ok());
  auto state = Make()->ProbeLocation();
  ASSERT_TRUE(state.ok());
  EXPECT_FALSE(state->has_repository);
  EXPECT_FALSE(state->has_other_data);

  InitRepository();
  auto other = Make();
  ASSERT_TRUE(other->Open().ok());
  EXPECT_EQ(other->DiscardCreatedRepository().code(), StatusCode::kPreconditionFailed);
  EXPECT_TRUE(Make()->ProbeLocation()->has_repository);
}

TEST_F(SessionSetupTest, NoSettingsFileMeansTheDefaults) {
  SetSettings("backup: [this is not: valid\n");
  auto o = Options();
  EXPECT_FALSE(Session::Create(o).ok());
  o.no_settings_file = true;
  auto s = Session::Create(o);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ((*s)->settings().source, "");
  EXPECT_EQ((*s)->settings().compression, "zstd");
}

TEST(SecretFile, CreatesPrivateFileAndNeverOverwrites) {
  testing::TempDir dir;
  const std::string path = dir.Sub("config/cairn/password");
  const std::string secret = NewRandomSecret();
  EXPECT_EQ(secret.size(), 44u);  // base64 of 32 bytes
  EXPECT_NE(secret, NewRandomSecret());
  ASSERT_TRUE(CreateSecretFile(path, secret).ok());
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(testing::ReadFile(path), secret + "\n");
  Status again = CreateSecretFile(path, "other");
  EXPECT_EQ(again.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(testing::ReadFile(path), secret + "\n");
  int entries = 0;
  for ([[maybe_unused]] auto& e : fs::directory_iterator(dir.Sub("config/cairn"))) ++entries;
  EXPECT_EQ(entries, 1);  // no temporary file left
}

}  // namespace
}  // namespace cairn::engine
