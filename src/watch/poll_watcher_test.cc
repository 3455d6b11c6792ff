// PollWatcher (and TreePoller under it) on real files.
#include "watch/poll_watcher.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "testing/assert_ok.h"
#include "testing/file_util.h"
#include "testing/temp_dir.h"
#include "watch/watch_test_util.h"

namespace cairn::watch {
namespace {

using cairn::testing::MakeDirs;
using cairn::testing::TempDir;
using cairn::testing::WriteFile;
using std::chrono::milliseconds;
using testing::Collected;
using testing::CollectUntil;

WatchOptions Fast() {
  WatchOptions o;
  o.poll_interval = milliseconds(20);
  return o;
}

// Sets a file's mtime to a fixed value, so that content changes of the same
// size within one timestamp tick are still told apart by ctime and inode.
void SetMtime(const std::string& path, time_t sec) {
  struct timespec times[2] = {{sec, 0}, {sec, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW), 0);
}

TEST(PollWatcherTest, CreateModifyChmodDelete) {
  TempDir tmp;
  WriteFile(tmp.Sub("old.txt"), "old");
  PollWatcher w(Fast());
  ASSERT_OK(w.AddRoot(tmp.path()));
  const std::string f = tmp.Sub("a.txt");

  Collected c;
  WriteFile(f, "one");
  ASSERT_TRUE(CollectUntil(w, c, [&](const Collected& c) { return c.Has(EventKind::kChanged, f); }))
      << c.Dump();
  EXPECT_FALSE(c.Mentions(tmp.Sub("old.txt"))) << "unchanged since AddRoot: " << c.Dump();

  c = {};
  cairn::testing::AppendFile(f, "two");
  ASSERT_TRUE(CollectUntil(w, c, [&](const Collected& c) { return c.Has(EventKind::kChanged, f); }))
      << c.Dump();

  c = {};
  ASSERT_EQ(::chmod(f.c_str(), 0600), 0);  // ctime only
  ASSERT_TRUE(CollectUntil(w, c, [&](const Collected& c) { return c.Has(EventKind::kChanged, f); }))
      << c.Dump();

  c = {};
  ASSERT_EQ(::unlink(f.c_str()), 0);
  ASSERT_TRUE(CollectUntil(w, c, [&](const Collected& c) { return c.Has(EventKind::kRemoved, f); }))
      << c.Dump();
}

TEST(PollWatcherTest, ReplacedByRenameWithSameSizeAndMtimeIsAChange) {
  TempDir tmp;
  WriteFile(tmp.Sub("doc"), "aaaa");
  SetMtime(tmp.Sub("doc"), 1'000'000);
  PollWatcher w(Fast());
  ASSERT_OK(w.AddRoot(tmp.path()));

  WriteFile(tmp.Sub("doc.new"), "bbbb");
  SetMtime(tmp.Sub("doc.new"), 1'000'000);
  ASSERT_EQ(::rename(tmp.Sub("doc.new").c_str(), tmp.Sub("doc").c_str()), 0);
  Collected c;
  ASSERT_TRUE(CollectUntil(w, c, [&](const Collected& c) {
    return c.Has(EventKind::kChanged, tmp.Sub("doc"));
  })) << c.Dump();
}

TEST(PollWatcherTest, NewTreeAndRemovedTree) {
  TempDir tmp;
  WriteFile(tmp.Sub("gone/x/y.txt"), "y");
  PollWatcher w(Fast());
  ASSERT_OK(w.AddRoot(tmp.path()));

  WriteFile(tmp.Sub("new/deep/z.txt"), "z");
  std::filesystem::remove_all(tmp.Sub("gone"));
  Collected c;
  ASSERT_TRUE(CollectUntil(w, c, [&](const Collected& c) {
    return c.Has(EventKind::kChanged, tmp.Sub("new/deep/z.txt")) &&
           c.Has(EventKind::kRemoved, tmp.Sub("gone"));
  })) << c.Dump();
  EXPECT_TRUE(c.Has(EventKind::kChanged, tmp.Sub("new")));
  EXPECT_TRUE(c.Has(EventKind::kChanged, tmp.Sub("new/deep")));
  // One removal for the folder, none for what was in it.
  EXPECT_FALSE(c.Has(EventKind::kRemoved, tmp.Sub("gone/x"))) << c.Dump();
  EXPECT_FALSE(c.Has(EventKind::kRemoved, tmp.Sub("gone/x/y.txt"))) << c.Dump();
}

TEST(PollWatcherTest, RootRemovedIsOneRemoval) {
  TempDir tmp;
  WriteFile(tmp.Sub("root/a/b"), "b");
  PollWatcher w(Fast());
  ASSERT_OK(w.AddRoot(tmp.Sub("root")));
  std::filesystem::remove_all(tmp.Sub("root"));
  Collected c;
  ASSERT_TRUE(CollectUntil(w, c, [&](const Collected& c) {
    return c.Has(EventKind::kRemoved, tmp.Sub("root"));
  })) << c.Dump();
  EXPECT_EQ(c.events.size(), 1u) << c.Dump();
}

TEST(PollWatcherTest, ExcludedPathsAreNotReported) {
  TempDir tmp;
  MakeDirs(tmp.Sub("repo"));
  WatchOptions o = Fast();
  o.excluded_prefixes = {tmp.Sub("repo")};
  o.exclude = [](std::string_view path, bool) { return path.ends_with(".swp"); };
  PollWatcher w(o);
  ASSERT_OK(w.AddRoot(tmp.path()));
  WriteFile(tmp.Sub("repo/pack"), "p");
  WriteFile(tmp.Sub(".notes.swp"), "s");
  WriteFile(tmp.Sub("kept"), "k");
  Collected c;
  ASSERT_TRUE(CollectUntil(w, c, [&](const Collected& c) {
    return c.Has(EventKind::kChanged, tmp.Sub("kept"));
  })) << c.Dump();
  EXPECT_FALSE(c.Mentions(tmp.Sub("repo/pack"))) << c.Dump();
  EXPECT_FALSE(c.Mentions(tmp.Sub(".notes.swp"))) << c.Dump();
}

TEST(PollWatcherTest, NestedRootsAndRemoveRoot) {
  TempDir tmp;
  MakeDirs(tmp.Sub("a/b"));
  PollWatcher w(Fast());
  ASSERT_OK(w.AddRoot(tmp.Sub("a/b")));
  ASSERT_OK(w.AddRoot(tmp.Sub("a")));
  EXPECT_EQ(w.Stats().polled_trees, 1u);
  ASSERT_OK(w.RemoveRoot(tmp.Sub("a")));
  EXPECT_EQ(w.Stats().polled_trees, 1u);  // a/b on its own again
  EXPECT_EQ(w.RemoveRoot(tmp.Sub("a")).code(), StatusCode::kNotFound);

  WriteFile(tmp.Sub("a/x"), "x");
  WriteFile(tmp.Sub("a/b/y"), "y");
  Collected c;
  ASSERT_TRUE(CollectUntil(w, c, [&](const Collected& c) {
    return c.Has(EventKind::kChanged, tmp.Sub("a/b/y"));
  })) << c.Dump();
  EXPECT_FALSE(c.Mentions(tmp.Sub("a/x"))) << c.Dump();
}

TEST(PollWatcherTest, WakeAndStopEndAWait) {
  TempDir tmp;
  WatchOptions o;
  o.poll_interval = std::chrono::hours(1);
  PollWatcher w(o);
  ASSERT_OK(w.AddRoot(tmp.path()));
  {
    std::jthread waker([&] {
      std::this_thread::sleep_for(milliseconds(50));
      w.Wake();
    });
    ASSERT_OK(w.Wait(std::chrono::hours(1)));
  }
  std::stop_source stop;
  std::jthread stopper([&] {
    std::this_thread::sleep_for(milliseconds(50));
    stop.request_stop();
  });
  ASSERT_OK(w.Wait(std::chrono::hours(1), stop.get_token()));
}

}  // namespace
}  // namespace cairn::watch
