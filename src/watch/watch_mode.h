// backup.watch_mode: how changes are found. `inotify` asks the kernel for
// events, `poll` compares periodic scans, `auto` polls the file systems
// whose changes inotify cannot see and uses inotify everywhere else.
//
// inotify reports what this machine's kernel does to a file system. On a
// network file system (NFS, SMB/CIFS) changes made by other machines never
// pass through it, and a FUSE file system's daemon may change files behind
// the kernel's back (sshfs, rclone, gvfs): these are polled. The file system
// is recognised by statfs's f_type magic number.
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"

namespace cairn::watch {

enum class WatchMode { kAuto, kInotify, kPoll };

// "auto", "inotify", "poll" (the settings' spelling); InvalidArgument
// otherwise, naming the choices.
Result<WatchMode> ParseWatchMode(std::string_view text);
std::string_view WatchModeName(WatchMode mode);

// A file system type's name ("ext4", "nfs") from its statfs magic number,
// or "" when unknown.
std::string_view FileSystemName(uint64_t f_type);
// True for the file systems whose changes inotify may not see.
bool FileSystemNeedsPolling(uint64_t f_type);

// The mechanism for one root and why, in a sentence for the log.
struct ModeChoice {
  WatchMode mode = WatchMode::kInotify;  // kInotify or kPoll, never kAuto
  std::string reason;
};

// The choice for `path`, on a file system of type `f_type`: kAuto polls
// where FileSystemNeedsPolling, otherwise inotify; kInotify and kPoll are
// kept as asked (a reason warns when inotify is forced where it cannot see
// every change).
ModeChoice ChooseWatchModeFor(WatchMode requested, const std::string& path, uint64_t f_type);
// The same for the file system holding `path` (statfs). NotFound and the
// like when it cannot be examined.
Result<ModeChoice> ChooseWatchMode(WatchMode requested, const std::string& path);

}  // namespace cairn::watch
