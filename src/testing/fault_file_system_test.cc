#include "testing/fault_file_system.h"

#include <errno.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>

#include "testing/assert_ok.h"
#include "testing/file_util.h"
#include "testing/temp_dir.h"

namespace cairn::testing {
namespace {

using Op = FaultFileSystem::Op;

// Writes one byte at `offset` of `file` and returns the status.
Status WriteByte(WritableFile& file, uint64_t offset) {
  const uint8_t b = 'x';
  return file.WriteAt(ByteView(&b, 1), offset);
}

TEST(FaultFileSystemTest, FailsTheNthCallOfAnOperationUnderAPath) {
  TempDir tmp;
  MakeDirs(tmp.Sub("x"));
  MakeDirs(tmp.Sub("xy"));
  FaultFileSystem fs;
  fs.Fail(Op::kWriteAt, tmp.Sub("x"), ENOSPC, /*nth=*/3);

  auto a = fs.CreateFile(tmp.Sub("x/a"), 0600);
  ASSERT_OK(a);
  auto b = fs.CreateFile(tmp.Sub("xy/b"), 0600);  // not under x: never fails
  ASSERT_OK(b);
  for (uint64_t i = 0; i < 5; ++i) {
    Status st = (*a)->WriteAt(AsBytes("x"), i);
    if (i == 2) {
      EXPECT_EQ(st.code(), StatusCode::kNoSpace) << st.ToString();
      EXPECT_NE(st.message().find(tmp.Sub("x/a")), std::string::npos) << st.ToString();
    } else {
      EXPECT_OK(st);
    }
    EXPECT_OK(WriteByte(**b, i));
  }
  EXPECT_OK((*a)->Close());
  EXPECT_OK((*b)->Close());
  // The failed write did not reach the file: a hole (NUL) at offset 2.
  EXPECT_EQ(ReadFile(tmp.Sub("x/a")), std::string("xx\0xx", 5));
  EXPECT_EQ(ReadFile(tmp.Sub("xy/b")), "xxxxx");
  EXPECT_EQ(fs.Calls(Op::kWriteAt, tmp.Sub("x")), 5);
  EXPECT_EQ(fs.Calls(Op::kWriteAt, tmp.path()), 10);
  EXPECT_EQ(fs.FailedPaths(), std::vector<std::string>{tmp.Sub("x/a")});
}

TEST(FaultFileSystemTest, EveryCallFailsAndClearFaultsStopsIt) {
  TempDir tmp;
  WriteFile(tmp.Sub("d/f"), "content");
  FaultFileSystem fs;
  fs.Fail(Op::kListDir, tmp.Sub("d"), EACCES, 1, FaultFileSystem::kEvery);
  fs.Fail(Op::kRead, tmp.Sub("d/f"), EIO, 2, FaultFileSystem::kEvery);
  for (int i = 0; i < 3; ++i) {
    auto listing = fs.ListDir(tmp.Sub("d"));
    ASSERT_FALSE(listing.ok());
    EXPECT_EQ(listing.status().code(), StatusCode::kPermissionDenied);
  }
  auto file = fs.OpenForRead(tmp.Sub("d/f"));
  ASSERT_OK(file);
  uint8_t buf[3];
  auto n = (*file)->Read(buf, sizeof buf);  // the first read passes
  ASSERT_OK(n);
  EXPECT_EQ(*n, 3u);
  for (int i = 0; i < 2; ++i) {
    auto failed = (*file)->Read(buf, sizeof buf);
    ASSERT_FALSE(failed.ok());
    EXPECT_EQ(failed.status().code(), StatusCode::kIOError) << failed.status().ToString();
  }

  fs.ClearFaults();
  auto listing = fs.ListDir(tmp.Sub("d"));
  ASSERT_OK(listing);
  EXPECT_EQ(listing->names, std::vector<std::string>{"f"});
  EXPECT_TRUE(listing->complete);
  auto rest = (*file)->Read(buf, sizeof buf);  // goes on where the real reads stopped
  ASSERT_OK(rest);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(buf), *rest), "ten");
}

// A failed Close still closes the real file (no descriptor leaks) and
// reports the injected error.
TEST(FaultFileSystemTest, FailedCloseClosesTheRealFile) {
  TempDir tmp;
  FaultFileSystem fs;
  fs.Fail(Op::kClose, tmp.path(), EIO);
  auto before = DefaultFileSystem().ListDir("/proc/self/fd");
  ASSERT_OK(before);
  auto file = fs.CreateFile(tmp.Sub("f"), 0600);
  ASSERT_OK(file);
  ASSERT_OK((*file)->WriteAt(AsBytes("data"), 0));
  Status closed = (*file)->Close();
  EXPECT_EQ(closed.code(), StatusCode::kIOError) << closed.ToString();
  auto after = DefaultFileSystem().ListDir("/proc/self/fd");
  ASSERT_OK(after);
  EXPECT_EQ(after->names.size(), before->names.size());
  EXPECT_EQ(ReadFile(tmp.Sub("f")), "data");
}

// The contracts of the real file system (base/file_system.h) the callers
// rely on.
TEST(PosixFileSystemTest, CreateIsExclusiveAndNothingFollowsSymlinks) {
  TempDir tmp;
  FileSystem& fs = DefaultFileSystem();
  WriteFile(tmp.Sub("file"), "old");
  ASSERT_EQ(symlink(tmp.Sub("nowhere").c_str(), tmp.Sub("dangling").c_str()), 0);
  ASSERT_EQ(symlink(tmp.Sub("file").c_str(), tmp.Sub("link").c_str()), 0);

  for (const char* name : {"file", "dangling"}) {
    auto again = fs.CreateFile(tmp.Sub(name), 0600);
    ASSERT_FALSE(again.ok()) << name;
    EXPECT_TRUE(again.status().IsAlreadyExists()) << again.status().ToString();
  }
  EXPECT_FALSE(Exists(tmp.Sub("nowhere")));  // not created through the symlink
  auto through_link = fs.OpenForRead(tmp.Sub("link"));
  ASSERT_FALSE(through_link.ok());
  EXPECT_EQ(through_link.status().code(), StatusCode::kIOError);  // ELOOP
  auto lst = fs.Lstat(tmp.Sub("link"));
  ASSERT_OK(lst);
  EXPECT_TRUE(S_ISLNK(lst->st_mode));

  Status dir = fs.MakeDir(tmp.Sub("file"), 0700);
  EXPECT_TRUE(dir.IsAlreadyExists()) << dir.ToString();
  EXPECT_TRUE(fs.Remove(tmp.Sub("missing")).IsNotFound());
  auto gone = fs.ListDir(tmp.Sub("missing"));
  ASSERT_FALSE(gone.ok());
  EXPECT_TRUE(gone.status().IsNotFound());

  // WriteAt writes everything at the offset; Truncate extends with a hole.
  auto f = fs.CreateFile(tmp.Sub("new"), 0600);
  ASSERT_OK(f);
  ASSERT_OK((*f)->WriteAt(AsBytes("world"), 6));
  ASSERT_OK((*f)->WriteAt(AsBytes("hello "), 0));
  ASSERT_OK((*f)->Truncate(13));
  ASSERT_OK((*f)->Sync());
  ASSERT_OK((*f)->Close());
  EXPECT_EQ(ReadFile(tmp.Sub("new")), std::string("hello world\0\0", 13));
  ASSERT_OK(fs.Rename(tmp.Sub("new"), tmp.Sub("file")));
  EXPECT_EQ(ReadFile(tmp.Sub("file")).substr(0, 5), "hello");
  EXPECT_FALSE(Exists(tmp.Sub("new")));
}

}  // namespace
}  // namespace cairn::testing
