#include "daemon/status_socket.h"
#include "daemon/state_dir.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include "base/errno_status.h"

namespace cairn::daemon {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr size_t kMaxMessage = 64 * 1024;  // a request; an answer may be 16x that
constexpr uint64_t kMaxPauseSeconds = 366ull * 24 * 3600;

std::string GetOr(const std::function<const char*(const char*)>& getenv_fn, const char* name) {
  const char* v = getenv_fn ? getenv_fn(name) : nullptr;
  return v != nullptr ? v : "";
}

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

Result<sockaddr_un> Address(const std::string& path, socklen_t* len) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    return Status::InvalidArgument("the status socket path '" + path +
                                   "' is empty or longer than " +
                                   std::to_string(sizeof addr.sun_path - 1) + " bytes");
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  *len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
  return addr;
}

int RemainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::max<int64_t>(0, left.count()));
}

// Reads until '\n' or the peer's end of writing, at most `max` bytes, by
// `deadline`. Unavailable on timeout, InvalidArgument when too long.
Result<std::string> ReadMessage(int fd, size_t max, Clock::time_point deadline) {
  std::string data;
  while (true) {
    size_t newline = data.find('\n');
    if (newline != std::string::npos) return data.substr(0, newline);
    if (data.size() > max) return Status::InvalidArgument("the message is too long");
    pollfd p{fd, POLLIN, 0};
    int ms = RemainingMs(deadline);
    int r = ::poll(&p, 1, ms);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return ErrnoStatus(errno, "wait for", "the status socket");
    if (r == 0) return Status::Unavailable("no complete message within the time allowed");
    char buffer[4096];
    ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) return ErrnoStatus(errno, "read from", "the status socket");
    if (n == 0) return data;  // the peer is done writing
    data.append(buffer, static_cast<size_t>(n));
  }
}

Status WriteAll(int fd, std::string_view data, Clock::time_point deadline) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) return ErrnoStatus(errno, "write to", "the status socket");
    pollfd p{fd, POLLOUT, 0};
    int r = ::poll(&p, 1, RemainingMs(deadline));
    if (r == 0) return Status::Unavailable("the peer did not read within the time allowed");
    if (r < 0 && errno != EINTR) return ErrnoStatus(errno, "wait for", "the status socket");
  }
  return Status::OK();
}

nlohmann::json ErrorAnswer(const Status& st) {
  return {{"ok", false}, {"error", st.message()}, {"code", std::string(StatusCodeName(st.code()))}};
}

// A request line -> a StatusRequest, or InvalidArgument saying what is
// wrong (the answer to such a request).
Result<StatusRequest> ParseRequest(const std::string& line) {
  nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::InvalidArgument("a request is a JSON object such as {\"cmd\":\"status\"}");
  }
  auto cmd = j.find("cmd");
  if (cmd == j.end() || !cmd->is_string()) {
    return Status::InvalidArgument("the request has no \"cmd\" (status, pause or resume)");
  }
  StatusRequest request;
  request.cmd = cmd->get<std::string>();
  if (request.cmd != "status" && request.cmd != "pause" && request.cmd != "resume") {
    return Status::InvalidArgument("unknown command '" + request.cmd +
                                   "'; use status, pause or resume");
  }
  auto seconds = j.find("seconds");
  if (seconds != j.end() && !seconds->is_null()) {
    if (request.cmd != "pause") {
      return Status::InvalidArgument("\"seconds\" is only for pause");
    }
    if (!seconds->is_number_unsigned() || seconds->get<uint64_t>() > kMaxPauseSeconds) {
      return Status::InvalidArgument("\"seconds\" must be a whole number from 0 to " +
                                     std::to_string(kMaxPauseSeconds));
    }
    request.seconds = seconds->get<uint64_t>();
  }
  return request;
}

// The folder must be a directory of ours, reachable by nobody else.
Status PrepareFolder(const fs::path& folder) {
  std::error_code ec;
  fs::path parent = folder.parent_path();
  if (!parent.empty() && !fs::exists(parent, ec)) {
    // ~/.local/state on a fresh account: made as `mkdir -p` would (the
    // umask's mode); only cairn's own folder must be private.
    fs::create_directories(parent, ec);
    if (ec) return ErrnoStatus(ec.value(), "create folder", parent.string());
  }
  if (::mkdir(folder.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, "create folder", folder.string());
  }
  struct stat st;
  if (::lstat(folder.c_str(), &st) != 0) return ErrnoStatus(errno, "inspect", folder.string());
  if (!S_ISDIR(st.st_mode)) {
    return Status::AlreadyExists(folder.string() +
                                 " is not a folder; remove it so the status socket can live there");
  }
  if (st.st_uid != ::geteuid()) {
    return Status::PermissionDenied(folder.string() + " belongs to uid " +
                                    std::to_string(st.st_uid) +
                                    ", not to this user: refusing to put the status socket there");
  }
  if ((st.st_mode & 0077) != 0 && ::chmod(folder.c_str(), 0700) != 0) {
    return ErrnoStatus(errno, "make private (0700) the folder", folder.string());
  }
  return Status::OK();
}

// Connects to the socket at `path`; the errno of a failure in *err.
Fd Connect(const std::string& path, const sockaddr_un& addr, socklen_t len, int* err) {
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) {
    *err = errno;
    return Fd();
  }
  while (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), len) != 0) {
    if (errno == EINTR) continue;
    *err = errno;
    return Fd();
  }
  *err = 0;
  return Fd(fd.release());
}

}  // namespace

std::string DefaultSocketPath(const std::function<const char*(const char*)>& getenv_fn,
                              uid_t euid) {
  std::string runtime = GetOr(getenv_fn, "XDG_RUNTIME_DIR");
  if (!runtime.empty() && runtime[0] == '/') return runtime + "/cairn/daemon.sock";
  // Root's own daemon, the system unit's (no HOME, or root's): the one
  // place `sudo cairn status` looks. Root with another HOME (a container's
  // user, a test) keeps its socket under that HOME like anyone else.
  const std::string home = GetOr(getenv_fn, "HOME");
  if (euid == 0 && (home.empty() || home == "/root" || home == "/")) return kSystemSocketPath;
  const std::string state = StateDir(getenv_fn, GetOr(getenv_fn, "HOME"));
  return state.empty() ? "" : state + "/daemon.sock";
}

std::vector<std::string> SocketPathsToTry(const std::function<const char*(const char*)>& getenv_fn,
                                          uid_t euid) {
  std::vector<std::string> out;
  if (std::string p = DefaultSocketPath(getenv_fn, euid); !p.empty()) out.push_back(p);
  if (euid == 0 && (out.empty() || out[0] != kSystemSocketPath)) out.push_back(kSystemSocketPath);
  return out;
}

// ---------------------------------------------------------------------------

Result<std::unique_ptr<StatusServer>> StatusServer::Start(StatusServerOptions options,
                                                          StatusHandler handler) {
  socklen_t len = 0;
  CAIRN_ASSIGN_OR_RETURN(sockaddr_un addr, Address(options.path, &len));
  CAIRN_RETURN_IF_ERROR(PrepareFolder(fs::path(options.path).parent_path()));

  struct stat st;
  if (::lstat(options.path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return Status::AlreadyExists(options.path +
                                   " exists and is not a socket; remove it (cairn will not)");
    }
    int err = 0;
    Fd probe = Connect(options.path, addr, len, &err);
    if (probe.get() >= 0) {
      return Status::AlreadyExists("another cairn daemon is running (it answers at " +
                                   options.path + "); `cairn status` shows that one");
    }
    if (err != ECONNREFUSED) return ErrnoStatus(err, "connect to", options.path);
    // Nobody listens: the file of a daemon that died. Ours to replace.
    if (::unlink(options.path.c_str()) != 0 && errno != ENOENT) {
      return ErrnoStatus(errno, "remove the stale socket", options.path);
    }
  }

  Fd listen_fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (listen_fd.get() < 0) return ErrnoStatus(errno, "create a socket for", options.path);
  if (::bind(listen_fd.get(), reinterpret_cast<const sockaddr*>(&addr), len) != 0) {
    if (errno == EADDRINUSE) {
      return Status::AlreadyExists("another cairn daemon took " + options.path + " just now");
    }
    return ErrnoStatus(errno, "bind the status socket", options.path);
  }
  // The folder is 0700 already; 0600 keeps the socket private if it moves.
  if (::chmod(options.path.c_str(), 0600) != 0 || ::listen(listen_fd.get(), 16) != 0 ||
      ::stat(options.path.c_str(), &st) != 0) {
    int err = errno;
    ::unlink(options.path.c_str());
    return ErrnoStatus(err, "set up the status socket", options.path);
  }
  Fd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (wake.get() < 0) {
    int err = errno;
    ::unlink(options.path.c_str());
    return ErrnoStatus(err, "create an eventfd for", options.path);
  }
  return std::unique_ptr<StatusServer>(new StatusServer(std::move(options), std::move(handler),
                                                        listen_fd.release(), wake.release(),
                                                        st.st_dev, st.st_ino));
}

StatusServer::StatusServer(StatusServerOptions options, StatusHandler handler, int listen_fd,
                           int wake_fd, dev_t dev, ino_t ino)
    : options_(std::move(options)),
      handler_(std::move(handler)),
      listen_fd_(listen_fd),
      wake_fd_(wake_fd),
      dev_(dev),
      ino_(ino) {
  thread_ = std::jthread([this](std::stop_token stop) { Serve(stop); });
}

StatusServer::~StatusServer() {
  thread_.request_stop();
  uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
  thread_.join();
  // Remove the file only if it is still the one we bound: a daemon started
  // after us (ours was taken for stale) owns the path now.
  struct stat st;
  if (::lstat(options_.path.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_) {
    ::unlink(options_.path.c_str());
  }
  ::close(listen_fd_);
  ::close(wake_fd_);
}

void StatusServer::Serve(std::stop_token stop) {
  while (!stop.stop_requested()) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    int r = ::poll(fds, 2, -1);
    if (r < 0) {
      if (errno == EINTR) continue;
      return;  // cannot happen with valid fds; the daemon's status goes quiet
    }
    if (fds[1].revents != 0) continue;  // woken: the loop condition decides
    if ((fds[0].revents & POLLIN) == 0) continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) continue;  // EAGAIN, ECONNABORTED, EMFILE: try again later
    HandleConnection(fd);
    ::close(fd);
  }
}

void StatusServer::HandleConnection(int fd) {
  const Clock::time_point deadline = Clock::now() + options_.io_timeout;
  nlohmann::json answer;
  ucred peer{};
  socklen_t peer_len = sizeof peer;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &peer_len) != 0 || peer.uid != ::geteuid()) {
    // Another user learns nothing but the refusal. The request is read
    // (and dropped) first: closing on unread data would make the client's
    // read fail with ECONNRESET instead of showing it this answer.
    (void)ReadMessage(fd, kMaxMessage, deadline);
    answer = ErrorAnswer(Status::PermissionDenied(
        "this cairn daemon serves only its own user (uid " + std::to_string(::geteuid()) + ")"));
  } else {
    Result<std::string> line = ReadMessage(fd, kMaxMessage, deadline);
    if (!line.ok()) {
      if (line.error().code() == StatusCode::kUnavailable) return;  // silent client: drop it
      answer = ErrorAnswer(line.error());
    } else {
      Result<StatusRequest> request = ParseRequest(*line);
      if (!request.ok()) {
        answer = ErrorAnswer(request.error());
      } else {
        try {
          Result<nlohmann::json> reply = handler_(*request);
          if (!reply.ok()) {
            answer = ErrorAnswer(reply.error());
          } else if (!reply->is_object()) {
            answer = ErrorAnswer(Status::IOError("the daemon produced no answer object"));
          } else {
            answer = std::move(reply).value();
            answer["ok"] = true;
          }
        } catch (const std::exception& e) {
          answer = ErrorAnswer(Status::IOError(std::string("the daemon failed: ") + e.what()));
        }
      }
    }
  }
  std::string text = answer.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  (void)WriteAll(fd, text, deadline);  // a client that left has no one to tell
}

// ---------------------------------------------------------------------------

Result<nlohmann::json> CallDaemon(const std::string& path, const StatusRequest& request,
                                  std::chrono::milliseconds timeout) {
  socklen_t len = 0;
  CAIRN_ASSIGN_OR_RETURN(sockaddr_un addr, Address(path, &len));
  int err = 0;
  Fd fd = Connect(path, addr, len, &err);
  if (fd.get() < 0) {
    if (err == ENOENT) {
      return Status::NotFound("no cairn daemon is running (no socket at " + path + ")");
    }
    if (err == ECONNREFUSED) {
      return Status::NotFound("no cairn daemon is running (" + path +
                              " is left from one that stopped)");
    }
    if (err == EACCES || err == EPERM) {
      return Status::PermissionDenied("cannot reach the cairn daemon at " + path +
                                      ": it belongs to another user");
    }
    return ErrnoStatus(err, "connect to the cairn daemon at", path);
  }
  const Clock::time_point deadline = Clock::now() + timeout;
  nlohmann::json j = {{"cmd", request.cmd}};
  if (request.seconds) j["seconds"] = *request.seconds;
  Status sent = WriteAll(fd.get(), j.dump() + "\n", deadline);
  // A daemon that refused our uid answers without reading; its answer
  // matters more than our failed write.
  ::shutdown(fd.get(), SHUT_WR);
  Result<std::string> line = ReadMessage(fd.get(), 16 * kMaxMessage, deadline);
  if (!line.ok()) {
    if (line.error().code() == StatusCode::kUnavailable) {
      return Status::Unavailable("the cairn daemon at " + path + " did not answer within " +
                                 std::to_string(timeout.count()) + " ms");
    }
    return line.error();
  }
  if (line->empty() && !sent.ok()) return sent;
  nlohmann::json answer = nlohmann::json::parse(*line, nullptr, /*allow_exceptions=*/false);
  if (answer.is_discarded() || !answer.is_object() || !answer.contains("ok")) {
    return Status::Corruption("the cairn daemon at " + path + " gave an answer that is not " +
                              "a status object");
  }
  return answer;
}

}  // namespace cairn::daemon
