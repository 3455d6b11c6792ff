// The daemon's log: stderr (the journal, under systemd) and a rotating file,
// with every secret masked on the way out.
//
// Logger writes each message to the console (stderr by default) and, when a
// file is configured, to that file, rotated at a size: backup.log is the
// current file, backup.1.log the newest rotated one, ... up to
// backup.<max_files>.log; the oldest is deleted. Files are created 0600 in a
// folder created 0700.
//
// Redaction: every line, whatever the caller passes, goes through a Redactor
// before it reaches a sink, so no secret reaches a log: registered secrets
// (the password, the connection string, ...) and anything shaped like an
// Azure credential (AccountKey=..., SharedAccessSignature=..., sig=... in a
// SAS URL, an Authorization header, a password in a URL's user part, the
// original design's secret environment variables written as NAME=value) are
// replaced by "***". Control characters are escaped (\n, \t, \xNN), so a file
// name holding a newline cannot forge a log line.
//
// Thread-safety: Logger and Redactor may be used from any number of threads.
#pragma once

#include <fmt/format.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/mutex.h"
#include "base/status.h"
#include "daemon/log_level.h"

namespace spdlog {
class logger;
}

namespace cairn::daemon {

// "trace", "debug", "info", "warning", "error", "critical": the names
// config::Settings::log_level holds (already validated and normalised).
// InvalidArgument for anything else.
Result<LogLevel> ParseLogLevel(std::string_view name);
std::string_view LogLevelName(LogLevel level);

// Masks secrets in text. See the file comment for what is masked.
class Redactor {
 public:
  // Masks every later occurrence of `secret` (also percent-encoded and, when
  // it holds %XX escapes, decoded). A connection string's AccountKey and
  // SharedAccessSignature values and a SAS's sig value are registered on
  // their own too, so a fragment of it is masked as well. "" is ignored;
  // a secret of a few characters masks every occurrence of them, which
  // makes such logs hard to read but keeps the promise.
  void AddSecret(std::string_view secret);
  std::string Redact(std::string_view text) const;

 private:
  mutable Mutex mu_;
  std::vector<std::string> secrets_ GUARDED_BY(mu_);  // longest first
};

// Values of the environment variables that hold secrets, for AddSecret:
// CAIRN_PASSWORD, BACKUP_ENCRYPTION_KEY, AZURE_STORAGE_CONNECTION_STRING.
// `getenv_fn` behaves like std::getenv.
std::vector<std::string> EnvironmentSecrets(
    const std::function<const char*(const char*)>& getenv_fn);

// $XDG_STATE_HOME/cairn/logs/backup.log, $XDG_STATE_HOME defaulting to
// $HOME/.local/state (a relative value is ignored, as the XDG specification
// requires). "" when neither is usable (no HOME).
std::string DefaultLogFile(const std::function<const char*(const char*)>& getenv_fn);

// The names the rotated files of `file` take (spdlog's: backup.log ->
// backup.1.log .. backup.<max_files>.log; "log" without an extension ->
// log.1 ..), for keeping them out of backups.
std::vector<std::string> RotatedLogFiles(const std::string& file, uint32_t max_files);

struct LogOptions {
  LogLevel level = LogLevel::kInfo;
  // Where console lines go; nullptr: no console. Not owned; must outlive the
  // Logger.
  std::FILE* console = stderr;
  // kAuto: journal style when `console` is stderr and stderr is the
  // systemd journal ($JOURNAL_STREAM names it): each line carries its
  // syslog priority ("<3>") and no time stamp (the journal keeps both).
  // Otherwise plain: "2026-11-26 10:00:00.123 [info] ...".
  enum class ConsoleStyle { kAuto, kPlain, kJournal };
  ConsoleStyle console_style = ConsoleStyle::kAuto;
  // The log file; "" = none. Its folder is created (0700) when missing.
  std::string file;
  uint64_t max_file_bytes = 10ull << 20;  // rotated before it grows past this; > 0
  uint32_t max_files = 5;                 // rotated files kept; 0: the file is truncated instead
  // Registered with the Redactor before the first line is written.
  std::vector<std::string> secrets;
};

class Logger {
 public:
  // InvalidArgument for a zero max_file_bytes; the file's folder or the file
  // cannot be created: the errno Status naming it (PermissionDenied, ...).
  static Result<std::unique_ptr<Logger>> Create(const LogOptions& options);
  ~Logger();  // flushes
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  // Writes `message` (redacted, control characters escaped) if `level` is
  // enabled. Lines of info and above are flushed at once (a daemon may be
  // killed at any moment); trace and debug lines with the next one. A
  // failure to write (disk full) is reported once on the console, never
  // thrown.
  void Log(LogLevel level, std::string_view message);

  template <typename... Args>
  void Trace(fmt::format_string<Args...> f, Args&&... args) {
    Format(LogLevel::kTrace, f, std::forward<Args>(args)...);
  }
  template <typename... Args>
  void Debug(fmt::format_string<Args...> f, Args&&... args) {
    Format(LogLevel::kDebug, f, std::forward<Args>(args)...);
  }
  template <typename... Args>
  void Info(fmt::format_string<Args...> f, Args&&... args) {
    Format(LogLevel::kInfo, f, std::forward<Args>(args)...);
  }
  template <typename... Args>
  void Warn(fmt::format_string<Args...> f, Args&&... args) {
    Format(LogLevel::kWarning, f, std::forward<Args>(args)...);
  }
  template <typename... Args>
  void Error(fmt::format_string<Args...> f, Args&&... args) {
    Format(LogLevel::kError, f, std::forward<Args>(args)...);
  }
  template <typename... Args>
  void Critical(fmt::format_string<Args...> f, Args&&... args) {
    Format(LogLevel::kCritical, f, std::forward<Args>(args)...);
  }

  bool Enabled(LogLevel level) const {
    return static_cast<int>(level) >= level_.load(std::memory_order_relaxed);
  }
  // For a settings reload; a new file or rotation needs a new Logger.
  void SetLevel(LogLevel level);
  LogLevel level() const { return static_cast<LogLevel>(level_.load()); }

  // Masks `secret` in every later line (e.g. the password once it is read).
  void AddSecret(std::string_view secret) { redactor_->AddSecret(secret); }
  // The same masking, for text that leaves the process by other ways (an
  // alert's message, a status answer).
  const std::shared_ptr<Redactor>& redactor() const { return redactor_; }

  void Flush();
  const std::string& file() const { return file_; }

 private:
  Logger(std::shared_ptr<Redactor> redactor, std::shared_ptr<spdlog::logger> impl, std::string file,
         LogLevel level);

  template <typename... Args>
  void Format(LogLevel level, fmt::format_string<Args...> f, Args&&... args) {
    if (!Enabled(level)) return;  // no formatting for lines nobody reads
    Log(level, fmt::format(f, std::forward<Args>(args)...));
  }

  std::shared_ptr<Redactor> redactor_;
  std::shared_ptr<spdlog::logger> impl_;
  std::string file_;
  std::atomic<int> level_;
};

}  // namespace cairn::daemon
