#include "backend/local/local_backend.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "backend/local/posix_error.h"
#include "base/errno_status.h"
#include "testing/assert_ok.h"
#include "testing/backend_conformance.h"
#include "testing/file_util.h"
#include "testing/local_backend_util.h"
#include "testing/temp_dir.h"

namespace cairn::backend {
namespace {

using ::cairn::testing::BackendConformanceTest;
using ::cairn::testing::BackendFactory;
using ::cairn::testing::BackendFactoryName;
using ::cairn::testing::MakeDirs;
using ::cairn::testing::MakeTempLocalBackend;
using ::cairn::testing::ReadFile;
using ::cairn::testing::TempDir;
using ::cairn::testing::WriteFile;

INSTANTIATE_TEST_SUITE_P(Local, BackendConformanceTest,
                         ::testing::Values(BackendFactory{
                             "Local",
                             [] { return std::shared_ptr<Backend>(MakeTempLocalBackend()); }}),
                         BackendFactoryName);

namespace fs = std::filesystem;

const std::string kPackId = "ab" + std::string(62, '0');

std::vector<std::string> TempFilesUnder(const std::string& root) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.path().filename().string().starts_with(".tmp-")) out.push_back(e.path().string());
  }
  return out;
}

class LocalBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_ = MakeTempLocalBackend();
    ASSERT_NE(backend_, nullptr);
    ASSERT_OK(backend_->Create());
    root_ = backend_->Location();
  }

  std::shared_ptr<LocalBackend> backend_;
  std::string root_;
};

TEST_F(LocalBackendTest, ObjectsLiveWherePathSays) {
  ObjectName names[] = {{ObjectType::kConfig, "config"}, {ObjectType::kKey, "k1"},
                        {ObjectType::kPack, kPackId},    {ObjectType::kIndex, "i1"},
                        {ObjectType::kVersions, "v1"},   {ObjectType::kLock, "l1"}};
  for (const ObjectName& name : names) {
    ASSERT_OK(backend_->Save(name, AsBytes("content of " + name.Path())));
    std::string file = root_ + "/" + name.Path();
    EXPECT_EQ(backend_->FilePath(name), file);
    EXPECT_EQ(ReadFile(file), "content of " + name.Path()) << file;
  }
  EXPECT_TRUE(fs::is_regular_file(root_ + "/data/ab/" + kPackId));
}

TEST_F(LocalBackendTest, DirectoriesArePrivate) {
  ASSERT_OK(backend_->Save(ObjectName{ObjectType::kPack, kPackId}, AsBytes("p")));
  for (const char* dir : {"", "/keys", "/data", "/data/ab", "/index", "/versions", "/locks"}) {
    struct stat st;
    ASSERT_EQ(::stat((root_ + dir).c_str(), &st), 0) << root_ + dir;
    EXPECT_TRUE(S_ISDIR(st.st_mode));
    EXPECT_EQ(st.st_mode & 077, 0u) << root_ + dir << " is readable by others";
  }
}

TEST_F(LocalBackendTest, NoTemporaryFileIsLeftBehind) {
  ObjectName pack{ObjectType::kPack, kPackId};
  ObjectName lock{ObjectType::kLock, "l1"};
  ASSERT_OK(backend_->Save(pack, AsBytes("one")));
  EXPECT_TRUE(backend_->Save(pack, AsBytes("two")).IsAlreadyExists());
  auto etag = backend_->Replace(lock, AsBytes("a"), "");
  ASSERT_TRUE(etag.ok()) << etag.status().ToString();
  ASSERT_TRUE(backend_->Replace(lock, AsBytes("b"), *etag).ok());
  EXPECT_EQ(backend_->Replace(lock, AsBytes("c"), *etag).status().code(),
            StatusCode::kPreconditionFailed);
  EXPECT_EQ(TempFilesUnder(root_), std::vector<std::string>{});
}

TEST_F(LocalBackendTest, StaleTemporaryFilesAreIgnored) {
  // What a crash between write and link leaves behind.
  MakeDirs(root_ + "/data/ab");
  for (const std::string& f : {root_ + "/data/ab/.tmp-0123456789abcdef", root_ + "/index/.tmp-x",
                               root_ + "/keys/.tmp-y", root_ + "/locks/.tmp-z"}) {
    WriteFile(f, "partial");
  }
  for (ObjectType t :
       {ObjectType::kPack, ObjectType::kIndex, ObjectType::kKey, ObjectType::kLock}) {
    int n = 0;
    ASSERT_OK(backend_->List(t, [&](const ObjectInfo& info) {
      ++n;
      ADD_FAILURE() << "listed " << info.name.name;
      return Status::OK();
    }));
    EXPECT_EQ(n, 0);
  }
  auto any = backend_->HasAnyObject();
  ASSERT_TRUE(any.ok());
  EXPECT_FALSE(*any);
  // A real object next to them is listed alone.
  ASSERT_OK(backend_->Save(ObjectName{ObjectType::kPack, kPackId}, AsBytes("p")));
  std::vector<std::string> listed;
  ASSERT_OK(backend_->List(ObjectType::kPack, [&](const ObjectInfo& info) {
    listed.push_back(info.name.name);
    return Status::OK();
  }));
  EXPECT_EQ(listed, std::vector<std::string>{kPackId});
}

TEST_F(LocalBackendTest, InvalidNamesAreRefused) {
  for (const ObjectName& name :
       {ObjectName{ObjectType::kKey, ""}, ObjectName{ObjectType::kKey, "../escape"},
        ObjectName{ObjectType::kIndex, "a/b"}, ObjectName{ObjectType::kIndex, ".tmp-x"},
        ObjectName{ObjectType::kPack, "a"}, ObjectName{ObjectType::kLock, "x.flock"}}) {
    EXPECT_EQ(backend_->Save(name, AsBytes("x")).code(), StatusCode::kInvalidArgument) << name.name;
    EXPECT_EQ(backend_->Load(name, 0, 0).status().code(), StatusCode::kInvalidArgument)
        << name.name;
  }
  EXPECT_FALSE(fs::exists(fs::path(root_).parent_path() / "escape"));
  EXPECT_EQ(backend_->TryLock("a/b", std::chrono::seconds(1)).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(LocalBackendMissingTest, AMissingRepositoryIsNotAnEmptyOne) {
  TempDir tmp;
  auto b = LocalBackend::Open(tmp.path() + "/not-there");
  ASSERT_TRUE(b.ok());
  // An unmounted disk must not look like a repository without snapshots.
  Status s = (*b)->List(ObjectType::kIndex, [](const ObjectInfo&) { return Status::OK(); });
  EXPECT_EQ(s.code(), StatusCode::kNotFound) << s.ToString();
  s = (*b)->List(ObjectType::kPack, [](const ObjectInfo&) { return Status::OK(); });
  EXPECT_EQ(s.code(), StatusCode::kNotFound) << s.ToString();
  s = (*b)->List(ObjectType::kConfig, [](const ObjectInfo&) { return Status::OK(); });
  EXPECT_EQ(s.code(), StatusCode::kNotFound) << s.ToString();
  // Writes do not create it behind the user's back.
  EXPECT_EQ((*b)->Save(ObjectName{ObjectType::kPack, kPackId}, AsBytes("x")).code(),
            StatusCode::kNotFound);
  EXPECT_EQ((*b)->Save(ObjectName{ObjectType::kKey, "k"}, AsBytes("x")).code(),
            StatusCode::kNotFound);
  EXPECT_FALSE(fs::exists(tmp.path() + "/not-there"));
  auto any = (*b)->HasAnyObject();
  ASSERT_TRUE(any.ok()) << any.status().ToString();
  EXPECT_FALSE(*any);
}

TEST(LocalBackendMissingTest, CreateMakesParentsAndRefusesAFile) {
  TempDir tmp;
  auto nested = LocalBackend::Open(tmp.path() + "/a/b/repo");
  ASSERT_TRUE(nested.ok());
  ASSERT_OK((*nested)->Create());
  EXPECT_TRUE(fs::is_directory(tmp.path() + "/a/b/repo/keys"));

  WriteFile(tmp.path() + "/file", "x");
  auto file = LocalBackend::Open(tmp.path() + "/file");
  ASSERT_TRUE(file.ok());
  EXPECT_EQ((*file)->Create().code(), StatusCode::kInvalidArgument);
}

TEST(LocalBackendOpenTest, LocationIsAbsoluteAndNormal) {
  auto b = LocalBackend::Open("rel/./repo//");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ((*b)->Location(), (fs::current_path() / "rel/repo").string());
  EXPECT_EQ(LocalBackend::Open("").status().code(), StatusCode::kInvalidArgument);
}

// Kills and reaps a forked child when the test ends, however it ends.
class Child {
 public:
  explicit Child(pid_t pid) : pid_(pid) {}
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }
  // Kills the child with SIGKILL (no cleanup runs in it) and reaps it.
  void KillHard() {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  // Waits for a child that exits by itself; returns its exit code.
  int Wait() {
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

 private:
  pid_t pid_;
};

std::string ReadAll(int fd) {
  std::string out;
  char buf[512];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

TEST_F(LocalBackendTest, AnotherProcessCannotTakeAHeldLockAndLearnsWhoHoldsIt) {
  auto lock = backend_->TryLock("repository", std::chrono::seconds(30));
  ASSERT_TRUE(lock.ok()) << lock.status().ToString();
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    auto r = backend_->TryLock("repository", std::chrono::seconds(30));
    std::string answer = r.ok() ? "OK" : r.error().ToString();
    [[maybe_unused]] ssize_t n = ::write(fds[1], answer.data(), answer.size());
    ::_exit(0);
  }
  Child child(pid);
  ::close(fds[1]);
  std::string answer = ReadAll(fds[0]);
  ::close(fds[0]);
  EXPECT_EQ(child.Wait(), 0);
  EXPECT_TRUE(answer.starts_with(std::string(StatusCodeName(StatusCode::kLocked)) + ":")) << answer;
  EXPECT_NE(answer.find("locked by pid " + std::to_string(::getpid()) + " on host "),
            std::string::npos)
      << answer;
}

TEST_F(LocalBackendTest, TheLockOfAKilledProcessIsReleased) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    auto r = backend_->TryLock("repository", std::chrono::seconds(30));
    char c = r.ok() ? '1' : '0';
    [[maybe_unused]] ssize_t n = ::write(fds[1], &c, 1);
    ::close(fds[1]);
    for (;;) ::pause();  // holds the lock until killed
  }
  Child child(pid);
  ::close(fds[1]);
  std::string answer = ReadAll(fds[0]);
  ::close(fds[0]);
  ASSERT_EQ(answer, "1") << "the child could not take the lock";

  auto blocked = backend_->TryLock("repository", std::chrono::seconds(30));
  ASSERT_FALSE(blocked.ok());
  EXPECT_EQ(blocked.error().code(), StatusCode::kLocked);
  EXPECT_NE(blocked.error().message().find("pid " + std::to_string(child.pid())), std::string::npos)
      << blocked.error().ToString();

  child.KillHard();
  auto taken = backend_->TryLock("repository", std::chrono::seconds(30));
  EXPECT_TRUE(taken.ok()) << "after the holder was killed: " << taken.status().ToString();
}

TEST(PosixErrorTest, MapsErrnoToCodes) {
  const std::string path = "/repo/data/ab/abcd";
  EXPECT_EQ(PosixError(ENOENT, "open", path).code(), StatusCode::kNotFound);
  EXPECT_EQ(PosixError(EACCES, "open", path).code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(PosixError(EPERM, "link", path).code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(PosixError(EROFS, "open", path).code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(PosixError(EEXIST, "link", path).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(PosixError(EDQUOT, "write", path).code(), StatusCode::kNoSpace);

  Status full = PosixError(ENOSPC, "write", path);
  EXPECT_EQ(full.code(), StatusCode::kNoSpace);
  EXPECT_EQ(full.message(), "disk full writing " + path + ": free some space and run again");
  EXPECT_FALSE(full.retryable());

  Status io = PosixError(EIO, "read", path);
  EXPECT_EQ(io.code(), StatusCode::kIOError);
  EXPECT_NE(io.message().find(path), std::string::npos) << io.message();
  EXPECT_NE(io.message().find(ErrnoText(EIO)), std::string::npos) << io.message();
  EXPECT_NE(PosixError(EACCES, "open", path).message().find(path), std::string::npos);
}

TEST_F(LocalBackendTest, ReadOnlyRepositoryGivesPermissionDenied) {
  if (::geteuid() == 0) {
    GTEST_SKIP() << "root ignores directory permissions; PosixErrorTest covers the mapping";
  }
  ASSERT_EQ(::chmod((root_ + "/keys").c_str(), 0500), 0);
  Status s = backend_->Save(ObjectName{ObjectType::kKey, "k"}, AsBytes("x"));
  ::chmod((root_ + "/keys").c_str(), 0700);
  EXPECT_EQ(s.code(), StatusCode::kPermissionDenied) << s.ToString();
}

}  // namespace
}  // namespace cairn::backend
