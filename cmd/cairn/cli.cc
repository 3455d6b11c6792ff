#include "cmd/cairn/cli.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "backend/backend.h"
#include "engine/catalog_sync.h"

namespace cairn::cli {

namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string HomeDir() {
  std::string h = Env("HOME");
  return h.empty() ? "/" : h;
}

std::string XdgDir(const char* var, const char* fallback) {
  std::string v = Env(var);
  if (!v.empty() && v[0] == '/') return v;
  return HomeDir() + "/" + fallback;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

Result<std::string> ReadSecretFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f)
    return Status::InvalidArgument("cannot read the password file " + path +
                                   ": check the path and its permissions");
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  s = Trim(s);
  if (s.empty()) return Status::InvalidArgument("the password file " + path + " is empty");
  return s;
}

std::string Prompt(const std::string& text) {
  std::cerr << text << std::flush;
  struct termios old;
  bool tty = tcgetattr(STDIN_FILENO, &old) == 0;
  if (tty) {
    struct termios t = old;
    t.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &t);
  }
  std::string line;
  std::getline(std::cin, line);
  if (tty) tcsetattr(STDIN_FILENO, TCSANOW, &old);
  std::cerr << "\n";
  return Trim(line);
}

}  // namespace

int ExitCodeFor(const Status& st) {
  switch (st.code()) {
    case StatusCode::kOk:
      return kExitOk;
    case StatusCode::kNoRepository:
      return kExitNoRepository;
    case StatusCode::kLocked:
      return kExitLocked;
    case StatusCode::kWrongPassword:
      return kExitWrongPassword;
    default:
      return kExitFailed;
  }
}

Status Context::Init() {
  std::optional<std::string> explicit_config;
  if (!g_.config_file.empty()) explicit_config = g_.config_file;
  CAIRN_ASSIGN_OR_RETURN(settings_, config::LoadSettings(explicit_config));
  CAIRN_RETURN_IF_ERROR(
      config::ApplyEnvironment(settings_, [](const char* n) { return std::getenv(n); }));
  return Status::OK();
}

std::string Context::Location() const {
  if (!g_.repo.empty()) return g_.repo;
  if (!settings_.repository.empty()) return settings_.repository;  // env CAIRN_REPOSITORY applied
  // With an Azure connection string (AZURE_STORAGE_CONNECTION_STRING or the
  // settings' azure: section) and no location, the original design's
  // container (AZURE_CONTAINER_NAME, default "backups") is used.
  if (!settings_.azure_connection_string.empty())
    return "azure://" + settings_.azure_container +
           (settings_.azure_prefix.empty() ? std::string() : "/" + settings_.azure_prefix);
  return XdgDir("XDG_DATA_HOME", ".local/share") + "/cairn/repo";
}

backend::BackendOptions Context::BackendOptionsFor() const {
  backend::BackendOptions o;
  o.azure_connection_string = settings_.azure_connection_string;
  o.connections = static_cast<int>(settings_.azure_connections);
  o.azure_access_tier = settings_.azure_access_tier;
  o.limit_upload_kib = g_.limit_upload_kib >= 0 ? static_cast<uint64_t>(g_.limit_upload_kib)
                                                : settings_.azure_limit_upload_kib;
  o.limit_download_kib = g_.limit_download_kib >= 0 ? static_cast<uint64_t>(g_.limit_download_kib)
                                                    : settings_.azure_limit_download_kib;
  o.stall_timeout_seconds = static_cast<int>(settings_.azure_stall_timeout_seconds);
  return o;
}

std::string Context::Device() const {
  if (!g_.device.empty()) return g_.device;
  if (!settings_.device_id.empty()) return settings_.device_id;
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) == 0 && host[0]) return host;
  return "default-device";
}

std::string Context::QueryDevice() const { return g_.all_devices ? std::string() : Device(); }

std::string Context::CacheDir() const { return XdgDir("XDG_CACHE_HOME", ".cache") + "/cairn"; }

std::string Context::GeneratedSecretPath() const {
  std::string dir = XdgDir("XDG_CONFIG_HOME", ".config") + "/cairn";
  std::string default_location = XdgDir("XDG_DATA_HOME", ".local/share") + "/cairn/repo";
  if (Location() == default_location) return dir + "/password";
  Id h = crypto::Sha256::Digest(AsBytes(Location()));
  return dir + "/password-" + h.Hex().substr(0, 12);
}

crypto::KdfParams Context::KdfParamsForNewKey() const {
  if (Env("CAIRN_TEST_CHEAP_KDF") == "1") return crypto::CheapKdfParams();
  return crypto::DefaultKdfParams();
}

Result<std::string> Context::Secret(bool for_init) {
  if (secret_) return *secret_;
  auto secret = FindSecret(for_init);
  if (secret.ok()) secret_ = *secret;
  return secret;
}

Result<std::string> Context::FindSecret(bool for_init) {
  if (!g_.password_file.empty()) return ReadSecretFile(config::ExpandHome(g_.password_file));
  if (!settings_.password_file.empty()) return ReadSecretFile(settings_.password_file);
  if (std::string p = Env("CAIRN_PASSWORD"); !p.empty()) return p;
  if (std::string k = Env("BACKUP_ENCRYPTION_KEY"); !k.empty()) return Trim(k);
  std::string generated = GeneratedSecretPath();
  if (std::filesystem::exists(generated)) return ReadSecretFile(generated);
  if (isatty(STDIN_FILENO)) {
    std::string pw = Prompt(for_init ? "Choose a password for the new repository: "
                                     : "Password for " + Location() + ": ");
    if (for_init) {
      if (pw.empty()) return Status::InvalidArgument("an empty password is not allowed");
      if (Prompt("Repeat the password: ") != pw)
        return Status::InvalidArgument("the passwords differ; nothing was created");
    }
    return pw;
  }
  if (!for_init)
    return Status::WrongPassword(
        "no password given: use --password-file FILE, CAIRN_PASSWORD or BACKUP_ENCRYPTION_KEY");
  // Unattended init (the quick start): generate a strong random secret.
  Bytes raw(32);
  crypto::RandomBytes(raw);
  std::string secret = Base64Encode(raw);
  std::filesystem::create_directories(std::filesystem::path(generated).parent_path());
  chmod(std::filesystem::path(generated).parent_path().c_str(), 0700);
  int fd = open(generated.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IOError("cannot create the secret file " + generated);
  std::string line = secret + "\n";
  bool ok =
      write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && fsync(fd) == 0;
  close(fd);
  if (!ok) return Status::IOError("cannot write the secret file " + generated);
  Warn("Generated a random secret for the new repository in " + generated +
       ". KEEP A COPY OF IT SOMEWHERE ELSE (a password manager, paper): without it the backup "
       "cannot be restored.");
  return secret;
}

Result<std::unique_ptr<repo::Repository>> Context::OpenRepository(bool load_index,
                                                                  bool adopt_orphans) {
  CAIRN_ASSIGN_OR_RETURN(auto be, backend::OpenBackend(Location(), BackendOptionsFor()));
  auto cfg = be->Stat(backend::ObjectName{backend::ObjectType::kConfig, "config"});
  if (!cfg.ok()) {
    if (cfg.error().IsNotFound())
      return Status::NoRepository("there is no cairn repository at " + Location() +
                                  ": create one with `cairn init`, or point --repo / "
                                  "CAIRN_REPOSITORY at an existing one");
    return cfg.error();
  }
  CAIRN_ASSIGN_OR_RETURN(std::string secret, Secret(false));
  CAIRN_ASSIGN_OR_RETURN(auto repo, repo::Repository::Open(be, secret));
  if (load_index) CAIRN_RETURN_IF_ERROR(repo->LoadIndex(adopt_orphans));
  for (const auto& w : repo->warnings()) Warn(w);
  return repo;
}

Result<std::unique_ptr<catalog::Catalog>> Context::OpenCatalog(repo::Repository& repo,
                                                               bool rebuild) {
  CAIRN_ASSIGN_OR_RETURN(auto cat, engine::OpenCatalog(repo, CacheDir(), rebuild));
  std::vector<std::string> warnings;
  bool progress = ShowProgress();
  auto stats = engine::SyncCatalog(repo, *cat, &warnings, [&](uint64_t done, uint64_t total) {
    if (progress && total > 20)
      ProgressLine("reading version history: " + std::to_string(done) + "/" +
                   std::to_string(total));
  });
  if (progress) ProgressDone();
  if (!stats.ok()) return stats.error();
  for (const auto& w : warnings) Warn(w);
  return cat;
}

Result<std::unique_ptr<repo::RepoLock>> Context::Lock(repo::Repository& repo, bool exclusive,
                                                      const std::string& operation) {
  repo::LockOptions o;
  o.exclusive = exclusive;
  o.device = Device();
  o.operation = operation;
  if (std::string ttl = Env("CAIRN_LOCK_TTL"); !ttl.empty())
    o.ttl = std::chrono::seconds(std::stoll(ttl));
  std::string wait = Env("CAIRN_LOCK_WAIT");
  o.wait = std::chrono::seconds(wait.empty() ? (exclusive ? 60 : 10) : std::stoll(wait));
  return repo::RepoLock::Acquire(repo, o);
}

Result<std::unique_ptr<repo::RepoLock>> Context::ReadLock(repo::Repository& repo,
                                                          const std::string& operation) {
  auto lock = Lock(repo, false, operation);
  if (lock.ok() || lock.error().code() != StatusCode::kPermissionDenied) return lock;
  Warn("the credentials can only read " + repo.backend().Location() + ", so " + operation +
       " runs without a repository lock; if a prune removes data meanwhile, the files it "
       "affects are reported as errors, never written wrong");
  return std::unique_ptr<repo::RepoLock>();
}

bool Context::ShowProgress() const {
  return !g_.json && !g_.quiet && !g_.no_progress && isatty(STDERR_FILENO);
}

void Context::Info(const std::string& line) const {
  if (!g_.json && !g_.quiet) std::cout << line << "\n";
}

void Context::Warn(const std::string& line) const { std::cerr << "warning: " << line << "\n"; }

int Context::Fail(const Status& st) const {
  ProgressDone();
  if (g_.json) {
    nlohmann::json j = {{"error", st.message()},
                        {"code", std::string(StatusCodeName(st.code()))},
                        {"exit_code", ExitCodeFor(st)}};
    std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  }
  std::cerr << "cairn: " << st.message() << "\n";
  return ExitCodeFor(st);
}

void Context::PrintJson(const nlohmann::json& j) const {
  std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

std::string HumanBytes(uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0)
    snprintf(buf, sizeof(buf), "%llu B", static_cast<unsigned long long>(n));
  else
    snprintf(buf, sizeof(buf), "%.1f %s", v, units[u]);
  return buf;
}

std::string ShowPath(const std::string& path) {
  std::string out;
  for (unsigned char c : path) {
    if (c < 0x20 || c == 0x7f) {
      char buf[8];
      snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string AbsolutePath(const std::string& path) {
  std::filesystem::path p(path);
  if (!p.is_absolute()) p = std::filesystem::current_path() / p;
  std::string s = p.lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

void ProgressLine(const std::string& text) {
  std::string t = text.size() > 110 ? text.substr(0, 107) + "..." : text;
  std::cerr << "\r\033[K" << t << std::flush;
}

void ProgressDone() {
  if (isatty(STDERR_FILENO)) std::cerr << "\r\033[K" << std::flush;
}

}  // namespace cairn::cli
