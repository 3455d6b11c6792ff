// The status socket: how `cairn status`, `cairn pause` and `cairn resume`
// talk to a running `cairn run`.
//
// A Unix stream socket, by default $XDG_RUNTIME_DIR/cairn/daemon.sock (see
// DefaultSocketPath). One connection carries one request and one answer,
// each a JSON object on one line (the request may also end at the client's
// end of writing):
//   {"cmd":"status"}
//   {"cmd":"pause","seconds":N}    (N >= 0; without "seconds": until resumed)
//   {"cmd":"resume"}
// The answer is what the daemon's handler returns with "ok": true added, or
// {"ok": false, "error": "...", "code": "invalid argument"} for a request
// that is not one of these or that the handler refused ("code" is
// StatusCodeName, as in the CLI's --json errors).
//
// Access: the folder is 0700 and the socket 0600, and the server also checks
// the peer's credentials (SO_PEERCRED): only a process of the daemon's own
// effective uid is served (root included only when the daemon is root's).
//
// Thread-safety: StatusServer serves from a thread of its own and calls the
// handler there, one request at a time. CallDaemon may be called from any
// thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"

namespace cairn::daemon {

// Where the daemon listens, for a process of effective uid `euid`:
//   $XDG_RUNTIME_DIR set:   $XDG_RUNTIME_DIR/cairn/daemon.sock (a user's
//                           session, and the user unit);
//   root (uid 0) otherwise, with HOME unset, / or /root:
//                           /run/cairn/daemon.sock (the system unit's
//                           RuntimeDirectory=cairn; `sudo cairn status`,
//                           whose environment has no runtime dir, finds it);
//   otherwise:              $XDG_STATE_HOME/cairn/daemon.sock
//                           ($XDG_STATE_HOME defaulting to ~/.local/state).
// Relative XDG values are ignored, as the specification requires. "" when
// nothing is usable (no HOME).
inline constexpr const char* kSystemSocketPath = "/run/cairn/daemon.sock";
std::string DefaultSocketPath(const std::function<const char*(const char*)>& getenv_fn, uid_t euid);
// Where a client looks, in order: DefaultSocketPath, then for root the
// system daemon's socket (root in a login session asking about the system
// service).
std::vector<std::string> SocketPathsToTry(const std::function<const char*(const char*)>& getenv_fn,
                                          uid_t euid);

struct StatusRequest {
  std::string cmd;                  // "status", "pause" or "resume"
  std::optional<uint64_t> seconds;  // pause only; nullopt: until resumed
};

// Produces the answer to a valid request: a JSON object (any fields;
// "ok" is set by the server), or an error Status sent as {"ok": false}.
// Called on the server's thread; exceptions are caught and answered as
// errors.
using StatusHandler = std::function<Result<nlohmann::json>(const StatusRequest&)>;

struct StatusServerOptions {
  std::string path;  // the socket; its folder is created 0700 when missing
  // A client must send its request and take the answer within this; a
  // silent client cannot hold the daemon's status up for longer.
  std::chrono::milliseconds io_timeout{2000};
};

class StatusServer {
 public:
  // Creates the folder (0700; an existing one must be ours, and is made
  // 0700), binds the socket (0600) and starts serving. A socket file left by
  // a daemon that died is replaced; one where a daemon answers is
  // AlreadyExists ("another cairn daemon is running ..."), as is anything
  // else at the path (never removed). InvalidArgument for a path longer than
  // a socket address holds (107 bytes).
  static Result<std::unique_ptr<StatusServer>> Start(StatusServerOptions options,
                                                     StatusHandler handler);
  // Stops serving and removes the socket file (unless another daemon has
  // replaced it meanwhile).
  ~StatusServer();
  StatusServer(const StatusServer&) = delete;
  StatusServer& operator=(const StatusServer&) = delete;

  const std::string& path() const { return options_.path; }

 private:
  StatusServer(StatusServerOptions options, StatusHandler handler, int listen_fd, int wake_fd,
               dev_t dev, ino_t ino);
  void Serve(std::stop_token stop);
  void HandleConnection(int fd);

  StatusServerOptions options_;
  StatusHandler handler_;
  int listen_fd_;
  int wake_fd_;  // an eventfd that ends the accept wait
  dev_t dev_;    // the socket file's identity, to remove only our own
  ino_t ino_;
  std::jthread thread_;
};

// Sends `request` to the daemon at `path` and returns its answer (the whole
// object, "ok" and "error" included: a refusal is an answer).
// Errors:
//   NotFound          no daemon is running: no socket, or a socket file
//                     nobody listens on (a daemon that died). Nothing else
//                     is NotFound, so a front end can say "not running".
//   PermissionDenied  the socket or its folder is not ours, or the daemon
//                     refused our uid.
//   Unavailable       no answer within `timeout`.
//   Corruption        an answer that is not a JSON object.
Result<nlohmann::json> CallDaemon(const std::string& path, const StatusRequest& request,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(5));

}  // namespace cairn::daemon
