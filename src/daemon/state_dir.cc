#include "daemon/state_dir.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "base/errno_status.h"

namespace cairn::daemon {

std::string StateDir(const std::function<const char*(const char*)>& getenv,
                     const std::string& home) {
  const char* xdg = getenv("XDG_STATE_HOME");
  if (xdg != nullptr && xdg[0] == '/') return std::string(xdg) + "/cairn";
  if (home.empty() || home[0] != '/') return "";
  return home + "/.local/state/cairn";
}

std::string StateFileStem(const std::string& location, const std::string& device) {
  // FNV-1a, 64 bits: stable across builds and platforms (std::hash is not
  // promised to be), and collisions between one user's few repositories are
  // not a concern.
  uint64_t h = 14695981039346656037ull;
  auto mix = [&h](const std::string& s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 1099511628211ull;
    }
  };
  mix(location);
  mix(std::string(1, '\0'));
  mix(device);
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(h));
  return std::string("run-") + hex;
}

Status MakeStateDir(const std::string& dir) {
  if (dir.empty() || dir[0] != '/')
    return Status::InvalidArgument("state folder must be absolute: '" + dir + "'");
  for (size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos != dir.size() && dir[pos] != '/') continue;
    const std::string part = dir.substr(0, pos);
    if (::mkdir(part.c_str(), 0700) != 0 && errno != EEXIST)
      return Status::IOError("cannot create the state folder " + part + ": " + ErrnoText(errno));
  }
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return Status::IOError("the state folder " + dir + " is not a folder");
  return Status::OK();
}

}  // namespace cairn::daemon
