// Helpers for end-to-end tests that run the `cairn` binary.
//
// - Processes: Spawn/RunProcess start a program with exactly the environment
//   given (nothing is inherited), stdin from a file (default /dev/null: no
//   terminal), stdout and stderr captured in memory files (no pipe
//   dead-locks), optionally in another working directory.
// - Sandbox: a temporary folder with its own HOME and XDG_* folders, a
//   repository location and a baseline environment for cairn (cheap KDF,
//   password, device, TZ=UTC), so a test never touches the real user's files.
//   Cairn() runs the binary there (cwd = the sandbox's work folder, so no
//   ./config/settings.yaml of the checkout is picked up).
// - Trees: create files (random, compressible, sparse), set times and
//   xattrs, scan a tree (type, mode, owner, size, mtime in ns, symlink
//   target, xattrs, st_blocks, hard-link groups) and compare two trees
//   byte-for-byte and by metadata, listing every difference found.
//
// Helpers here abort the test binary (with a message) on unexpected
// system-call failures: they are set-up errors, not results under test. The
// file helpers of testing/file_util.h report a test failure instead.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "testing/file_util.h"
#include "testing/temp_dir.h"

#ifndef CAIRN_BINARY
#define CAIRN_BINARY "cairn"
#endif
#ifndef CAIRN_SHIPPED_BINARY
#define CAIRN_SHIPPED_BINARY "cairn"
#endif

namespace cairn::e2e {

// ---------------------------------------------------------------------------
// Processes.

using EnvMap = std::map<std::string, std::string>;

struct ProcOptions {
  EnvMap env;                            // the child's complete environment
  std::string cwd;                       // "" = the test's working directory
  std::string stdin_file = "/dev/null";  // opened read-only as stdin
};

struct ProcResult {
  int exit_code = -1;   // -1 when killed by a signal
  int term_signal = 0;  // the signal that killed it, else 0
  std::string out, err;
  // "exit 3; stdout: ...; stderr: ..." for assertion messages.
  std::string Describe() const;
};

// A running child process. Waits for it (and discards the result) when
// destroyed without Wait().
class Process {
 public:
  Process(Process&& other) noexcept;
  Process& operator=(Process&&) = delete;
  Process(const Process&) = delete;
  ~Process();

  pid_t pid() const { return pid_; }
  // Sends a signal to the child (not its descendants).
  void Kill(int sig);
  // Non-blocking: the result if the child has exited, else nullopt.
  std::optional<ProcResult> TryWait();
  // Blocks until the child exits; returns its status and output.
  ProcResult Wait();
  // What the child has written to stderr so far (it may still be running):
  // for waiting on a log line.
  std::string ErrSoFar() const;

 private:
  friend Process Spawn(const std::vector<std::string>&, const ProcOptions&);
  Process(pid_t pid, int out_fd, int err_fd) : pid_(pid), out_fd_(out_fd), err_fd_(err_fd) {}
  ProcResult Collect(int status);
  pid_t pid_ = -1;
  int out_fd_ = -1, err_fd_ = -1;
};

// Starts argv[0] (looked up in env["PATH"] when it has no '/').
Process Spawn(const std::vector<std::string>& argv, const ProcOptions& options);
ProcResult RunProcess(const std::vector<std::string>& argv, const ProcOptions& options);

// The environment variable of the test process, or "".
std::string GetEnv(const char* name);

// ---------------------------------------------------------------------------
// A sandbox for running cairn.

struct CairnRunOptions {
  EnvMap set;                      // added to / replacing the sandbox's environment
  std::vector<std::string> unset;  // removed from it (applied before `set`)
  std::string cwd;                 // "" = sandbox.work()
  std::string stdin_file = "/dev/null";
};

class Sandbox {
 public:
  // Creates root/{home,home/.config,home/.local/share,home/.cache,work}; the
  // repository location is root/repo (not created). Baseline environment:
  // PATH (inherited), HOME, XDG_CONFIG_HOME, XDG_DATA_HOME, XDG_CACHE_HOME,
  // TZ=UTC, LC_ALL=C, CAIRN_TEST_CHEAP_KDF=1 (honoured by CairnBinary()
  // only), CAIRN_PASSWORD=kPassword,
  // DEVICE_ID=kDevice, CAIRN_REPOSITORY=repo(), and TMPDIR when set.
  Sandbox();

  static constexpr const char* kPassword = "correct horse battery staple";
  static constexpr const char* kDevice = "e2e-device";

  const std::string& root() const { return dir_.path(); }
  std::string Path(const std::string& rel) const { return root() + "/" + rel; }
  std::string home() const { return Path("home"); }
  std::string config_home() const { return Path("home/.config"); }
  std::string data_home() const { return Path("home/.local/share"); }
  std::string cache_home() const { return Path("home/.cache"); }
  std::string work() const { return Path("work"); }
  std::string repo() const { return Path("repo"); }

  // The baseline environment; tests may change it for all later runs.
  EnvMap& env() { return env_; }
  ProcOptions ProcOptionsFor(const CairnRunOptions& o) const;

  // Runs `cairn ARGS...` and waits for it.
  ProcResult Cairn(const std::vector<std::string>& args, const CairnRunOptions& o = {}) const;
  // Starts `cairn ARGS...` without waiting (for kill tests).
  Process SpawnCairn(const std::vector<std::string>& args, const CairnRunOptions& o = {}) const;
  // Runs any program with the sandbox's environment.
  ProcResult Run(const std::vector<std::string>& argv, const CairnRunOptions& o = {}) const;

 private:
  cairn::testing::TempDir dir_;
  EnvMap env_;
};

// The path of the cairn binary under test: $CAIRN_E2E_BINARY, else the
// build's cairn_for_tests (the CLI with test hooks: CAIRN_TEST_CHEAP_KDF=1
// gives cheap key slots).
std::string CairnBinary();
// The path of the shipped cairn (no test hooks), for tests of what users get.
std::string ShippedCairnBinary();

// ---------------------------------------------------------------------------
// Creating trees.

// MakeDirs, WriteFile, AppendFile, PatchFile, ReadFile, Exists and Printable
// are the shared ones of testing/file_util.h, visible here unqualified.
using ::cairn::testing::AppendFile;
using ::cairn::testing::Exists;
using ::cairn::testing::MakeDirs;
using ::cairn::testing::PatchFile;
using ::cairn::testing::Printable;
using ::cairn::testing::ReadFile;
using ::cairn::testing::WriteFile;

// Deterministic incompressible bytes.
std::string RandomData(size_t n, uint64_t seed);

// Polls `cond` every 200 ms until it holds or `limit` has passed; returns
// its last answer. For waits on a daemon: never a timing assertion, a
// generous limit.
bool WaitUntil(const std::function<bool()>& cond,
               std::chrono::seconds limit = std::chrono::seconds(60));
// Highly compressible text (repeated lines).
std::string CompressibleData(size_t n, std::string_view line = "all work and no play\n");
// A random lower-case hex string, different in every call (for markers).
std::string RandomToken(size_t hex_chars = 16);
// A file of `size` bytes that is all holes except `regions` (offset, bytes).
void MakeSparseFile(const std::string& path, uint64_t size,
                    const std::vector<std::pair<uint64_t, std::string>>& regions);
// Sets atime and mtime (not following symlinks).
void SetMtime(const std::string& path, int64_t mtime_ns);
int64_t MtimeNs(const std::string& path);
// lsetxattr; false when the file system does not support it (ENOTSUP/EOPNOTSUPP).
bool TrySetXattr(const std::string& path, const std::string& name, const std::string& value);
void Chmod(const std::string& path, mode_t mode);

// ---------------------------------------------------------------------------
// Inspecting trees.

struct Entry {
  char type = '?';  // f file, d dir, l symlink, p fifo, s socket, c/b devices
  mode_t mode = 0;  // permission bits (07777)
  uid_t uid = 0;
  gid_t gid = 0;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint64_t blocks = 0;  // st_blocks (512-byte units)
  nlink_t nlink = 0;
  dev_t rdev = 0;
  std::string link_target;                    // symlinks
  std::map<std::string, std::string> xattrs;  // name -> value
  // Files with nlink > 1: the relative paths of every name of this inode
  // inside the scanned tree, sorted.
  std::vector<std::string> hardlink_group;
  bool sparse() const { return type == 'f' && size > 0 && blocks * 512 < size; }
};

// Relative path ("" for the root itself, else "a/b") -> entry. Does not
// follow symlinks.
using Tree = std::map<std::string, Entry>;
Tree ScanTree(const std::string& root);

struct CompareOptions {
  bool content = true;    // regular files byte for byte
  bool mtime = true;      // files, symlinks, fifos
  bool dir_mtime = true;  // directories
  bool mode = true;
  bool owner = true;  // uid and gid
  bool xattrs = true;
  bool hardlinks = true;         // same hard-link groups
  bool sparse = true;            // a sparse expected file must be restored sparse
  bool root_metadata = true;     // compare the roots' own metadata too
  std::set<std::string> ignore;  // relative paths (and everything below them) to skip
};

// Every difference between the tree at `expected` and the tree at `actual`,
// one human-readable line each; empty when they match.
std::vector<std::string> CompareTrees(const std::string& expected, const std::string& actual,
                                      const CompareOptions& options = {});

// True when both regular files hold the same bytes.
bool FilesEqual(const std::string& a, const std::string& b);

// Relative path -> size (-1 for folders), of everything under `root`
// (not following symlinks). For "nothing was written" checks.
std::map<std::string, int64_t> ListWithSizes(const std::string& root);
// Regular files under `root` whose bytes (or relative path) contain `needle`.
std::vector<std::string> FilesContaining(const std::string& root, std::string_view needle);
// Number of regular files under `root` (0 if it does not exist), and their total size.
uint64_t CountFiles(const std::string& root);
uint64_t TotalSize(const std::string& root);

// Formats nanoseconds since the epoch as RFC 3339 UTC ("...T...Z", with nine
// fraction digits unless `whole_seconds`).
std::string Rfc3339(int64_t ns, bool whole_seconds = false);
int64_t NowNs();

}  // namespace cairn::e2e
