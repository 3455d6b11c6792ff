// InotifyWatcher on real files in temporary folders: real inotify events,
// no mocks. Waits are on the watcher with generous limits; nothing asserts
// on timing.
#include "watch/inotify_watcher.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <thread>

#include "base/errno_status.h"
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

std::unique_ptr<InotifyWatcher> MakeWatcher(WatchOptions options = {}) {
  Result<std::unique_ptr<InotifyWatcher>> w = InotifyWatcher::Create(std::move(options));
  EXPECT_OK(w);
  return w.ok() ? std::move(w).value() : nullptr;
}

void Rename(const std::string& from, const std::string& to) {
  ASSERT_EQ(::rename(from.c_str(), to.c_str()), 0)
      << from << " -> " << to << ": " << ErrnoText(errno);
}

// Writes a sentinel file in `dir` and waits for its event: since events come
// in order, whatever the watcher was going to say about earlier changes has
// been said by then.
void Settle(Watcher& w, Collected& c, const std::string& dir) {
  static int n = 0;
  const std::string sentinel = dir + "/sentinel-" + std::to_string(++n);
  WriteFile(sentinel, "s");
  EXPECT_TRUE(CollectUntil(w, c, [&](const Collected& c) {
    return c.Has(EventKind::kChanged, sentinel);
  })) << c.Dump();
}

TEST(InotifyWatcherTest, CreateModifyDelete) {
  TempDir tmp;
  auto w = MakeWatcher();
  ASSERT_TRUE(w);
  ASSERT_OK(w->AddRoot(tmp.path()));
  const std::string f = tmp.Sub("a.txt");
  Collected c;

  WriteFile(f, "one");
  ASSERT_TRUE(CollectUntil(*w, c, [&](const Collected& c) {
    return c.Has(EventKind::kChanged, f);
  })) << c.Dump();

  c = {};
  cairn::testing::AppendFile(f, "two");
  ASSERT_TRUE(CollectUntil(*w, c, [&](const Collected& c) {
    return c.Has(EventKind::kChanged, f);
  })) << c.Dump();

  c = {};
  ASSERT_EQ(::chmod(f.c_str(), 0600), 0);
  ASSERT_TRUE(CollectUntil(*w, c, [&](const Collected& c) {
    return c.Has(EventKind::kChanged, f);
  })) << c.Dump();

  c = {};
  ASSERT_EQ(::unlink(f.c_str()), 0);
  ASSERT_TRUE(CollectUntil(*w, c, [&](const Collected& c) {
    return c.Has(EventKind::kRemoved, f);
  })) << c.Dump();
  const WatchEvent& last = c.events.back();
  EXPECT_EQ(last.kind, EventKind::kRemoved);
  EXPECT_FALSE(last.is_dir);
}

TEST(InotifyWatcherTest, RemovingAFolderIsOneRemovalOfAFolder) {
  TempDir tmp;
  MakeDirs(tmp.Sub("d/e"));
  WriteFile(tmp.Sub("d/e/f"), "x");
  auto w = MakeWatcher();
  ASSERT_TRUE(w);
  ASSERT_OK(w->AddRoot(tmp.path()));
  EXPECT_EQ(w->Stats().watches, 3u);

  std::filesystem::remove_all(tmp.Sub("d"));
  Collected c;
  ASSERT_TRUE(CollectUntil(*w, c, [&](const Collected& c) {
    return c.Has(EventKind::kRemoved, tmp.Sub("d"));
  })) << c.Dump();
  auto it = std::find_if(c.events.begin(), c.events.end(),
                         [&](const WatchEvent& e) { return e.path == tmp.Sub("d"); });
  EXPECT_TRUE(it->is_dir);
  Settle(*w, c, tmp.path());
  EXPECT_EQ(w->Stats().watches, 1u) << "the removed folders' watches are dropped";
}

// The classic race: files written into a folder before its watch exists.
TEST(InotifyWatcherTest, NewFolderFilesWrittenAtOnceAreAllReported) {
  TempDir tmp;
  auto w = MakeWatcher();
  ASSERT_TRUE(w);
  ASSERT_OK(w->AddRoot(tmp.path()));

  // A writer that never waits for the watcher, while it is waiting.
  std::vector<std::string> files;
  for (int d = 0; d < 20; ++d) {
    for (int f = 0; f < 20; ++f) {
      files.push_back(tmp.Sub("n" + std::to_string(d) + "/sub/f" + std::to_string(f)));
    }
  }
  std::jthread writer([&] {
    for (const std::string& f : files) WriteFile(f, "data");  // makes the folders too
  });
  Collected c;
  const bool all = CollectUntil(*w, c, [&](const Collected& c) {
    return std::all_of(files.begin(), files.end(),
                       [&](const std::string& f) { return c.Has(EventKind::kChanged, f); });
  });
  writer.join();
  ASSERT_TRUE(all) << c.Dump();
  EXPECT_TRUE(c.Has(EventKind::kChanged, tmp.Sub("n0")));
  EXPECT_TRUE(c.Has(EventKind::kChanged, tmp.Sub("n0/sub")));
  // Every new folder is watched: later writes in them are seen.
  c = {};
  WriteFile(tmp.Sub("n19/sub/f0"), "again");
  ASSERT_TRUE(CollectUntil(*w, c, [&](const Collected& c) {
    return c.Has(EventKind::kChanged, tmp.Sub("n19/sub/f0"));
  })) << c.Dump();
  EXPECT_EQ(w->Stats().watches, 41u);
}

TEST(InotifyWatcherTest, MkdirPDeepTreeThenFiles) {
  TempDir tmp;
  auto w = MakeWatcher();
  ASSERT_TRUE(w);
  ASSERT_OK(w->AddRoot(tmp.path()));
  std::string deep = tmp.path();
  std::vector<std::string> dirs;
  for (int i = 0; i < 12; ++i) {
    deep += "/d" + std::to_string(i);
    dirs.push_back(deep);
  }
  MakeDirs(deep);
  WriteFile(deep + "/leaf.txt", "leaf");
  WriteFile(dirs[3] + "/mid.txt", "mid");
  Collected c;
  ASSERT_TRUE(CollectUntil(*w, c, [&](const Collected& c) {
    return c.Has(EventKind::kChanged, deep + "/leaf.txt") &&
           c.Has(EventKind::kChanged, dirs[3] + "/mid.txt");
  })) << c.Dump();
  for (const std::string& d : dirs) EXPECT_TRUE(c.Has(EventKind::kChanged, d)) << d;

  c = {};
  cairn::testing::AppendFile(deep + "/leaf.txt", "more");
  ASSERT_TRUE(CollectUntil(*w, c, [&](const Collected& c) {
    return c.Has(EventKind::kChanged, deep + "/leaf.txt");
  })) << c.Dump();
}

TEST(InotifyWatcherTest, RenameWithinTheTreeIsAMove) {
  TempDir tmp;
  WriteFile(tmp.Sub("a/x.txt"), "x");
  MakeDirs(tmp.Sub("b"));
  auto w = MakeWatcher();
  ASSERT_TRUE(w);
  ASSERT_OK(w->AddRoot(tmp.path()));

  Rename(tmp.Sub("a/x.txt"), tmp.Sub("b/y.txt"));
  Collected c;
  ASSERT_TRUE(CollectUntil(*w, c, [&](const Collected& c) {
    return c.Has(EventKind::kMoved, tmp.Sub("a/x.txt"), tmp.Sub("b/y.txt"));
  })) << c.Dump();
  EXPECT_FALSE(c.Has(EventKind::kRemoved, tmp.Sub("a/x.txt"))) << c.Dump();
}

TEST(InotifyWatcherTest, RenamedFolderTakesItsChildrenAlong) {
  TempDir tmp;
  WriteFile(tmp.Sub("x/y/f.txt"), "f");
  auto w = MakeWatcher();
  ASSERT_TRUE(w);
  ASSERT_OK(w->AddRoot(tmp.path()));

  Rename(tmp.Sub("x"), tmp.Sub("z"));
  Collected c;
  ASSERT_TRUE(CollectUntil(*w, c, [&](const Collected& c) {
    return c.Has(EventKind::kMoved, tmp.Sub("x"), tmp.Sub("z"));
  })) << c.Dump();
  EXPECT_TRUE(c.events.back().is_dir);

  // The watches below follow the folder: events name the new paths.
  c = {};
  cairn::testing::AppendFile(tmp.Sub("z/y/f.txt"), "more");
  WriteFile(tmp.Sub("z/y/new.txt"), "new");
  ASSERT_TRUE(CollectUntil(*w, c, [&](const Collected& c) {
    return c.Has(EventKind::kChanged, tmp.Sub("z/y/f.txt")) &&
           c.Has(EventKind::kChanged, tmp.Sub("z/y/new.txt"));
  })) << c.Dump();
  EXPECT_FALSE(c.Mentions(tmp.Sub("x"))) << c.Dump();
}

TEST(InotifyWatcherTest, FolderMovedInIsReportedWithEverythingInIt) {
  TempDir tmp;
  TempDir outside;
  MakeDirs(tmp.Sub("root"));
  WriteFile(outside.Sub("pack/a.txt"), "a");
  WriteFile(outside.Sub("pack/sub/b.txt"), "b");
  auto w = MakeWatcher();
  ASSERT_TRUE(w);
  ASSERT_OK(w->AddRoot(tmp.Sub("root")));

  Rename(outside.Sub("pack"), tmp.Sub("root/pack"));
  Collected c;
  ASSERT_TRUE(CollectUntil(*w, c, [&](const Collected& c) {
    return c.Has(EventKind::kChanged, tmp.Sub("root/pack")) &&
           c.Has(EventKind::kChanged, tmp.Sub("root/pack/a.txt")) &&
           c.Has(EventKind::kChanged, tmp.Sub("root/pack/sub")) &&
           c.Has(EventKind::kChanged, tmp.Sub("root/pack/sub/b.txt"));
  })) << c.Dump();

  c = {};
  WriteFile(tmp.Sub("root/pack/sub/c.txt"), "c");
  ASSERT_TRUE(CollectUntil(*w, c, [&](const Collected& c) {
    return c.Has(EventKind::kChanged, tmp.Sub("root/pack/sub/c.txt"));
  })) << c.Dump();
}

TEST(InotifyWatcherTest, FolderMovedOutIsARemovalAndNoLongerWatched) {
  TempDir tmp;
  TempDir outside;
  WriteFile(tmp.Sub("root/gone/a.txt"), "a");
  WriteFile(tmp.Sub("root/file.txt"), "f");
  auto w = MakeWatcher();
  ASSERT_TRUE(w);
  ASSERT_OK(w->AddRoot(tmp.Sub("root")));

  Rename(tmp.Sub("root/gone"), outside.Sub("gone"));
  Rename(tmp.Sub("root/file.txt"), outside.Sub("file.txt"));
  Collected c;
  ASSERT_TRUE(CollectUntil(*w, c, [&](const Collected& c) {
    return c.Has(EventKind::kRemoved, tmp.Sub("root/gone")) &&
           c.Has(EventKind::kRemoved, tmp.Sub("root/file.txt"));
  })) << c.Dump();
  EXPECT_EQ(w->Stats().watches, 1u);

  // What happens to it over there is none of the watcher's business.
  WriteFile(outside.Sub("gone/b.txt"), "b");
  Settle(*w, c, tmp.Sub("root"));
  EXPECT_FALSE(c.Mentions(outside.path())) << c.Dump();
  EXPECT_FALSE(c.Has(EventKind::kChanged, tmp.Sub("root/gone/b.txt"))) << c.Dump();
}

// A removal, then a new file at the same path: the order must hold, even
// though the removal (an unpaired rename) is only known after a wait.
TEST(InotifyWatcherTest, MoveOutThenRecreateKeepsTheOrder) {
  TempDir tmp;
  TempDir outside;
  WriteFile(tmp.Sub("doc.txt"), "old");
  auto w = MakeWatcher();
  ASSERT_TRUE(w);
  ASSERT_OK(w->AddRoot(tmp.path()));

  Rename(tmp.Sub("doc.txt"), outside.Sub("doc.txt"));
  WriteFile(tmp.Sub("doc.txt"), "new");
  Collected c;
  Settle(*w, c, tmp.path());
  auto removed = std::find(c.events.begin(), c.events.end(),
                           WatchEvent{EventKind::kRemoved, tmp.Sub("doc.txt"), "", false});
  auto created = std::find(c.events.begin(), c.events.end(),
                           WatchEvent{EventKind::kChanged, tmp.Sub("doc.txt"), "", false});
  ASSERT_NE(removed, c.events.end()) << c.Dump();
  ASSERT_NE(created, c.events.end()) << c.Dump();
  EXPECT_LT(removed, created) << c.Dump();
}

TEST(InotifyWatcherTest, ExcludedPrefixIsNeitherWatchedNorReported) {
  TempDir tmp;
  MakeDirs(tmp.Sub("repo/data/00"));
  MakeDirs(tmp.Sub("docs"));
  WatchOptions options;
  options.excluded_prefixes = {tmp.Sub("repo")};
  auto w = MakeWatcher(options);
  ASSERT_TRUE(w);
  ASSERT_OK(w->AddRoot(tmp.path()));
  EXPECT_EQ(w->Stats().watches, 2u);  // the root and docs

  WriteFile(tmp.Sub("repo/data/00/pack"), "p");
  MakeDirs(tmp.Sub("repo/new/deep"));
  WriteFile(tmp.Sub("repo/new/deep/x"), "x");
  ASSERT_EQ(::unlink(tmp.Sub("repo/data/00/pack").c_str()), 0);
  Collected c;
  Settle(*w, c, tmp.Sub("docs"));
  EXPECT_FALSE(c.Mentions(tmp.Sub("repo"))) << c.Dump();
  EXPECT_EQ(w->Stats().watches, 2u);

  EXPECT_EQ(w->AddRoot(tmp.Sub("repo/data")).code(), StatusCode::kInvalidArgument);
}

TEST(InotifyWatcherTest, ExcludePredicateAndAnEditorsTempFileSave) {
  TempDir tmp;
  WriteFile(tmp.Sub("notes.txt"), "v1");
  WatchOptions options;
  options.exclude = [](std::string_view path, bool is_dir) {
    auto ends = [&](std::string_view s) {
      return path.size() >= s.size() && path.substr(path.size() - s.size()) == s;
    };
    return ends(".tmp") || (is_dir && ends("/.git"));
  };
  auto w = MakeWatcher(options);
  ASSERT_TRUE(w);
  ASSERT_OK(w->AddRoot(tmp.path()));

  // Write a temporary file, then rename it over the real one.
  WriteFile(tmp.Sub("notes.txt.tmp"), "v2");
  Rename(tmp.Sub("notes.txt.tmp"), tmp.Sub("notes.txt"));
  WriteFile(tmp.Sub(".git/objects/ab"), "blob");
  Collected c;
  ASSERT_TRUE(CollectUntil(*w, c, [&](const Collected& c) {
    return c.Has(EventKind::kChanged, tmp.Sub("notes.txt"));
  })) << c.Dump();
  Settle(*w, c, tmp.path());
  EXPECT_FALSE(c.Mentions(tmp.Sub("notes.txt.tmp"))) << c.Dump();
  EXPECT_FALSE(c.Mentions(tmp.Sub(".git"))) << c.Dump();
  EXPECT_FALSE(c.Has(EventKind::kRemoved, tmp.Sub("notes.txt"))) << c.Dump();
}

TEST(InotifyWatcherTest, SymlinkedFolderIsNotFollowed) {
  TempDir tmp;
  TempDir outside;
  MakeDirs(outside.Sub("target"));
  ASSERT_EQ(::symlink(outside.Sub("target").c_str(), tmp.Sub("link").c_str()), 0);
  auto w = MakeWatcher();
  ASSERT_TRUE(w);
  ASSERT_OK(w->AddRoot(tmp.path()));
  EXPECT_EQ(w->Stats().watches, 1u);
  WriteFile(outside.Sub("target/x"), "x");
  Collected c;
  Settle(*w, c, tmp.path());
  EXPECT_FALSE(c.Mentions(tmp.Sub("link/x"))) << c.Dump();
}

TEST(InotifyWatcherTest, RemoveRootStopsEvents) {
  TempDir tmp;
  MakeDirs(tmp.Sub("a/b"));
  MakeDirs(tmp.Sub("other"));
  auto w = MakeWatcher();
  ASSERT_TRUE(w);
  ASSERT_OK(w->AddRoot(tmp.Sub("a")));
  ASSERT_OK(w->AddRoot(tmp.Sub("a/b")));  // covered by a
  ASSERT_OK(w->AddRoot(tmp.Sub("other")));
  EXPECT_EQ(w->Stats().watches, 3u);
  ASSERT_OK(w->RemoveRoot(tmp.Sub("a")));
  EXPECT_EQ(w->Stats().watches, 2u) << "a/b is still a root";
  EXPECT_EQ(w->RemoveRoot(tmp.Sub("a")).code(), StatusCode::kNotFound);

  WriteFile(tmp.Sub("a/x"), "x");
  WriteFile(tmp.Sub("a/b/y"), "y");
  Collected c;
  Settle(*w, c, tmp.Sub("other"));
  EXPECT_FALSE(c.Has(EventKind::kChanged, tmp.Sub("a/x"))) << c.Dump();
  EXPECT_TRUE(c.Has(EventKind::kChanged, tmp.Sub("a/b/y"))) << c.Dump();
}

TEST(InotifyWatcherTest, AddRootErrors) {
  TempDir tmp;
  WriteFile(tmp.Sub("file"), "f");
  auto w = MakeWatcher();
  ASSERT_TRUE(w);
  EXPECT_EQ(w->AddRoot("relative/path").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(w->AddRoot(tmp.Sub("missing")).code(), StatusCode::kNotFound);
  EXPECT_EQ(w->AddRoot(tmp.Sub("file")).code(), StatusCode::kIOError);
  EXPECT_OK(w->AddRoot(tmp.path() + "/./"));
  EXPECT_OK(w->RemoveRoot(tmp.path()));
}

// A real overflow: more events than the kernel's queue holds, made while
// nobody reads. Also a folder made meanwhile, whose creation event is lost:
// the rescan must still give it a watch.
TEST(InotifyWatcherTest, QueueOverflowRescansEveryRootAndSaysSoOnce) {
  std::FILE* f = std::fopen("/proc/sys/fs/inotify/max_queued_events", "r");
  unsigned long long queued = 0;
  if (f) {
    if (std::fscanf(f, "%llu", &queued) != 1) queued = 0;
    std::fclose(f);
  }
  if (queued == 0 || queued > 200'000) GTEST_SKIP() << "max_queued_events " << queued;

  TempDir tmp;
  MakeDirs(tmp.Sub("burst"));
  MakeDirs(tmp.Sub("second"));
  auto w = MakeWatcher();
  ASSERT_TRUE(w);
  ASSERT_OK(w->AddRoot(tmp.Sub("burst")));
  ASSERT_OK(w->AddRoot(tmp.Sub("second")));
  // Each file gives IN_CREATE and IN_CLOSE_WRITE: half the queue's size in
  // files, and some more, overflows it.
  const unsigned long long files = queued / 2 + 2000;
  for (unsigned long long i = 0; i < files; ++i) {
    const std::string p = tmp.Sub("burst/f" + std::to_string(i));
    const int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0) << ErrnoText(errno);
    ::close(fd);
  }
  MakeDirs(tmp.Sub("burst/late"));

  Collected c;
  ASSERT_TRUE(CollectUntil(*w, c, [&](const Collected& c) {
    return c.Has(EventKind::kRescan, tmp.Sub("burst")) &&
           c.Has(EventKind::kRescan, tmp.Sub("second"));
  })) << c.notices.size();
  EXPECT_TRUE(c.NoticeContains("overflowed")) << c.Dump();
  EXPECT_TRUE(c.NoticeContains("sudo sysctl fs.inotify.max_queued_events="));
  EXPECT_GE(w->Stats().overflows, 1u);

  c = {};
  WriteFile(tmp.Sub("burst/late/x"), "x");
  ASSERT_TRUE(CollectUntil(*w, c, [&](const Collected& c) {
    return c.Has(EventKind::kChanged, tmp.Sub("burst/late/x"));
  })) << c.Dump();
}

// struct inotify_event records as the kernel lays them out.
std::vector<uint8_t> Record(int wd, uint32_t mask, std::string_view name = "") {
  struct inotify_event ev {};
  ev.wd = wd;
  ev.mask = mask;
  ev.len = name.empty() ? 0 : static_cast<uint32_t>((name.size() + 1 + 15) / 16 * 16);
  std::vector<uint8_t> out(sizeof ev + ev.len, 0);
  std::memcpy(out.data(), &ev, sizeof ev);
  std::memcpy(out.data() + sizeof ev, name.data(), name.size());
  return out;
}

TEST(InotifyWatcherTest, SyntheticOverflowRecordsGiveRescansAndOneNotice) {
  TempDir tmp;
  MakeDirs(tmp.Sub("a"));
  MakeDirs(tmp.Sub("b"));
  auto w = MakeWatcher();
  ASSERT_TRUE(w);
  ASSERT_OK(w->AddRoot(tmp.Sub("a")));
  ASSERT_OK(w->AddRoot(tmp.Sub("b")));

  w->HandleRecordsForTest(Record(-1, IN_Q_OVERFLOW));
  Result<WatchBatch> batch = w->Wait(milliseconds(0));
  ASSERT_OK(batch);
  EXPECT_EQ(batch->events, (std::vector<WatchEvent>{{EventKind::kRescan, tmp.Sub("a"), "", true},
                                                    {EventKind::kRescan, tmp.Sub("b"), "", true}}));
  ASSERT_EQ(batch->notices.size(), 1u);
  EXPECT_EQ(batch->notices[0].level, WatchNotice::Level::kWarning);

  w->HandleRecordsForTest(Record(-1, IN_Q_OVERFLOW));
  batch = w->Wait(milliseconds(0));
  ASSERT_OK(batch);
  EXPECT_EQ(batch->events.size(), 2u);
  EXPECT_TRUE(batch->notices.empty()) << "said once";
  EXPECT_EQ(w->Stats().overflows, 2u);
}

// The watch limit, set low: the folders are counted first, the notice
// names the exact command, the nearest folders are watched and the rest
// rescanned periodically.
TEST(InotifyWatcherTest, WatchLimitSaysHowToRaiseItAndRescansTheRest) {
  TempDir tmp;
  MakeDirs(tmp.Sub("a/deep/deeper"));
  MakeDirs(tmp.Sub("b/deep"));
  MakeDirs(tmp.Sub("c"));
  // 7 folders: the root, a, b, c, a/deep, b/deep, a/deep/deeper.
  WatchOptions options;
  options.max_watches = 4;
  options.rescan_interval = milliseconds(200);
  auto w = MakeWatcher(options);
  ASSERT_TRUE(w);
  ASSERT_OK(w->AddRoot(tmp.path()));
  EXPECT_EQ(w->Stats().watches, 4u);
  EXPECT_EQ(w->Stats().polled_trees, 2u);  // a/deep and b/deep, nearest first

  Collected c;
  WriteFile(tmp.Sub("c/near.txt"), "n");
  WriteFile(tmp.Sub("a/deep/deeper/far.txt"), "f");
  ASSERT_TRUE(CollectUntil(*w, c, [&](const Collected& c) {
    return c.Has(EventKind::kChanged, tmp.Sub("c/near.txt")) &&
           c.Has(EventKind::kRescan, tmp.Sub("a/deep")) &&
           c.Has(EventKind::kRescan, tmp.Sub("b/deep"));
  })) << c.Dump();
  ASSERT_EQ(c.notices.size(), 1u) << c.Dump();
  EXPECT_EQ(c.notices[0].text,
            "cairn needs 7 inotify watches (one per folder) but fs.inotify.max_user_watches is 4: "
            "the folders beyond the limit are rescanned every 200 ms instead of watched, so their "
            "changes are found later, never lost. To watch every folder, run `sudo sysctl "
            "fs.inotify.max_user_watches=65536`, and to keep it after a reboot `echo "
            "fs.inotify.max_user_watches=65536 | sudo tee /etc/sysctl.d/90-cairn-inotify.conf` "
            "(other programs' watches count against the same limit; a watch takes about 1 KiB of "
            "kernel memory). cairn sees the new limit within 200 ms, without a restart.");
  EXPECT_FALSE(c.Mentions(tmp.Sub("a/deep/deeper/far.txt"))) << "not watched: rescanned";

  // Again and again, and said only once.
  c = {};
  ASSERT_TRUE(CollectUntil(*w, c, [&](const Collected& c) {
    return c.Has(EventKind::kRescan, tmp.Sub("a/deep"));
  })) << c.Dump();
  EXPECT_TRUE(c.notices.empty()) << c.Dump();

  // Room made (watched folders removed): the rest gets watched, and the
  // notice says so.
  std::filesystem::remove_all(tmp.Sub("b"));
  std::filesystem::remove_all(tmp.Sub("c"));
  ASSERT_TRUE(CollectUntil(*w, c, [&](const Collected& c) {
    return c.NoticeContains("every watched folder has its inotify watch");
  })) << c.Dump();
}

TEST(InotifyWatcherTest, WatchLimitNumbers) {
  EXPECT_EQ(RecommendedWatchLimit(7), 65536u);
  EXPECT_EQ(RecommendedWatchLimit(52428), 65536u);   // 65535 with a quarter more
  EXPECT_EQ(RecommendedWatchLimit(52432), 131072u);  // 65540
  EXPECT_EQ(RecommendedWatchLimit(100'000), 131072u);
  EXPECT_EQ(RecommendedWatchLimit(1'000'000), 1'310'720u);
  EXPECT_EQ(FormatInterval(std::chrono::minutes(5)), "5 minutes");
  EXPECT_EQ(FormatInterval(std::chrono::seconds(60)), "1 minute");
  EXPECT_EQ(FormatInterval(std::chrono::seconds(90)), "90 seconds");
  EXPECT_EQ(FormatInterval(std::chrono::seconds(1)), "1 second");
}

TEST(InotifyWatcherTest, RootRemovedThenBack) {
  TempDir tmp;
  WriteFile(tmp.Sub("root/a.txt"), "a");
  WatchOptions options;
  options.rescan_interval = milliseconds(100);
  auto w = MakeWatcher(options);
  ASSERT_TRUE(w);
  ASSERT_OK(w->AddRoot(tmp.Sub("root")));

  std::filesystem::remove_all(tmp.Sub("root"));
  Collected c;
  ASSERT_TRUE(CollectUntil(*w, c, [&](const Collected& c) {
    return c.Has(EventKind::kRemoved, tmp.Sub("root"));
  })) << c.Dump();
  EXPECT_TRUE(c.NoticeContains(tmp.Sub("root") + " was removed")) << c.Dump();
  EXPECT_EQ(w->Stats().watches, 0u);

  WriteFile(tmp.Sub("root/b.txt"), "b");
  c = {};
  ASSERT_TRUE(CollectUntil(*w, c, [&](const Collected& c) {
    return c.Has(EventKind::kRescan, tmp.Sub("root"));
  })) << c.Dump();
  EXPECT_TRUE(c.NoticeContains("is back")) << c.Dump();
  c = {};
  WriteFile(tmp.Sub("root/c.txt"), "c");
  ASSERT_TRUE(CollectUntil(*w, c, [&](const Collected& c) {
    return c.Has(EventKind::kChanged, tmp.Sub("root/c.txt"));
  })) << c.Dump();
}

// A real unmount under a root (needs the right to mount: root here; skipped
// elsewhere).
TEST(InotifyWatcherTest, UnmountUnderARootRescansIt) {
  TempDir tmp;
  MakeDirs(tmp.Sub("root/mnt"));
  if (::mount("cairn-test", tmp.Sub("root/mnt").c_str(), "tmpfs", 0, "size=1m") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs: " << ErrnoText(errno);
  }
  WriteFile(tmp.Sub("root/mnt/on-tmpfs.txt"), "t");
  auto w = MakeWatcher();
  ASSERT_TRUE(w);
  ASSERT_OK(w->AddRoot(tmp.Sub("root")));
  EXPECT_EQ(w->Stats().watches, 2u);

  ASSERT_EQ(::umount(tmp.Sub("root/mnt").c_str()), 0) << ErrnoText(errno);
  Collected c;
  ASSERT_TRUE(CollectUntil(*w, c, [&](const Collected& c) {
    return c.Has(EventKind::kRescan, tmp.Sub("root"));
  })) << c.Dump();
  EXPECT_TRUE(c.NoticeContains("was unmounted")) << c.Dump();
  // The folder under the mount point is watched now.
  c = {};
  WriteFile(tmp.Sub("root/mnt/under.txt"), "u");
  ASSERT_TRUE(CollectUntil(*w, c, [&](const Collected& c) {
    return c.Has(EventKind::kChanged, tmp.Sub("root/mnt/under.txt"));
  })) << c.Dump();
}

TEST(InotifyWatcherTest, WakeAndStopEndAWait) {
  TempDir tmp;
  auto w = MakeWatcher();
  ASSERT_TRUE(w);
  ASSERT_OK(w->AddRoot(tmp.path()));
  {
    std::jthread waker([&] {
      std::this_thread::sleep_for(milliseconds(50));
      w->Wake();
    });
    Result<WatchBatch> batch = w->Wait(std::chrono::hours(1));
    ASSERT_OK(batch);
    EXPECT_TRUE(batch->empty());
  }
  {
    std::stop_source stop;
    std::jthread stopper([&] {
      std::this_thread::sleep_for(milliseconds(50));
      stop.request_stop();
    });
    Result<WatchBatch> batch = w->Wait(std::chrono::hours(1), stop.get_token());
    ASSERT_OK(batch);
  }
  // A Wake with nobody waiting ends the next Wait.
  w->Wake();
  ASSERT_OK(w->Wait(std::chrono::hours(1)));
}

}  // namespace
}  // namespace cairn::watch
