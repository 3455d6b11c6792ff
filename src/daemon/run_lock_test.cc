// RunLock: a second holder is refused with the first one's pid, and the lock
// goes with its process however it ends.
#include "daemon/run_lock.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/state_dir.h"
#include "testing/assert_ok.h"
#include "testing/temp_dir.h"

namespace cairn::daemon {
namespace {

TEST(RunLock, ASecondHolderIsRefusedNamingTheFirst) {
  testing::TempDir dir;
  const std::string path = dir.Sub("run.lock");
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto lock = RunLock::Acquire(path, "R as device D");
    if (!lock.ok()) _exit(2);
    (void)!write(ready[1], "x", 1);
    pause();
    _exit(0);
  }
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  auto second = RunLock::Acquire(path, "R as device D");
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code(), StatusCode::kLocked);
  EXPECT_NE(second.error().message().find("(pid " + std::to_string(pid) + ")"), std::string::npos)
      << second.error().message();
  EXPECT_NE(second.error().message().find("already protecting R as device D"), std::string::npos);
  // Killed: the kernel releases it.
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  close(ready[0]);
  close(ready[1]);
  auto third = RunLock::Acquire(path, "R as device D");
  EXPECT_OK(third);
}

TEST(RunLock, ReleasedWhenDestroyed) {
  testing::TempDir dir;
  {
    auto lock = RunLock::Acquire(dir.Sub("l"), "x");
    ASSERT_OK(lock);
  }
  EXPECT_OK(RunLock::Acquire(dir.Sub("l"), "x"));
}

TEST(StateDir, XdgStateHomeElseHome) {
  auto env = [](const char* xdg) {
    return [xdg](const char* name) -> const char* {
      return std::string(name) == "XDG_STATE_HOME" ? xdg : nullptr;
    };
  };
  EXPECT_EQ(StateDir(env("/st"), "/home/u"), "/st/cairn");
  EXPECT_EQ(StateDir(env(nullptr), "/home/u"), "/home/u/.local/state/cairn");
  EXPECT_EQ(StateDir(env("relative"), "/home/u"), "/home/u/.local/state/cairn");
  EXPECT_EQ(StateDir(env(nullptr), ""), "");  // no home: nowhere
  EXPECT_EQ(StateDir(env(nullptr), "relative"), "");
}

TEST(StateDir, StemsAreStableAndDistinct) {
  EXPECT_EQ(StateFileStem("/r", "d"), StateFileStem("/r", "d"));
  EXPECT_NE(StateFileStem("/r", "d"), StateFileStem("/r", "e"));
  EXPECT_NE(StateFileStem("/r", "d"), StateFileStem("/r2", "d"));
  // The separator keeps ("ab", "c") apart from ("a", "bc").
  EXPECT_NE(StateFileStem("ab", "c"), StateFileStem("a", "bc"));
  EXPECT_EQ(StateFileStem("/r", "d").size(), 4u + 16u);
  // Fixed: a changed hash would orphan every user's queue.
  EXPECT_EQ(StateFileStem("", ""), "run-af63bd4c8601b7df");
}

TEST(StateDir, MakeStateDirCreatesParentsPrivately) {
  testing::TempDir dir;
  const std::string d = dir.Sub("a/b/cairn");
  ASSERT_OK(MakeStateDir(d));
  struct stat st;
  ASSERT_EQ(::stat(d.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_OK(MakeStateDir(d));  // already there
  EXPECT_FALSE(MakeStateDir("relative").ok());
}

}  // namespace
}  // namespace cairn::daemon
