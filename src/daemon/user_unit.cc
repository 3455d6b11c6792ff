#include "daemon/user_unit.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/errno_status.h"
#include "daemon/user_unit_template.h"

extern char** environ;

namespace cairn::daemon {

std::string UserUnitText(const std::string& binary) {
  std::string text = kUserUnitTemplate;
  const std::string placeholder = "@CAIRN_BINDIR@/cairn";
  for (size_t pos = text.find(placeholder); pos != std::string::npos;
       pos = text.find(placeholder, pos + binary.size()))
    text.replace(pos, placeholder.size(), binary);
  return text;
}

std::string UserManagerUnavailableReason(const std::function<const char*(const char*)>& getenv,
                                         const std::string& run_systemd_system) {
  struct stat st;
  if (::stat(run_systemd_system.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return "systemd is not running on this machine (a container or a build machine), so no "
           "service can be installed";
  const char* runtime = getenv ? getenv("XDG_RUNTIME_DIR") : nullptr;
  if (runtime == nullptr || runtime[0] == '\0')
    return "no systemd user manager is reachable (XDG_RUNTIME_DIR is not set: log in to a "
           "session, or run `loginctl enable-linger $USER` as root first)";
  std::string socket = std::string(runtime) + "/systemd/private";
  if (::stat(socket.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode))
    return "no systemd user manager is running for you (" + socket +
           " is missing: log in to a session, or run `loginctl enable-linger $USER` as root "
           "first)";
  return "";
}

std::vector<std::string> SystemUserUnitDirs(const std::string& root) {
  return {root + "/etc/systemd/user", root + "/usr/local/lib/systemd/user",
          root + "/usr/lib/systemd/user"};
}

std::string FindInstalledUserUnit(const std::vector<std::string>& dirs) {
  for (const std::string& d : dirs) {
    std::string path = d + "/cairn.service";
    struct stat st;
    if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) return path;
  }
  return "";
}

Result<ProgramResult> RunProgram(const std::vector<std::string>& argv) {
  if (argv.empty()) return Status::InvalidArgument("no program to run");
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    return Status::IOError(std::string("pipe: ") + ErrnoText(errno));
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
  // cairn blocks SIGINT/SIGTERM/SIGHUP in every thread (main.cc): the child
  // gets the default mask and handlers back.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, argv[0].c_str(), &fa, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    return Status::NotFound("cannot run " + argv[0] + ": " + ErrnoText(rc));
  }
  ProgramResult r;
  char buf[4096];
  while (true) {
    ssize_t n = ::read(fds[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    r.output.append(buf, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace cairn::daemon
