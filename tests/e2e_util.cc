#include "e2e_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>

#include "base/errno_status.h"

namespace cairn::e2e {

namespace {

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "e2e_util: %s: %s\n", what.c_str(), ErrnoText(errno).c_str());
  std::fflush(stderr);
  std::abort();
}

std::string ReadAllFd(int fd) {
  std::string out;
  char buf[65536];
  off_t off = 0;
  while (true) {
    ssize_t n = pread(fd, buf, sizeof(buf), off);
    if (n < 0) {
      if (errno == EINTR) continue;
      Die("reading captured output");
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    off += n;
  }
  return out;
}

std::string Join(const std::string& dir, const std::string& name) {
  return dir.empty() ? name : dir + "/" + name;
}

// Escapes non-printable bytes except newlines and tabs (program output).
std::string PrintableText(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if ((c < 0x20 && c != '\n' && c != '\t') || c >= 0x7f) {
      char buf[8];
      snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string Truncated(const std::string& s) {
  if (s.size() <= 4000) return s;
  return s.substr(0, 2000) + "\n...[" + std::to_string(s.size() - 4000) + " bytes]...\n" +
         s.substr(s.size() - 2000);
}

char TypeOf(mode_t m) {
  switch (m & S_IFMT) {
    case S_IFREG:
      return 'f';
    case S_IFDIR:
      return 'd';
    case S_IFLNK:
      return 'l';
    case S_IFIFO:
      return 'p';
    case S_IFSOCK:
      return 's';
    case S_IFCHR:
      return 'c';
    case S_IFBLK:
      return 'b';
  }
  return '?';
}

int64_t ToNs(const struct timespec& ts) {
  return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

std::map<std::string, std::string> ReadXattrs(const std::string& path) {
  std::map<std::string, std::string> out;
  ssize_t n = llistxattr(path.c_str(), nullptr, 0);
  if (n <= 0) return out;
  std::string names(static_cast<size_t>(n), '\0');
  n = llistxattr(path.c_str(), names.data(), names.size());
  if (n <= 0) return out;
  names.resize(static_cast<size_t>(n));
  size_t pos = 0;
  while (pos < names.size()) {
    std::string name(names.c_str() + pos);
    pos += name.size() + 1;
    if (name.empty()) continue;
    ssize_t vn = lgetxattr(path.c_str(), name.c_str(), nullptr, 0);
    if (vn < 0) continue;
    std::string value(static_cast<size_t>(vn), '\0');
    vn = lgetxattr(path.c_str(), name.c_str(), value.data(), value.size());
    if (vn < 0) continue;
    value.resize(static_cast<size_t>(vn));
    out[name] = value;
  }
  return out;
}

void ScanInto(const std::string& root, const std::string& rel, Tree& tree,
              std::map<std::pair<dev_t, ino_t>, std::vector<std::string>>& inodes) {
  std::string full = rel.empty() ? root : root + "/" + rel;
  struct stat st;
  if (lstat(full.c_str(), &st) != 0) Die("lstat " + full);
  Entry e;
  e.type = TypeOf(st.st_mode);
  e.mode = st.st_mode & 07777;
  e.uid = st.st_uid;
  e.gid = st.st_gid;
  e.size = e.type == 'f' ? static_cast<uint64_t>(st.st_size) : 0;
  e.mtime_ns = ToNs(st.st_mtim);
  e.blocks = static_cast<uint64_t>(st.st_blocks);
  e.nlink = st.st_nlink;
  e.rdev = (e.type == 'c' || e.type == 'b') ? st.st_rdev : 0;
  if (e.type == 'l') {
    std::string target(4096, '\0');
    ssize_t n = readlink(full.c_str(), target.data(), target.size());
    if (n < 0) Die("readlink " + full);
    target.resize(static_cast<size_t>(n));
    e.link_target = target;
  }
  e.xattrs = ReadXattrs(full);
  if (e.type != 'd' && st.st_nlink > 1) inodes[{st.st_dev, st.st_ino}].push_back(rel);
  tree[rel] = e;
  if (e.type != 'd') return;
  DIR* d = opendir(full.c_str());
  if (!d) Die("opendir " + full);
  std::vector<std::string> names;
  while (struct dirent* de = readdir(d)) {
    if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
    names.emplace_back(de->d_name);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  for (const auto& n : names) ScanInto(root, Join(rel, n), tree, inodes);
}

bool Ignored(const std::set<std::string>& ignore, const std::string& rel) {
  for (const auto& i : ignore) {
    if (rel == i) return true;
    if (rel.size() > i.size() && rel.compare(0, i.size(), i) == 0 && rel[i.size()] == '/')
      return true;
  }
  return false;
}

std::string Octal(mode_t m) {
  char buf[16];
  snprintf(buf, sizeof(buf), "%04o", static_cast<unsigned>(m));
  return buf;
}

}  // namespace

// ---------------------------------------------------------------------------
// Processes.

std::string ProcResult::Describe() const {
  std::string s = term_signal ? "killed by signal " + std::to_string(term_signal)
                              : "exit " + std::to_string(exit_code);
  return s + "\n--- stdout ---\n" + PrintableText(Truncated(out)) + "\n--- stderr ---\n" +
         PrintableText(Truncated(err));
}

Process::Process(Process&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      out_fd_(std::exchange(other.out_fd_, -1)),
      err_fd_(std::exchange(other.err_fd_, -1)) {}

Process::~Process() {
  if (pid_ > 0) Wait();
  if (out_fd_ >= 0) close(out_fd_);
  if (err_fd_ >= 0) close(err_fd_);
}

void Process::Kill(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

ProcResult Process::Collect(int status) {
  ProcResult r;
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) r.term_signal = WTERMSIG(status);
  r.out = ReadAllFd(out_fd_);
  r.err = ReadAllFd(err_fd_);
  pid_ = -1;
  return r;
}

std::optional<ProcResult> Process::TryWait() {
  if (pid_ <= 0) return std::nullopt;
  int status = 0;
  pid_t w;
  do {
    w = waitpid(pid_, &status, WNOHANG);
  } while (w < 0 && errno == EINTR);
  if (w < 0) Die("waitpid");
  if (w == 0) return std::nullopt;
  return Collect(status);
}

ProcResult Process::Wait() {
  if (pid_ <= 0) return ProcResult{};
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0) {
    if (errno != EINTR) Die("waitpid");
  }
  return Collect(status);
}

std::string Process::ErrSoFar() const { return err_fd_ >= 0 ? ReadAllFd(err_fd_) : std::string(); }

Process Spawn(const std::vector<std::string>& argv, const ProcOptions& options) {
  if (argv.empty()) {
    errno = EINVAL;
    Die("Spawn without a program");
  }
  int out_fd = memfd_create("e2e-stdout", MFD_CLOEXEC);
  int err_fd = memfd_create("e2e-stderr", MFD_CLOEXEC);
  if (out_fd < 0 || err_fd < 0) Die("memfd_create");

  std::string program = argv[0];
  if (program.find('/') == std::string::npos) {
    auto it = options.env.find("PATH");
    std::string path = it != options.env.end() ? it->second : "/usr/bin:/bin";
    size_t pos = 0;
    while (pos <= path.size()) {
      size_t end = path.find(':', pos);
      if (end == std::string::npos) end = path.size();
      std::string candidate = path.substr(pos, end - pos) + "/" + program;
      if (access(candidate.c_str(), X_OK) == 0) {
        program = candidate;
        break;
      }
      pos = end + 1;
    }
  }

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, options.stdin_file.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
  posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
  if (!options.cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, options.cwd.c_str());
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t def, empty;
  sigemptyset(&def);
  sigaddset(&def, SIGPIPE);
  sigaddset(&def, SIGINT);
  sigaddset(&def, SIGTERM);
  sigemptyset(&empty);
  posix_spawnattr_setsigdefault(&attr, &def);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  std::vector<std::string> env_strings;
  for (const auto& [k, v] : options.env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp, args;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_copy = argv;
  for (auto& s : argv_copy) args.push_back(s.data());
  args.push_back(nullptr);

  pid_t pid = -1;
  int rc = posix_spawn(&pid, program.c_str(), &fa, &attr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    errno = rc;
    Die("posix_spawn " + program);
  }
  return Process(pid, out_fd, err_fd);
}

ProcResult RunProcess(const std::vector<std::string>& argv, const ProcOptions& options) {
  return Spawn(argv, options).Wait();
}

std::string GetEnv(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// ---------------------------------------------------------------------------
// Sandbox.

std::string CairnBinary() {
  std::string env = GetEnv("CAIRN_E2E_BINARY");
  return env.empty() ? std::string(CAIRN_BINARY) : env;
}

std::string ShippedCairnBinary() { return CAIRN_SHIPPED_BINARY; }

Sandbox::Sandbox() {
  if (root().empty()) Die("mkdtemp");
  MakeDirs(home(), 0700);
  MakeDirs(config_home(), 0700);
  MakeDirs(data_home(), 0700);
  MakeDirs(cache_home(), 0700);
  MakeDirs(work(), 0755);
  MakeDirs(Path("run"), 0700);
  std::string path = GetEnv("PATH");
  env_ = {{"PATH", path.empty() ? "/usr/local/bin:/usr/bin:/bin" : path},
          {"HOME", home()},
          {"XDG_CONFIG_HOME", config_home()},
          {"XDG_DATA_HOME", data_home()},
          {"XDG_CACHE_HOME", cache_home()},
          // The status socket of `cairn run` (as root it would otherwise be
          // /run/cairn, shared by every test).
          {"XDG_RUNTIME_DIR", Path("run")},
          {"TZ", "UTC"},
          {"LC_ALL", "C"},
          {"CAIRN_TEST_CHEAP_KDF", "1"},
          {"CAIRN_PASSWORD", kPassword},
          {"DEVICE_ID", kDevice},
          {"CAIRN_REPOSITORY", repo()}};
  if (std::string tmp = GetEnv("TMPDIR"); !tmp.empty()) env_["TMPDIR"] = tmp;
}

ProcOptions Sandbox::ProcOptionsFor(const CairnRunOptions& o) const {
  ProcOptions p;
  p.env = env_;
  for (const auto& k : o.unset) p.env.erase(k);
  for (const auto& [k, v] : o.set) p.env[k] = v;
  p.cwd = o.cwd.empty() ? work() : o.cwd;
  p.stdin_file = o.stdin_file;
  return p;
}

ProcResult Sandbox::Cairn(const std::vector<std::string>& args, const CairnRunOptions& o) const {
  return SpawnCairn(args, o).Wait();
}

Process Sandbox::SpawnCairn(const std::vector<std::string>& args, const CairnRunOptions& o) const {
  std::vector<std::string> argv{CairnBinary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return Spawn(argv, ProcOptionsFor(o));
}

ProcResult Sandbox::Run(const std::vector<std::string>& argv, const CairnRunOptions& o) const {
  return RunProcess(argv, ProcOptionsFor(o));
}

// ---------------------------------------------------------------------------
// Creating trees.

bool WaitUntil(const std::function<bool()>& cond, std::chrono::seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return cond();
}

std::string RandomData(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string out(n, '\0');
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v = rng();
    memcpy(out.data() + i, &v, 8);
  }
  uint64_t v = rng();
  for (; i < n; ++i, v >>= 8) out[i] = static_cast<char>(v & 0xff);
  return out;
}

std::string CompressibleData(size_t n, std::string_view line) {
  std::string out;
  out.reserve(n + line.size());
  size_t k = 0;
  while (out.size() < n) {
    out += line;
    if (++k % 64 == 0) out += std::to_string(k) + "\n";
  }
  out.resize(n);
  return out;
}

std::string RandomToken(size_t hex_chars) {
  static std::random_device rd;
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < hex_chars; ++i) s += hex[rd() % 16];
  return s;
}

void MakeSparseFile(const std::string& path, uint64_t size,
                    const std::vector<std::pair<uint64_t, std::string>>& regions) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) Die("open " + path);
  if (ftruncate(fd, static_cast<off_t>(size)) != 0) Die("ftruncate " + path);
  for (const auto& [off, data] : regions) {
    if (pwrite(fd, data.data(), data.size(), static_cast<off_t>(off)) !=
        static_cast<ssize_t>(data.size()))
      Die("pwrite " + path);
  }
  close(fd);
}

void SetMtime(const std::string& path, int64_t mtime_ns) {
  struct timespec ts[2];
  ts[0].tv_sec = ts[1].tv_sec = static_cast<time_t>(mtime_ns / 1000000000LL);
  ts[0].tv_nsec = ts[1].tv_nsec = static_cast<long>(mtime_ns % 1000000000LL);
  if (utimensat(AT_FDCWD, path.c_str(), ts, AT_SYMLINK_NOFOLLOW) != 0)
    Die("utimensat " + Printable(path));
}

int64_t MtimeNs(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) Die("lstat " + Printable(path));
  return ToNs(st.st_mtim);
}

bool TrySetXattr(const std::string& path, const std::string& name, const std::string& value) {
  if (lsetxattr(path.c_str(), name.c_str(), value.data(), value.size(), 0) == 0) return true;
  if (errno == ENOTSUP || errno == EOPNOTSUPP) return false;
  Die("lsetxattr " + Printable(path));
}

void Chmod(const std::string& path, mode_t mode) {
  if (chmod(path.c_str(), mode) != 0) Die("chmod " + Printable(path));
}

// ---------------------------------------------------------------------------
// Inspecting trees.

Tree ScanTree(const std::string& root) {
  Tree tree;
  std::map<std::pair<dev_t, ino_t>, std::vector<std::string>> inodes;
  ScanInto(root, "", tree, inodes);
  for (auto& [key, names] : inodes) {
    std::sort(names.begin(), names.end());
    for (const auto& n : names) tree[n].hardlink_group = names;
  }
  return tree;
}

bool FilesEqual(const std::string& a, const std::string& b) {
  int fa = open(a.c_str(), O_RDONLY | O_CLOEXEC);
  int fb = open(b.c_str(), O_RDONLY | O_CLOEXEC);
  bool equal = fa >= 0 && fb >= 0;
  std::string ba(1 << 20, '\0'), bb(1 << 20, '\0');
  off_t off = 0;
  while (equal) {
    ssize_t na = pread(fa, ba.data(), ba.size(), off);
    ssize_t nb = pread(fb, bb.data(), bb.size(), off);
    if (na < 0 || nb < 0 || na != nb) {
      equal = false;
      break;
    }
    if (na == 0) break;
    if (memcmp(ba.data(), bb.data(), static_cast<size_t>(na)) != 0) equal = false;
    off += na;
  }
  if (fa >= 0) close(fa);
  if (fb >= 0) close(fb);
  return equal;
}

std::vector<std::string> CompareTrees(const std::string& expected, const std::string& actual,
                                      const CompareOptions& o) {
  std::vector<std::string> diffs;
  struct stat st;
  if (lstat(actual.c_str(), &st) != 0) {
    diffs.push_back(actual + " does not exist");
    return diffs;
  }
  Tree e = ScanTree(expected), a = ScanTree(actual);
  auto name = [](const std::string& rel) { return rel.empty() ? "(root)" : Printable(rel); };
  for (const auto& [rel, x] : e) {
    if (Ignored(o.ignore, rel)) continue;
    auto it = a.find(rel);
    if (it == a.end()) {
      diffs.push_back(name(rel) + ": missing");
      continue;
    }
    const Entry& y = it->second;
    // (rel by an init-capture: clang before 16 cannot capture a structured binding.)
    auto diff = [&, &rel = rel](const std::string& what, const std::string& want,
                                const std::string& got) {
      diffs.push_back(name(rel) + ": " + what + " is " + got + ", expected " + want);
    };
    if (x.type != y.type) {
      diff("type", std::string(1, x.type), std::string(1, y.type));
      continue;
    }
    bool root_meta = !rel.empty() || o.root_metadata;
    if (o.mode && root_meta && x.type != 'l' && x.mode != y.mode)
      diff("mode", Octal(x.mode), Octal(y.mode));
    if (o.owner && root_meta && (x.uid != y.uid || x.gid != y.gid))
      diff("owner", std::to_string(x.uid) + ":" + std::to_string(x.gid),
           std::to_string(y.uid) + ":" + std::to_string(y.gid));
    bool check_mtime = x.type == 'd' ? o.dir_mtime : o.mtime;
    if (check_mtime && root_meta && x.mtime_ns != y.mtime_ns)
      diff("mtime", std::to_string(x.mtime_ns), std::to_string(y.mtime_ns));
    if (x.type == 'l' && x.link_target != y.link_target)
      diff("symlink target", Printable(x.link_target), Printable(y.link_target));
    if (x.type == 'f') {
      if (x.size != y.size)
        diff("size", std::to_string(x.size), std::to_string(y.size));
      else if (o.content && !FilesEqual(expected + "/" + rel, actual + "/" + rel))
        diffs.push_back(name(rel) + ": content differs");
      if (o.sparse && x.sparse()) {
        uint64_t limit = std::max<uint64_t>(x.blocks * 512 * 2, x.blocks * 512 + (1u << 20));
        if (!y.sparse() || y.blocks * 512 > limit)
          diff("allocation (st_blocks*512) of a sparse file", "<= " + std::to_string(limit),
               std::to_string(y.blocks * 512) + " of " + std::to_string(y.size) + " bytes");
      }
    }
    if ((x.type == 'c' || x.type == 'b') && x.rdev != y.rdev)
      diff("device number", std::to_string(x.rdev), std::to_string(y.rdev));
    if (o.xattrs && root_meta && x.xattrs != y.xattrs) {
      auto show = [](const std::map<std::string, std::string>& m) {
        std::string s = "{";
        for (const auto& [k, v] : m) s += k + "=" + Printable(v) + " ";
        return s + "}";
      };
      diff("xattrs", show(x.xattrs), show(y.xattrs));
    }
    if (o.hardlinks && x.type == 'f') {
      std::vector<std::string> ex, ac;
      for (const auto& n : x.hardlink_group)
        if (!Ignored(o.ignore, n)) ex.push_back(n);
      for (const auto& n : y.hardlink_group)
        if (!Ignored(o.ignore, n)) ac.push_back(n);
      if (ex.size() < 2) ex.clear();
      if (ac.size() < 2) ac.clear();
      if (ex != ac) {
        auto show = [](const std::vector<std::string>& v) {
          std::string s = "[";
          for (const auto& n : v) s += Printable(n) + " ";
          return s + "]";
        };
        diff("hard-link group", show(ex), show(ac));
      }
    }
  }
  for (const auto& [rel, y] : a) {
    if (Ignored(o.ignore, rel)) continue;
    if (!e.count(rel)) diffs.push_back(name(rel) + ": unexpected (not in the expected tree)");
  }
  return diffs;
}

std::map<std::string, int64_t> ListWithSizes(const std::string& root) {
  std::map<std::string, int64_t> out;
  if (!Exists(root)) return out;
  for (const auto& [rel, e] : ScanTree(root))
    out[rel] = e.type == 'd' ? -1 : static_cast<int64_t>(e.size);
  return out;
}

std::vector<std::string> FilesContaining(const std::string& root, std::string_view needle) {
  std::vector<std::string> out;
  if (!Exists(root) || needle.empty()) return out;
  for (const auto& [rel, e] : ScanTree(root)) {
    if (rel.find(needle) != std::string::npos) {
      out.push_back(rel + " (name)");
      continue;
    }
    if (e.type != 'f') continue;
    std::string data = ReadFile(root + "/" + rel);
    if (data.find(needle) != std::string::npos) out.push_back(rel);
  }
  return out;
}

uint64_t CountFiles(const std::string& root) {
  uint64_t n = 0;
  if (!Exists(root)) return 0;
  for (const auto& [rel, e] : ScanTree(root))
    if (e.type == 'f') ++n;
  return n;
}

uint64_t TotalSize(const std::string& root) {
  uint64_t n = 0;
  if (!Exists(root)) return 0;
  for (const auto& [rel, e] : ScanTree(root))
    if (e.type == 'f') n += e.size;
  return n;
}

std::string Rfc3339(int64_t ns, bool whole_seconds) {
  time_t secs = static_cast<time_t>(ns / 1000000000LL);
  long frac = static_cast<long>(ns % 1000000000LL);
  if (frac < 0) {
    frac += 1000000000L;
    --secs;
  }
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[64];
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  std::string s = buf;
  if (!whole_seconds) {
    snprintf(buf, sizeof(buf), ".%09ld", frac);
    s += buf;
  }
  return s + "Z";
}

int64_t NowNs() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return ToNs(ts);
}

}  // namespace cairn::e2e
