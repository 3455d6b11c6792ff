#include "watch/watch_mode.h"

#include <sys/vfs.h>

#include <cerrno>
#include <cstdio>

#include "base/errno_status.h"

namespace cairn::watch {

namespace {

struct FsType {
  uint64_t magic;
  std::string_view name;
  bool needs_polling;
};

// From linux/magic.h and the file systems' sources; the numbers are ABI.
constexpr FsType kFsTypes[] = {
    {0xEF53, "ext2/ext3/ext4", false},
    {0x9123683E, "btrfs", false},
    {0x58465342, "xfs", false},
    {0x2FC12FC1, "zfs", false},
    {0xF2F52010, "f2fs", false},
    {0x01021994, "tmpfs", false},
    {0x794C7630, "overlayfs", false},
    {0x4D44, "vfat", false},
    {0x2011BAB0, "exfat", false},
    {0x7366746E, "ntfs3", false},
    {0x5346544E, "ntfs", false},
    {0x3153464A, "jfs", false},
    {0x52654973, "reiserfs", false},
    {0xCA451A4E, "bcachefs", false},
    {0x9660, "iso9660", false},
    {0x15013346, "udf", false},
    {0x6969, "nfs", true},
    {0x517B, "smb", true},
    {0xFF534D42, "cifs", true},
    {0xFE534D42, "smb2", true},
    {0x65735546, "fuse", true},
    {0x01021997, "9p", true},  // WSL2's /mnt/c, virtual machines' shared folders
    {0x00C36400, "ceph", true},
    {0x73757245, "coda", true},
    {0x6B414653, "afs", true},
    {0x5346414F, "openafs", true},
    {0x47504653, "gpfs", true},
    {0x0BD00BD0, "lustre", true},
    {0x786F4256, "vboxsf", true},
};

const FsType* Find(uint64_t f_type) {
  for (const FsType& t : kFsTypes) {
    if (t.magic == f_type) return &t;
  }
  return nullptr;
}

std::string Describe(uint64_t f_type) {
  if (const FsType* t = Find(f_type)) return std::string(t->name);
  char buf[32];
  std::snprintf(buf, sizeof(buf), "type 0x%llx", static_cast<unsigned long long>(f_type));
  return buf;
}

}  // namespace

Result<WatchMode> ParseWatchMode(std::string_view text) {
  if (text == "auto") return WatchMode::kAuto;
  if (text == "inotify") return WatchMode::kInotify;
  if (text == "poll") return WatchMode::kPoll;
  return Status::InvalidArgument("backup.watch_mode is \"" + std::string(text) +
                                 "\": use auto, inotify or poll");
}

std::string_view WatchModeName(WatchMode mode) {
  switch (mode) {
    case WatchMode::kAuto:
      return "auto";
    case WatchMode::kInotify:
      return "inotify";
    case WatchMode::kPoll:
      return "poll";
  }
  return "?";
}

std::string_view FileSystemName(uint64_t f_type) {
  const FsType* t = Find(f_type);
  return t ? t->name : std::string_view();
}

bool FileSystemNeedsPolling(uint64_t f_type) {
  const FsType* t = Find(f_type);
  return t && t->needs_polling;
}

ModeChoice ChooseWatchModeFor(WatchMode requested, const std::string& path, uint64_t f_type) {
  const std::string fs = Describe(f_type);
  const bool blind = FileSystemNeedsPolling(f_type);
  switch (requested) {
    case WatchMode::kPoll:
      return {WatchMode::kPoll, path + " (" + fs + ") is polled: backup.watch_mode is poll"};
    case WatchMode::kInotify:
      if (blind) {
        return {WatchMode::kInotify,
                path + " is on " + fs +
                    ", where inotify does not see changes made by other machines or by the "
                    "file system's own server, but backup.watch_mode is inotify: such changes "
                    "are found only by the periodic full pass (set watch_mode to auto to poll)"};
      }
      return {WatchMode::kInotify, path + " (" + fs + ") is watched with inotify"};
    case WatchMode::kAuto:
      if (blind) {
        return {WatchMode::kPoll,
                path + " is on " + fs + ", where inotify does not see every change: it is polled"};
      }
      return {WatchMode::kInotify, path + " (" + fs + ") is watched with inotify"};
  }
  return {WatchMode::kInotify, ""};
}

Result<ModeChoice> ChooseWatchMode(WatchMode requested, const std::string& path) {
  struct statfs st;
  if (::statfs(path.c_str(), &st) != 0) {
    return ErrnoStatus(errno, "examine the file system of", path);
  }
  // Magic numbers are 32 bits; f_type is a signed word (sign-extended on 32-bit systems).
  return ChooseWatchModeFor(requested, path, static_cast<uint32_t>(st.f_type));
}

}  // namespace cairn::watch
