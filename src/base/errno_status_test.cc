#include "base/errno_status.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace cairn {
namespace {

const std::string kPath = "/home/u/data/report.txt";

TEST(ErrnoStatusTest, MapsErrnoToCodes) {
  EXPECT_EQ(ErrnoStatus(ENOENT, "open", kPath).code(), StatusCode::kNotFound);
  EXPECT_EQ(ErrnoStatus(EACCES, "open", kPath).code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(ErrnoStatus(EPERM, "link", kPath).code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(ErrnoStatus(EROFS, "create", kPath).code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(ErrnoStatus(EEXIST, "link", kPath).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(ErrnoStatus(ENOSPC, "write", kPath).code(), StatusCode::kNoSpace);
  EXPECT_EQ(ErrnoStatus(EDQUOT, "rename", kPath).code(), StatusCode::kNoSpace);
  EXPECT_EQ(ErrnoStatus(EIO, "read", kPath).code(), StatusCode::kIOError);
  EXPECT_EQ(ErrnoStatus(ENOTDIR, "stat", kPath).code(), StatusCode::kIOError);
}

TEST(ErrnoStatusTest, NeverRetryable) {
  for (int err : {ENOENT, EACCES, EROFS, ENOSPC, EDQUOT, EEXIST, EIO, EINVAL})
    EXPECT_FALSE(ErrnoStatus(err, "write", kPath).retryable()) << err;
}

TEST(ErrnoStatusTest, MessagesSayWhatFailedAndWhatToDo) {
  Status full = ErrnoStatus(ENOSPC, "fsync", kPath);
  EXPECT_EQ(full.message(), "disk full writing " + kPath + ": free some space and run again");

  Status denied = ErrnoStatus(EACCES, "create", kPath);
  EXPECT_EQ(denied.message(), "cannot create " + kPath + ": Permission denied" +
                                  " (check the owner and mode of " + kPath + " and its folders)");

  Status read_only = ErrnoStatus(EROFS, "rename", kPath);
  EXPECT_NE(read_only.message().find("mounted read-only"), std::string::npos)
      << read_only.message();

  Status io = ErrnoStatus(EIO, "read", kPath);
  EXPECT_EQ(io.message(), "cannot read " + kPath + ": Input/output error");
}

TEST(ErrnoStatusTest, ErrnoTextIsStrerror) {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): strerror is the reference here; one thread.
  EXPECT_EQ(ErrnoText(ENOENT), std::strerror(ENOENT));
}

}  // namespace
}  // namespace cairn
