#include "daemon/log.h"
#include "daemon/state_dir.h"

#include <fcntl.h>
#include <spdlog/logger.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "base/errno_status.h"

namespace cairn::daemon {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kMask = "***";

spdlog::level::level_enum ToSpdlog(LogLevel level) {
  switch (level) {
    case LogLevel::kTrace:
      return spdlog::level::trace;
    case LogLevel::kDebug:
      return spdlog::level::debug;
    case LogLevel::kInfo:
      return spdlog::level::info;
    case LogLevel::kWarning:
      return spdlog::level::warn;
    case LogLevel::kError:
      return spdlog::level::err;
    case LogLevel::kCritical:
      return spdlog::level::critical;
  }
  return spdlog::level::info;
}

// syslog priorities, which journald reads from a "<N>" line prefix.
int SyslogPriority(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::critical:
      return 2;
    case spdlog::level::err:
      return 3;
    case spdlog::level::warn:
      return 4;
    case spdlog::level::info:
      return 6;
    default:
      return 7;
  }
}

char LowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool IsWordChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

bool IsSpaceOrQuote(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '"' || c == '\'' || c == '`' ||
         c == '<' || c == '>';
}

// Position of `lower_needle` in `text` at or after `from`, ignoring ASCII
// case; npos if none.
size_t FindNoCase(std::string_view text, std::string_view lower_needle, size_t from) {
  if (lower_needle.size() > text.size()) return std::string_view::npos;
  for (size_t i = from; i + lower_needle.size() <= text.size(); ++i) {
    size_t j = 0;
    while (j < lower_needle.size() && LowerAscii(text[i + j]) == lower_needle[j]) ++j;
    if (j == lower_needle.size()) return i;
  }
  return std::string_view::npos;
}

// A "key=value" shape whose value is a secret: where the value ends.
struct SecretField {
  std::string_view key;        // lower case, with its '=' or ':'
  std::string_view stop_also;  // besides white space and quotes
};

constexpr SecretField kFields[] = {
    // Azure connection strings (keys are case-insensitive there).
    {"accountkey=", ";"},
    {"sharedaccesssignature=", ";"},
    // The signature of a SAS URL or token ("...&sig=...").
    {"sig=", "&;"},
    // The original design's variables, as in a dumped environment; a
    // connection string holds ';', so only white space ends these.
    {"azure_storage_connection_string=", ""},
    {"backup_encryption_key=", ""},
    {"cairn_password=", ""},
};

// Replaces the value after each occurrence of `field.key` (at a word start)
// with the mask.
std::string MaskField(std::string_view text, const SecretField& field) {
  std::string out;
  size_t copied = 0, from = 0;
  while (true) {
    size_t at = FindNoCase(text, field.key, from);
    if (at == std::string_view::npos) break;
    size_t value = at + field.key.size();
    from = value;
    if (at > 0 && IsWordChar(text[at - 1])) continue;  // "xsig=" is not "sig="
    size_t end = value;
    while (end < text.size() && !IsSpaceOrQuote(text[end]) &&
           field.stop_also.find(text[end]) == std::string_view::npos) {
      ++end;
    }
    if (end == value) continue;
    out.append(text.substr(copied, value - copied)).append(kMask);
    copied = end;
    from = end;
  }
  if (copied == 0) return std::string(text);
  out.append(text.substr(copied));
  return out;
}

// "Authorization: SharedKey account:signature" (or Bearer ...): the rest of
// the line.
std::string MaskAuthorization(std::string_view text) {
  constexpr std::string_view kKey = "authorization:";
  std::string out;
  size_t copied = 0, from = 0;
  while (true) {
    size_t at = FindNoCase(text, kKey, from);
    if (at == std::string_view::npos) break;
    size_t value = at + kKey.size();
    from = value;
    if (at > 0 && IsWordChar(text[at - 1])) continue;
    while (value < text.size() && text[value] == ' ') ++value;
    size_t end = value;
    while (end < text.size() && text[end] != '\n' && text[end] != '\r') ++end;
    if (end == value) continue;
    out.append(text.substr(copied, value - copied)).append(kMask);
    copied = end;
    from = end;
  }
  if (copied == 0) return std::string(text);
  out.append(text.substr(copied));
  return out;
}

// "scheme://user:password@host": the password.
std::string MaskUrlPassword(std::string_view text) {
  std::string out;
  size_t copied = 0, from = 0;
  while (true) {
    size_t at = text.find("://", from);
    if (at == std::string_view::npos) break;
    size_t start = at + 3;
    size_t end = start;
    while (end < text.size() && !IsSpaceOrQuote(text[end]) && text[end] != '/' &&
           text[end] != '?' && text[end] != '#') {
      ++end;
    }
    from = end;
    std::string_view authority = text.substr(start, end - start);
    size_t atsign = authority.rfind('@');
    if (atsign == std::string_view::npos) continue;
    size_t colon = authority.substr(0, atsign).find(':');
    if (colon == std::string_view::npos || colon + 1 == atsign) continue;
    out.append(text.substr(copied, start + colon + 1 - copied)).append(kMask);
    copied = start + atsign;
  }
  if (copied == 0) return std::string(text);
  out.append(text.substr(copied));
  return out;
}

std::string ReplaceAll(std::string_view text, std::string_view secret) {
  std::string out;
  size_t copied = 0;
  for (size_t at = text.find(secret); at != std::string_view::npos;
       at = text.find(secret, at + secret.size())) {
    out.append(text.substr(copied, at - copied)).append(kMask);
    copied = at + secret.size();
  }
  if (copied == 0) return std::string(text);
  out.append(text.substr(copied));
  return out;
}

// \n, \r, \t and \xNN for the other control characters: one message is one
// line.
std::string EscapeControl(std::string_view text) {
  bool clean = std::none_of(text.begin(), text.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
  if (clean) return std::string(text);
  std::string out;
  out.reserve(text.size() + 8);
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7f) {
      constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  return out;
}

std::string PercentEncode(std::string_view s) {
  constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (IsWordChar(c) || c == '-' || c == '.' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = LowerAscii(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// "" when `s` holds no valid %XX escape.
std::string PercentDecode(std::string_view s) {
  std::string out;
  bool decoded = false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2]));
      i += 2;
      decoded = true;
    } else {
      out += s[i];
    }
  }
  return decoded ? out : std::string();
}

// The values inside a connection string or SAS that are secrets on their own.
std::vector<std::string> SecretParts(std::string_view secret) {
  std::vector<std::string> parts;
  auto add_sig = [&](std::string_view sas) {
    size_t at = FindNoCase(sas, "sig=", 0);
    while (at != std::string_view::npos) {
      if (at == 0 || !IsWordChar(sas[at - 1])) {
        size_t end = sas.find_first_of("&;", at + 4);
        std::string_view v = sas.substr(at + 4, end == std::string_view::npos ? end : end - at - 4);
        if (!v.empty()) parts.emplace_back(v);
      }
      at = FindNoCase(sas, "sig=", at + 4);
    }
  };
  size_t start = 0;
  while (start <= secret.size()) {
    size_t end = secret.find(';', start);
    std::string_view item =
        secret.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    size_t eq = item.find('=');
    if (eq != std::string_view::npos) {
      std::string key;
      for (char c : item.substr(0, eq)) key += LowerAscii(c);
      std::string_view value = item.substr(eq + 1);
      if ((key == "accountkey" || key == "sharedaccesssignature") && !value.empty()) {
        parts.emplace_back(value);
      }
      if (key == "sharedaccesssignature") add_sig(value);
    }
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  add_sig(secret);
  return parts;
}

// Console lines: plain with a time stamp, or journal style.
class ConsoleSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  ConsoleSink(std::FILE* out, bool journal) : out_(out), journal_(journal) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    if (journal_) {
      std::fprintf(out_, "<%d>%.*s\n", SyslogPriority(msg.level),
                   static_cast<int>(msg.payload.size()), msg.payload.data());
    } else {
      spdlog::memory_buf_t formatted;
      formatter_->format(msg, formatted);
      std::fwrite(formatted.data(), 1, formatted.size(), out_);
    }
  }
  void flush_() override { std::fflush(out_); }

 private:
  std::FILE* out_;
  bool journal_;
};

// Whether stderr is the journal: systemd sets JOURNAL_STREAM to the
// "device:inode" of the stream it connected (a child's redirected stderr
// does not match).
bool StderrIsJournal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (stream == nullptr) return false;
  struct stat st;
  if (::fstat(STDERR_FILENO, &st) != 0) return false;
  std::string expected = std::to_string(static_cast<unsigned long long>(st.st_dev)) + ":" +
                         std::to_string(static_cast<unsigned long long>(st.st_ino));
  return expected == stream;
}

// mkdir -p, new folders 0700 (the log names the user's files).
Status MakeFolders(const fs::path& folder) {
  if (folder.empty()) return Status::OK();
  struct stat st;
  if (::stat(folder.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return Status::OK();
    return Status::InvalidArgument("cannot create the log folder " + folder.string() +
                                   ": a file is in the way");
  }
  CAIRN_RETURN_IF_ERROR(MakeFolders(folder.parent_path()));
  if (::mkdir(folder.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, "create log folder", folder.string());
  }
  return Status::OK();
}

std::string GetOr(const std::function<const char*(const char*)>& getenv_fn, const char* name) {
  const char* v = getenv_fn ? getenv_fn(name) : nullptr;
  return v != nullptr ? v : "";
}

}  // namespace

Result<LogLevel> ParseLogLevel(std::string_view name) {
  for (LogLevel level : {LogLevel::kTrace, LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarning,
                         LogLevel::kError, LogLevel::kCritical}) {
    if (name == LogLevelName(level)) return level;
  }
  return Status::InvalidArgument("'" + std::string(name) +
                                 "' is not a log level; use trace, debug, info, warning, error or "
                                 "critical");
}

std::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kTrace:
      return "trace";
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
    case LogLevel::kCritical:
      return "critical";
  }
  return "info";
}

// ---------------------------------------------------------------------------

void Redactor::AddSecret(std::string_view secret) {
  if (secret.empty()) return;
  std::vector<std::string> forms = {std::string(secret)};
  for (std::string& part : SecretParts(secret)) forms.push_back(std::move(part));
  size_t n = forms.size();
  for (size_t i = 0; i < n; ++i) {
    std::string encoded = PercentEncode(forms[i]);
    if (encoded != forms[i]) forms.push_back(std::move(encoded));
    std::string decoded = PercentDecode(forms[i]);
    if (!decoded.empty()) forms.push_back(std::move(decoded));
  }
  MutexLock lock(mu_);
  for (std::string& form : forms) {
    if (form.empty()) continue;
    if (std::find(secrets_.begin(), secrets_.end(), form) != secrets_.end()) continue;
    secrets_.push_back(std::move(form));
  }
  // Longest first: a secret that contains another is masked whole.
  std::stable_sort(secrets_.begin(), secrets_.end(),
                   [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

std::string Redactor::Redact(std::string_view text) const {
  std::string out(text);
  {
    MutexLock lock(mu_);
    for (const std::string& secret : secrets_) {
      if (out.find(secret) != std::string::npos) out = ReplaceAll(out, secret);
    }
  }
  for (const SecretField& field : kFields) out = MaskField(out, field);
  out = MaskAuthorization(out);
  return MaskUrlPassword(out);
}

std::vector<std::string> EnvironmentSecrets(
    const std::function<const char*(const char*)>& getenv_fn) {
  std::vector<std::string> out;
  for (const char* name :
       {"CAIRN_PASSWORD", "BACKUP_ENCRYPTION_KEY", "AZURE_STORAGE_CONNECTION_STRING"}) {
    std::string v = GetOr(getenv_fn, name);
    if (!v.empty()) out.push_back(std::move(v));
  }
  return out;
}

std::string DefaultLogFile(const std::function<const char*(const char*)>& getenv_fn) {
  const std::string state = StateDir(getenv_fn, GetOr(getenv_fn, "HOME"));
  return state.empty() ? "" : state + "/logs/backup.log";
}

std::vector<std::string> RotatedLogFiles(const std::string& file, uint32_t max_files) {
  // As spdlog's file_helper::split_by_extension: the extension starts at the
  // last '.' of the file name, unless that is its first character.
  const size_t slash = file.rfind('/');
  const size_t name_start = slash == std::string::npos ? 0 : slash + 1;
  size_t dot = file.rfind('.');
  if (dot == std::string::npos || dot <= name_start || dot == file.size() - 1) dot = file.size();
  std::vector<std::string> out;
  for (uint32_t i = 1; i <= max_files; ++i)
    out.push_back(file.substr(0, dot) + "." + std::to_string(i) + file.substr(dot));
  return out;
}

// ---------------------------------------------------------------------------

Result<std::unique_ptr<Logger>> Logger::Create(const LogOptions& options) {
  if (options.max_file_bytes == 0) {
    return Status::InvalidArgument("the log file's maximum size must be more than 0");
  }
  auto redactor = std::make_shared<Redactor>();
  for (const std::string& secret : options.secrets) redactor->AddSecret(secret);

  std::vector<spdlog::sink_ptr> sinks;
  if (options.console != nullptr) {
    bool journal = options.console_style == LogOptions::ConsoleStyle::kJournal ||
                   (options.console_style == LogOptions::ConsoleStyle::kAuto &&
                    options.console == stderr && StderrIsJournal());
    auto console = std::make_shared<ConsoleSink>(options.console, journal);
    console->set_pattern("%Y-%m-%d %H:%M:%S.%e [%l] %v");
    sinks.push_back(std::move(console));
  }
  if (!options.file.empty()) {
    fs::path file(options.file);
    CAIRN_RETURN_IF_ERROR(MakeFolders(file.parent_path()));
    // Opened here first so that a failure is an errno Status naming the
    // file, not spdlog's exception text.
    int fd = ::open(file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return ErrnoStatus(errno, "open log file", file.string());
    ::close(fd);
    spdlog::file_event_handlers handlers;
    handlers.after_open = [](const spdlog::filename_t&, std::FILE* f) {
      // A rotated-in file is created by fopen, with the umask's mode and
      // inherited by child processes (alert commands) unless told.
      int fd = ::fileno(f);
      ::fchmod(fd, 0600);
      ::fcntl(fd, F_SETFD, ::fcntl(fd, F_GETFD) | FD_CLOEXEC);
    };
    try {
      auto rotating = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
          options.file, options.max_file_bytes, options.max_files, false, handlers);
      rotating->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z [%l] %v");
      sinks.push_back(std::move(rotating));
    } catch (const spdlog::spdlog_ex& e) {
      return Status::IOError("cannot open log file " + options.file + ": " + e.what());
    }
  }
  auto impl = std::make_shared<spdlog::logger>("cairn", sinks.begin(), sinks.end());
  impl->set_level(spdlog::level::trace);  // Logger filters; the sinks take all they get
  impl->flush_on(spdlog::level::info);
  // spdlog's own errors (a failed write or rotation) never throw out of a
  // log call; say so once on the console, where someone may see it.
  std::FILE* console = options.console;
  auto reported = std::make_shared<std::atomic<bool>>(false);
  impl->set_error_handler([console, reported](const std::string& what) {
    if (console != nullptr && !reported->exchange(true)) {
      std::fprintf(console, "cairn: cannot write the log file: %s\n", what.c_str());
      std::fflush(console);
    }
  });
  return std::unique_ptr<Logger>(
      new Logger(std::move(redactor), std::move(impl), options.file, options.level));
}

Logger::Logger(std::shared_ptr<Redactor> redactor, std::shared_ptr<spdlog::logger> impl,
               std::string file, LogLevel level)
    : redactor_(std::move(redactor)),
      impl_(std::move(impl)),
      file_(std::move(file)),
      level_(static_cast<int>(level)) {}

Logger::~Logger() { Flush(); }

void Logger::Log(LogLevel level, std::string_view message) {
  if (!Enabled(level)) return;
  std::string line = EscapeControl(redactor_->Redact(message));
  // The overload that takes the text as it is: never as a format string,
  // where a '{' in a file name would be an error.
  impl_->log(spdlog::source_loc{}, ToSpdlog(level),
             spdlog::string_view_t(line.data(), line.size()));
}

void Logger::SetLevel(LogLevel level) { level_.store(static_cast<int>(level)); }

void Logger::Flush() { impl_->flush(); }

}  // namespace cairn::daemon
