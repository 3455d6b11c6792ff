#include "config/settings_edit.h"

#include <dirent.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "config/settings.h"
#include "testing/file_util.h"
#include "testing/scoped_env.h"
#include "testing/temp_dir.h"

namespace cairn::config {
namespace {

using ::cairn::testing::Exists;
using ::cairn::testing::ReadFile;
using ::cairn::testing::TempDir;
using ::cairn::testing::WriteFile;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

using ::cairn::testing::ScopedEnv;

SettingChange SetBool(std::string key, bool v) { return {std::move(key), v}; }
SettingChange SetInt(std::string key, int64_t v) { return {std::move(key), v}; }
SettingChange SetText(std::string key, std::string v) { return {std::move(key), std::move(v)}; }
SettingChange SetList(std::string key, std::vector<std::string> v) {
  return {std::move(key), std::move(v)};
}
SettingChange Remove(std::string key) { return {std::move(key), std::nullopt}; }

std::string Edit(std::string_view text, const std::vector<SettingChange>& changes) {
  Result<std::string> r = EditSettingsText(text, changes);
  EXPECT_TRUE(r.ok()) << r.error().ToString();
  return r.ok() ? *r : std::string("<error>");
}

Settings Parse(std::string_view text) {
  Result<Settings> r = ParseSettings(text, "edited.yaml");
  EXPECT_TRUE(r.ok()) << r.error().ToString() << "\n" << text;
  return r.ok() ? *r : Settings{};
}

// `text` with the one occurrence of `from` replaced by `to`.
std::string ReplaceOnce(std::string text, std::string_view from, std::string_view to) {
  size_t pos = text.find(from);
  EXPECT_NE(pos, std::string::npos) << "missing: " << from;
  if (pos == std::string::npos) return text;
  EXPECT_EQ(text.find(from, pos + 1), std::string::npos) << "given twice: " << from;
  return text.replace(pos, from.size(), to);
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

std::set<std::string> Listing(const std::string& dir) {
  std::set<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") out.insert(name);
    }
    ::closedir(d);
  }
  return out;
}

// --- EditSettingsText ----------------------------------------------------------

// The shipped example, several keys changed: each change touches its own
// lines only, every other byte (comments, blank lines, order) stays.
TEST(EditSettingsText, ShippedExampleKeepsEverythingElse) {
  ScopedEnv home("HOME", "/home/tester");
  const std::string example =
      ReadFile(std::string(CAIRN_SOURCE_DIR) + "/config/settings.example.yaml");
  ASSERT_FALSE(example.empty());
  std::string edited = Edit(
      example, {
                   SetInt("web.port", 6000),
                   SetList("backup.exclude_patterns", {"*.tmp", "node_modules/", ".git/*", "*.o"}),
                   SetInt("versioning.keep_daily", 14),
                   SetText("logging.level", "debug"),
                   SetText("repository.location", "~/backups/cairn"),
                   Remove("backup.compression_level"),
                   SetList("web.allowed_hosts", {"backup.example.lan", "::1"}),
                   SetText("alerts.command", "notify-send cairn \"$CAIRN_ALERT_MESSAGE\""),
                   SetBool("backup.exclude_caches", false),
                   SetText("azure.access_tier", "Cool"),
                   SetInt("versioning.retention_days", 365),
               });

  std::string expected = example;
  expected = ReplaceOnce(expected, "  port: 5000\n", "  port: 6000\n");
  expected = ReplaceOnce(expected,
                         "  exclude_patterns:\n"
                         "    - \"*.tmp\"\n"
                         "    - \"*.log\"\n"
                         "    - \".git/*\"\n",
                         "  exclude_patterns:\n"
                         "    - \"*.tmp\"\n"
                         "    - node_modules/\n"
                         "    - \".git/*\"\n"
                         "    - \"*.o\"\n");
  expected = ReplaceOnce(expected, "  # keep_daily: 7\n", "  # keep_daily: 7\n  keep_daily: 14\n");
  expected = ReplaceOnce(expected, "  level: INFO\n", "  level: debug\n");
  expected = ReplaceOnce(expected, "  # location: ~/cairn-repository\n",
                         "  # location: ~/cairn-repository\n  location: ~/backups/cairn\n");
  expected = ReplaceOnce(expected, "  compression_level: 6\n", "");
  expected = ReplaceOnce(expected, "  # allowed_hosts: [backup.example.lan]\n",
                         "  # allowed_hosts: [backup.example.lan]\n"
                         "  allowed_hosts: [backup.example.lan, \"::1\"]\n");
  expected = ReplaceOnce(expected, "  # command: [/usr/local/bin/page-me, --from, cairn]\n",
                         "  # command: [/usr/local/bin/page-me, --from, cairn]\n"
                         "  command: notify-send cairn \"$CAIRN_ALERT_MESSAGE\"\n");
  expected = ReplaceOnce(expected, "  # exclude_caches: true\n",
                         "  # exclude_caches: true\n  exclude_caches: false\n");
  expected = ReplaceOnce(expected, "  # access_tier: Hot\n",
                         "  # access_tier: Hot\n  access_tier: Cool\n");
  expected = ReplaceOnce(expected, "  retention_days: 90\n", "  retention_days: 365\n");
  EXPECT_EQ(edited, expected);

  Settings s = Parse(edited);
  EXPECT_EQ(s.web_port, 6000);
  EXPECT_THAT(s.exclude_patterns, ElementsAre("*.tmp", "node_modules/", ".git/*", "*.o"));
  EXPECT_EQ(s.keep_daily, 14u);
  EXPECT_EQ(s.log_level, "debug");
  EXPECT_EQ(s.repository, "/home/tester/backups/cairn");
  EXPECT_FALSE(s.compression_level.has_value());
  EXPECT_THAT(s.web_allowed_hosts, ElementsAre("backup.example.lan", "::1"));
  EXPECT_THAT(s.alert_command,
              ElementsAre("/bin/sh", "-c", "notify-send cairn \"$CAIRN_ALERT_MESSAGE\""));
  EXPECT_FALSE(s.exclude_caches);
  EXPECT_EQ(s.azure_access_tier, "Cool");
  EXPECT_EQ(s.retention_days, 365u);
  // Untouched keys keep their values.
  EXPECT_THAT(s.watched_directories,
              ElementsAre("/home/tester/Documents", "/home/tester/Pictures"));
  EXPECT_EQ(s.max_file_size_mb, 100u);
  EXPECT_EQ(s.max_versions_per_file, 5u);
  EXPECT_EQ(s.web_host, "127.0.0.1");
}

TEST(EditSettingsText, ReplacesABlockList) {
  constexpr std::string_view kText =
      "backup:\n"
      "  # the folders\n"
      "  watched_directories:\n"
      "    - ~/Documents   # mine\n"
      "    # pictures too\n"
      "    - ~/Pictures\n"
      "\n"
      "  compression: zstd\n";
  // Items that stay keep their lines and the comments above them.
  EXPECT_EQ(Edit(kText, {SetList("backup.watched_directories", {"~/Pictures", "~/Music"})}),
            "backup:\n"
            "  # the folders\n"
            "  watched_directories:\n"
            "    # pictures too\n"
            "    - ~/Pictures\n"
            "    - ~/Music\n"
            "\n"
            "  compression: zstd\n");
  // An empty list has no block form.
  EXPECT_EQ(Edit(kText, {SetList("backup.watched_directories", {})}),
            "backup:\n"
            "  # the folders\n"
            "  watched_directories: []\n"
            "\n"
            "  compression: zstd\n");
  // A scalar replaces the whole list.
  EXPECT_EQ(Edit(kText, {SetText("backup.watched_directories", "~/x")}),
            "backup:\n"
            "  # the folders\n"
            "  watched_directories: ~/x\n"
            "\n"
            "  compression: zstd\n");
}

TEST(EditSettingsText, ReplacesACompactBlockListAndKeepsItsStyle) {
  constexpr std::string_view kText =
      "backup:\n"
      "  exclude_patterns:  # globs\n"
      "  - '*.tmp'\n"
      "  -   '*.log'\n"
      "  threads: 2\n";
  std::string edited = Edit(kText, {SetList("backup.exclude_patterns", {"*.tmp", "a: b"})});
  EXPECT_EQ(edited,
            "backup:\n"
            "  exclude_patterns:  # globs\n"
            "  - '*.tmp'\n"
            "  - \"a: b\"\n"
            "  threads: 2\n");
  EXPECT_THAT(Parse(edited).exclude_patterns, ElementsAre("*.tmp", "a: b"));
  EXPECT_EQ(Edit(kText, {SetList("backup.exclude_patterns", {})}),
            "backup:\n"
            "  exclude_patterns: []  # globs\n"
            "  threads: 2\n");
}

TEST(EditSettingsText, FlowListsStayFlow) {
  constexpr std::string_view kText =
      "web:\n"
      "  allowed_hosts: [a.lan]  # proxies\n"
      "backup:\n"
      "  exclude_patterns: [\"*.tmp\",\n"
      "                     \"*.log\"]   # two lines\n"
      "  threads: 2\n";
  EXPECT_EQ(Edit(kText, {SetList("web.allowed_hosts", {"b.lan", "c.lan"}),
                         SetList("backup.exclude_patterns", {"*.o", "x,y"})}),
            "web:\n"
            "  allowed_hosts: [b.lan, c.lan]  # proxies\n"
            "backup:\n"
            "  exclude_patterns: [\"*.o\", \"x,y\"]\n"
            "  threads: 2\n");
}

TEST(EditSettingsText, ReplacesInPlaceKeepingTheCommentAfterTheValue) {
  constexpr std::string_view kText =
      "web:\n"
      "  port: 5000  # the dashboard\n"
      "  host: 127.0.0.1 # local only\n"
      "repository:\n"
      "  device_id: \"my laptop\"   # its name\n"
      "  location: '/srv/it''s'\n";
  std::string edited = Edit(
      kText, {SetInt("web.port", 6000), SetText("web.host", "0.0.0.0"),
              SetText("repository.device_id", "desk"), SetText("repository.location", "/srv/#1")});
  EXPECT_EQ(edited,
            "web:\n"
            "  port: 6000  # the dashboard\n"
            "  host: 0.0.0.0 # local only\n"
            "repository:\n"
            "  device_id: desk   # its name\n"
            "  location: /srv/#1\n");
  Settings s = Parse(edited);
  EXPECT_EQ(s.web_port, 6000);
  EXPECT_EQ(s.web_host, "0.0.0.0");
  EXPECT_EQ(s.device_id, "desk");
  EXPECT_EQ(s.repository, "/srv/#1");
}

// A value that already reads as the one given keeps its line, whatever its
// quotes or case; a plain value that only looks like the string is rewritten.
TEST(EditSettingsText, ValueAlreadySetKeepsItsLine) {
  constexpr std::string_view kText =
      "web:\n"
      "  host: '127.0.0.1'  # quoted\n"
      "  port: 5000\n"
      "  enabled: True\n"
      "backup:\n"
      "  exclude_patterns:\n"
      "    - '*.tmp'\n"
      "    - \".git/*\"\n"
      "repository:\n"
      "  device_id: yes\n";
  EXPECT_EQ(Edit(kText, {SetText("web.host", "127.0.0.1"), SetInt("web.port", 5000),
                         SetBool("web.enabled", true),
                         SetList("backup.exclude_patterns", {"*.tmp", ".git/*"})}),
            kText);
  EXPECT_EQ(Edit(kText, {SetText("repository.device_id", "yes")}),
            ReplaceOnce(std::string(kText), "device_id: yes", "device_id: \"yes\""));
}

TEST(EditSettingsText, AddsAKeyAtTheEndOfItsSection) {
  constexpr std::string_view kText =
      "web:\n"
      "  host: 127.0.0.1\n"
      "  # a note\n"
      "\n"
      "# about logging\n"
      "logging:\n"
      "  level: info\n";
  std::string edited = Edit(kText, {SetInt("web.port", 6000), SetInt("logging.max_files", 3)});
  EXPECT_EQ(edited,
            "web:\n"
            "  host: 127.0.0.1\n"
            "  # a note\n"
            "  port: 6000\n"
            "\n"
            "# about logging\n"
            "logging:\n"
            "  level: info\n"
            "  max_files: 3\n");
  EXPECT_EQ(Parse(edited).web_port, 6000);
  EXPECT_EQ(Parse(edited).log_max_files, 3u);
}

TEST(EditSettingsText, AddsWithTheSectionsIndentation) {
  EXPECT_EQ(Edit("backup:\n    threads: 2\n", {SetText("backup.compression", "gzip")}),
            "backup:\n    threads: 2\n    compression: gzip\n");
  // A new section takes the file's indentation too.
  EXPECT_EQ(Edit("backup:\n    threads: 2\n", {SetInt("web.port", 6000)}),
            "backup:\n    threads: 2\n\nweb:\n    port: 6000\n");
}

TEST(EditSettingsText, AddsToAnEmptySection) {
  // Only comments under it: after them (or after the key's example).
  EXPECT_EQ(Edit("repository:\n"
                 "  # location: /x\n"
                 "  # Its name.\n"
                 "\n"
                 "azure:\n"
                 "  container: abc\n",
                 {SetText("repository.device_id", "laptop"),
                  SetText("repository.location", "/srv/repo")}),
            "repository:\n"
            "  # location: /x\n"
            "  location: /srv/repo\n"
            "  # Its name.\n"
            "  device_id: laptop\n"
            "\n"
            "azure:\n"
            "  container: abc\n");
  // Nothing under it.
  EXPECT_EQ(Edit("repository:  # later\nweb:\n  port: 1\n",
                 {SetText("repository.location", "/srv/repo")}),
            "repository:  # later\n  location: /srv/repo\nweb:\n  port: 1\n");
  EXPECT_EQ(Edit("web: ~  # defaults\n", {SetInt("web.port", 6000)}),
            "web:  # defaults\n  port: 6000\n");
}

TEST(EditSettingsText, AppendsAMissingSection) {
  EXPECT_EQ(Edit("web:\n  port: 6000\n",
                 {SetInt("versioning.keep_daily", 7), SetInt("versioning.keep_weekly", 4)}),
            "web:\n  port: 6000\n\nversioning:\n  keep_daily: 7\n  keep_weekly: 4\n");
  EXPECT_EQ(Edit("", {SetInt("versioning.keep_daily", 7)}), "versioning:\n  keep_daily: 7\n");
  EXPECT_EQ(Edit("# my settings\n", {SetInt("versioning.keep_daily", 7)}),
            "# my settings\n\nversioning:\n  keep_daily: 7\n");
  EXPECT_EQ(Edit("web:\n  port: 6000\n\n",
                 {SetBool("web.enabled", false), SetText("logging.level", "warning")}),
            "web:\n  port: 6000\n  enabled: false\n\nlogging:\n  level: warning\n");
}

TEST(EditSettingsText, RemovesAKey) {
  constexpr std::string_view kText =
      "backup:\n"
      "  # Patterns.\n"
      "  exclude_patterns:\n"
      "    - \"*.tmp\"\n"
      "    # more\n"
      "    - \"*.log\"\n"
      "  # Level.\n"
      "  compression_level: 6  # gzip's\n"
      "web: {host: 127.0.0.1, port: 5000}\n";
  std::string edited =
      Edit(kText, {Remove("backup.exclude_patterns"), Remove("backup.compression_level")});
  EXPECT_EQ(edited,
            "backup:\n"
            "  # Patterns.\n"
            "  # Level.\n"
            "web: {host: 127.0.0.1, port: 5000}\n");
  Settings s = Parse(edited);
  EXPECT_TRUE(s.exclude_patterns.empty());
  EXPECT_FALSE(s.compression_level.has_value());
  // A key or section that is not there: nothing to do.
  EXPECT_EQ(Edit(kText, {Remove("backup.threads"), Remove("azure.prefix"), Remove("web.enabled")}),
            kText);
  // From a flow map: the section is written in block style.
  EXPECT_EQ(Edit(kText, {Remove("web.port")}),
            ReplaceOnce(std::string(kText), "web: {host: 127.0.0.1, port: 5000}\n",
                        "web:\n  host: 127.0.0.1\n"));
}

TEST(EditSettingsText, RemovingAKeyBetweenBlankLinesLeavesOne) {
  EXPECT_EQ(Edit("backup:\n  threads: 2\n\n  pack_size_mb: 32\n\n  compression: gzip\n",
                 {Remove("backup.pack_size_mb")}),
            "backup:\n  threads: 2\n\n  compression: gzip\n");
}

// Values on the lines below their key: a plain scalar, a block scalar, a
// nested list in a flow list over several lines.
TEST(EditSettingsText, ValuesBelowTheirKeyAreReplacedWhole) {
  constexpr std::string_view kText =
      "logging:\n"
      "  file:\n"
      "    /var/log/cairn.log\n"
      "  level: info\n"
      "alerts:\n"
      "  command: |\n"
      "    notify-send hi\n"
      "  # the hours\n"
      "  stale_after_hours: 2\n";
  std::string edited =
      Edit(kText, {SetText("logging.file", "/tmp/x.log"), SetText("alerts.command", "true")});
  EXPECT_EQ(edited,
            "logging:\n"
            "  file: /tmp/x.log\n"
            "  level: info\n"
            "alerts:\n"
            "  command: \"true\"\n"
            "  # the hours\n"
            "  stale_after_hours: 2\n");
  EXPECT_THAT(Parse(edited).alert_command, ElementsAre("/bin/sh", "-c", "true"));
}

TEST(EditSettingsText, DocumentStartMarkerAndSpacesBeforeTheColon) {
  EXPECT_EQ(Edit("---\nweb:\n  port : 5000  # p\n", {SetInt("web.port", 6000)}),
            "---\nweb:\n  port : 6000  # p\n");
}

TEST(EditSettingsText, InvalidUtf8IsRefused) {
  Result<std::string> r = EditSettingsText("", {SetText("azure.connection_string", "a\xff")});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(r.error().message(), HasSubstr("azure.connection_string: the value is not valid"));
  r = EditSettingsText("", {SetList("backup.exclude_patterns", {"ok", "\xc3\x28"})});
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(
      EditSettingsText("", {SetText("azure.connection_string", "caf\xc3\xa9 \xf0\x9f\x98\x80")})
          .ok());
}

// The original design's file: every section a flow map, one over two lines.
TEST(EditSettingsText, FlowMapSectionIsRewrittenInBlockStyle) {
  ScopedEnv home("HOME", "/home/tester");
  constexpr std::string_view kOriginal =
      "# cairn\n"
      "backup:   {watched_directories: [~/Documents, ~/Pictures], exclude_patterns: [\"*.tmp\", "
      "'*.log', \".git/*\"],\n"
      "           compression_level: 6, max_file_size_mb: 100, backup_interval_minutes: 60}\n"
      "versioning: {max_versions_per_file: 5, retention_days: 90}\n"
      "web:      {host: 127.0.0.1, port: 5000}   # the dashboard\n"
      "logging:  {level: INFO}\n";
  std::string edited =
      Edit(kOriginal, {SetInt("web.port", 6000), SetInt("backup.max_file_size_mb", 200)});
  EXPECT_EQ(edited,
            "# cairn\n"
            "backup:\n"
            "  watched_directories: [~/Documents, ~/Pictures]\n"
            "  exclude_patterns: [\"*.tmp\", \"*.log\", \".git/*\"]\n"
            "  compression_level: 6\n"
            "  max_file_size_mb: 200\n"
            "  backup_interval_minutes: 60\n"
            "versioning: {max_versions_per_file: 5, retention_days: 90}\n"
            "web:  # the dashboard\n"
            "  host: 127.0.0.1\n"
            "  port: 6000\n"
            "logging:  {level: INFO}\n");
  Settings s = Parse(edited);
  EXPECT_EQ(s.web_port, 6000);
  EXPECT_EQ(s.max_file_size_mb, 200u);
  EXPECT_THAT(s.exclude_patterns, ElementsAre("*.tmp", "*.log", ".git/*"));
  EXPECT_EQ(s.compression_level, 6);
  EXPECT_EQ(s.retention_days, 90u);
  // A new key of a flow section joins the rewritten section.
  EXPECT_EQ(Edit("web: {port: 5000}\nlogging: {level: INFO}\n", {SetText("web.host", "::1")}),
            "web:\n  port: 5000\n  host: \"::1\"\nlogging: {level: INFO}\n");
}

// Strings YAML would read otherwise are quoted, and each reads back exactly.
TEST(EditSettingsText, TrickyStringsRoundTrip) {
  const std::vector<std::string> kTricky = {
      "*.tmp",       ".git/*",      "a: b",
      "#x",          "a #b",        "a#b",
      "yes",         "No",          "on",
      "true",        "FALSE",       "null",
      "~",           "010",         "0x1F",
      "1e3",         ".5",          "-1",
      "+1",          "12:30",       ".inf",
      "3.14",        " lead",       "trail ",
      "it's",        "say \"hi\"",  "\"hi\", it's",
      "back\\slash", "[x]",         "{x}",
      "x,y",         "-x",          "--from",
      "- x",         "?x",          ":x",
      "x:",          "@x",          "%x",
      "`x`",         "!x",          "&x",
      "|x",          ">x",          "'q'",
      "\"q\"",       "tab\tx",      "new\nline",
      "ünïcode",     "~/Documents", "https://h.example/x?a=1#f",
      "---",         "...",         "a: b # c"};
  // One at a time, as a new scalar.
  for (const std::string& s : kTricky) {
    std::string edited = Edit("", {SetText("azure.connection_string", s)});
    EXPECT_EQ(Parse(edited).azure_connection_string, s) << edited;
  }
  // All at once, in a new (flow) list and in an existing block list.
  std::string flow = Edit("backup:\n  threads: 1\n", {SetList("backup.exclude_patterns", kTricky)});
  EXPECT_EQ(Parse(flow).exclude_patterns, kTricky) << flow;
  std::string block = Edit("backup:\n  exclude_patterns:\n    - a\n",
                           {SetList("backup.exclude_patterns", kTricky)});
  EXPECT_THAT(block, HasSubstr("\n    - \"*.tmp\"\n"));
  EXPECT_EQ(Parse(block).exclude_patterns, kTricky) << block;
  // And as alerts.command's argv.
  std::string argv = Edit("", {SetList("alerts.command", kTricky)});
  EXPECT_EQ(Parse(argv).alert_command, kTricky) << argv;

  // Quoted only when needed, in the quotes a person would use.
  auto written = [](const std::string& s) {
    std::string text = Edit("", {SetText("azure.connection_string", s)});
    return text.substr(text.find(": ") + 2);
  };
  EXPECT_EQ(written("~/Documents"), "~/Documents\n");
  EXPECT_EQ(written("30d"), "30d\n");
  EXPECT_EQ(written("https://h.example/x"), "https://h.example/x\n");
  EXPECT_EQ(written("--from"), "--from\n");
  EXPECT_EQ(written("*.tmp"), "\"*.tmp\"\n");
  EXPECT_EQ(written("010"), "\"010\"\n");
  EXPECT_EQ(written("yes"), "\"yes\"\n");
  EXPECT_EQ(written("say \"hi\""), "say \"hi\"\n");  // quotes inside plain text are text
  EXPECT_EQ(written("\"hi\", it's"), "'\"hi\", it''s'\n");
  EXPECT_EQ(written("a: \\d"), "'a: \\d'\n");
  EXPECT_EQ(written("tab\tx"), "\"tab\\tx\"\n");
  EXPECT_EQ(Edit("", {SetText("logging.file", "")}), "logging:\n  file: \"\"\n");
  EXPECT_EQ(Parse(Edit("", {SetText("logging.file", "")})).log_file, "");
}

TEST(EditSettingsText, WholeNumbersAndBooleans) {
  std::string edited = Edit("backup:\n  compression_level: 6\n",
                            {SetInt("backup.compression_level", -5), SetBool("web.enabled", false),
                             SetInt("azure.limit_upload_kib", 1099511627776)});
  EXPECT_EQ(edited,
            "backup:\n  compression_level: -5\n\nweb:\n  enabled: false\n\nazure:\n"
            "  limit_upload_kib: 1099511627776\n");
  // Not validated here: ParseSettings says what is wrong.
  Result<Settings> r = ParseSettings(edited, "s.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message(), HasSubstr("backup.compression_level"));
}

TEST(EditSettingsText, KeepsAMissingFinalNewline) {
  EXPECT_EQ(Edit("web:\n  port: 5000", {SetInt("web.port", 6000)}), "web:\n  port: 6000");
}

TEST(EditSettingsText, UnknownSectionOrKeyIsNamed) {
  const std::string text = "web:\n  port: 5000\n";
  Result<std::string> r = EditSettingsText(text, {SetInt("web.prot", 6000)}, "s.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(r.error().message(),
              HasSubstr("s.yaml: web.prot: unknown key (did you mean 'port'?); allowed keys in "
                        "web: enabled, host, port"));
  r = EditSettingsText(text, {SetInt("webb.port", 6000)}, "s.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(r.error().message(),
              HasSubstr("s.yaml: webb: unknown section (did you mean 'web'?); allowed sections: "
                        "backup, versioning, web"));
  for (std::string key : {"port", "web.", ".port", "web.port.x", ""}) {
    r = EditSettingsText(text, {SetInt(key, 1)});
    ASSERT_FALSE(r.ok()) << key;
    EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(r.error().message(), HasSubstr("is not a settings key")) << key;
  }
}

TEST(EditSettingsText, InvalidYamlIsRefused) {
  Result<std::string> r = EditSettingsText("web: [\n", {SetInt("web.port", 6000)}, "s.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(r.error().message(), HasSubstr("s.yaml: line 2"));
  EXPECT_THAT(r.error().message(), HasSubstr("not valid YAML"));
  r = EditSettingsText("- a\n- b\n", {SetInt("web.port", 6000)});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
}

// A layout the editor does not understand is refused rather than broken.
TEST(EditSettingsText, UnsupportedLayoutIsRefused) {
  Result<std::string> r =
      EditSettingsText("\"web\":\n  port: 5000\n", {SetInt("web.port", 6000)}, "s.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), StatusCode::kUnsupported);
  EXPECT_THAT(r.error().message(), HasSubstr("s.yaml: cannot edit the file safely"));
  r = EditSettingsText("web: 5000\n", {SetInt("web.port", 6000)});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), StatusCode::kUnsupported);
}

// --- UpdateSettingsFile ---------------------------------------------------------

constexpr std::string_view kFile =
    "# mine\n"
    "web:\n"
    "  port: 5000  # the dashboard\n"
    "\n"
    "logging:\n"
    "  level: info\n";

TEST(UpdateSettingsFile, WritesTheFileKeepingTheOldOneAsBak) {
  TempDir dir;
  const std::string path = dir.Sub("config/settings.yaml");
  WriteFile(path, kFile, 0640);
  Result<Settings> r = UpdateSettingsFile(path, {SetInt("web.port", 6000)});
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->web_port, 6000);
  EXPECT_EQ(r->source, path);
  const std::string first = ReplaceOnce(std::string(kFile), "port: 5000", "port: 6000");
  EXPECT_EQ(ReadFile(path), first);
  EXPECT_EQ(ReadFile(path + ".bak"), kFile);
  EXPECT_EQ(ModeOf(path), 0640u);
  EXPECT_EQ(ModeOf(path + ".bak"), 0640u);
  EXPECT_EQ(Listing(dir.Sub("config")),
            (std::set<std::string>{"settings.yaml", "settings.yaml.bak"}));

  // The next change: .bak holds the text before it.
  r = UpdateSettingsFile(path, {SetText("logging.level", "debug")});
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->web_port, 6000);
  EXPECT_EQ(r->log_level, "debug");
  EXPECT_EQ(ReadFile(path), ReplaceOnce(first, "level: info", "level: debug"));
  EXPECT_EQ(ReadFile(path + ".bak"), first);
  EXPECT_EQ(ModeOf(path), 0640u);
}

TEST(UpdateSettingsFile, ModeIsKept) {
  TempDir dir;
  const std::string path = dir.Sub("settings.yaml");
  WriteFile(path, kFile, 0600);
  ASSERT_TRUE(UpdateSettingsFile(path, {SetInt("web.port", 6000)}).ok());
  EXPECT_EQ(ModeOf(path), 0600u);
  ASSERT_EQ(::chmod(path.c_str(), 0604), 0);
  ASSERT_TRUE(UpdateSettingsFile(path, {SetInt("web.port", 6001)}).ok());
  EXPECT_EQ(ModeOf(path), 0604u);
  EXPECT_EQ(ModeOf(path + ".bak"), 0604u);
}

TEST(UpdateSettingsFile, BadValueIsRefusedAndNothingWritten) {
  TempDir dir;
  const std::string path = dir.Sub("settings.yaml");
  WriteFile(path, kFile, 0644);
  Result<Settings> r = UpdateSettingsFile(path, {SetInt("web.port", 70000)});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(r.error().message(),
              HasSubstr(path + ": web.port: must be between 1 and 65535, got 70000 (line 3)"));
  r = UpdateSettingsFile(path, {SetText("backup.compression", "lz4"), SetInt("web.port", 6000)});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message(), HasSubstr("backup.compression: 'lz4' is not allowed"));
  r = UpdateSettingsFile(path, {SetText("web.port", "6000")});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message(), HasSubstr("web.port: expected a number"));
  r = UpdateSettingsFile(path, {SetInt("web.prot", 6000)});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message(), HasSubstr("web.prot: unknown key"));
  EXPECT_EQ(ReadFile(path), kFile);
  EXPECT_EQ(Listing(dir.path()), std::set<std::string>{"settings.yaml"});  // no .bak, no temp
}

TEST(UpdateSettingsFile, MissingFileIsCreatedInA0700Folder) {
  TempDir dir;
  const std::string path = dir.Sub("home/.config/cairn/settings.yaml");
  Result<Settings> r = UpdateSettingsFile(path, {SetInt("web.port", 6000)});
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->web_port, 6000);
  EXPECT_EQ(ReadFile(path), "web:\n  port: 6000\n");
  EXPECT_EQ(ModeOf(path), 0600u);  // it may come to hold secrets
  EXPECT_EQ(ModeOf(dir.Sub("home")), 0700u);
  EXPECT_EQ(ModeOf(dir.Sub("home/.config/cairn")), 0700u);
  EXPECT_FALSE(Exists(path + ".bak"));
}

TEST(UpdateSettingsFile, NoChangeWritesNothing) {
  TempDir dir;
  const std::string path = dir.Sub("settings.yaml");
  WriteFile(path, kFile, 0644);
  Result<Settings> r = UpdateSettingsFile(path, {SetInt("web.port", 5000)});
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->web_port, 5000);
  EXPECT_EQ(Listing(dir.path()), std::set<std::string>{"settings.yaml"});
}

TEST(UpdateSettingsFile, SymlinkIsKept) {
  TempDir dir;
  const std::string target = dir.Sub("dotfiles/cairn.yaml");
  const std::string link = dir.Sub("settings.yaml");
  WriteFile(target, kFile, 0644);
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  ASSERT_TRUE(UpdateSettingsFile(link, {SetInt("web.port", 6000)}).ok());
  struct stat st;
  ASSERT_EQ(::lstat(link.c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_THAT(ReadFile(target), HasSubstr("port: 6000  # the dashboard"));
  EXPECT_EQ(ReadFile(link + ".bak"), kFile);
}

TEST(UpdateSettingsFile, ADirectoryIsRefused) {
  TempDir dir;
  Result<Settings> r = UpdateSettingsFile(dir.path(), {SetInt("web.port", 6000)});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cairn::config
