// Shared plumbing of the cairn CLI: global options, the engine session, the
// terminal's event sink (progress lines, notices), JSON output and the one
// mapping from Status to exit code. Everything that turns settings into a
// working repository lives in the engine (src/engine/session.h).
#pragma once

#include <functional>
#include <memory>
#include <stop_token>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/session.h"

namespace cairn::cli {

// Exit codes, documented in docs/cli.md (restic's, so wrappers understand them).
enum ExitCode {
  kExitOk = 0,
  kExitFailed = 1,
  kExitPartial = 3,
  kExitNoRepository = 10,
  kExitLocked = 11,
  kExitWrongPassword = 12,
  // cairn status / pause / resume: no `cairn run` answered.
  kExitNotRunning = 4,
  kExitInterrupted = 130,  // stopped by Ctrl-C or SIGTERM (what was done is kept)
};

int ExitCodeFor(const Status& st);

struct GlobalOptions {
  std::string repo;
  std::string password_file;
  std::string config_file;
  std::string device;
  bool all_devices = false;
  bool json = false;
  bool quiet = false;
  bool no_progress = false;
  // KiB/s over all connections to remote storage; -1: the settings file's.
  int64_t limit_upload_kib = -1, limit_download_kib = -1;
  // engine::SessionOptions::cheap_kdf_for_tests; set only by the test build.
  bool cheap_kdf_for_tests = false;
  // `cairn setup` waits after this step until interrupted (CAIRN_TEST_SETUP_PAUSE;
  // set only by the test build).
  std::string setup_pause_for_tests;
  // `cairn setup` looks for systemd under this folder instead of /
  // (CAIRN_TEST_SYSTEMD_ROOT; set only by the test build).
  std::string systemd_root_for_tests;
  std::string version;  // this build's, for what reports it (cairn status)
};

class Context {
 public:
  // `stop` is requested when cairn is interrupted (SIGINT, SIGTERM).
  Context(GlobalOptions g, std::stop_token stop);
  ~Context();

  // Creates the engine session (settings file, then environment, then flags).
  Status Init();
  // The options Init creates its session from (for a front end that creates
  // sessions of its own: `cairn run` makes a new one on each reload).
  engine::SessionOptions MakeSessionOptions() const;
  engine::Session& session() { return *session_; }
  const GlobalOptions& global() const { return g_; }
  // The job context of a command run from this terminal: progress lines when
  // wanted, notices printed as warnings.
  engine::JobContext Job();

  // Output helpers: human text unless --json; errors go to stderr.
  bool json() const { return g_.json; }
  bool ShowProgress() const;
  void Info(const std::string& line) const;
  void Warn(const std::string& line) const;
  // Prints the error (human or JSON) and returns its exit code.
  int Fail(const Status& st) const;
  void PrintJson(const nlohmann::json& j) const;

 private:
  class TerminalSink;
  GlobalOptions g_;
  std::stop_token stop_;
  std::unique_ptr<engine::Session> session_;
  std::unique_ptr<TerminalSink> sink_;
};

// When an answer may be incomplete because version segments could not be
// read: says so on stderr (naming them) and returns kExitPartial; else
// kExitOk.
int ReportUnreadable(const Context& ctx, const std::vector<std::string>& unreadable_segments);

// What SIGHUP does (main.cc takes the signals on a thread of its own): by
// default it stops the command like SIGTERM (the terminal went away); a
// command that sets a handler (`cairn run`: reload the settings) gets it
// called instead, on the signal thread. Set it to {} before what it calls
// goes away. RunHangupHandler calls it and returns false when none is set.
void SetHangupHandler(std::function<void()> fn);
bool RunHangupHandler();

// "1.2 GiB", "512 B"
std::string HumanBytes(uint64_t n);
// The path as shown to people: bytes that are not printable are escaped.
std::string ShowPath(const std::string& path);
// A path given on the command line, made absolute and normal (no . or ..).
std::string AbsolutePath(const std::string& path);
// Progress line writer for terminals: rewrites one line in place.
void ProgressLine(const std::string& text);
void ProgressDone();

}  // namespace cairn::cli
