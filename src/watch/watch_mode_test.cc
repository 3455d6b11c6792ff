#include "watch/watch_mode.h"

#include <gtest/gtest.h>

#include "testing/assert_ok.h"
#include "testing/temp_dir.h"
#include "watch/create_watcher.h"

namespace cairn::watch {
namespace {

TEST(WatchModeTest, Parse) {
  EXPECT_EQ(*ParseWatchMode("auto"), WatchMode::kAuto);
  EXPECT_EQ(*ParseWatchMode("inotify"), WatchMode::kInotify);
  EXPECT_EQ(*ParseWatchMode("poll"), WatchMode::kPoll);
  Result<WatchMode> bad = ParseWatchMode("fanotify");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("auto, inotify or poll"), std::string::npos);
  for (WatchMode m : {WatchMode::kAuto, WatchMode::kInotify, WatchMode::kPoll}) {
    EXPECT_EQ(*ParseWatchMode(WatchModeName(m)), m);
  }
}

TEST(WatchModeTest, AutoPollsNetworkAndFuseFileSystems) {
  struct Case {
    uint64_t magic;
    WatchMode expected;
  };
  for (const Case& c : {Case{0x6969, WatchMode::kPoll},         // NFS
                        Case{0xFF534D42, WatchMode::kPoll},     // CIFS
                        Case{0xFE534D42, WatchMode::kPoll},     // SMB2
                        Case{0x517B, WatchMode::kPoll},         // SMB
                        Case{0x65735546, WatchMode::kPoll},     // FUSE
                        Case{0xEF53, WatchMode::kInotify},      // ext4
                        Case{0x9123683E, WatchMode::kInotify},  // btrfs
                        Case{0x01021994, WatchMode::kInotify},  // tmpfs
                        Case{0x12345678, WatchMode::kInotify}}) {
    ModeChoice choice = ChooseWatchModeFor(WatchMode::kAuto, "/data", c.magic);
    EXPECT_EQ(choice.mode, c.expected) << std::hex << c.magic << ": " << choice.reason;
    EXPECT_NE(choice.reason.find("/data"), std::string::npos) << choice.reason;
  }
  EXPECT_EQ(ChooseWatchModeFor(WatchMode::kAuto, "/mnt/nas", 0x6969).reason,
            "/mnt/nas is on nfs, where inotify does not see every change: it is polled");
  EXPECT_EQ(ChooseWatchModeFor(WatchMode::kAuto, "/x", 0x12345678).reason,
            "/x (type 0x12345678) is watched with inotify");
}

TEST(WatchModeTest, ExplicitModesAreKept) {
  ModeChoice forced = ChooseWatchModeFor(WatchMode::kInotify, "/mnt/nas", 0x6969);
  EXPECT_EQ(forced.mode, WatchMode::kInotify);
  EXPECT_NE(forced.reason.find("other machines"), std::string::npos) << forced.reason;
  EXPECT_EQ(ChooseWatchModeFor(WatchMode::kPoll, "/home", 0xEF53).mode, WatchMode::kPoll);
}

TEST(WatchModeTest, RealFileSystem) {
  cairn::testing::TempDir tmp;
  Result<ModeChoice> choice = ChooseWatchMode(WatchMode::kAuto, tmp.path());
  ASSERT_OK(choice);
  EXPECT_FALSE(choice->reason.empty());
  EXPECT_EQ(ChooseWatchMode(WatchMode::kAuto, tmp.Sub("missing")).status().code(),
            StatusCode::kNotFound);
}

TEST(WatchModeTest, CreateWatcherForEachMode) {
  for (auto [mode, mechanism] :
       {std::pair{WatchMode::kAuto, "inotify"}, std::pair{WatchMode::kInotify, "inotify"},
        std::pair{WatchMode::kPoll, "poll"}}) {
    Result<std::unique_ptr<Watcher>> w = CreateWatcher(mode, {});
    ASSERT_OK(w);
    EXPECT_EQ((*w)->Stats().mechanism, mechanism) << WatchModeName(mode);
  }
}

}  // namespace
}  // namespace cairn::watch
