#include "config/settings.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <string>

#include "testing/file_util.h"
#include "testing/scoped_env.h"
#include "testing/temp_dir.h"

namespace cairn::config {
namespace {

namespace fs = std::filesystem;
using ::cairn::testing::TempDir;
using ::cairn::testing::WriteFile;
using ::testing::HasSubstr;
using ::testing::Not;

using ::cairn::testing::ScopedEnv;

// Changes the working directory for the life of the object.
class ScopedCwd {
 public:
  explicit ScopedCwd(const fs::path& dir) : old_(fs::current_path()) { fs::current_path(dir); }
  ~ScopedCwd() { fs::current_path(old_); }

 private:
  fs::path old_;
};

std::string ErrorOf(const Result<Settings>& r) {
  EXPECT_FALSE(r.ok());
  if (r.ok()) return "";
  EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument) << r.error().ToString();
  return r.error().message();
}

// --- Parsing ---------------------------------------------------------------

TEST(ParseSettings, EmptyTextGivesDefaults) {
  for (std::string_view text : {"", "\n", "# only a comment\n"}) {
    Result<Settings> r = ParseSettings(text, "x.yaml");
    ASSERT_TRUE(r.ok()) << r.error().ToString();
    const Settings& s = *r;
    EXPECT_TRUE(s.watched_directories.empty());
    EXPECT_TRUE(s.exclude_patterns.empty());
    EXPECT_TRUE(s.exclude_caches);
    EXPECT_TRUE(s.exclude_editor_temporaries);
    EXPECT_EQ(s.compression, "zstd");
    EXPECT_FALSE(s.compression_level.has_value());
    EXPECT_EQ(s.max_file_size_mb, 0u);
    EXPECT_EQ(s.backup_interval_minutes, 60u);
    EXPECT_EQ(s.watch_mode, "auto");
    EXPECT_EQ(s.stability_seconds, 5u);
    EXPECT_EQ(s.poll_interval_seconds, 60u);
    EXPECT_EQ(s.max_delay_seconds, 60u);
    EXPECT_EQ(s.pack_size_mb, 16u);
    EXPECT_EQ(s.threads, 0u);
    EXPECT_EQ(s.max_versions_per_file, 0u);
    EXPECT_EQ(s.retention_days, 0u);
    EXPECT_EQ(s.web_host, "127.0.0.1");
    EXPECT_EQ(s.web_port, 5000);
    EXPECT_EQ(s.log_level, "info");
    EXPECT_EQ(s.repository, "");
    EXPECT_EQ(s.azure_container, "backups");
    EXPECT_EQ(s.azure_prefix, "cairn");
    EXPECT_EQ(s.azure_access_tier, "Hot");
    EXPECT_EQ(s.azure_connections, 8u);
    EXPECT_EQ(s.source, "x.yaml");
  }
}

void ExpectOriginalValues(const Settings& s) {
  EXPECT_THAT(s.watched_directories,
              ::testing::ElementsAre("/home/tester/Documents", "/home/tester/Pictures"));
  EXPECT_THAT(s.exclude_patterns, ::testing::ElementsAre("*.tmp", "*.log", ".git/*"));
  EXPECT_EQ(s.compression, "zstd");
  EXPECT_EQ(s.compression_level, 6);
  EXPECT_EQ(s.max_file_size_mb, 100u);
  EXPECT_EQ(s.backup_interval_minutes, 60u);
  EXPECT_EQ(s.max_versions_per_file, 5u);
  EXPECT_EQ(s.retention_days, 90u);
  EXPECT_EQ(s.web_host, "127.0.0.1");
  EXPECT_EQ(s.web_port, 5000);
  EXPECT_EQ(s.log_level, "info");
}

TEST(ParseSettings, OriginalDesignFile) {
  ScopedEnv home("HOME", "/home/tester");
  constexpr std::string_view kOriginal = R"(
backup:   {watched_directories: [~/Documents, ~/Pictures], exclude_patterns: ["*.tmp", "*.log", ".git/*"],
           compression_level: 6, max_file_size_mb: 100, backup_interval_minutes: 60}
versioning: {max_versions_per_file: 5, retention_days: 90}
web:      {host: 127.0.0.1, port: 5000}
logging:  {level: INFO}
)";
  Result<Settings> r = ParseSettings(kOriginal, "config/settings.yaml");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  ExpectOriginalValues(*r);
  EXPECT_EQ(r->source, "config/settings.yaml");
}

TEST(ParseSettings, ShippedExampleFile) {
  ScopedEnv home("HOME", "/home/tester");
  std::string path = std::string(CAIRN_SOURCE_DIR) + "/config/settings.example.yaml";
  Result<Settings> r = LoadSettingsFile(path);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  ExpectOriginalValues(*r);
  // cairn's own keys are commented out there, so they keep their defaults.
  EXPECT_EQ(r->pack_size_mb, 16u);
  EXPECT_EQ(r->repository, "");
  EXPECT_EQ(r->azure_container, "backups");
  EXPECT_EQ(r->source, path);
}

TEST(ParseSettings, AllKeys) {
  ScopedEnv home("HOME", "/home/tester");
  Result<Settings> r = ParseSettings(R"(
backup:
  watched_directories: [/data/photos/, "~"]
  compression: GZIP
  compression_level: 9
  pack_size_mb: 64
  threads: 4
web: {host: 0.0.0.0, port: 8080}
logging: {level: Warn}
repository:
  location: ~/repo
  device_id: laptop-1
  password_file: ~/.cairn-pass
azure:
  connection_string: "AccountName=a;AccountKey=b"
  container: my-backups
  prefix: team/cairn
  access_tier: cool
  connections: 16
  limit_upload_kib: 1024
  limit_download_kib: 2048
  stall_timeout_seconds: 5
)",
                                     "s.yaml");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  const Settings& s = *r;
  EXPECT_THAT(s.watched_directories, ::testing::ElementsAre("/data/photos", "/home/tester"));
  EXPECT_EQ(s.compression, "gzip");
  EXPECT_EQ(s.compression_level, 9);
  EXPECT_EQ(s.pack_size_mb, 64u);
  EXPECT_EQ(s.threads, 4u);
  EXPECT_EQ(s.web_host, "0.0.0.0");
  EXPECT_EQ(s.web_port, 8080);
  EXPECT_EQ(s.log_level, "warning");
  EXPECT_EQ(s.repository, "/home/tester/repo");
  EXPECT_EQ(s.device_id, "laptop-1");
  EXPECT_EQ(s.password_file, "/home/tester/.cairn-pass");
  EXPECT_EQ(s.azure_connection_string, "AccountName=a;AccountKey=b");
  EXPECT_EQ(s.azure_container, "my-backups");
  EXPECT_EQ(s.azure_prefix, "team/cairn");
  EXPECT_EQ(s.azure_access_tier, "Cool");
  EXPECT_EQ(s.azure_connections, 16u);
  EXPECT_EQ(s.azure_limit_upload_kib, 1024u);
  EXPECT_EQ(s.azure_limit_download_kib, 2048u);
  EXPECT_EQ(s.azure_stall_timeout_seconds, 5u);
}

TEST(ParseSettings, WatchKeys) {
  Result<Settings> r = ParseSettings(
      "backup: {watch_mode: Poll, stability_seconds: 1, max_delay_seconds: 10, "
      "backup_interval_minutes: 15, poll_interval_seconds: 1}",
      "");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->watch_mode, "poll");
  EXPECT_EQ(r->poll_interval_seconds, 1u);
  EXPECT_EQ(r->stability_seconds, 1u);
  EXPECT_EQ(r->max_delay_seconds, 10u);
  EXPECT_EQ(r->backup_interval_minutes, 15u);
  // 0: back up as soon as the change is read (still one batch per wait).
  r = ParseSettings("backup: {stability_seconds: 0}", "");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->stability_seconds, 0u);
  EXPECT_EQ(r->max_delay_seconds, 60u);
}

TEST(ParseSettings, BadWatchKeys) {
  EXPECT_THAT(ErrorOf(ParseSettings("backup: {watch_mode: fanotify}", "s.yaml")),
              HasSubstr("s.yaml: backup.watch_mode: 'fanotify' is not allowed; use auto, "
                        "inotify or poll (line 1)"));
  EXPECT_THAT(ErrorOf(ParseSettings("backup: {stability_seconds: 3601}", "")),
              HasSubstr("backup.stability_seconds: must be between 0 and 3600"));
  EXPECT_THAT(ErrorOf(ParseSettings("backup: {max_delay_seconds: 0}", "")),
              HasSubstr("backup.max_delay_seconds: must be between 1 and 86400"));
  EXPECT_THAT(ErrorOf(ParseSettings("backup: {poll_interval_seconds: 0}", "")),
              HasSubstr("backup.poll_interval_seconds: must be between 1 and 86400"));
  // The maximum may not cut the wait short, whichever of the two is given.
  EXPECT_THAT(ErrorOf(ParseSettings("backup: {stability_seconds: 10, max_delay_seconds: 5}", "")),
              HasSubstr("backup.max_delay_seconds: max_delay_seconds (5) must not be less than "
                        "stability_seconds (10)"));
  EXPECT_THAT(ErrorOf(ParseSettings("backup:\n  stability_seconds: 90\n", "")),
              HasSubstr("backup.stability_seconds: max_delay_seconds (60) must not be less than "
                        "stability_seconds (90) (line 2)"));
}

TEST(ParseSettings, ExcludeSwitches) {
  Result<Settings> r =
      ParseSettings("backup: {exclude_caches: false, exclude_editor_temporaries: FALSE}", "");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_FALSE(r->exclude_caches);
  EXPECT_FALSE(r->exclude_editor_temporaries);
  r = ParseSettings("backup:\n  exclude_caches: True\n", "");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_TRUE(r->exclude_caches);
  EXPECT_THAT(
      ErrorOf(ParseSettings("backup: {exclude_caches: no}", "s.yaml")),
      HasSubstr("s.yaml: backup.exclude_caches: expected true or false, got 'no' (line 1)"));
  EXPECT_THAT(ErrorOf(ParseSettings("backup: {exclude_caches: 'false'}", "")),
              HasSubstr("backup.exclude_caches: expected true or false, got 'false'"));
  EXPECT_THAT(ErrorOf(ParseSettings("backup: {exclude_editor_temporaries: [true]}", "")),
              HasSubstr("backup.exclude_editor_temporaries: expected true or false, got a list"));
  EXPECT_THAT(ErrorOf(ParseSettings("backup:\n  exclude_caches:\n", "")),
              HasSubstr("backup.exclude_caches: has no value"));
}

TEST(ParseSettings, AzureUrlIsNotExpanded) {
  Result<Settings> r = ParseSettings("repository: {location: 'azure://backups/cairn'}", "");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->repository, "azure://backups/cairn");
}

TEST(ParseSettings, EmptySectionIsAllowed) {
  Result<Settings> r = ParseSettings("repository:\n  # location: /x\nweb:\n  port: 6000\n", "");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->repository, "");
  EXPECT_EQ(r->web_port, 6000);
}

// The dashboard's keys (docs/api.md): defaults, values, and TLS given whole.
TEST(ParseSettings, WebKeys) {
  Result<Settings> d = ParseSettings("", "");
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->web_enabled);
  EXPECT_EQ(d->web_health_max_age_minutes, 180u);
  EXPECT_FALSE(d->web_allow_insecure_remote);
  EXPECT_TRUE(d->web_token_file.empty());
  Result<Settings> r = ParseSettings(
      "web:\n  enabled: false\n  token_file: /t/tok\n  readonly_token_file: /t/ro\n"
      "  tls_cert: /t/c.pem\n  tls_key: /t/k.pem\n  allow_insecure_remote: true\n"
      "  allowed_hosts: [backup.lan, nas]\n  health_max_age_minutes: 60\n",
      "");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_FALSE(r->web_enabled);
  EXPECT_EQ(r->web_token_file, "/t/tok");
  EXPECT_EQ(r->web_readonly_token_file, "/t/ro");
  EXPECT_EQ(r->web_tls_cert, "/t/c.pem");
  EXPECT_EQ(r->web_tls_key, "/t/k.pem");
  EXPECT_TRUE(r->web_allow_insecure_remote);
  EXPECT_EQ(r->web_allowed_hosts, (std::vector<std::string>{"backup.lan", "nas"}));
  EXPECT_EQ(r->web_health_max_age_minutes, 60u);
  EXPECT_THAT(ErrorOf(ParseSettings("web:\n  tls_cert: /c.pem\n", "s.yaml")),
              HasSubstr("s.yaml: web.tls_cert: is set without web.tls_key"));
  EXPECT_THAT(ErrorOf(ParseSettings("web:\n  tls_key: /k.pem\n", "")),
              HasSubstr("web.tls_key: is set without web.tls_cert"));
  EXPECT_THAT(ErrorOf(ParseSettings("web:\n  health_max_age_minutes: 0\n", "")),
              HasSubstr("web.health_max_age_minutes"));
  EXPECT_THAT(ErrorOf(ParseSettings("web:\n  allowed_hosts: ['bad host']\n", "")),
              HasSubstr("web.allowed_hosts"));
}

TEST(ParseSettings, UnknownKeyIsNamedWithAllowedKeys) {
  std::string m = ErrorOf(ParseSettings("backup:\n  compresion: gzip\n", "config/settings.yaml"));
  EXPECT_THAT(m, HasSubstr("config/settings.yaml: backup.compresion: unknown key"));
  EXPECT_THAT(m, HasSubstr("did you mean 'compression'?"));
  EXPECT_THAT(m, HasSubstr("allowed keys in backup: watched_directories, exclude_patterns, "
                           "exclude_caches, exclude_editor_temporaries, "
                           "compression, compression_level, max_file_size_mb, "
                           "backup_interval_minutes, pack_size_mb, threads, watch_mode, "
                           "poll_interval_seconds, stability_seconds, max_delay_seconds"));
  EXPECT_THAT(m, HasSubstr("(line 2)"));
}

// Retention's keys (design.md §19): counts, and keep_within as a span.
TEST(ParseSettings, RetentionKeys) {
  Result<Settings> r = ParseSettings(
      "versioning:\n  keep_last: 3\n  keep_daily: 7\n  keep_weekly: 4\n  keep_monthly: 12\n"
      "  keep_yearly: 2\n  keep_hourly: 24\n  keep_within: 1y6m\n",
      "");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->keep_last, 3u);
  EXPECT_EQ(r->keep_hourly, 24u);
  EXPECT_EQ(r->keep_daily, 7u);
  EXPECT_EQ(r->keep_weekly, 4u);
  EXPECT_EQ(r->keep_monthly, 12u);
  EXPECT_EQ(r->keep_yearly, 2u);
  EXPECT_EQ(r->keep_within.years, 1);
  EXPECT_EQ(r->keep_within.months, 6);
  Result<Settings> none = ParseSettings("", "");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->keep_within.empty());
  EXPECT_EQ(none->keep_last, 0u);
  // Bad values are refused with the key named.
  std::string m = ErrorOf(ParseSettings("versioning:\n  keep_within: 3x\n", "s.yaml"));
  EXPECT_THAT(m, HasSubstr("s.yaml: versioning.keep_within: bad duration '3x': unknown unit 'x'"));
  m = ErrorOf(ParseSettings("versioning:\n  keep_daily: -1\n", "s.yaml"));
  EXPECT_THAT(m, HasSubstr("versioning.keep_daily"));
}

TEST(ParseSettings, UnknownSectionListsSections) {
  std::string m = ErrorOf(ParseSettings("loging:\n  level: debug\n", "s.yaml"));
  EXPECT_THAT(m, HasSubstr("s.yaml: loging: unknown section (did you mean 'logging'?)"));
  EXPECT_THAT(m, HasSubstr("allowed sections: backup, versioning, web, logging, repository, azure, "
                           "alerts, maintenance"));
}

TEST(ParseSettings, RestoreSampleFiles) {
  Result<Settings> none = ParseSettings("", "");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->restore_sample_files, 10u);
  for (auto [text, want] : std::vector<std::pair<std::string, uint32_t>>{
           {"maintenance:\n  restore_sample_files: 0\n", 0},
           {"maintenance:\n  restore_sample_files: 250\n", 250},
           {"maintenance: {restore_sample_files: 100000}\n", 100000},
       }) {
    Result<Settings> r = ParseSettings(text, "");
    ASSERT_TRUE(r.ok()) << text << r.error().ToString();
    EXPECT_EQ(r->restore_sample_files, want) << text;
  }
  std::string m = ErrorOf(ParseSettings("maintenance:\n  restore_sample_files: -1\n", "s.yaml"));
  EXPECT_THAT(m, HasSubstr("s.yaml: maintenance.restore_sample_files: must not be negative, got -1 "
                           "(line 2)"));
  m = ErrorOf(ParseSettings("maintenance:\n  restore_sample_files: 100001\n", "s.yaml"));
  EXPECT_THAT(m, HasSubstr("maintenance.restore_sample_files: must be between 0 and 100000"));
  m = ErrorOf(ParseSettings("maintenance:\n  restore_sample_files: ten\n", "s.yaml"));
  EXPECT_THAT(m, HasSubstr("maintenance.restore_sample_files: expected a whole number"));
  m = ErrorOf(ParseSettings("maintenance:\n  restore_samples: 3\n", "s.yaml"));
  EXPECT_THAT(m, HasSubstr("maintenance.restore_samples: unknown key"));
}

// --- The daemon's keys: logging.file, max_file_mb, max_files; alerts.* ---

TEST(DaemonSettings, Defaults) {
  Result<Settings> r = ParseSettings("", "");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_FALSE(r->log_file.has_value());
  EXPECT_EQ(r->log_max_file_mb, 10u);
  EXPECT_EQ(r->log_max_files, 5u);
  EXPECT_TRUE(r->alert_command.empty());
  EXPECT_EQ(r->alert_webhook_url, "");
  EXPECT_EQ(r->alert_stale_after_hours, 24u);
  EXPECT_EQ(r->alert_timeout_seconds, 30u);
}

TEST(DaemonSettings, AllKeys) {
  ScopedEnv home("HOME", "/home/tester");
  Result<Settings> r = ParseSettings(R"(
logging:
  level: debug
  file: ~/logs/cairn.log
  max_file_mb: 2
  max_files: 0
alerts:
  command: [~/bin/alert, --quiet]
  webhook_url: https://hooks.example.com/T0/B0/xyz
  stale_after_hours: 0
  timeout_seconds: 5
)",
                                     "s.yaml");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->log_file, "/home/tester/logs/cairn.log");
  EXPECT_EQ(r->log_max_file_mb, 2u);
  EXPECT_EQ(r->log_max_files, 0u);
  EXPECT_THAT(r->alert_command, ::testing::ElementsAre("/home/tester/bin/alert", "--quiet"));
  EXPECT_EQ(r->alert_webhook_url, "https://hooks.example.com/T0/B0/xyz");
  EXPECT_EQ(r->alert_stale_after_hours, 0u);
  EXPECT_EQ(r->alert_timeout_seconds, 5u);
}

TEST(DaemonSettings, EmptyLogFileTurnsTheFileOff) {
  Result<Settings> r = ParseSettings("logging: {file: \"\"}", "");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  ASSERT_TRUE(r->log_file.has_value());
  EXPECT_EQ(*r->log_file, "");
}

TEST(DaemonSettings, BadLogKeys) {
  EXPECT_THAT(ErrorOf(ParseSettings("logging: {file: logs/backup.log}", "")),
              HasSubstr("logging.file: 'logs/backup.log' is relative"));
  EXPECT_THAT(ErrorOf(ParseSettings("logging:\n  file:\n", "")),
              HasSubstr("logging.file: has no value"));
  EXPECT_THAT(ErrorOf(ParseSettings("logging: {max_file_mb: 0}", "")),
              HasSubstr("logging.max_file_mb: must be between 1 and 1024"));
  EXPECT_THAT(ErrorOf(ParseSettings("logging: {max_files: 101}", "")),
              HasSubstr("logging.max_files: must be between 0 and 100"));
}

TEST(DaemonSettings, CommandStringRunsThroughTheShell) {
  // The string is the user's own; event data never enters it (it goes into
  // the environment), so the shell sees no untrusted text.
  Result<Settings> r =
      ParseSettings(R"(alerts: {command: 'notify-send "cairn: $CAIRN_ALERT_EVENT"'})", "");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_THAT(r->alert_command,
              ::testing::ElementsAre("/bin/sh", "-c", "notify-send \"cairn: $CAIRN_ALERT_EVENT\""));
  Result<Settings> none = ParseSettings("alerts: {command: ''}", "");
  ASSERT_TRUE(none.ok()) << none.error().ToString();
  EXPECT_TRUE(none->alert_command.empty());
}

TEST(DaemonSettings, BadAlertKeys) {
  EXPECT_THAT(ErrorOf(ParseSettings("alerts: {command: []}", "")),
              HasSubstr("alerts.command: is an empty list"));
  EXPECT_THAT(ErrorOf(ParseSettings("alerts: {command: {a: 1}}", "")),
              HasSubstr("alerts.command: expected a command (a string, run by /bin/sh -c) or a "
                        "list of arguments, got a mapping"));
  EXPECT_THAT(ErrorOf(ParseSettings("alerts: {timeout_seconds: 0}", "")),
              HasSubstr("alerts.timeout_seconds: must be between 1 and 3600"));
  EXPECT_THAT(ErrorOf(ParseSettings("alerts: {stale_after_hours: -1}", "")),
              HasSubstr("alerts.stale_after_hours: must not be negative"));
  // The URL is not repeated: it usually holds a token.
  std::string m = ErrorOf(ParseSettings("alerts: {webhook_url: 'ftp://secret-token@host/'}", ""));
  EXPECT_THAT(m, HasSubstr("alerts.webhook_url: must be an http:// or https:// URL"));
  EXPECT_THAT(m, Not(HasSubstr("secret-token")));
  EXPECT_THAT(ErrorOf(ParseSettings("alerts: {webhook_url: 'https://'}", "")),
              HasSubstr("alerts.webhook_url: must be an http:// or https:// URL"));
  EXPECT_THAT(ErrorOf(ParseSettings("alerts: {webhook_url: 'https://a b'}", "")),
              HasSubstr("alerts.webhook_url: must not contain spaces"));
}

TEST(ParseSettings, UnrelatedUnknownKeyGetsNoSuggestion) {
  std::string m = ErrorOf(ParseSettings("web:\n  colour: blue\n", "s.yaml"));
  EXPECT_THAT(
      m,
      HasSubstr("web.colour: unknown key; allowed keys in web: enabled, host, port, token_file"));
  EXPECT_THAT(m, Not(HasSubstr("did you mean")));
}

TEST(ParseSettings, BadCompression) {
  std::string m = ErrorOf(ParseSettings("backup:\n  compression: lz4\n", "config/settings.yaml"));
  EXPECT_THAT(m, HasSubstr("config/settings.yaml: backup.compression: 'lz4' is not allowed; use "
                           "zstd, gzip or none"));
}

TEST(ParseSettings, LevelIsCheckedAgainstTheAlgorithm) {
  // 12 is a fine zstd level but not a gzip one, whatever the key order.
  EXPECT_TRUE(ParseSettings("backup: {compression_level: 12}", "").ok());
  EXPECT_TRUE(ParseSettings("backup: {compression: gzip, compression_level: 1}", "").ok());
  std::string m =
      ErrorOf(ParseSettings("backup: {compression_level: 12, compression: gzip}", "s.yaml"));
  EXPECT_THAT(m, HasSubstr("backup.compression_level: 12 is out of range for gzip; use 1..9"));
  m = ErrorOf(ParseSettings("backup: {compression_level: 20}", "s.yaml"));
  EXPECT_THAT(m, HasSubstr("backup.compression_level: 20 is out of range for zstd; use 1..19"));
  m = ErrorOf(ParseSettings("backup: {compression_level: 0}", "s.yaml"));
  EXPECT_THAT(m, HasSubstr("0 is out of range for zstd"));
  m = ErrorOf(ParseSettings("backup: {compression_level: -1}", "s.yaml"));
  EXPECT_THAT(m, HasSubstr("-1 is out of range for zstd"));
  m = ErrorOf(ParseSettings("backup: {compression: none, compression_level: 3}", "s.yaml"));
  EXPECT_THAT(m, HasSubstr("backup.compression_level: has no meaning with compression none"));
}

TEST(ParseSettings, PortOutOfRange) {
  std::string m = ErrorOf(ParseSettings("web:\n  port: 70000\n", "s.yaml"));
  EXPECT_THAT(m, HasSubstr("s.yaml: web.port: must be between 1 and 65535, got 70000 (line 2)"));
  EXPECT_THAT(ErrorOf(ParseSettings("web: {port: 0}", "")), HasSubstr("web.port"));
}

TEST(ParseSettings, NegativeSize) {
  std::string m = ErrorOf(ParseSettings("backup: {max_file_size_mb: -5}", "s.yaml"));
  EXPECT_THAT(m, HasSubstr("backup.max_file_size_mb: must not be negative, got -5"));
}

TEST(ParseSettings, HugeNumber) {
  std::string m =
      ErrorOf(ParseSettings("versioning: {retention_days: 99999999999999999999999}", ""));
  EXPECT_THAT(m, HasSubstr("versioning.retention_days: '99999999999999999999999' is too large"));
  m = ErrorOf(ParseSettings("versioning: {retention_days: 4294967296}", ""));
  EXPECT_THAT(m, HasSubstr("versioning.retention_days: must be between 0 and 4294967295"));
}

TEST(ParseSettings, WrongTypes) {
  EXPECT_THAT(ErrorOf(ParseSettings("backup: {backup_interval_minutes: hourly}", "")),
              HasSubstr("backup.backup_interval_minutes: expected a whole number, got 'hourly'"));
  EXPECT_THAT(ErrorOf(ParseSettings("backup: {pack_size_mb: 1.5}", "")),
              HasSubstr("backup.pack_size_mb: expected a whole number, got '1.5'"));
  EXPECT_THAT(ErrorOf(ParseSettings("web: {port: \"5000\"}", "")),
              HasSubstr("web.port: expected a number, got the quoted text '5000'"));
  EXPECT_THAT(ErrorOf(ParseSettings("web: {port: !!str 5000}", "")),
              HasSubstr("web.port: expected a number, got '5000' tagged tag:yaml.org,2002:str"));
  EXPECT_TRUE(ParseSettings("web: {port: !!int 5000}", "").ok());
  EXPECT_THAT(ErrorOf(ParseSettings("backup:\n  exclude_patterns:\n    - a\n    -\n", "")),
              HasSubstr("backup.exclude_patterns[1]: is an empty item; remove it (line 2)"));
  EXPECT_THAT(ErrorOf(ParseSettings("web: {port: [1, 2]}", "")),
              HasSubstr("web.port: expected a number, got a list"));
  EXPECT_THAT(ErrorOf(ParseSettings("backup: {watched_directories: ~/Documents}", "")),
              HasSubstr("backup.watched_directories: expected a list"));
  EXPECT_THAT(ErrorOf(ParseSettings("backup: {exclude_patterns: [[a]]}", "")),
              HasSubstr("backup.exclude_patterns[0]: expected a single value, got a list"));
  EXPECT_THAT(ErrorOf(ParseSettings("logging: {level: {a: 1}}", "")),
              HasSubstr("logging.level: expected a single value, got a mapping"));
  EXPECT_THAT(ErrorOf(ParseSettings("web: {host: }", "")), HasSubstr("web.host: has no value"));
  EXPECT_THAT(ErrorOf(ParseSettings("backup: 5", "")), HasSubstr("backup: expected keys"));
  EXPECT_THAT(ErrorOf(ParseSettings("- backup", "")),
              HasSubstr("expected sections such as 'backup:' at the top level, got a list"));
}

TEST(ParseSettings, OtherBadValues) {
  EXPECT_THAT(ErrorOf(ParseSettings("logging: {level: verbose}", "")),
              HasSubstr("logging.level: 'verbose' is not allowed"));
  EXPECT_THAT(ErrorOf(ParseSettings("backup: {pack_size_mb: 1024}", "")),
              HasSubstr("backup.pack_size_mb: must be between 1 and 512"));
  EXPECT_THAT(ErrorOf(ParseSettings("backup: {backup_interval_minutes: 0}", "")),
              HasSubstr("backup.backup_interval_minutes: must be between 1"));
  EXPECT_THAT(ErrorOf(ParseSettings("backup: {watched_directories: [docs]}", "")),
              HasSubstr("backup.watched_directories[0]: 'docs' is relative"));
  EXPECT_THAT(ErrorOf(ParseSettings("azure: {container: My_Backups}", "")),
              HasSubstr("azure.container: 'My_Backups' is not a valid Azure container name"));
  EXPECT_THAT(ErrorOf(ParseSettings("azure: {access_tier: Archive}", "")),
              HasSubstr("azure.access_tier: 'Archive' is not allowed"));
  EXPECT_THAT(ErrorOf(ParseSettings("azure: {prefix: /cairn}", "")),
              HasSubstr("azure.prefix: '/cairn' must not start or end with '/'"));
  EXPECT_THAT(ErrorOf(ParseSettings("repository: {device_id: a/b}", "")),
              HasSubstr("repository.device_id: 'a/b' must not contain '/'"));
  EXPECT_THAT(ErrorOf(ParseSettings("web: {port: 1, port: 2}", "")),
              HasSubstr("web.port: is given twice"));
}

TEST(ParseSettings, UnexpandableTildeNeedsHome) {
  ScopedEnv home("HOME", nullptr);
  EXPECT_THAT(ErrorOf(ParseSettings("backup: {watched_directories: [~/Documents]}", "")),
              HasSubstr("cannot be expanded because HOME is not set"));
}

TEST(ParseSettings, SyntaxErrorGivesLine) {
  std::string m =
      ErrorOf(ParseSettings("backup:\n  compression: zstd\n  exclude_patterns: [a, b\n"
                            "web:\n  port: 1\n",
                            "config/settings.yaml"));
  EXPECT_THAT(m, HasSubstr("config/settings.yaml: line "));
  EXPECT_THAT(m, HasSubstr("not valid YAML"));
  m = ErrorOf(ParseSettings("web:\n  host: a\n    port: 1\n", "s.yaml"));
  EXPECT_THAT(m, HasSubstr("s.yaml: line 3,"));
}

TEST(LoadSettingsFile, MissingFileIsNotFound) {
  TempDir dir;
  Result<Settings> r = LoadSettingsFile(dir.Sub("nope.yaml"));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().IsNotFound()) << r.error().ToString();
}

TEST(LoadSettingsFile, ErrorsNameTheFileAndLine) {
  TempDir dir;
  WriteFile(dir.Sub("s.yaml"), "web:\n  host: 127.0.0.1\n  port: -1\n");
  std::string path = dir.Sub("s.yaml");
  EXPECT_THAT(ErrorOf(LoadSettingsFile(path)), HasSubstr(path + ": web.port: must not be negative, "
                                                                "got -1 (line 3)"));
}

// --- Environment -----------------------------------------------------------

std::function<const char*(const char*)> FakeEnv(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

TEST(ApplyEnvironment, OverridesTheFile) {
  ScopedEnv home("HOME", "/home/tester");
  Settings s;
  s.device_id = "from-file";
  s.log_level = "info";
  Status st = ApplyEnvironment(s, FakeEnv({{"AZURE_STORAGE_CONNECTION_STRING", "AccountName=x"},
                                           {"AZURE_CONTAINER_NAME", "other"},
                                           {"DEVICE_ID", "desk"},
                                           {"BACKUP_LOG_LEVEL", "DEBUG"},
                                           {"CAIRN_REPOSITORY", "~/r"},
                                           {"CAIRN_PASSWORD_FILE", "~/.config/cairn/password"}}));
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(s.password_file, "/home/tester/.config/cairn/password");
  EXPECT_EQ(s.azure_connection_string, "AccountName=x");
  EXPECT_EQ(s.azure_container, "other");
  EXPECT_EQ(s.device_id, "desk");
  EXPECT_EQ(s.log_level, "debug");
  EXPECT_EQ(s.repository, "/home/tester/r");
}

TEST(ApplyEnvironment, UnsetOrEmptyKeepsTheFile) {
  Settings s;
  s.device_id = "from-file";
  s.azure_container = "mine";
  ASSERT_TRUE(ApplyEnvironment(s, FakeEnv({{"DEVICE_ID", ""}})).ok());
  EXPECT_EQ(s.device_id, "from-file");
  EXPECT_EQ(s.azure_container, "mine");
}

TEST(ApplyEnvironment, RejectsBadLevelAndChangesNothing) {
  Settings s;
  Status st =
      ApplyEnvironment(s, FakeEnv({{"DEVICE_ID", "desk"}, {"BACKUP_LOG_LEVEL", "verbose"}}));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("BACKUP_LOG_LEVEL: 'verbose' is not allowed"));
  EXPECT_EQ(s.log_level, "info");
  EXPECT_EQ(s.device_id, "");  // DEVICE_ID was valid, but the update is all or nothing
}

TEST(ApplyEnvironment, RejectsBadContainer) {
  Settings s;
  Status st = ApplyEnvironment(s, FakeEnv({{"AZURE_CONTAINER_NAME", "No"}}));
  EXPECT_THAT(st.message(), HasSubstr("AZURE_CONTAINER_NAME: 'No' is not a valid"));
}

// --- ExpandHome -------------------------------------------------------------

TEST(ExpandHome, Expands) {
  ScopedEnv home("HOME", "/home/tester/");
  EXPECT_EQ(ExpandHome("~"), "/home/tester");
  EXPECT_EQ(ExpandHome("~/Documents"), "/home/tester/Documents");
  EXPECT_EQ(ExpandHome("~other/x"), "~other/x");
  EXPECT_EQ(ExpandHome("/abs/~/x"), "/abs/~/x");
  EXPECT_EQ(ExpandHome("rel"), "rel");
  EXPECT_EQ(ExpandHome(""), "");
}

TEST(ExpandHome, RootHomeAndUnsetHome) {
  {
    ScopedEnv home("HOME", "/");
    EXPECT_EQ(ExpandHome("~/x"), "/x");
    EXPECT_EQ(ExpandHome("~"), "/");
  }
  ScopedEnv home("HOME", nullptr);
  EXPECT_EQ(ExpandHome("~/x"), "~/x");
}

// --- Which file LoadSettings reads -------------------------------------------

class LoadSettingsTest : public ::testing::Test {
 protected:
  TempDir work_;  // the working directory
  TempDir xdg_;   // XDG_CONFIG_HOME
  TempDir home_;  // HOME
  ScopedEnv xdg_env_{"XDG_CONFIG_HOME", xdg_.path().c_str()};
  ScopedEnv home_env_{"HOME", home_.path().c_str()};
  ScopedCwd cwd_{work_.path()};
};

TEST_F(LoadSettingsTest, NoFileGivesDefaults) {
  Result<Settings> r = LoadSettings(std::nullopt);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->source, "");
  EXPECT_EQ(r->web_port, 5000);
}

TEST_F(LoadSettingsTest, XdgFileWhenNoLocalFile) {
  WriteFile(xdg_.Sub("cairn/settings.yaml"), "web: {port: 6001}\n");
  Result<Settings> r = LoadSettings(std::nullopt);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->web_port, 6001);
  EXPECT_EQ(r->source, xdg_.Sub("cairn/settings.yaml"));
}

TEST_F(LoadSettingsTest, LocalFileBeatsXdg) {
  WriteFile(xdg_.Sub("cairn/settings.yaml"), "web: {port: 6001}\n");
  WriteFile(work_.Sub("config/settings.yaml"), "web: {port: 6002}\n");
  Result<Settings> r = LoadSettings(std::nullopt);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->web_port, 6002);
  EXPECT_EQ(r->source, "config/settings.yaml");
}

TEST_F(LoadSettingsTest, ExplicitPathBeatsAll) {
  WriteFile(xdg_.Sub("cairn/settings.yaml"), "web: {port: 6001}\n");
  WriteFile(work_.Sub("config/settings.yaml"), "web: {port: 6002}\n");
  WriteFile(work_.Sub("mine.yaml"), "web: {port: 6003}\n");
  Result<Settings> r = LoadSettings(std::string("mine.yaml"));
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->web_port, 6003);
  EXPECT_EQ(r->source, "mine.yaml");
}

TEST_F(LoadSettingsTest, MissingExplicitPathIsNotFoundWithoutFallback) {
  WriteFile(work_.Sub("config/settings.yaml"), "web: {port: 6002}\n");
  Result<Settings> r = LoadSettings(std::string("missing.yaml"));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().IsNotFound()) << r.error().ToString();
  EXPECT_THAT(r.error().message(), HasSubstr("missing.yaml"));
}

TEST_F(LoadSettingsTest, XdgDefaultsToHomeDotConfig) {
  ScopedEnv unset("XDG_CONFIG_HOME", nullptr);
  WriteFile(home_.Sub(".config/cairn/settings.yaml"), "web: {port: 6004}\n");
  Result<Settings> r = LoadSettings(std::nullopt);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->web_port, 6004);
}

TEST_F(LoadSettingsTest, RelativeXdgIsIgnored) {
  ScopedEnv relative("XDG_CONFIG_HOME", "xdg");
  WriteFile(work_.Sub("xdg/cairn/settings.yaml"), "web: {port: 6005}\n");
  WriteFile(home_.Sub(".config/cairn/settings.yaml"), "web: {port: 6004}\n");
  Result<Settings> r = LoadSettings(std::nullopt);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->web_port, 6004);
}

TEST_F(LoadSettingsTest, BadLocalFileIsAnErrorNotSkipped) {
  WriteFile(xdg_.Sub("cairn/settings.yaml"), "web: {port: 6001}\n");
  WriteFile(work_.Sub("config/settings.yaml"), "web: {port: nope}\n");
  EXPECT_THAT(ErrorOf(LoadSettings(std::nullopt)),
              HasSubstr("config/settings.yaml: web.port: expected a whole number"));
}

}  // namespace
}  // namespace cairn::config
