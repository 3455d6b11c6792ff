#include "daemon/log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "testing/assert_ok.h"
#include "testing/temp_dir.h"

namespace cairn::daemon {
namespace {

namespace fs = std::filesystem;
using ::cairn::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  for (std::string line; std::getline(ss, line);) out.push_back(line);
  return out;
}

std::function<const char*(const char*)> FakeEnv(std::map<std::string, std::string> vars) {
  auto shared = std::make_shared<std::map<std::string, std::string>>(std::move(vars));
  return [shared](const char* name) -> const char* {
    auto it = shared->find(name);
    return it == shared->end() ? nullptr : it->second.c_str();
  };
}

// A logger writing only to a file in a temp dir.
std::unique_ptr<Logger> FileLogger(const std::string& file, LogLevel level,
                                   std::vector<std::string> secrets = {}) {
  LogOptions o;
  o.level = level;
  o.console = nullptr;
  o.file = file;
  o.secrets = std::move(secrets);
  Result<std::unique_ptr<Logger>> r = Logger::Create(o);
  EXPECT_OK(r);
  return r.ok() ? std::move(r).value() : nullptr;
}

TEST(LogLevel, NamesRoundTrip) {
  for (std::string_view name : {"trace", "debug", "info", "warning", "error", "critical"}) {
    Result<LogLevel> level = ParseLogLevel(name);
    ASSERT_OK(level);
    EXPECT_EQ(LogLevelName(*level), name);
  }
  EXPECT_FALSE(ParseLogLevel("verbose").ok());
}

TEST(Logger, LevelFiltering) {
  TempDir dir;
  std::string file = dir.Sub("logs/backup.log");
  auto log = FileLogger(file, LogLevel::kWarning);
  ASSERT_NE(log, nullptr);
  log->Debug("debug line {}", 1);
  log->Info("info line {}", 2);
  log->Warn("warn line {}", 3);
  log->Error("error line {}", 4);
  log->SetLevel(LogLevel::kDebug);
  log->Debug("debug line {}", 5);
  log->Flush();
  std::string text = ReadAll(file);
  EXPECT_THAT(text, Not(HasSubstr("debug line 1")));
  EXPECT_THAT(text, Not(HasSubstr("info line 2")));
  EXPECT_THAT(text, HasSubstr("[warning] warn line 3"));
  EXPECT_THAT(text, HasSubstr("[error] error line 4"));
  EXPECT_THAT(text, HasSubstr("[debug] debug line 5"));
  EXPECT_EQ(Lines(text).size(), 3u);
  EXPECT_TRUE(log->Enabled(LogLevel::kDebug));
  EXPECT_FALSE(log->Enabled(LogLevel::kTrace));
}

TEST(Logger, FileAndFolderArePrivate) {
  TempDir dir;
  std::string file = dir.Sub("state/cairn/logs/backup.log");
  auto log = FileLogger(file, LogLevel::kInfo);
  ASSERT_NE(log, nullptr);
  log->Info("hello");
  struct stat st;
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat(dir.Sub("state/cairn/logs").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_EQ(log->file(), file);
}

TEST(Logger, InfoIsOnDiskWithoutFlush) {
  // A daemon may be killed at any moment: info lines are written at once.
  TempDir dir;
  std::string file = dir.Sub("backup.log");
  auto log = FileLogger(file, LogLevel::kInfo);
  ASSERT_NE(log, nullptr);
  log->Info("backup done: {} files", 3);
  EXPECT_THAT(ReadAll(file), HasSubstr("[info] backup done: 3 files"));
}

TEST(Logger, RotationKeepsMaxFiles) {
  TempDir dir;
  std::string file = dir.Sub("backup.log");
  LogOptions o;
  o.console = nullptr;
  o.file = file;
  o.max_file_bytes = 1024;
  o.max_files = 2;
  Result<std::unique_ptr<Logger>> log = Logger::Create(o);
  ASSERT_OK(log);
  const std::string padding(60, 'x');
  for (int i = 0; i < 100; ++i) (*log)->Info("line {:03} {}", i, padding);
  (*log)->Flush();

  EXPECT_TRUE(fs::exists(dir.Sub("backup.log")));
  EXPECT_TRUE(fs::exists(dir.Sub("backup.1.log")));
  EXPECT_TRUE(fs::exists(dir.Sub("backup.2.log")));
  EXPECT_FALSE(fs::exists(dir.Sub("backup.3.log")));
  for (const char* name : {"backup.log", "backup.1.log", "backup.2.log"}) {
    EXPECT_LE(fs::file_size(dir.Sub(name)), 1024u) << name;
    struct stat st;
    ASSERT_EQ(::stat(dir.Sub(name).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u) << name;
  }
  // The newest lines are in backup.log, older ones in .1, older still in .2;
  // the oldest are gone.
  std::vector<std::string> current = Lines(ReadAll(dir.Sub("backup.log")));
  std::vector<std::string> first = Lines(ReadAll(dir.Sub("backup.1.log")));
  std::vector<std::string> second = Lines(ReadAll(dir.Sub("backup.2.log")));
  ASSERT_FALSE(current.empty());
  ASSERT_FALSE(first.empty());
  ASSERT_FALSE(second.empty());
  EXPECT_THAT(current.back(), HasSubstr("line 099"));
  auto number = [](const std::string& line) {
    size_t at = line.find("line ");
    return at == std::string::npos ? -1 : std::stoi(line.substr(at + 5, 3));
  };
  EXPECT_EQ(number(second.back()) + 1, number(first.front()));
  EXPECT_EQ(number(first.back()) + 1, number(current.front()));
  EXPECT_GT(number(second.front()), 0) << "line 000 should have been rotated away";
}

TEST(Logger, NoRotatedFilesTruncates) {
  TempDir dir;
  std::string file = dir.Sub("backup.log");
  LogOptions o;
  o.console = nullptr;
  o.file = file;
  o.max_file_bytes = 512;
  o.max_files = 0;
  Result<std::unique_ptr<Logger>> log = Logger::Create(o);
  ASSERT_OK(log);
  for (int i = 0; i < 50; ++i) (*log)->Info("line {:03} {}", i, std::string(40, 'y'));
  (*log)->Flush();
  EXPECT_LE(fs::file_size(file), 512u);
  EXPECT_FALSE(fs::exists(dir.Sub("backup.1.log")));
  EXPECT_THAT(ReadAll(file), HasSubstr("line 049"));
}

TEST(Logger, ReopeningAppends) {
  TempDir dir;
  std::string file = dir.Sub("backup.log");
  FileLogger(file, LogLevel::kInfo)->Info("first run");
  FileLogger(file, LogLevel::kInfo)->Info("second run");
  std::string text = ReadAll(file);
  EXPECT_THAT(text, HasSubstr("first run"));
  EXPECT_THAT(text, HasSubstr("second run"));
}

TEST(Logger, ConsolePlainAndJournal) {
  TempDir dir;
  for (auto style : {LogOptions::ConsoleStyle::kPlain, LogOptions::ConsoleStyle::kJournal}) {
    std::string path = dir.Sub("console.txt");
    std::FILE* out = std::fopen(path.c_str(), "w");
    ASSERT_NE(out, nullptr);
    {
      LogOptions o;
      o.console = out;
      o.console_style = style;
      Result<std::unique_ptr<Logger>> log = Logger::Create(o);
      ASSERT_OK(log);
      (*log)->Info("started");
      (*log)->Error("failed: {}", "disk");
    }
    std::fclose(out);
    std::vector<std::string> lines = Lines(ReadAll(path));
    ASSERT_EQ(lines.size(), 2u);
    if (style == LogOptions::ConsoleStyle::kJournal) {
      EXPECT_EQ(lines[0], "<6>started");
      EXPECT_EQ(lines[1], "<3>failed: disk");
    } else {
      EXPECT_THAT(lines[0], ::testing::MatchesRegex("[0-9-]+ [0-9:.]+ \\[info\\] started"));
      EXPECT_THAT(lines[1], HasSubstr("[error] failed: disk"));
    }
  }
}

TEST(Logger, NoFileMeansConsoleOnly) {
  TempDir dir;
  std::string path = dir.Sub("console.txt");
  std::FILE* out = std::fopen(path.c_str(), "w");
  ASSERT_NE(out, nullptr);
  {
    LogOptions o;
    o.console = out;
    o.file = "";
    Result<std::unique_ptr<Logger>> log = Logger::Create(o);
    ASSERT_OK(log);
    EXPECT_EQ((*log)->file(), "");
    (*log)->Warn("only here");
  }
  std::fclose(out);
  EXPECT_THAT(ReadAll(path), HasSubstr("only here"));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);
}

TEST(Logger, TextIsNeverAFormatString) {
  TempDir dir;
  std::string file = dir.Sub("backup.log");
  auto log = FileLogger(file, LogLevel::kInfo);
  ASSERT_NE(log, nullptr);
  log->Log(LogLevel::kInfo, "cannot read /home/u/{weird} name {}");
  log->Info("{}", "path {0}");
  std::string text = ReadAll(file);
  EXPECT_THAT(text, HasSubstr("cannot read /home/u/{weird} name {}"));
  EXPECT_THAT(text, HasSubstr("path {0}"));
}

TEST(Logger, ControlCharactersCannotForgeLines) {
  TempDir dir;
  std::string file = dir.Sub("backup.log");
  auto log = FileLogger(file, LogLevel::kInfo);
  ASSERT_NE(log, nullptr);
  log->Info("changed: {}", "/home/u/evil\n2026-01-01T00:00:00 [error] forged\tx\x1b[31m");
  std::vector<std::string> lines = Lines(ReadAll(file));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], HasSubstr("evil\\n2026-01-01T00:00:00 [error] forged\\tx\\x1b[31m"));
}

TEST(Logger, CreateFailsClearly) {
  TempDir dir;
  std::ofstream(dir.Sub("blocker")) << "x";
  LogOptions o;
  o.console = nullptr;
  o.file = dir.Sub("blocker/logs/backup.log");
  Result<std::unique_ptr<Logger>> r = Logger::Create(o);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.error().message(), HasSubstr("blocker"));

  o.file = dir.Sub("backup.log");
  o.max_file_bytes = 0;
  EXPECT_EQ(Logger::Create(o).status().code(), StatusCode::kInvalidArgument);
}

TEST(Logger, DefaultFileFollowsXdgState) {
  EXPECT_EQ(DefaultLogFile(FakeEnv({{"XDG_STATE_HOME", "/s"}, {"HOME", "/h"}})),
            "/s/cairn/logs/backup.log");
  EXPECT_EQ(DefaultLogFile(FakeEnv({{"XDG_STATE_HOME", "rel"}, {"HOME", "/h"}})),
            "/h/.local/state/cairn/logs/backup.log");
  EXPECT_EQ(DefaultLogFile(FakeEnv({{"HOME", "/h"}})), "/h/.local/state/cairn/logs/backup.log");
  EXPECT_EQ(DefaultLogFile(FakeEnv({})), "");
}

// --- Redaction ------------------------------------------------------------

constexpr char kAccountKey[] =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
constexpr char kSig[] = "Zm9vYmFyYmF6cXV4K3NpZw%3D%3D";

TEST(Redactor, RegisteredPasswordIsMaskedEverywhere) {
  Redactor r;
  r.AddSecret("correct horse battery");
  EXPECT_EQ(r.Redact("opening with 'correct horse battery' failed"), "opening with '***' failed");
  EXPECT_EQ(r.Redact("encoded correct%20horse%20battery here"), "encoded *** here");
  EXPECT_EQ(r.Redact("twice: correct horse battery correct horse battery"), "twice: *** ***");
  EXPECT_EQ(r.Redact("nothing secret"), "nothing secret");
}

TEST(Redactor, RegisteredConnectionStringAndItsParts) {
  Redactor r;
  std::string cs = std::string("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=") +
                   kAccountKey + ";EndpointSuffix=core.windows.net";
  r.AddSecret(cs);
  EXPECT_EQ(r.Redact("conn: " + cs), "conn: ***");
  // The key alone, and percent-encoded in a URL.
  std::string alone = r.Redact(std::string("key ") + kAccountKey + " end");
  EXPECT_THAT(alone, Not(HasSubstr(kAccountKey)));
  std::string encoded = r.Redact(
      "q=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq%2FK1SZFPTOtr%"
      "2FKBHBeksoGMGw%3D%3D");
  EXPECT_EQ(encoded, "q=***");
}

TEST(Redactor, AccountKeyShapeWithoutRegistration) {
  Redactor r;
  std::string out = r.Redact(std::string("bad connection string 'AccountName=a;AccountKey=") +
                             kAccountKey + ";EndpointSuffix=core.windows.net'");
  EXPECT_THAT(out, Not(HasSubstr(kAccountKey)));
  EXPECT_THAT(out, HasSubstr("AccountName=a;AccountKey=***;EndpointSuffix=core.windows.net"));
  EXPECT_EQ(r.Redact("accountkey=abc;x"), "accountkey=***;x");
}

TEST(Redactor, SharedAccessSignatureShape) {
  Redactor r;
  std::string sas = std::string("sv=2022-11-02&ss=b&srt=sco&sp=rwdlac&se=2030-01-01&sig=") + kSig;
  std::string out =
      r.Redact("BlobEndpoint=https://a.blob.core.windows.net/;SharedAccessSignature=" + sas + ";x");
  EXPECT_THAT(out, Not(HasSubstr(kSig)));
  EXPECT_THAT(out, Not(HasSubstr("srt=sco")));
  EXPECT_THAT(out, HasSubstr("SharedAccessSignature=***;x"));
}

TEST(Redactor, SigInSasUrl) {
  Redactor r;
  std::string url = std::string("https://acct.blob.core.windows.net/c/b?sv=2022-11-02&sig=") +
                    kSig + "&sp=r&se=2030-01-01";
  std::string out = r.Redact("GET " + url + " failed: 403");
  EXPECT_THAT(out, Not(HasSubstr(kSig)));
  EXPECT_THAT(out, HasSubstr("?sv=2022-11-02&sig=***&sp=r&se=2030-01-01 failed: 403"));
  // Words that merely end in "sig" are left alone.
  EXPECT_EQ(r.Redact("xsig=1 signal=2 design=3"), "xsig=1 signal=2 design=3");
}

TEST(Redactor, RegisteredSasMasksItsSignature) {
  Redactor r;
  r.AddSecret(std::string("BlobEndpoint=https://a.blob.core.windows.net/;SharedAccessSignature="
                          "sv=2022&sig=") +
              kSig);
  // The signature decoded (as a tool might print it) is masked too.
  EXPECT_EQ(r.Redact("signature Zm9vYmFyYmF6cXV4K3NpZw== seen"), "signature *** seen");
}

TEST(Redactor, AuthorizationHeaderUrlPasswordAndEnvironment) {
  Redactor r;
  EXPECT_EQ(r.Redact("> Authorization: SharedKey acct:c2lnbmF0dXJl\n< 403"),
            "> Authorization: ***\n< 403");
  EXPECT_EQ(r.Redact("posting to https://bot:t0ken@hooks.example.com/x"),
            "posting to https://bot:***@hooks.example.com/x");
  EXPECT_EQ(r.Redact("env CAIRN_PASSWORD=hunter2 BACKUP_ENCRYPTION_KEY=k3y"),
            "env CAIRN_PASSWORD=*** BACKUP_ENCRYPTION_KEY=***");
  EXPECT_EQ(r.Redact("AZURE_STORAGE_CONNECTION_STRING=AccountName=a;AccountKey=b end"),
            "AZURE_STORAGE_CONNECTION_STRING=*** end");
}

TEST(Redactor, EnvironmentSecrets) {
  std::vector<std::string> secrets =
      EnvironmentSecrets(FakeEnv({{"CAIRN_PASSWORD", "pw1"},
                                  {"BACKUP_ENCRYPTION_KEY", ""},
                                  {"AZURE_STORAGE_CONNECTION_STRING", "AccountKey=k"},
                                  {"HOME", "/h"}}));
  EXPECT_THAT(secrets, ::testing::UnorderedElementsAre("pw1", "AccountKey=k"));
}

// Every secret form, through a real Logger into a real file and the console.
TEST(Logger, NoSecretReachesAnySink) {
  TempDir dir;
  std::string file = dir.Sub("backup.log");
  std::string console_path = dir.Sub("console.txt");
  std::FILE* console = std::fopen(console_path.c_str(), "w");
  ASSERT_NE(console, nullptr);
  const std::string password = "p4ss-w0rd-from-file";
  const std::string cs =
      std::string("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=") + kAccountKey +
      ";EndpointSuffix=core.windows.net";
  {
    LogOptions o;
    o.console = console;
    o.console_style = LogOptions::ConsoleStyle::kPlain;
    o.file = file;
    o.level = LogLevel::kTrace;
    o.secrets = {cs};
    Result<std::unique_ptr<Logger>> log = Logger::Create(o);
    ASSERT_OK(log);
    (*log)->AddSecret(password);  // learned later, as the password is
    (*log)->Info("password {}", password);
    (*log)->Debug("connection string {}", cs);
    (*log)->Warn("key alone {}", kAccountKey);
    (*log)->Error("request https://acct.blob.core.windows.net/c?sv=1&sig={}&sp=r failed", kSig);
    (*log)->Trace("SharedAccessSignature=sv=1&sig={};", kSig);
    (*log)->Critical("unregistered AccountKey=Zm9vYmFy;AccountName=x");
  }
  std::fclose(console);
  for (const std::string& text : {ReadAll(file), ReadAll(console_path)}) {
    EXPECT_EQ(Lines(text).size(), 6u) << text;
    EXPECT_THAT(text, Not(HasSubstr(password)));
    EXPECT_THAT(text, Not(HasSubstr(kAccountKey)));
    EXPECT_THAT(text, Not(HasSubstr(kSig)));
    EXPECT_THAT(text, Not(HasSubstr("Zm9vYmFy")));
    EXPECT_THAT(text, HasSubstr("password ***"));
    EXPECT_THAT(text, HasSubstr("sig=***&sp=r failed"));
  }
}

TEST(RotatedLogFiles, AsSpdlogNamesThem) {
  EXPECT_EQ(RotatedLogFiles("/s/logs/backup.log", 2),
            (std::vector<std::string>{"/s/logs/backup.1.log", "/s/logs/backup.2.log"}));
  EXPECT_EQ(RotatedLogFiles("/home/u/cairn", 1), std::vector<std::string>{"/home/u/cairn.1"});
  EXPECT_EQ(RotatedLogFiles("/home/u/.cairnlog", 1),
            std::vector<std::string>{"/home/u/.cairnlog.1"});
  EXPECT_TRUE(RotatedLogFiles("/x.log", 0).empty());
}

}  // namespace
}  // namespace cairn::daemon
