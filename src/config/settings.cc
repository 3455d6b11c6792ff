#include "config/settings.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <system_error>
#include <utility>

#include "base/bytes.h"
#include "base/errno_status.h"

namespace cairn::config {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kMaxFileBytes = 1 << 20;  // a settings file larger than this is a mistake

// ---------------------------------------------------------------------------
// Small string helpers.

std::string Join(const std::vector<std::string_view>& items, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += sep;
    out += items[i];
  }
  return out;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// " (did you mean 'x'?)" when `name` is a likely typo of one of `allowed`.
std::string Suggestion(std::string_view name, const std::vector<std::string_view>& allowed) {
  std::string lower = AsciiLower(name);
  std::string_view best;
  size_t best_distance = 3;  // suggest only within two edits
  for (std::string_view candidate : allowed) {
    size_t d = EditDistance(lower, candidate);
    if (d < best_distance && d < candidate.size()) {
      best = candidate;
      best_distance = d;
    }
  }
  if (best.empty()) return "";
  return " (did you mean '" + std::string(best) + "'?)";
}

// ---------------------------------------------------------------------------
// Validators shared by the file and the environment. Each returns the value
// to store, or InvalidArgument with a message that does not yet say where.

Result<std::string> NotEmpty(std::string_view v) {
  if (v.empty())
    return Status::InvalidArgument("must not be empty; remove the key to leave it unset");
  return std::string(v);
}

Result<std::string> NormalizeCompression(std::string_view v) {
  std::string lower = AsciiLower(v);
  if (lower == "zstd" || lower == "gzip" || lower == "none") return lower;
  return Status::InvalidArgument("'" + std::string(v) + "' is not allowed; use zstd, gzip or none");
}

Result<std::string> NormalizeLogLevel(std::string_view v) {
  std::string lower = AsciiLower(v);
  if (lower == "warn") return std::string("warning");
  if (lower == "fatal") return std::string("critical");
  for (std::string_view level : {"trace", "debug", "info", "warning", "error", "critical"}) {
    if (lower == level) return lower;
  }
  return Status::InvalidArgument("'" + std::string(v) +
                                 "' is not allowed; use trace, debug, info, warning, error or "
                                 "critical");
}

Result<std::string> NormalizeWatchMode(std::string_view v) {
  std::string lower = AsciiLower(v);
  if (lower == "auto" || lower == "inotify" || lower == "poll") return lower;
  return Status::InvalidArgument("'" + std::string(v) +
                                 "' is not allowed; use auto, inotify or poll");
}

Result<std::string> ValidateHost(std::string_view v) {
  if (v.empty()) return Status::InvalidArgument("must not be empty");
  for (char c : v) {
    if (static_cast<unsigned char>(c) <= ' ' || c == '/') {
      return Status::InvalidArgument("'" + std::string(v) +
                                     "' is not a host name or address (e.g. 127.0.0.1)");
    }
  }
  return std::string(v);
}

// The device id names this machine's history in a shared repository.
Result<std::string> ValidateDeviceId(std::string_view v) {
  if (v.empty()) return Status::InvalidArgument("must not be empty");
  if (v.size() > 128) return Status::InvalidArgument("is longer than 128 characters");
  for (char c : v) {
    if (c == '/' || c == '\\' || static_cast<unsigned char>(c) < ' ' || c == 0x7f) {
      return Status::InvalidArgument("'" + std::string(v) +
                                     "' must not contain '/', '\\' or control characters");
    }
  }
  return std::string(v);
}

// Azure's rules: 3..63 characters of lower-case letters, digits and '-',
// starting and ending with a letter or digit, no "--".
Result<std::string> ValidateContainer(std::string_view v) {
  bool ok = v.size() >= 3 && v.size() <= 63 && v.front() != '-' && v.back() != '-' &&
            v.find("--") == std::string_view::npos;
  for (char c : v) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) ok = false;
  }
  if (ok) return std::string(v);
  return Status::InvalidArgument(
      "'" + std::string(v) +
      "' is not a valid Azure container name (3 to 63 lower-case letters, digits and single "
      "hyphens, starting and ending with a letter or digit)");
}

Result<std::string> ValidatePrefix(std::string_view v) {
  if (!v.empty() && (v.front() == '/' || v.back() == '/')) {
    return Status::InvalidArgument("'" + std::string(v) +
                                   "' must not start or end with '/' (e.g. cairn or team/cairn)");
  }
  return std::string(v);
}

Result<std::string> NormalizeAccessTier(std::string_view v) {
  std::string lower = AsciiLower(v);
  if (lower == "hot") return std::string("Hot");
  if (lower == "cool") return std::string("Cool");
  if (lower == "cold") return std::string("Cold");
  if (lower == "archive") {
    return Status::InvalidArgument(
        "'" + std::string(v) +
        "' is not allowed: archived blobs cannot be read without hours of rehydration; use Hot, "
        "Cool or Cold");
  }
  return Status::InvalidArgument("'" + std::string(v) + "' is not allowed; use Hot, Cool or Cold");
}

// A repository location: a URL (scheme://...) is kept, a path is ~-expanded.
Result<std::string> NormalizeLocation(std::string_view v) {
  if (v.empty())
    return Status::InvalidArgument("must not be empty; remove the key to leave it unset");
  if (v.find("://") != std::string_view::npos) return std::string(v);
  return ExpandHome(v);
}

Result<std::string> NormalizePath(std::string_view v) {
  if (v.empty())
    return Status::InvalidArgument("must not be empty; remove the key to leave it unset");
  return ExpandHome(v);
}

Result<std::string> NormalizeWatchedDirectory(std::string_view v) {
  if (v.empty()) return Status::InvalidArgument("must not be empty");
  std::string expanded = ExpandHome(v);
  if (!expanded.empty() && expanded[0] == '~' && (expanded.size() == 1 || expanded[1] == '/')) {
    return Status::InvalidArgument("'" + std::string(v) +
                                   "' cannot be expanded because HOME is not set");
  }
  if (expanded.empty() || expanded[0] != '/') {
    return Status::InvalidArgument("'" + std::string(v) +
                                   "' is relative; use an absolute path or one starting with ~/");
  }
  std::string normal = fs::path(expanded).lexically_normal().string();
  while (normal.size() > 1 && normal.back() == '/') normal.pop_back();
  return normal;
}

Result<std::string> ValidatePattern(std::string_view v) {
  if (v.empty()) return Status::InvalidArgument("an empty pattern matches nothing; remove it");
  return std::string(v);
}

// --- The daemon's keys (logging.file, alerts.*) ---

// logging.file: "" turns the file off, so it is kept; else ~-expanded and
// absolute (a daemon's working directory is no place for a relative path).
Result<std::string> NormalizeLogFile(std::string_view v) {
  if (v.empty()) return std::string();
  std::string expanded = ExpandHome(v);
  if (expanded.empty() || expanded[0] != '/') {
    return Status::InvalidArgument("'" + std::string(v) +
                                   "' is relative; use an absolute path, one starting with ~/, "
                                   "or \"\" for no log file");
  }
  return expanded;
}

// The message never repeats the value: a webhook URL usually holds a token,
// and a bad settings file's error is logged on reload.
Result<std::string> ValidateWebhookUrl(std::string_view v) {
  if (v.empty()) return std::string();
  std::string lower = AsciiLower(v.substr(0, 8));
  bool http = lower.rfind("http://", 0) == 0 && v.size() > 7;
  bool https = lower.rfind("https://", 0) == 0 && v.size() > 8;
  if (!http && !https) {
    return Status::InvalidArgument("must be an http:// or https:// URL (or \"\" for none)");
  }
  for (char c : v) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) {
      return Status::InvalidArgument("must not contain spaces or control characters");
    }
  }
  return std::string(v);
}

// --- end of the daemon's keys ---

// ---------------------------------------------------------------------------
// Reading YAML nodes.

// Where a value sits: its key path and its line.
struct Where {
  std::string path;
  YAML::Mark mark;
};

class Reporter {
 public:
  explicit Reporter(std::string_view source) : source_(source) {}

  Status Error(const Where& where, std::string_view what) const {
    std::string m;
    if (!source_.empty()) m.append(source_).append(": ");
    if (!where.path.empty()) m.append(where.path).append(": ");
    m.append(what);
    if (!where.mark.is_null())
      m.append(" (line ").append(std::to_string(where.mark.line + 1)).append(")");
    return Status::InvalidArgument(std::move(m));
  }

 private:
  std::string_view source_;
};

std::string Describe(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null:
      return "no value";
    case YAML::NodeType::Scalar:
      return "'" + n.Scalar() + "'";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Undefined:
      break;
  }
  return "an undefined value";
}

YAML::Mark MarkOf(const YAML::Node& value, const YAML::Mark& fallback) {
  YAML::Mark m = value.Mark();
  return m.is_null() ? fallback : m;
}

Result<std::string> ReadText(const Reporter& r, const Where& w, const YAML::Node& n) {
  if (n.IsNull()) {
    bool item = !w.path.empty() && w.path.back() == ']';
    return r.Error(
        w, item ? "is an empty item; remove it" : "has no value; give one or remove the key");
  }
  if (!n.IsScalar()) return r.Error(w, "expected a single value, got " + Describe(n));
  return n.Scalar();
}

struct Integer {
  bool negative = false;
  uint64_t magnitude = 0;
};

Result<Integer> ReadInteger(const Reporter& r, const Where& w, const YAML::Node& n) {
  if (n.IsNull()) return r.Error(w, "has no value; give a number or remove the key");
  if (!n.IsScalar()) return r.Error(w, "expected a number, got " + Describe(n));
  const std::string& text = n.Scalar();
  // A quoted scalar ("5") or one tagged as text (!!str 5) is text, even if it
  // looks like a number; "?" is the tag of a plain scalar.
  if (n.Tag() == "!") {
    return r.Error(w, "expected a number, got the quoted text '" + text + "'; remove the quotes");
  }
  if (n.Tag() != "?" && n.Tag() != "tag:yaml.org,2002:int") {
    return r.Error(w, "expected a number, got '" + text + "' tagged " + n.Tag());
  }
  std::string_view digits = text;
  Integer v;
  if (!digits.empty() && (digits[0] == '-' || digits[0] == '+')) {
    v.negative = digits[0] == '-';
    digits.remove_prefix(1);
  }
  bool all_digits = !digits.empty() && std::all_of(digits.begin(), digits.end(),
                                                   [](char c) { return c >= '0' && c <= '9'; });
  if (!all_digits) return r.Error(w, "expected a whole number, got '" + text + "'");
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v.magnitude);
  if (ec != std::errc() || end != digits.data() + digits.size()) {
    return r.Error(w, "'" + text + "' is too large");
  }
  if (v.magnitude == 0) v.negative = false;
  return v;
}

Result<uint64_t> ReadUnsigned(const Reporter& r, const Where& w, const YAML::Node& n, uint64_t min,
                              uint64_t max) {
  CAIRN_ASSIGN_OR_RETURN(Integer v, ReadInteger(r, w, n));
  if (v.negative) return r.Error(w, "must not be negative, got " + n.Scalar());
  if (v.magnitude < min || v.magnitude > max) {
    return r.Error(w, "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                          ", got " + n.Scalar());
  }
  return v.magnitude;
}

// true or false (YAML 1.2's core schema, any case); yes/no/on/off (YAML 1.1)
// are refused as ambiguous, and quoted text is not a boolean.
Result<bool> ReadBool(const Reporter& r, const Where& w, const YAML::Node& n) {
  if (n.IsNull()) return r.Error(w, "has no value; give true or false, or remove the key");
  if (!n.IsScalar()) return r.Error(w, "expected true or false, got " + Describe(n));
  std::string lower = n.Scalar();
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (n.Tag() == "?" && (lower == "true" || lower == "false")) return lower == "true";
  return r.Error(w, "expected true or false, got '" + n.Scalar() + "'");
}

Result<int> ReadSigned(const Reporter& r, const Where& w, const YAML::Node& n) {
  CAIRN_ASSIGN_OR_RETURN(Integer v, ReadInteger(r, w, n));
  constexpr uint64_t kLimit = 1000000;  // far outside every algorithm's scale
  if (v.magnitude > kLimit) return r.Error(w, "'" + n.Scalar() + "' is out of range");
  int magnitude = static_cast<int>(v.magnitude);
  return v.negative ? -magnitude : magnitude;
}

Result<std::vector<std::string>> ReadList(const Reporter& r, const Where& w, const YAML::Node& n,
                                          Result<std::string> (*normalize)(std::string_view)) {
  std::vector<std::string> out;
  if (n.IsNull()) return out;  // "key:" with nothing after it: an empty list
  if (!n.IsSequence()) {
    return r.Error(w,
                   "expected a list such as [a, b] or one '- item' per line, got " + Describe(n));
  }
  size_t index = 0;
  for (const YAML::Node& item : n) {
    // yaml-cpp marks an empty item at the token after it; use the key's line.
    Where iw{w.path + "[" + std::to_string(index++) + "]",
             item.IsNull() ? w.mark : MarkOf(item, w.mark)};
    CAIRN_ASSIGN_OR_RETURN(std::string text, ReadText(r, iw, item));
    Result<std::string> normal = normalize(text);
    if (!normal.ok()) return r.Error(iw, normal.error().message());
    out.push_back(std::move(normal).value());
  }
  return out;
}

// ---------------------------------------------------------------------------
// The schema: sections, their keys and how each key is read.

struct ParseState {
  Settings s;
  std::optional<Where> level_where;      // where compression_level was given
  std::optional<Where> max_delay_where;  // where max_delay_seconds was given
  std::optional<Where> stability_where;  // where stability_seconds was given
  std::optional<Where> tls_where;        // where web.tls_cert or web.tls_key was given
};

using Apply = std::function<Status(const Reporter&, const Where&, const YAML::Node&, ParseState&)>;

struct KeySpec {
  std::string_view name;
  Apply apply;
};

struct SectionSpec {
  std::string_view name;
  std::vector<KeySpec> keys;
};

template <typename T>
KeySpec UnsignedKey(std::string_view name, T Settings::*field, uint64_t min, uint64_t max) {
  return {name, [=](const Reporter& r, const Where& w, const YAML::Node& n, ParseState& st) {
            CAIRN_ASSIGN_OR_RETURN(uint64_t v, ReadUnsigned(r, w, n, min, max));
            st.s.*field = static_cast<T>(v);
            return Status::OK();
          }};
}

KeySpec BoolKey(std::string_view name, bool Settings::*field) {
  return {name, [=](const Reporter& r, const Where& w, const YAML::Node& n, ParseState& st) {
            CAIRN_ASSIGN_OR_RETURN(st.s.*field, ReadBool(r, w, n));
            return Status::OK();
          }};
}

KeySpec TextKey(std::string_view name, std::string Settings::*field,
                Result<std::string> (*normalize)(std::string_view)) {
  return {name, [=](const Reporter& r, const Where& w, const YAML::Node& n, ParseState& st) {
            CAIRN_ASSIGN_OR_RETURN(std::string text, ReadText(r, w, n));
            Result<std::string> normal = normalize(text);
            if (!normal.ok()) return r.Error(w, normal.error().message());
            st.s.*field = std::move(normal).value();
            return Status::OK();
          }};
}

KeySpec ListKey(std::string_view name, std::vector<std::string> Settings::*field,
                Result<std::string> (*normalize)(std::string_view)) {
  return {name, [=](const Reporter& r, const Where& w, const YAML::Node& n, ParseState& st) {
            CAIRN_ASSIGN_OR_RETURN(st.s.*field, ReadList(r, w, n, normalize));
            return Status::OK();
          }};
}

// alerts.command: a string (run by /bin/sh -c) or a list (an argv).
Status ReadAlertCommand(const Reporter& r, const Where& w, const YAML::Node& n, ParseState& st) {
  std::vector<std::string> argv;
  if (!n.IsScalar() && !n.IsSequence()) {
    return r.Error(w,
                   "expected a command (a string, run by /bin/sh -c) or a list of arguments, got " +
                       Describe(n));
  }
  if (n.IsScalar()) {
    CAIRN_ASSIGN_OR_RETURN(std::string text, ReadText(r, w, n));
    if (text.empty()) {
      st.s.alert_command.clear();  // "" = none, as for webhook_url
      return Status::OK();
    }
    argv = {"/bin/sh", "-c", std::move(text)};
  } else {
    CAIRN_ASSIGN_OR_RETURN(argv, ReadList(r, w, n, NotEmpty));
    if (argv.empty()) return r.Error(w, "is an empty list; give a command or remove the key");
    argv[0] = ExpandHome(argv[0]);
  }
  st.s.alert_command = std::move(argv);
  return Status::OK();
}

constexpr uint64_t kU32Max = std::numeric_limits<uint32_t>::max();
constexpr uint64_t kU64Max = std::numeric_limits<uint64_t>::max();

const std::vector<SectionSpec>& Schema() {
  static const std::vector<SectionSpec>* const schema =
      new std::vector<SectionSpec>{
          {"backup",
           {
               ListKey("watched_directories", &Settings::watched_directories,
                       NormalizeWatchedDirectory),
               ListKey("exclude_patterns", &Settings::exclude_patterns, ValidatePattern),
               BoolKey("exclude_caches", &Settings::exclude_caches),
               BoolKey("exclude_editor_temporaries", &Settings::exclude_editor_temporaries),
               TextKey("compression", &Settings::compression, NormalizeCompression),
               {"compression_level",
                [](const Reporter& r, const Where& w, const YAML::Node& n, ParseState& st) {
                  CAIRN_ASSIGN_OR_RETURN(int level, ReadSigned(r, w, n));
                  st.s.compression_level = level;
                  st.level_where = w;  // checked against the algorithm once the section is read
                  return Status::OK();
                }},
               // Sizes are converted to bytes later; keep that from overflowing.
               UnsignedKey("max_file_size_mb", &Settings::max_file_size_mb, 0, kU64Max >> 20),
               UnsignedKey("backup_interval_minutes", &Settings::backup_interval_minutes, 1,
                           kU32Max),
               UnsignedKey("pack_size_mb", &Settings::pack_size_mb, 1, 512),
               UnsignedKey("threads", &Settings::threads, 0, 1024),
               TextKey("watch_mode", &Settings::watch_mode, NormalizeWatchMode),
               UnsignedKey("poll_interval_seconds", &Settings::poll_interval_seconds, 1, 86400),
               {"stability_seconds",
                [](const Reporter& r, const Where& w, const YAML::Node& n, ParseState& st) {
                  CAIRN_ASSIGN_OR_RETURN(uint64_t v, ReadUnsigned(r, w, n, 0, 3600));
                  st.s.stability_seconds = static_cast<uint32_t>(v);
                  st.stability_where = w;  // checked against max_delay_seconds below
                  return Status::OK();
                }},
               {"max_delay_seconds",
                [](const Reporter& r, const Where& w, const YAML::Node& n, ParseState& st) {
                  CAIRN_ASSIGN_OR_RETURN(uint64_t v, ReadUnsigned(r, w, n, 1, 86400));
                  st.s.max_delay_seconds = static_cast<uint32_t>(v);
                  st.max_delay_where = w;
                  return Status::OK();
                }},
           }},
          {"versioning",
           {
               UnsignedKey("max_versions_per_file", &Settings::max_versions_per_file, 0, kU32Max),
               UnsignedKey("retention_days", &Settings::retention_days, 0, kU32Max),
               UnsignedKey("keep_last", &Settings::keep_last, 0, kU32Max),
               UnsignedKey("keep_hourly", &Settings::keep_hourly, 0, kU32Max),
               UnsignedKey("keep_daily", &Settings::keep_daily, 0, kU32Max),
               UnsignedKey("keep_weekly", &Settings::keep_weekly, 0, kU32Max),
               UnsignedKey("keep_monthly", &Settings::keep_monthly, 0, kU32Max),
               UnsignedKey("keep_yearly", &Settings::keep_yearly, 0, kU32Max),
               {"keep_within",
                [](const Reporter& r, const Where& w, const YAML::Node& n, ParseState& st) {
                  CAIRN_ASSIGN_OR_RETURN(std::string text, ReadText(r, w, n));
                  if (text.empty()) {
                    st.s.keep_within = {};
                    return Status::OK();
                  }
                  auto span = ParseCalendarSpan(text);
                  if (!span.ok()) return r.Error(w, span.error().message());
                  st.s.keep_within = *span;
                  return Status::OK();
                }},
           }},
          {"web",
           {
               BoolKey("enabled", &Settings::web_enabled),
               TextKey("host", &Settings::web_host, ValidateHost),
               UnsignedKey("port", &Settings::web_port, 1, 65535),
               TextKey("token_file", &Settings::web_token_file, NormalizePath),
               TextKey("readonly_token_file", &Settings::web_readonly_token_file, NormalizePath),
               {"tls_cert",
                [](const Reporter& r, const Where& w, const YAML::Node& n, ParseState& st) {
                  CAIRN_ASSIGN_OR_RETURN(std::string text, ReadText(r, w, n));
                  Result<std::string> path = NormalizePath(text);
                  if (!path.ok()) return r.Error(w, path.error().message());
                  st.s.web_tls_cert = std::move(path).value();
                  st.tls_where = w;
                  return Status::OK();
                }},
               {"tls_key",
                [](const Reporter& r, const Where& w, const YAML::Node& n, ParseState& st) {
                  CAIRN_ASSIGN_OR_RETURN(std::string text, ReadText(r, w, n));
                  Result<std::string> path = NormalizePath(text);
                  if (!path.ok()) return r.Error(w, path.error().message());
                  st.s.web_tls_key = std::move(path).value();
                  st.tls_where = w;
                  return Status::OK();
                }},
               BoolKey("allow_insecure_remote", &Settings::web_allow_insecure_remote),
               ListKey("allowed_hosts", &Settings::web_allowed_hosts, ValidateHost),
               UnsignedKey("health_max_age_minutes", &Settings::web_health_max_age_minutes, 1,
                           525600),
           }},
          {"logging",
           {
               TextKey("level", &Settings::log_level, NormalizeLogLevel),
               // The daemon's log file (src/daemon/log.h).
               {
                   "file",
                   [](const Reporter& r, const Where& w, const YAML::Node& n, ParseState& st) {
                     // A bare "file:" is a mistake, not "off": off is file: "".
                     CAIRN_ASSIGN_OR_RETURN(std::string text, ReadText(r, w, n));
                     Result<std::string> normal = NormalizeLogFile(text);
                     if (!normal.ok()) return r.Error(w, normal.error().message());
                     st.s.log_file = std::move(normal).value();
                     return Status::OK();
                   }},
               UnsignedKey("max_file_mb", &Settings::log_max_file_mb, 1, 1024),
               UnsignedKey("max_files", &Settings::log_max_files, 0, 100),
           }},
          {"repository",
           {
               TextKey("location", &Settings::repository, NormalizeLocation),
               TextKey("device_id", &Settings::device_id, ValidateDeviceId),
               TextKey("password_file", &Settings::password_file, NormalizePath),
           }},
          {"azure",
           {
               TextKey("connection_string", &Settings::azure_connection_string, NotEmpty),
               TextKey("container", &Settings::azure_container, ValidateContainer),
               TextKey("prefix", &Settings::azure_prefix, ValidatePrefix),
               TextKey("access_tier", &Settings::azure_access_tier, NormalizeAccessTier),
               UnsignedKey("connections", &Settings::azure_connections, 1, 128),
               UnsignedKey("limit_upload_kib", &Settings::azure_limit_upload_kib, 0, kU64Max >> 10),
               UnsignedKey("limit_download_kib", &Settings::azure_limit_download_kib, 0,
                           kU64Max >> 10),
               UnsignedKey("stall_timeout_seconds", &Settings::azure_stall_timeout_seconds, 1,
                           3600),
           }},
          // The daemon's alerts (src/daemon/alerts.h).
          {"alerts",
           {
               {"command", ReadAlertCommand},
               {"webhook_url",
                [](const Reporter& r, const Where& w, const YAML::Node& n, ParseState& st) {
                  CAIRN_ASSIGN_OR_RETURN(std::string text, ReadText(r, w, n));
                  Result<std::string> url = ValidateWebhookUrl(text);
                  if (!url.ok()) return r.Error(w, url.error().message());
                  st.s.alert_webhook_url = std::move(url).value();
                  return Status::OK();
                }},
               UnsignedKey("stale_after_hours", &Settings::alert_stale_after_hours, 0, 24 * 365),
               UnsignedKey("timeout_seconds", &Settings::alert_timeout_seconds, 1, 3600),
           }},
          {"maintenance",
           {
               UnsignedKey("restore_sample_files", &Settings::restore_sample_files, 0, 100000),
           }},
      };
  return *schema;
}

// Reads the key of a mapping entry; keys must be plain names.
Result<std::string> ReadKey(const Reporter& r, const std::string& parent, const YAML::Node& key) {
  if (!key.IsScalar()) {
    return r.Error({parent, key.Mark()}, "expected key names, got " + Describe(key) + " as a key");
  }
  return key.Scalar();
}

// The errors for a name the schema does not know, shared by the parser and
// CheckSettingsKey.
Status UnknownKey(const Reporter& r, const Where& w, const SectionSpec& spec,
                  std::string_view name) {
  std::vector<std::string_view> allowed;
  for (const KeySpec& k : spec.keys) allowed.push_back(k.name);
  return r.Error(w, "unknown key" + Suggestion(name, allowed) + "; allowed keys in " +
                        std::string(spec.name) + ": " + Join(allowed, ", "));
}

Status UnknownSection(const Reporter& r, const Where& w, std::string_view name) {
  std::vector<std::string_view> allowed;
  for (const SectionSpec& s : Schema()) allowed.push_back(s.name);
  return r.Error(w, "unknown section" + Suggestion(name, allowed) +
                        "; allowed sections: " + Join(allowed, ", "));
}

Status ParseSection(const Reporter& r, const SectionSpec& spec, const Where& where,
                    const YAML::Node& node, ParseState& st) {
  if (node.IsNull()) return Status::OK();  // "section:" with only comments under it
  if (!node.IsMap()) {
    return r.Error(where, "expected keys such as '" + std::string(spec.keys.front().name) +
                              ": ...' under the section, got " + Describe(node));
  }
  std::set<std::string> seen;
  for (const auto& entry : node) {
    CAIRN_ASSIGN_OR_RETURN(std::string name, ReadKey(r, where.path, entry.first));
    Where kw{where.path + "." + name, entry.first.Mark()};
    auto it = std::find_if(spec.keys.begin(), spec.keys.end(),
                           [&](const KeySpec& k) { return k.name == name; });
    if (it == spec.keys.end()) return UnknownKey(r, kw, spec, name);
    if (!seen.insert(name).second) return r.Error(kw, "is given twice");
    CAIRN_RETURN_IF_ERROR(it->apply(r, kw, entry.second, st));
  }
  return Status::OK();
}

Status CheckCompressionLevel(const Reporter& r, const ParseState& st) {
  if (!st.s.compression_level) return Status::OK();
  int level = *st.s.compression_level;
  const std::string& algorithm = st.s.compression;
  if (algorithm == "none") {
    return r.Error(*st.level_where, "has no meaning with compression none; remove it");
  }
  int max = algorithm == "zstd" ? 19 : 9;
  if (level < 1 || level > max) {
    return r.Error(*st.level_where, std::to_string(level) + " is out of range for " + algorithm +
                                        "; use 1.." + std::to_string(max));
  }
  return Status::OK();
}

// A change is backed up at the latest max_delay_seconds after it was first
// seen, and no sooner than stability_seconds after the last one: a maximum
// below the wait would silently shorten the wait, so it is refused.
Status CheckDelays(const Reporter& r, const ParseState& st) {
  if (st.s.max_delay_seconds >= st.s.stability_seconds) return Status::OK();
  const Where& w = st.max_delay_where ? *st.max_delay_where : *st.stability_where;
  return r.Error(w, "max_delay_seconds (" + std::to_string(st.s.max_delay_seconds) +
                        ") must not be less than stability_seconds (" +
                        std::to_string(st.s.stability_seconds) + ")");
}

// A certificate without its key (or the reverse) cannot serve TLS.
Status CheckTls(const Reporter& r, const ParseState& st) {
  if (st.s.web_tls_cert.empty() == st.s.web_tls_key.empty()) return Status::OK();
  return r.Error(*st.tls_where,
                 st.s.web_tls_cert.empty()
                     ? "is set without web.tls_cert; give both (PEM files) or neither"
                     : "is set without web.tls_key; give both (PEM files) or neither");
}

Status ParseRoot(const Reporter& r, const YAML::Node& root, ParseState& st) {
  const std::vector<SectionSpec>& schema = Schema();
  if (!root.IsMap()) {
    return r.Error({"", root.Mark()},
                   "expected sections such as 'backup:' at the top level, got " + Describe(root));
  }
  std::set<std::string> seen;
  for (const auto& entry : root) {
    CAIRN_ASSIGN_OR_RETURN(std::string name, ReadKey(r, "", entry.first));
    Where sw{name, entry.first.Mark()};
    auto it = std::find_if(schema.begin(), schema.end(),
                           [&](const SectionSpec& s) { return s.name == name; });
    if (it == schema.end()) return UnknownSection(r, sw, name);
    if (!seen.insert(name).second) return r.Error(sw, "section is given twice");
    CAIRN_RETURN_IF_ERROR(ParseSection(r, *it, sw, entry.second, st));
  }
  CAIRN_RETURN_IF_ERROR(CheckCompressionLevel(r, st));
  CAIRN_RETURN_IF_ERROR(CheckTls(r, st));
  return CheckDelays(r, st);
}

std::string Prefix(std::string_view source) {
  return source.empty() ? std::string() : std::string(source) + ": ";
}

}  // namespace

// ---------------------------------------------------------------------------

Result<Settings> ParseSettings(std::string_view yaml_text, std::string_view source_name) {
  Reporter r(source_name);
  ParseState st;
  st.s.source = std::string(source_name);
  try {
    YAML::Node root = YAML::Load(std::string(yaml_text));
    if (root.IsNull()) return st.s;  // empty, or only comments: all defaults
    CAIRN_RETURN_IF_ERROR(ParseRoot(r, root, st));
  } catch (const YAML::Exception& e) {
    std::string where;
    if (!e.mark.is_null()) {
      where = "line " + std::to_string(e.mark.line + 1) + ", column " +
              std::to_string(e.mark.column + 1) + ": ";
    }
    return Status::InvalidArgument(Prefix(source_name) + where + "not valid YAML: " + e.msg);
  }
  return std::move(st.s);
}

Result<Settings> LoadSettingsFile(const std::string& path) {
  std::error_code ec;
  fs::file_status status = fs::status(path, ec);
  if (status.type() == fs::file_type::not_found) {
    return Status::NotFound("config file '" + path + "' does not exist");
  }
  if (ec) return Status::IOError("cannot access config file '" + path + "': " + ec.message());
  if (status.type() == fs::file_type::directory) {
    return Status::InvalidArgument("config file '" + path + "' is a directory");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    if (err == EACCES) {
      return Status::PermissionDenied("cannot read config file '" + path + "': " + ErrnoText(err));
    }
    return Status::IOError("cannot read config file '" + path + "': " + ErrnoText(err));
  }
  std::string text;
  char buffer[8192];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    text.append(buffer, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxFileBytes) {
      return Status::InvalidArgument("config file '" + path +
                                     "' is larger than 1 MiB; is it "
                                     "really a settings file?");
    }
  }
  if (in.bad()) return Status::IOError("error reading config file '" + path + "'");
  return ParseSettings(text, path);
}

Result<Settings> LoadSettings(const std::optional<std::string>& explicit_path) {
  if (explicit_path) return LoadSettingsFile(*explicit_path);

  std::vector<std::string> candidates = {"config/settings.yaml"};
  const char* xdg = std::getenv("XDG_CONFIG_HOME");
  const char* home = std::getenv("HOME");
  if (xdg != nullptr && xdg[0] == '/') {
    candidates.push_back(std::string(xdg) + "/cairn/settings.yaml");
  } else if (home != nullptr && home[0] != '\0') {
    candidates.push_back(std::string(home) + "/.config/cairn/settings.yaml");
  }
  for (const std::string& candidate : candidates) {
    std::error_code ec;
    bool exists = fs::exists(candidate, ec);
    if (ec) return Status::IOError("cannot access '" + candidate + "': " + ec.message());
    if (exists) return LoadSettingsFile(candidate);
  }
  return Settings{};
}

Status CheckSettingsKey(std::string_view key, std::string_view source_name) {
  Reporter r(source_name);
  size_t dot = key.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == key.size() ||
      key.find('.', dot + 1) != std::string_view::npos) {
    return Status::InvalidArgument(Prefix(source_name) + "'" + std::string(key) +
                                   "' is not a settings key; name one as section.key, e.g. "
                                   "web.port");
  }
  std::string_view section = key.substr(0, dot), name = key.substr(dot + 1);
  const std::vector<SectionSpec>& schema = Schema();
  auto it = std::find_if(schema.begin(), schema.end(),
                         [&](const SectionSpec& s) { return s.name == section; });
  if (it == schema.end()) {
    return UnknownSection(r, {std::string(section), YAML::Mark::null_mark()}, section);
  }
  if (std::none_of(it->keys.begin(), it->keys.end(),
                   [&](const KeySpec& k) { return k.name == name; })) {
    return UnknownKey(r, {std::string(key), YAML::Mark::null_mark()}, *it, name);
  }
  return Status::OK();
}

Status ApplyEnvironment(Settings& s, const std::function<const char*(const char*)>& getenv_fn) {
  struct Override {
    const char* variable;
    std::string Settings::*field;
    Result<std::string> (*normalize)(std::string_view);
  };
  static constexpr Override kOverrides[] = {
      {"AZURE_STORAGE_CONNECTION_STRING", &Settings::azure_connection_string, NotEmpty},
      {"AZURE_CONTAINER_NAME", &Settings::azure_container, ValidateContainer},
      {"DEVICE_ID", &Settings::device_id, ValidateDeviceId},
      {"BACKUP_LOG_LEVEL", &Settings::log_level, NormalizeLogLevel},
      {"CAIRN_REPOSITORY", &Settings::repository, NormalizeLocation},
      {"CAIRN_PASSWORD_FILE", &Settings::password_file, NormalizePath},
  };
  Settings updated = s;
  for (const Override& o : kOverrides) {
    const char* value = getenv_fn(o.variable);
    if (value == nullptr || value[0] == '\0') continue;
    Result<std::string> normal = o.normalize(value);
    if (!normal.ok()) {
      return Status::InvalidArgument("environment variable " + std::string(o.variable) + ": " +
                                     normal.error().message());
    }
    updated.*o.field = std::move(normal).value();
  }
  s = std::move(updated);
  return Status::OK();
}

std::string ExpandHome(std::string_view path) {
  if (path.empty() || path[0] != '~' || (path.size() > 1 && path[1] != '/')) {
    return std::string(path);
  }
  const char* home_env = std::getenv("HOME");
  if (home_env == nullptr || home_env[0] == '\0') return std::string(path);
  std::string home = home_env;
  while (home.size() > 1 && home.back() == '/') home.pop_back();
  std::string_view rest = path.substr(1);  // "" or "/..."
  if (home == "/") return rest.empty() ? home : std::string(rest);
  return home + std::string(rest);
}

}  // namespace cairn::config
