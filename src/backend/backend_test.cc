#include "backend/backend.h"
#include "backend/registry.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace cairn::backend {
namespace {

TEST(ObjectNameTest, TypeDirectories) {
  EXPECT_EQ(ObjectTypeDir(ObjectType::kConfig), "config");
  EXPECT_EQ(ObjectTypeDir(ObjectType::kKey), "keys");
  EXPECT_EQ(ObjectTypeDir(ObjectType::kPack), "data");
  EXPECT_EQ(ObjectTypeDir(ObjectType::kIndex), "index");
  EXPECT_EQ(ObjectTypeDir(ObjectType::kVersions), "versions");
  EXPECT_EQ(ObjectTypeDir(ObjectType::kLock), "locks");
}

TEST(ObjectNameTest, Paths) {
  EXPECT_EQ((ObjectName{ObjectType::kConfig, "config"}.Path()), "config");
  EXPECT_EQ((ObjectName{ObjectType::kKey, "0123"}.Path()), "keys/0123");
  EXPECT_EQ((ObjectName{ObjectType::kPack, "abcdef"}.Path()), "data/ab/abcdef");
  EXPECT_EQ((ObjectName{ObjectType::kIndex, "ff00"}.Path()), "index/ff00");
  EXPECT_EQ((ObjectName{ObjectType::kVersions, "12"}.Path()), "versions/12");
  EXPECT_EQ((ObjectName{ObjectType::kLock, "beef"}.Path()), "locks/beef");
}

TEST(OpenBackendTest, AzureNeedsAConnectionString) {
  auto b = OpenBackend("azure://container/prefix", OpenOptions{});
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.error().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(b.error().message().find("AZURE_STORAGE_CONNECTION_STRING"), std::string::npos)
      << b.error().ToString();
}

TEST(OpenBackendTest, DirectoryPaths) {
  auto plain = OpenBackend("/srv/backups/repo");
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_EQ((*plain)->Location(), "/srv/backups/repo");

  auto prefixed = OpenBackend("local:/srv/backups/repo/");
  ASSERT_TRUE(prefixed.ok()) << prefixed.status().ToString();
  EXPECT_EQ((*prefixed)->Location(), "/srv/backups/repo");

  auto relative = OpenBackend("some/repo");
  ASSERT_TRUE(relative.ok()) << relative.status().ToString();
  EXPECT_EQ((*relative)->Location(), (std::filesystem::current_path() / "some/repo").string());
}

TEST(OpenBackendTest, RefusesUnknownSchemesAndEmptyLocations) {
  for (const char* location : {"", "local:", "s3://bucket/repo", "sftp://host/repo"}) {
    auto b = OpenBackend(location);
    ASSERT_FALSE(b.ok()) << location;
    EXPECT_EQ(b.error().code(), StatusCode::kInvalidArgument) << location;
    EXPECT_FALSE(b.error().message().empty());
  }
}

}  // namespace
}  // namespace cairn::backend
