#include "config/env_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "testing/temp_dir.h"

namespace cairn::config {
namespace {

using ::testing::HasSubstr;

TEST(EnvFile, ParsesAssignmentsAndSkipsComments) {
  auto vars = ParseEnvFileText(
      "# a comment\n; another\n\nDEVICE_ID=laptop\nexport A=1\n"
      "AZURE_STORAGE_CONNECTION_STRING='AccountName=x;AccountKey=y=='\nB=\"two words\"\n"
      "not an assignment\nA=2\n");
  EXPECT_EQ(vars.size(), 4u);
  EXPECT_EQ(vars["DEVICE_ID"], "laptop");
  EXPECT_EQ(vars["AZURE_STORAGE_CONNECTION_STRING"], "AccountName=x;AccountKey=y==");
  EXPECT_EQ(vars["B"], "two words");
  EXPECT_EQ(vars["A"], "2");  // the later line wins
}

TEST(EnvFile, QuotesOnlyWhatNeedsIt) {
  EXPECT_EQ(*QuoteEnvValue("my-laptop"), "my-laptop");
  EXPECT_EQ(*QuoteEnvValue("/home/u/.config/cairn/password"), "/home/u/.config/cairn/password");
  EXPECT_EQ(*QuoteEnvValue("a;b=c"), "'a;b=c'");
  EXPECT_EQ(*QuoteEnvValue("$HOME"), "'$HOME'");
  EXPECT_EQ(*QuoteEnvValue(""), "''");
  EXPECT_FALSE(QuoteEnvValue("it's").ok());
  EXPECT_FALSE(QuoteEnvValue("two\nlines").ok());
}

TEST(EnvFile, EditKeepsOtherLinesAndReplacesInPlace) {
  const std::string before =
      "# The environment of the cairn service\n#DEVICE_ID=my-laptop\nBACKUP_LOG_LEVEL=debug\n"
      "DEVICE_ID=old\nDEVICE_ID=older\n";
  auto after = EditEnvFileText(before, {{"DEVICE_ID", "new"},
                                        {"AZURE_STORAGE_CONNECTION_STRING", "A=1;B=2"},
                                        {"BACKUP_LOG_LEVEL", std::nullopt}});
  ASSERT_TRUE(after.ok()) << after.error().ToString();
  EXPECT_EQ(*after,
            "# The environment of the cairn service\n#DEVICE_ID=my-laptop\nDEVICE_ID=new\n"
            "AZURE_STORAGE_CONNECTION_STRING='A=1;B=2'\n");
  EXPECT_EQ(ParseEnvFileText(*after)["AZURE_STORAGE_CONNECTION_STRING"], "A=1;B=2");
}

TEST(EnvFile, EditRefusesBadNamesAndValues) {
  auto bad_name = EditEnvFileText("", {{"1X", "v"}});
  ASSERT_FALSE(bad_name.ok());
  EXPECT_THAT(bad_name.error().message(), HasSubstr("not a variable name"));
  EXPECT_FALSE(EditEnvFileText("", {{"X", "a'b"}}).ok());
}

TEST(EnvFile, WritePrivateFileIs0600AndCreatesTheFolder) {
  cairn::testing::TempDir dir;
  const std::string path = dir.Sub("a/b/cairn.env");
  ::umask(022);
  ASSERT_TRUE(WritePrivateFile(path, "X=1\n").ok());
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  ASSERT_EQ(::stat(dir.Sub("a/b").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  ASSERT_TRUE(WritePrivateFile(path, "X=2\n").ok());
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  EXPECT_EQ(ss.str(), "X=2\n");
  // No temporary file is left beside it.
  int entries = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator(dir.Sub("a/b"))) ++entries;
  EXPECT_EQ(entries, 1);
}

TEST(EnvFile, WritePrivateFileReportsAnUnwritableFolder) {
  cairn::testing::TempDir dir;
  std::ofstream(dir.Sub("file")) << "x";
  Status st = WritePrivateFile(dir.Sub("file/cairn.env"), "X=1\n");
  ASSERT_FALSE(st.ok());
  EXPECT_THAT(st.message(), HasSubstr("file"));
}

}  // namespace
}  // namespace cairn::config
