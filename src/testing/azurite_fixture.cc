#include "testing/azurite_fixture.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <vector>

#include "base/bytes.h"

#ifndef CAIRN_ENSURE_AZURITE
#error "CAIRN_ENSURE_AZURITE must name tests/azurite/ensure_azurite.sh"
#endif

namespace cairn::testing {

using backend::azure::kDevStoreAccount;
using backend::azure::kDevStoreKey;

namespace {

bool OnPath(const std::string& program) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return false;
  std::stringstream dirs(path);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    if (::access((dir + "/" + program).c_str(), X_OK) == 0) return true;
  }
  return false;
}

std::string ReadFileText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Runs the ensure script; returns the azurite-blob path it prints.
Result<std::string> EnsureAzurite() {
  std::string cmd = std::string("'") + CAIRN_ENSURE_AZURITE + "'";
  FILE* p = ::popen(cmd.c_str(), "r");  // its stderr (progress) goes to ours
  if (p == nullptr) return Status::IOError("cannot run " + cmd);
  std::string out;
  char buf[512];
  while (size_t n = std::fread(buf, 1, sizeof(buf), p)) out.append(buf, n);
  int status = ::pclose(p);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  if (size_t nl = out.rfind('\n'); nl != std::string::npos) out = out.substr(nl + 1);
  if (status != 0 || out.empty()) {
    return Status::Unavailable(
        std::string(CAIRN_ENSURE_AZURITE) + " could not install azurite (exit status " +
        std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + "); see its messages above");
  }
  return out;
}

}  // namespace

bool InCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && (std::string(ci) == "true" || std::string(ci) == "1");
}

std::string AzuriteUnavailableReason() {
  if (!OnPath("node") || !OnPath("npm")) {
    return "the Azure tests need Node.js and npm to run Azurite (Debian: apt-get install nodejs "
           "npm)";
  }
  return "";
}

namespace {
std::mutex node_modules_mu;
std::string node_modules;  // guarded by node_modules_mu
}  // namespace

std::string NodeModulesDir() {
  std::lock_guard lock(node_modules_mu);
  return node_modules;
}

Result<std::unique_ptr<Azurite>> StartAzurite(const AzuriteOptions& options) {
  CAIRN_ASSIGN_OR_RETURN(std::string exe, EnsureAzurite());
  {
    // ".../node_modules/.bin/azurite-blob"
    std::lock_guard lock(node_modules_mu);
    node_modules = exe.substr(0, exe.rfind("/.bin/"));
  }
  const char* tmp = std::getenv("TMPDIR");
  std::string log = std::string(tmp && *tmp ? tmp : "/tmp") + "/cairn-azurite-XXXXXX";
  int fd = ::mkstemp(log.data());
  if (fd < 0) return Status::IOError("mkstemp " + log);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fd);
    return Status::IOError("fork failed");
  }
  if (pid == 0) {
    // The server must not outlive a test process that crashes.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(1);
    ::dup2(fd, 1);
    ::dup2(fd, 2);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    std::string port = std::to_string(options.port);
    std::vector<const char*> argv = {exe.c_str(),  "--blobHost", "127.0.0.1",         "--blobPort",
                                     port.c_str(), "--silent",   "--disableTelemetry"};
    if (options.location.empty()) {
      argv.push_back("--inMemoryPersistence");
    } else {
      argv.push_back("--location");
      argv.push_back(options.location.c_str());
    }
    if (options.skip_api_version_check) argv.push_back("--skipApiVersionCheck");
    argv.push_back(nullptr);
    ::execv(exe.c_str(), const_cast<char* const*>(argv.data()));
    ::_exit(127);
  }
  ::close(fd);
  std::unique_ptr<Azurite> server(new Azurite(pid, 0, log));
  constexpr std::string_view kListening = "successfully listens on http://127.0.0.1:";
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    std::string text = ReadFileText(log);
    if (size_t at = text.find(kListening); at != std::string::npos) {
      int port = std::atoi(text.c_str() + at + kListening.size());
      if (port > 0) {
        server->port_ = port;
        return server;
      }
    }
    int status;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      server->pid_ = -1;
      return Status::Unavailable("azurite-blob exited before listening: " + text);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return Status::Unavailable("azurite-blob did not report its port within 60 s: " +
                             ReadFileText(log));
}

Azurite::~Azurite() {
  Stop();
  ::unlink(log_.c_str());
}

void Azurite::Stop() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    int status;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    pid_ = -1;
  }
}

std::string Azurite::BlobEndpoint() const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/" + std::string(kDevStoreAccount);
}

std::string Azurite::ConnectionString() const {
  return "DefaultEndpointsProtocol=http;AccountName=" + std::string(kDevStoreAccount) +
         ";AccountKey=" + std::string(kDevStoreKey) + ";BlobEndpoint=" + BlobEndpoint() + ";";
}

backend::azure::AzureConnection Azurite::Connection() const {
  return *backend::azure::ParseConnectionString(ConnectionString());
}

Azurite* SharedAzurite(std::string* error) {
  static std::mutex mu;
  static std::unique_ptr<Azurite> server;
  static std::string failure;
  std::lock_guard lock(mu);
  if (!server && failure.empty()) {
    Result<std::unique_ptr<Azurite>> started = StartAzurite();
    if (started.ok()) {
      server = std::move(*started);
    } else {
      failure = started.error().ToString();
    }
  }
  if (!server && error != nullptr) *error = failure;
  return server.get();
}

std::string UniqueContainerName() {
  uint8_t buf[8] = {};
  if (::getrandom(buf, sizeof(buf), 0) != static_cast<ssize_t>(sizeof(buf))) {
    uint64_t v = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    std::memcpy(buf, &v, sizeof(buf));
  }
  static std::atomic<int> counter{0};
  return "t-" + HexEncode(ByteView(buf, sizeof(buf))) + "-" + std::to_string(counter++);
}

}  // namespace cairn::testing
