// The figures of the web server (issue 13, "Figures"): a benchmark, never a
// timed test. bench/run_web_bench.sh builds and runs it; bench/README.md
// explains the method.
//
//   web_bench [--dir DIR] [--files 100000] [--versions 1000] [--corpus TREE]
//             [--reps 20] [--clients 200] [--seconds 10] [--out FILE.md] [--raw FILE.tsv]
//             [--quick] [--no-diagnostics] [--prepare-only] [--commit ID] [--command TEXT]
//   web_bench --dir DIR [sizes as above] --serve SECONDS
//       Starts the servers on the data and waits: for profiling the server with a client of
//       one's own (perf record -p PID).
//
// 1. Data, made through engine::Session (device "bench") in a sandboxed HOME
//    under DIR (a temporary folder without --dir; with --dir it is kept and
//    reused by the next run while --files/--versions/--corpus are the same):
//    repository "synthetic" holds a folder of --files small files (one
//    backup) and one file backed up --versions times, its content changed
//    each time; repository "kernel" holds one backup of --corpus (the
//    kernel tree of bench/prepare_corpus.sh), when given. Key derivation is
//    the cheap one of the tests (SessionOptions::cheap_kdf_for_tests): this
//    is a benchmark, not the shipped binary, and no figure involves the KDF.
// 2. web::Server (as `cairn serve` runs it: default options, no daemon) on
//    127.0.0.1 at a free port, and a real HTTP client (cpp-httplib, Bearer
//    token read from the server's token file, one keep-alive connection):
//    each query --reps times with a browser's Accept-Encoding over http
//    ("gzip, deflate"), then as many without compression ("identity") and
//    with a browser's over https ("gzip, deflate, br"); median, p95, first.
// 3. GET /api/status from --clients concurrent keep-alive clients for
//    --seconds, in a child process (this program again, --load-child) so
//    that this process is the server alone: requests per second, errors,
//    latency, fairness between clients, and this process's memory (VmHWM
//    reset through /proc/self/clear_refs before, read after) and CPU.
// 5. Diagnostics (unless --no-diagnostics), each a change made from outside
//    the server's code: TCP_NODELAY on the listening socket (the goal queries
//    and the load again), a listen backlog of 1024, a server with more
//    threads than clients.
// 4. The dashboard's first load: GET / and every same-origin file
//    index.html names, byte for byte as sent (status line, headers, body),
//    with each Accept-Encoding; then the API calls the overview makes.
//
// Writes a markdown page (--out) and raw numbers (--raw): lines
// "kind<TAB>name<TAB>measure<TAB>value".
#include <arpa/inet.h>
#include <fcntl.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/errno_status.h"
#include "base/time_util.h"
#include "engine/session.h"
#include "testing/url_encode.h"
#include "web/server.h"

namespace {

using namespace cairn;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

// Ends the process at once, stdio flushed: std::exit would run the static
// destructors while other threads (the server's, the pipeline's) still run.
[[noreturn]] void Exit(int code) {
  std::fflush(nullptr);
  std::_Exit(code);
}

constexpr double kGoalMs = 100;
constexpr double kGoalBytes = 500 * 1000;  // "≤ 500 KB"
constexpr int kDiagnosticBacklog = 1024;

// ---- options -------------------------------------------------------------------

struct Args {
  std::map<std::string, std::string> kv;
  bool Has(const std::string& k) const { return kv.count(k) != 0; }
  std::string Get(const std::string& k, const std::string& def = "") const {
    auto it = kv.find(k);
    return it == kv.end() ? def : it->second;
  }
  long Int(const std::string& k, long def) const {
    auto it = kv.find(k);
    return it == kv.end() ? def : std::atol(it->second.c_str());
  }
};

Args ParseArgs(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    if (k.rfind("--", 0) != 0) {
      std::fprintf(stderr, "web_bench: unexpected argument %s\n", k.c_str());
      Exit(2);
    }
    k = k.substr(2);
    if (k == "quick" || k == "load-child" || k == "help" || k == "no-diagnostics" ||
        k == "prepare-only") {
      a.kv[k].assign(1, '1');  // (not = "1": a GCC 12 -Wrestrict false positive)
    } else if (i + 1 < argc) {
      a.kv[k] = argv[++i];
    } else {
      std::fprintf(stderr, "web_bench: --%s needs a value\n", k.c_str());
      Exit(2);
    }
  }
  return a;
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "web_bench: %s\n", what.c_str());
  Exit(1);
}
[[noreturn]] void Die(const std::string& what, const Status& st) {
  Die(what + ": " + st.ToString());
}

void Say(const std::string& line) {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  char buf[16];
  std::strftime(buf, sizeof buf, "%H:%M:%S", localtime_r(&t, &tm));
  std::fprintf(stderr, "[web-bench %s] %s\n", buf, line.c_str());
}

// ---- the machine and this process ---------------------------------------------------

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double ProcessCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

double ChildrenCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_CHILDREN, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec / 1e6;
}

// CPU time in ms of this process (CLOCK_PROCESS_CPUTIME_ID) or thread
// (CLOCK_THREAD_CPUTIME_ID): precise, where getrusage counts in ticks.
double CpuMs(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A field of /proc/self/status: KiB for VmRSS/VmHWM, a count for Threads.
long StatusField(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const size_t n = std::strlen(field);
  while (std::getline(in, line))
    if (line.compare(0, n, field) == 0 && line.size() > n && line[n] == ':')
      return std::atol(line.c_str() + n + 1);
  return -1;
}

// Resets VmHWM to the current RSS (Linux >= 4.0; the process's own file).
bool ResetPeakRss() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

// CPU ticks spent on anything but idle and iowait, all CPUs (as bench/lib.sh).
double BusySeconds() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  unsigned long long u = 0, n = 0, s = 0, i = 0, w = 0, irq = 0, sirq = 0, st = 0;
  in >> cpu >> u >> n >> s >> i >> w >> irq >> sirq >> st;
  return static_cast<double>(u + n + s + irq + sirq + st) / sysconf(_SC_CLK_TCK);
}

std::string LoadAvg() {
  std::string s = ReadAll("/proc/loadavg");
  std::istringstream in(s);
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}
double Load1() { return std::atof(LoadAvg().c_str()); }

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto p = line.find(':');
      if (p != std::string::npos) {
        std::string m = line.substr(p + 1);
        while (!m.empty() && m.front() == ' ') m.erase(0, 1);
        return m;
      }
    }
  }
  return "unknown CPU";
}

std::string MachineLine() {
  const long cores = sysconf(_SC_NPROCESSORS_ONLN);
  const double ram =
      static_cast<double>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGESIZE) / (1024.0 * 1024 * 1024);
  utsname u{};
  uname(&u);
  char buf[512];
  std::snprintf(buf, sizeof buf, "%s, %ld cores, %.1f GiB RAM, Linux %s", CpuModel().c_str(), cores,
                ram, u.release);
  return buf;
}

// ---- figures ------------------------------------------------------------------------

struct Summary {
  size_t n = 0;
  double first = 0, min = 0, median = 0, p95 = 0, p99 = 0, max = 0;
};

// Nearest-rank percentile of sorted values.
double Rank(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t k = static_cast<size_t>(std::ceil(p / 100.0 * sorted.size()));
  k = std::clamp<size_t>(k, 1, sorted.size());
  return sorted[k - 1];
}

Summary Summarize(const std::vector<double>& v) {
  Summary s;
  s.n = v.size();
  if (v.empty()) return s;
  s.first = v.front();
  std::vector<double> sorted = v;
  std::sort(sorted.begin(), sorted.end());
  s.min = sorted.front();
  s.max = sorted.back();
  s.median = sorted.size() % 2 ? sorted[sorted.size() / 2]
                               : (sorted[sorted.size() / 2 - 1] + sorted[sorted.size() / 2]) / 2;
  s.p95 = Rank(sorted, 95);
  s.p99 = Rank(sorted, 99);
  return s;
}

std::string Fmt(double v, int digits = 1) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}
std::string FmtMs(double v) { return v < 10 ? Fmt(v, 2) : v < 100 ? Fmt(v, 1) : Fmt(v, 0); }
std::string FmtInt(uint64_t v) {
  std::string s = std::to_string(v), out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i > 0 && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return out;
}
std::string FmtKB(double bytes) { return Fmt(bytes / 1000.0, bytes < 10000 ? 2 : 1) + " KB"; }
std::string FmtMiB(double kib) { return Fmt(kib / 1024.0, 1) + " MiB"; }

// The raw file: "kind<TAB>name<TAB>measure<TAB>value" lines.
class Raw {
 public:
  void Add(const std::string& kind, const std::string& name, const std::string& measure,
           const std::string& value) {
    lines_ += kind + "\t" + name + "\t" + measure + "\t" + value + "\n";
  }
  void Add(const std::string& kind, const std::string& name, const std::string& measure,
           double value) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6g", value);
    Add(kind, name, measure, std::string(buf));
  }
  const std::string& text() const { return lines_; }

 private:
  std::string lines_ = "kind\tname\tmeasure\tvalue\n";
};

// ---- a sandboxed HOME and its sessions -------------------------------------------------

class Home {
 public:
  explicit Home(std::string root) : root_(std::move(root)) {
    for (const char* d : {"", "/data", "/cache", "/config", "/state", "/repos"})
      fs::create_directories(root_ + d);
    env_ = {{"HOME", root_},
            {"XDG_DATA_HOME", root_ + "/data"},
            {"XDG_CACHE_HOME", root_ + "/cache"},
            {"XDG_CONFIG_HOME", root_ + "/config"},
            {"XDG_STATE_HOME", root_ + "/state"},
            {"CAIRN_PASSWORD", "bench"},
            {"CAIRN_LOCK_WAIT", "0"}};
    if (!fs::exists(Settings())) std::ofstream(Settings()) << "# web_bench: defaults\n";
  }
  std::string Settings() const { return root_ + "/settings.yaml"; }
  std::string Repo(const std::string& name) const { return root_ + "/repos/" + name; }
  const std::string& root() const { return root_; }

  engine::SessionOptions Options(const std::string& repo_name) const {
    engine::SessionOptions o;
    o.repository = Repo(repo_name);
    o.config_file = Settings();
    o.device = "bench";
    o.cheap_kdf_for_tests = true;  // a benchmark, not the shipped binary
    o.getenv = [this](const char* name) -> const char* {
      auto it = env_.find(name);
      return it == env_.end() ? nullptr : it->second.c_str();
    };
    o.notice = [](const std::string& n) { Say("notice: " + n); };
    return o;
  }
  std::shared_ptr<engine::Session> Open(const std::string& repo_name) const {
    auto s = engine::Session::Create(Options(repo_name));
    if (!s.ok()) Die("session on " + Repo(repo_name), s.error());
    return std::shared_ptr<engine::Session>(std::move(*s));
  }

 private:
  std::string root_;
  std::map<std::string, std::string> env_;
};

// ---- the data -------------------------------------------------------------------------

void WriteFile(const std::string& path, const std::string& data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) Die("cannot write " + path + ": " + ErrnoText(errno));
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n <= 0) Die("cannot write " + path + ": " + ErrnoText(errno));
    off += static_cast<size_t>(n);
  }
  ::close(fd);
}

std::string BigName(long i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "f%06ld.txt", i);
  return buf;
}

// Small distinct text: 60 to 250 bytes.
std::string SmallContent(long i) {
  uint32_t x = static_cast<uint32_t>(i) * 2654435761u + 12345;
  auto next = [&x] {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return x;
  };
  std::string s = "file " + std::to_string(i) + " of the web bench's big folder\n";
  const size_t extra = 20 + next() % 200;
  static const char* kWords[] = {"alpha ", "beta ", "gamma ", "delta ", "epsilon ",
                                 "zeta ",  "eta ",  "theta ", "iota ",  "kappa\n"};
  while (s.size() < 40 + extra) s += kWords[next() % 10];
  return s;
}

engine::BackupRequest Paths(const std::string& path) {
  engine::BackupRequest r;
  r.paths = {path};
  return r;
}

struct BackupFigure {
  double seconds = 0;
  uint64_t files = 0;
};

struct Data {
  std::string big_dir;  // the folder of `files` files
  long files = 0;
  std::string timeline_file;  // the file with `versions` versions
  long versions = 0;
  std::string kernel;         // the corpus tree backed up ("" = none)
  uint64_t kernel_files = 0;  // files of it in the catalog
  bool reused_synthetic = false, reused_kernel = false;
  BackupFigure big_backup, kernel_backup;
  double timeline_seconds = 0;  // the `versions` backups of the one file
};

// The marker of a prepared repository: what it was made from.
bool MarkerSays(const std::string& path, const std::string& want) {
  return fs::exists(path) && ReadAll(path) == want;
}

void PrepareSynthetic(const Home& home, const std::string& dir, long files, long versions,
                      Data* data, Raw& raw) {
  data->big_dir = dir + "/tree/big";
  data->files = files;
  data->timeline_file = dir + "/tree/timeline/notes.txt";
  data->versions = versions;
  const std::string marker = dir + "/synthetic.done";
  const std::string want =
      "files=" + std::to_string(files) + " versions=" + std::to_string(versions) + "\n";
  if (MarkerSays(marker, want)) {
    data->reused_synthetic = true;
    Say("reusing the synthetic repository in " + home.Repo("synthetic") + " (" +
        want.substr(0, want.size() - 1) + ")");
    std::ifstream in(dir + "/synthetic.figures");
    in >> data->big_backup.seconds >> data->big_backup.files >> data->timeline_seconds;
    return;
  }
  fs::remove(marker);
  fs::remove_all(home.Repo("synthetic"));
  fs::remove_all(dir + "/tree");
  fs::remove_all(home.root() + "/cache");  // the catalogs
  fs::create_directories(home.root() + "/cache");
  fs::create_directories(data->big_dir);
  fs::create_directories(dir + "/tree/timeline");

  Say("writing " + FmtInt(files) + " files into " + data->big_dir);
  for (long i = 0; i < files; ++i) WriteFile(data->big_dir + "/" + BigName(i), SmallContent(i));

  auto session = home.Open("synthetic");
  if (auto init = session->Init("web bench"); !init.ok()) Die("init", init.error());
  Say("backing up the big folder");
  auto t0 = Clock::now();
  auto b = session->Backup(Paths(data->big_dir));
  if (!b.ok()) Die("backup of " + data->big_dir, b.error());
  data->big_backup.seconds = Seconds(Clock::now() - t0);
  data->big_backup.files = b->files_new + b->files_changed + b->files_unchanged;
  Say("  " + FmtInt(data->big_backup.files) + " files in " + Fmt(data->big_backup.seconds, 1) +
      " s");

  Say("backing up " + data->timeline_file + " " + std::to_string(versions) + " times");
  std::string content = "Notes kept by the web bench: one line more at every version.\n";
  t0 = Clock::now();
  for (long v = 1; v <= versions; ++v) {
    content += "version " + std::to_string(v) + ": " + SmallContent(v + 1'000'000).substr(0, 60);
    if (content.back() != '\n') content += '\n';
    WriteFile(data->timeline_file, content);
    auto r = session->Backup(Paths(data->timeline_file));
    if (!r.ok()) Die("backup " + std::to_string(v) + " of " + data->timeline_file, r.error());
    if (r->files_new + r->files_changed != 1)
      Die("backup " + std::to_string(v) + " of " + data->timeline_file +
          " did not record a new version (files_new " + std::to_string(r->files_new) +
          ", files_changed " + std::to_string(r->files_changed) + ")");
    if (v % 100 == 0)
      Say("  " + std::to_string(v) + " versions, " + Fmt(Seconds(Clock::now() - t0), 1) + " s");
  }
  data->timeline_seconds = Seconds(Clock::now() - t0);
  auto list = session->Versions(data->timeline_file);
  if (!list.ok()) Die("versions of " + data->timeline_file, list.error());
  if (static_cast<long>(list->versions.size()) != versions)
    Die("the timeline file has " + std::to_string(list->versions.size()) + " versions, not " +
        std::to_string(versions));
  std::ofstream(dir + "/synthetic.figures")
      << data->big_backup.seconds << " " << data->big_backup.files << " " << data->timeline_seconds
      << "\n";
  std::ofstream(marker) << want;
  raw.Add("prepare", "big-folder", "backup_seconds", data->big_backup.seconds);
  raw.Add("prepare", "timeline", "backups_seconds", data->timeline_seconds);
}

void PrepareKernel(const Home& home, const std::string& dir, const std::string& corpus, Data* data,
                   Raw& raw) {
  data->kernel = corpus;
  const std::string marker = dir + "/kernel.done";
  const std::string want = "corpus=" + corpus + "\n";
  if (MarkerSays(marker, want)) {
    data->reused_kernel = true;
    Say("reusing the kernel repository in " + home.Repo("kernel"));
    std::ifstream in(dir + "/kernel.figures");
    in >> data->kernel_backup.seconds >> data->kernel_backup.files;
    return;
  }
  fs::remove(marker);
  fs::remove_all(home.Repo("kernel"));
  auto session = home.Open("kernel");
  if (auto init = session->Init("web bench"); !init.ok()) Die("init", init.error());
  Say("backing up the kernel corpus " + corpus);
  auto t0 = Clock::now();
  auto b = session->Backup(Paths(corpus));
  if (!b.ok()) Die("backup of " + corpus, b.error());
  data->kernel_backup.seconds = Seconds(Clock::now() - t0);
  data->kernel_backup.files = b->files_new + b->files_changed + b->files_unchanged;
  Say("  " + FmtInt(data->kernel_backup.files) + " files in " +
      Fmt(data->kernel_backup.seconds, 1) + " s");
  std::ofstream(dir + "/kernel.figures")
      << data->kernel_backup.seconds << " " << data->kernel_backup.files << "\n";
  std::ofstream(marker) << want;
  raw.Add("prepare", "kernel", "backup_seconds", data->kernel_backup.seconds);
}

// ---- the server ---------------------------------------------------------------------------

struct Served {
  std::shared_ptr<engine::Session> session;
  std::unique_ptr<web::Server> server;
  std::string token;
  int port = 0;
};

std::string Trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

// A server on `session` as `cairn serve` starts it (threads: 0 = its default).
Served StartServer(const std::shared_ptr<engine::Session>& session, size_t threads = 0) {
  Served s;
  s.session = session;
  web::ServerOptions o;  // as `cairn serve`: the defaults, no daemon
  o.session = [session] { return session; };
  o.version = "web-bench";
  o.host = "127.0.0.1";
  o.port = 0;
  if (threads != 0) o.threads = threads;
  o.log = [](const std::string& line) {
    if (line.rfind("audit: ", 0) != 0) Say("server: " + line);
  };
  auto started = web::Server::Start(std::move(o));
  if (!started.ok()) Die("starting the web server", started.error());
  s.server = std::move(*started);
  s.port = s.server->port();
  s.token = Trimmed(ReadAll(s.server->token_file()));
  if (s.token.empty()) Die("no token in " + s.server->token_file());
  return s;
}

// The sockets of this process bound to 127.0.0.1:port (the server's
// listener and the connections it accepted): how many, and how many of
// them have TCP_NODELAY. With `set_on_listener`, sets TCP_NODELAY on the
// listener first: Linux copies it to every connection accepted afterwards,
// which is what `set_tcp_nodelay(true)` in server.cc would do. With
// `backlog`, also calls listen() again with it (cpp-httplib listens with
// CPPHTTPLIB_LISTEN_BACKLOG, 5 in Debian's build).
struct SocketCount {
  int listeners = 0, connections = 0, nodelay_connections = 0;
};
SocketCount ServerSockets(int port, bool set_on_listener, int backlog = 0) {
  SocketCount c;
  for (const auto& e : fs::directory_iterator("/proc/self/fd")) {
    const int fd = std::atoi(e.path().filename().c_str());
    sockaddr_in a{};
    socklen_t len = sizeof a;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0 || a.sin_family != AF_INET ||
        ntohs(a.sin_port) != port)
      continue;
    int listening = 0, nodelay = 0;
    socklen_t l1 = sizeof listening, l2 = sizeof nodelay;
    if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &l1) != 0) continue;
    if (listening) {
      ++c.listeners;
      if (set_on_listener) {
        const int one = 1;
        if (::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
          Die(std::string("setsockopt(TCP_NODELAY) on the listener: ") + ErrnoText(errno));
      }
      // listen() again on a listening socket changes its backlog (Linux).
      if (backlog > 0 && ::listen(fd, backlog) != 0)
        Die(std::string("listen() again on the listener: ") + ErrnoText(errno));
      continue;
    }
    ++c.connections;
    if (::getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &l2) == 0 && nodelay)
      ++c.nodelay_connections;
  }
  return c;
}

// Percent-encodes a query value.
std::string Enc(const std::string& s) { return testing::UrlEncode(s); }

// What a browser sends: over http (the default, loopback) Chrome and
// Firefox offer gzip and deflate; over https also br.
struct Encoding {
  const char* name;
  const char* header;
};
constexpr Encoding kGzip{"gzip", "gzip, deflate"};
constexpr Encoding kIdentity{"identity", "identity"};
constexpr Encoding kBr{"br", "gzip, deflate, br"};
const Encoding kEncodings[] = {kGzip, kIdentity, kBr};

std::unique_ptr<httplib::Client> NewClient(int port) {
  auto c = std::make_unique<httplib::Client>("127.0.0.1", port);
  c->set_keep_alive(true);
  c->set_decompress(false);  // bytes as sent
  c->set_read_timeout(120, 0);
  c->set_connection_timeout(10, 0);
  return c;
}

// ---- timed queries ---------------------------------------------------------------------------

struct Query {
  std::string id;     // for the raw file
  std::string label;  // for the table
  Served* served = nullptr;
  std::string path;
  bool goal = false;  // one of the issue's ≤ 100 ms figures
  // Checks the identity answer; "" when right, else what is wrong. Sets
  // `what` to a few words on the answer (how many results).
  std::function<std::string(const json&, std::string* what)> check;
  int pause_before_ms = 0;  // before each request (the status's stats cache: 5 s)
  bool gzip_only = false;
  // The engine call behind the request, on the same session, without HTTP
  // or JSON (empty: none): where the request's time goes.
  std::function<Status()> engine = {};
};

struct QueryResult {
  Query q;
  std::map<std::string, Summary> by_encoding;
  Summary engine;                                  // the engine call alone: wall time
  Summary engine_cpu;                              // its CPU time (its thread's)
  std::map<std::string, Summary> cpu_by_encoding;  // this process's CPU per request
  std::map<std::string, size_t> bytes;             // body bytes as sent, by encoding
  std::map<std::string, std::string> content_encoding;
  std::string what, error;
};

QueryResult RunQuery(const Query& q, int reps, Raw& raw, const std::string& prefix = "") {
  QueryResult r;
  r.q = q;
  if (q.engine) {
    // On a thread of its own, as the server's handlers run (the main
    // thread's malloc arena behaves otherwise).
    std::vector<double> ms, cpu;
    std::thread([&] {
      for (int rep = 0; rep < reps; ++rep) {
        const double c0 = CpuMs(CLOCK_THREAD_CPUTIME_ID);
        auto t0 = Clock::now();
        Status st = q.engine();
        ms.push_back(Ms(Clock::now() - t0));
        cpu.push_back(CpuMs(CLOCK_THREAD_CPUTIME_ID) - c0);
        if (!st.ok()) {
          r.error = "engine: " + st.ToString();
          break;
        }
      }
    }).join();
    r.engine = Summarize(ms);
    r.engine_cpu = Summarize(cpu);
    raw.Add("query", prefix + q.id + "/engine", "cpu_median_ms", r.engine_cpu.median);
    raw.Add("query", prefix + q.id + "/engine", "median_ms", r.engine.median);
    raw.Add("query", prefix + q.id + "/engine", "p95_ms", r.engine.p95);
  }
  auto client = NewClient(q.served->port);
  for (const Encoding& e : kEncodings) {
    if (q.gzip_only && std::strcmp(e.name, kGzip.name) != 0) continue;
    std::vector<double> ms, cpu;
    for (int rep = 0; rep < reps; ++rep) {
      if (q.pause_before_ms > 0)
        std::this_thread::sleep_for(std::chrono::milliseconds(q.pause_before_ms));
      const double c0 = CpuMs(CLOCK_PROCESS_CPUTIME_ID);
      httplib::Headers h = {{"Authorization", "Bearer " + q.served->token},
                            {"Accept-Encoding", e.header}};
      auto t0 = Clock::now();
      auto res = client->Get(q.path, h);
      const double t = Ms(Clock::now() - t0);
      if (!res) {
        r.error = std::string("request failed: ") + httplib::to_string(res.error());
        break;
      }
      if (res->status != 200) {
        r.error = "HTTP " + std::to_string(res->status) + ": " + res->body.substr(0, 300);
        break;
      }
      ms.push_back(t);
      cpu.push_back(CpuMs(CLOCK_PROCESS_CPUTIME_ID) - c0);
      raw.Add("sample", prefix + q.id + "/" + e.name, "ms", t);
      raw.Add("sample", prefix + q.id + "/" + e.name, "cpu_ms", cpu.back());
      if (rep == 0) {
        r.bytes[e.name] = res->body.size();
        r.content_encoding[e.name] = res->get_header_value("Content-Encoding");
        if (std::strcmp(e.name, kIdentity.name) == 0 && q.check) {  // parse and check
          json j = json::parse(res->body, nullptr, false);
          if (j.is_discarded()) {
            r.error = "the answer is not JSON";
          } else {
            r.error = q.check(j, &r.what);
          }
        }
      }
    }
    r.by_encoding[e.name] = Summarize(ms);
    r.cpu_by_encoding[e.name] = Summarize(cpu);
    const Summary& s = r.by_encoding[e.name];
    raw.Add("query", prefix + q.id + "/" + e.name, "median_ms", s.median);
    raw.Add("query", prefix + q.id + "/" + e.name, "p95_ms", s.p95);
    raw.Add("query", prefix + q.id + "/" + e.name, "first_ms", s.first);
    raw.Add("query", prefix + q.id + "/" + e.name, "cpu_median_ms",
            r.cpu_by_encoding[e.name].median);
    raw.Add("query", prefix + q.id + "/" + e.name, "body_bytes",
            static_cast<double>(r.bytes[e.name]));
    if (!r.error.empty()) break;
  }
  const Summary& g = r.by_encoding[kGzip.name];
  Say("  " + prefix + q.label + ": median " + FmtMs(g.median) + " ms, p95 " + FmtMs(g.p95) + " ms" +
      (r.what.empty() ? "" : " (" + r.what + ")") + (r.error.empty() ? "" : " ERROR " + r.error));
  return r;
}

// ---- raw HTTP (the dashboard's transfer size) ---------------------------------------------

struct RawAnswer {
  int status = 0;
  size_t header_bytes = 0, body_bytes = 0;
  std::string content_encoding, content_type, body;
  bool ok = false;
  std::string error;
};

RawAnswer RawGet(int port, const std::string& path, const std::string& accept_encoding,
                 const std::string& extra_headers = "") {
  RawAnswer a;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    a.error = std::string("connect: ") + ErrnoText(errno);
    if (fd >= 0) ::close(fd);
    return a;
  }
  // As a browser asks (its other headers do not change the answer).
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                    "\r\nAccept: */*\r\nAccept-Encoding: " + accept_encoding + "\r\n" +
                    extra_headers + "Connection: close\r\n\r\n";
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    a.error = "send failed";
    ::close(fd);
    return a;
  }
  std::string all;
  char buf[65536];
  while (true) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    all.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  const size_t end = all.find("\r\n\r\n");
  if (end == std::string::npos) {
    a.error = "no complete header in " + std::to_string(all.size()) + " bytes";
    return a;
  }
  a.header_bytes = end + 4;
  a.body = all.substr(end + 4);
  a.body_bytes = a.body.size();
  std::istringstream head(all.substr(0, end));
  std::string line;
  std::getline(head, line);
  if (line.size() > 12) a.status = std::atoi(line.c_str() + 9);
  while (std::getline(head, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon), value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    if (name == "content-encoding") a.content_encoding = value;
    if (name == "content-type") a.content_type = value;
    if (name == "transfer-encoding" && value.find("chunked") != std::string::npos)
      a.error = "chunked answer: the body count includes the chunk framing";
  }
  a.ok = a.status >= 200 && a.status < 400;
  return a;
}

// Same-origin files a page names in src= and href= (and url() in CSS).
std::vector<std::string> LinkedFiles(const std::string& text) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  static const std::regex kAttr(R"re((?:src|href)\s*=\s*["']([^"']+)["'])re");
  static const std::regex kUrl(R"re(url\(\s*["']?([^"')]+)["']?\s*\))re");
  for (const std::regex* re : {&kAttr, &kUrl}) {
    for (auto it = std::sregex_iterator(text.begin(), text.end(), *re);
         it != std::sregex_iterator(); ++it) {
      std::string u = (*it)[1];
      if (u.empty() || u[0] == '#' || u.rfind("data:", 0) == 0 || u.rfind("//", 0) == 0 ||
          u.find("://") != std::string::npos)
        continue;
      if (u[0] != '/') u = "/" + u;
      if (seen.insert(u).second) out.push_back(u);
    }
  }
  return out;
}

struct PageFile {
  std::string path, content_type;
  int status = 0;
  std::map<std::string, size_t> total;  // header + body bytes, by encoding
  std::map<std::string, size_t> body;
  std::map<std::string, std::string> content_encoding;
};

// ---- concurrent /api/status (the child process) ------------------------------------------

// Runs in the child: --clients keep-alive clients for --seconds, then
// prints "measure<TAB>value" lines.
int LoadChild(const Args& args) {
  const int port = static_cast<int>(args.Int("port", 0));
  const int clients = static_cast<int>(args.Int("clients", 200));
  const double seconds = std::atof(args.Get("seconds", "10").c_str());
  const std::string encoding = args.Get("encoding", kGzip.header);
  const std::string token = Trimmed(ReadAll(args.Get("token-file")));
  if (port <= 0 || token.empty()) {
    std::fprintf(stderr, "web_bench --load-child: --port and --token-file are needed\n");
    return 2;
  }
  struct PerClient {
    std::vector<float> ms;  // every answer's latency
    uint64_t ok_in_window = 0, errors = 0, bad_status = 0;
    double first_ms = -1;  // from the start to its first answer
    std::string last_error;
  };
  std::vector<PerClient> per(clients);
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  Clock::time_point start, deadline;
  std::vector<std::thread> threads;
  threads.reserve(clients);
  for (int i = 0; i < clients; ++i) {
    threads.emplace_back([&, i] {
      PerClient& me = per[i];
      me.ms.reserve(4096);
      httplib::Client c("127.0.0.1", port);
      c.set_keep_alive(true);
      c.set_decompress(false);
      // A request unanswered for 30 s is an error (a person gave up long before).
      c.set_read_timeout(30, 0);
      c.set_connection_timeout(30, 0);
      const httplib::Headers h = {{"Authorization", "Bearer " + token},
                                  {"Accept-Encoding", encoding}};
      ++ready;
      while (!go.load()) std::this_thread::yield();
      while (Clock::now() < deadline) {
        auto t0 = Clock::now();
        auto res = c.Get("/api/status", h);
        auto t1 = Clock::now();
        if (!res) {
          ++me.errors;
          me.last_error = httplib::to_string(res.error());
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
          continue;
        }
        if (res->status != 200 || res->body.empty()) {
          ++me.bad_status;
          me.last_error = "HTTP " + std::to_string(res->status);
          continue;
        }
        me.ms.push_back(static_cast<float>(Ms(t1 - t0)));
        if (me.first_ms < 0) me.first_ms = Ms(t1 - start);
        if (t1 <= deadline) ++me.ok_in_window;
      }
    });
  }
  while (ready.load() < clients) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  start = Clock::now();
  deadline =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  go = true;
  for (auto& t : threads) t.join();
  const double elapsed = Seconds(Clock::now() - start);

  std::vector<double> all;
  uint64_t ok = 0, errors = 0, bad = 0, min_per = UINT64_MAX, max_per = 0, starved = 0;
  double first_max = 0;
  std::string an_error;
  for (const PerClient& p : per) {
    for (float v : p.ms) all.push_back(v);
    ok += p.ok_in_window;
    errors += p.errors;
    bad += p.bad_status;
    min_per = std::min<uint64_t>(min_per, p.ok_in_window);
    max_per = std::max<uint64_t>(max_per, p.ok_in_window);
    if (p.ok_in_window == 0) ++starved;
    first_max = std::max(first_max, p.first_ms < 0 ? elapsed * 1000 : p.first_ms);
    if (!p.last_error.empty()) an_error = p.last_error;
  }
  Summary s = Summarize(all);
  std::sort(all.begin(), all.end());
  auto out = [](const char* k, double v) { std::printf("%s\t%.6g\n", k, v); };
  out("clients", clients);
  out("seconds", seconds);
  out("elapsed_seconds", elapsed);
  out("answers_in_window", static_cast<double>(ok));
  out("answers_total", static_cast<double>(all.size()));
  out("rps", ok / seconds);
  out("errors", static_cast<double>(errors));
  out("bad_status", static_cast<double>(bad));
  out("median_ms", s.median);
  out("p90_ms", Rank(all, 90));
  out("p99_ms", s.p99);
  out("max_ms", s.max);
  out("per_client_min", static_cast<double>(min_per));
  out("per_client_max", static_cast<double>(max_per));
  out("clients_without_answer", static_cast<double>(starved));
  out("first_answer_max_ms", first_max);
  out("cpu_seconds", ProcessCpuSeconds());
  out("vmhwm_kib", static_cast<double>(StatusField("VmHWM")));
  if (!an_error.empty()) std::printf("an_error\t%s\n", an_error.c_str());
  return 0;
}

struct LoadResult {
  std::map<std::string, double> v;
  std::string an_error;
  long rss_before_kib = 0, hwm_kib = 0, rss_after_kib = 0, hwm_before_reset_kib = 0;
  long threads_before = 0, threads_after = 0;
  double server_cpu = 0, client_cpu = 0, wall = 0, other_cpu = 0;
  std::string load_before, load_after;
  bool reset_ok = false;
};

LoadResult RunLoad(const Served& served, int clients, double seconds, Raw& raw,
                   const std::string& label) {
  LoadResult r;
  char exe[4096];
  ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) Die("cannot find my own binary");
  exe[n] = 0;
  // The token through its file, not the environment: setenv would race with
  // the server's threads.
  const std::string cmd = std::string("'") + exe + "' --load-child --port " +
                          std::to_string(served.port) + " --token-file '" +
                          served.server->token_file() + "' --clients " + std::to_string(clients) +
                          " --seconds " + Fmt(seconds, 3);
  r.load_before = LoadAvg();
  r.hwm_before_reset_kib = StatusField("VmHWM");
  r.rss_before_kib = StatusField("VmRSS");
  r.threads_before = StatusField("Threads");
  r.reset_ok = ResetPeakRss();
  const double cpu0 = ProcessCpuSeconds(), child0 = ChildrenCpuSeconds(), busy0 = BusySeconds();
  const auto t0 = Clock::now();
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) Die("cannot start the load process");
  std::string out;
  char buf[4096];
  while (size_t k = std::fread(buf, 1, sizeof buf, p)) out.append(buf, k);
  const int rc = ::pclose(p);
  r.wall = Seconds(Clock::now() - t0);
  r.server_cpu = ProcessCpuSeconds() - cpu0;
  r.client_cpu = ChildrenCpuSeconds() - child0;
  r.other_cpu = std::max(0.0, BusySeconds() - busy0 - r.server_cpu - r.client_cpu);
  r.hwm_kib = StatusField("VmHWM");
  r.rss_after_kib = StatusField("VmRSS");
  r.threads_after = StatusField("Threads");
  r.load_after = LoadAvg();
  if (rc != 0) Die("the load process failed (status " + std::to_string(rc) + "): " + out);
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    auto tab = line.find('\t');
    if (tab == std::string::npos) continue;
    std::string k = line.substr(0, tab), v = line.substr(tab + 1);
    if (k == "an_error") {
      r.an_error = v;
    } else {
      r.v[k] = std::atof(v.c_str());
    }
    raw.Add("status-load", label, k, v);
  }
  raw.Add("status-load", label + "/server", "rss_before_kib",
          static_cast<double>(r.rss_before_kib));
  raw.Add("status-load", label + "/server", "vmhwm_during_kib", static_cast<double>(r.hwm_kib));
  raw.Add("status-load", label + "/server", "rss_after_kib", static_cast<double>(r.rss_after_kib));
  raw.Add("status-load", label + "/server", "vmhwm_before_reset_kib",
          static_cast<double>(r.hwm_before_reset_kib));
  raw.Add("status-load", label + "/server", "cpu_seconds", r.server_cpu);
  raw.Add("status-load", label + "/client", "cpu_seconds", r.client_cpu);
  raw.Add("status-load", label + "/other", "cpu_seconds", r.other_cpu);
  return r;
}

// ---- the report ------------------------------------------------------------------------------

std::string MetWord(bool met) { return met ? "met" : "**not met**"; }

struct Report {
  std::string date, command, commit, machine, load_start, load_end;
  double measure_wall = 0, measure_own_cpu = 0, measure_other_cpu = 0, max_load1 = 0;
  // The queries and the dashboard (before the loads): wall time and other
  // processes' CPU.
  double queries_wall = 0, queries_other_cpu = 0;
  Data data;
  int reps = 0;
  std::vector<QueryResult> queries;
  bool kernel_skipped = false;
  std::string kernel_skip_reason;
  struct Load {
    std::string label;  // the server's set-up
    LoadResult r;
  };
  std::vector<Load> loads;  // [0]: as shipped; then the diagnostics
  // The diagnostic: the same queries once TCP_NODELAY is on (set on the
  // listener: every connection accepted afterwards has it).
  std::vector<QueryResult> nodelay_queries;
  std::string nodelay_check;
  int clients = 0;
  double load_seconds = 0;
  std::vector<PageFile> page;
  std::map<std::string, size_t> page_total;
  std::vector<PageFile> first_api;
  std::map<std::string, size_t> api_total;
  bool server_compresses = false;
  long idle_rss_kib = 0;
  uint64_t kernel_catalog_files = 0;
};

const QueryResult* FindQuery(const Report& r, const std::string& id) {
  for (const QueryResult& q : r.queries)
    if (q.q.id == id) return &q;
  return nullptr;
}

std::string Markdown(const Report& r) {
  std::ostringstream md;
  const Data& d = r.data;
  md << "# cairn's web server: the figures of issue 13\n\n";
  md << r.date << " · `" << r.command << "` · commit " << r.commit
     << " · how to read this: [bench/README.md](../README.md#web-benchmark).\n\n";
  md << "- **Machine:** " << r.machine << ". Load average at the start " << r.load_start
     << ", at the end " << r.load_end << " (the load average counts the bench's own 200 client "
     << "threads too); the highest 1-minute load seen during the queries " << Fmt(r.max_load1, 2)
     << ". Other processes used " << Fmt(r.queries_other_cpu, 1) << " s of CPU during the "
     << Fmt(r.queries_wall, 0) << " s of the queries and the dashboard ("
     << Fmt(100 * r.queries_other_cpu / std::max(1.0, r.queries_wall), 0) << "% of one core)"
     << (r.queries_other_cpu / std::max(1.0, r.queries_wall) > 0.1
             ? ": **the machine was busy**, their figures are pessimistic"
             : ": quiet")
     << ", and " << Fmt(r.measure_other_cpu, 1) << " s over the whole " << Fmt(r.measure_wall, 0)
     << " s of measuring (each load's share is in its table).\n";
  md << "- **Build:** Release (`build-bench/`), `bench/web_bench.cc` linking `cairn_web` and "
        "`cairn_engine`; the server is `web::Server` with `cairn serve`'s options (64 threads, no "
        "daemon) on 127.0.0.1, in the bench's process. **Key derivation is the tests' cheap one** "
        "(`SessionOptions::cheap_kdf_for_tests`): this is a benchmark, not the shipped binary; no "
        "figure below includes key derivation.\n";
  md << "- **Client:** cpp-httplib 0.11 (`httplib::Client`), one keep-alive connection per "
        "series, `Authorization: Bearer` with the server's token; times are from sending the "
        "request to the last byte of the answer, "
     << r.reps
     << " requests per cell. A browser on `http://127.0.0.1` sends `Accept-Encoding: gzip, "
        "deflate` (the main columns); over https it adds `br` (last column).\n";
  md << "- **Data** (device `bench`, one repository each, local disk): a folder of "
     << FmtInt(d.files)
     << " small files (60–250 bytes, one backup: " << Fmt(d.big_backup.seconds, 1)
     << " s), and beside it one file backed up " << FmtInt(d.versions)
     << " times with its content changed each time (" << Fmt(d.timeline_seconds, 1) << " s, "
     << FmtMs(1000 * d.timeline_seconds / std::max<long>(1, d.versions)) << " ms a backup)"
     << (d.reused_synthetic ? "; made by an earlier run and reused" : "") << ". ";
  if (!d.kernel.empty()) {
    md << "Kernel corpus: `" << d.kernel << "` in a repository of its own ("
       << FmtInt(d.kernel_backup.files) << " files backed up in " << Fmt(d.kernel_backup.seconds, 1)
       << " s" << (d.reused_kernel ? ", reused" : "") << ").\n";
  } else {
    md << "Kernel corpus: **skipped** (" << r.kernel_skip_reason << ").\n";
  }
  md << "\n";

  // Goals.
  md << "## Goals (issue 13)\n\n";
  md << "| figure | goal | measured (median / p95) | |\n|---|---|---|---|\n";
  for (const char* id : {"files-first", "versions", "search-kernel-mutex"}) {
    const QueryResult* q = FindQuery(r, id);
    if (q == nullptr) {
      if (std::string(id) == "search-kernel-mutex")
        md << "| search over the kernel corpus | ≤ 100 ms | skipped: " << r.kernel_skip_reason
           << " | not measured |\n";
      continue;
    }
    const Summary& s = q->by_encoding.at(kGzip.name);
    const bool met = q->error.empty() && s.p95 <= kGoalMs;
    md << "| " << q->q.label << " | ≤ 100 ms | " << FmtMs(s.median) << " / " << FmtMs(s.p95)
       << " ms | " << MetWord(met) << " |\n";
  }
  if (!r.loads.empty()) {
    const LoadResult& load = r.loads.front().r;
    const auto& v = load.v;
    const double errors = v.count("errors") ? v.at("errors") + v.at("bad_status") : -1;
    md << "| `/api/status`, " << r.clients << " concurrent clients | a figure; errors 0 | "
       << FmtInt(static_cast<uint64_t>(v.count("rps") ? v.at("rps") : 0)) << " requests/s, "
       << FmtInt(static_cast<uint64_t>(errors)) << " errors, server peak RSS "
       << FmtMiB(static_cast<double>(load.hwm_kib)) << " | " << MetWord(errors == 0)
       << " (errors) |\n";
  }
  {
    const size_t gz = r.page_total.count(kGzip.name) ? r.page_total.at(kGzip.name) : 0;
    const size_t id = r.page_total.count(kIdentity.name) ? r.page_total.at(kIdentity.name) : 0;
    md << "| dashboard, first load | ≤ 500 KB | " << FmtKB(gz) << " (browser over http, gzip); "
       << FmtKB(id) << " uncompressed | " << MetWord(gz <= kGoalBytes)
       << (id <= kGoalBytes ? " (also uncompressed)" : " (uncompressed: not met)") << " |\n";
  }
  md << "\nA query's goal is met when its p95 (nearest rank over " << r.reps
     << " requests) is at most 100 ms.\n\n";

  // Queries.
  md << "## Queries\n\n";
  md << "Milliseconds; size = the answer's body as sent. `first` is the first request of its "
        "series (the server had answered other requests before it). `CPU` is the CPU time the "
        "process (server and client) spent per request, median: the difference to the wall time "
        "is waiting. `engine` is the engine call behind the request (`Session::List`, "
        "`Versions`, `Find`, `Stats`) made in-process on the same session, on a thread of its "
        "own, without HTTP or JSON (median wall time, and its thread's CPU time): the rest of a "
        "request's time is the server's (JSON, compression, sending).\n\n";
  md << "| request | answer | median | p95 | first | max | CPU | engine | engine CPU | size gzip "
        "| size identity | identity median | br median | size br |\n";
  md << "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const QueryResult& q : r.queries) {
    const Summary& g = q.by_encoding.count(kGzip.name) ? q.by_encoding.at(kGzip.name) : Summary{};
    auto med = [&](const Encoding& e) {
      return q.by_encoding.count(e.name) && q.by_encoding.at(e.name).n
                 ? FmtMs(q.by_encoding.at(e.name).median)
                 : std::string("–");
    };
    auto size = [&](const Encoding& e) {
      if (!q.bytes.count(e.name)) return std::string("–");
      std::string enc = q.content_encoding.count(e.name) ? q.content_encoding.at(e.name) : "";
      return FmtKB(static_cast<double>(q.bytes.at(e.name))) + (enc.empty() ? "" : " (" + enc + ")");
    };
    md << "| " << q.q.label << (q.q.goal ? " **(goal)**" : "") << " | "
       << (q.error.empty() ? q.what : "ERROR: " + q.error) << " | " << FmtMs(g.median) << " | "
       << FmtMs(g.p95) << " | " << FmtMs(g.first) << " | " << FmtMs(g.max) << " | "
       << (q.cpu_by_encoding.count(kGzip.name) ? FmtMs(q.cpu_by_encoding.at(kGzip.name).median)
                                               : std::string("–"))
       << " | " << (q.engine.n ? FmtMs(q.engine.median) : std::string("–")) << " | "
       << (q.engine_cpu.n ? FmtMs(q.engine_cpu.median) : std::string("–")) << " | " << size(kGzip)
       << " | " << size(kIdentity) << " | " << med(kIdentity) << " | " << med(kBr) << " | "
       << size(kBr) << " |\n";
  }
  md << "\n";

  // Load.
  if (!r.loads.empty()) {
    md << "## `/api/status` with " << r.clients << " concurrent clients\n\n";
    md << r.clients << " threads in a separate process, each with its own keep-alive connection "
       << "(`Accept-Encoding: gzip, deflate`), asking again as soon as answered, for "
       << Fmt(r.load_seconds, 0) << " s. The server's memory is this process's (the server "
       << "alone: the clients are the other process); its peak is `VmHWM`, reset through "
       << "`/proc/self/clear_refs` just before the clients start. A request unanswered after "
       << "30 s counts as an error. The first column is the server as `cairn serve` runs it; "
       << "the others are diagnostics, each adding one change from outside the server's code: "
       << "TCP_NODELAY set on its listening socket (below); then that socket's listen backlog "
       << "raised from cpp-httplib's 5 to " << kDiagnosticBacklog
       << " (`listen()` called again on its descriptor); then a server started with as many "
       << "threads as clients and more (`ServerOptions::threads`; cpp-httplib gives a "
       << "keep-alive connection one thread for as long as it stays open).\n\n";
    md << "| measure |";
    for (const auto& l : r.loads) md << " " << l.label << " |";
    md << "\n|---|";
    for (size_t i = 0; i < r.loads.size(); ++i) md << "---|";
    md << "\n";
    auto row = [&](const std::string& name,
                   const std::function<std::string(const LoadResult&)>& f) {
      md << "| " << name << " |";
      for (const auto& l : r.loads) md << " " << f(l.r) << " |";
      md << "\n";
    };
    auto g = [](const LoadResult& l, const char* k) { return l.v.count(k) ? l.v.at(k) : -1.0; };
    auto gi = [&](const LoadResult& l, const char* k) {
      return FmtInt(static_cast<uint64_t>(std::max(0.0, g(l, k))));
    };
    row("requests answered in the " + Fmt(r.load_seconds, 0) + " s",
        [&](const LoadResult& l) { return gi(l, "answers_in_window"); });
    row("**requests per second**", [&](const LoadResult& l) { return "**" + gi(l, "rps") + "**"; });
    row("errors (failed requests; non-200 answers)", [&](const LoadResult& l) {
      return gi(l, "errors") + "; " + gi(l, "bad_status") +
             (l.an_error.empty() ? "" : " (e.g. " + l.an_error + ")");
    });
    row("latency median / p90 / p99 / max, ms", [&](const LoadResult& l) {
      return FmtMs(g(l, "median_ms")) + " / " + FmtMs(g(l, "p90_ms")) + " / " +
             FmtMs(g(l, "p99_ms")) + " / " + FmtMs(g(l, "max_ms"));
    });
    row("answers per client in the window: fewest / most", [&](const LoadResult& l) {
      return gi(l, "per_client_min") + " / " + gi(l, "per_client_max");
    });
    row("clients with no answer in the window", [&](const LoadResult& l) {
      return gi(l, "clients_without_answer") + " of " + std::to_string(r.clients);
    });
    row("longest wait for a client's first answer, ms",
        [&](const LoadResult& l) { return FmtMs(g(l, "first_answer_max_ms")); });
    row("**server RSS: before / peak during / after**", [&](const LoadResult& l) {
      return FmtMiB(static_cast<double>(l.rss_before_kib)) + " / **" +
             FmtMiB(static_cast<double>(l.hwm_kib)) + "** / " +
             FmtMiB(static_cast<double>(l.rss_after_kib)) +
             (l.reset_ok ? "" : " (peak not reset: includes the preparation)");
    });
    row("server threads before / after", [&](const LoadResult& l) {
      return std::to_string(l.threads_before) + " / " + std::to_string(l.threads_after);
    });
    row("CPU, s: server / clients / other processes (wall)", [&](const LoadResult& l) {
      return Fmt(l.server_cpu, 1) + " / " + Fmt(l.client_cpu, 1) + " / " + Fmt(l.other_cpu, 1) +
             " (" + Fmt(l.wall, 1) + ")";
    });
    row("client process peak RSS", [&](const LoadResult& l) { return FmtMiB(g(l, "vmhwm_kib")); });
    row("load average before", [&](const LoadResult& l) { return l.load_before; });
    md << "\nThe process's `VmHWM` before the first reset (it includes making the data): "
       << FmtMiB(static_cast<double>(r.loads.front().r.hwm_before_reset_kib)) << ".\n\n";
  }

  // The TCP_NODELAY diagnostic.
  if (!r.nodelay_queries.empty()) {
    md << "## Diagnostic: the same queries with TCP_NODELAY\n\n";
    md << "cpp-httplib leaves Nagle's algorithm on unless `set_tcp_nodelay(true)` is called, and "
          "it writes an answer's status line and headers, then its body, in two `send` calls: "
          "a body shorter than a segment (64 KiB on loopback) then waits for the client's ACK of "
          "the headers, which Linux delays by up to 40 ms. Here TCP_NODELAY is set on the "
          "server's listening socket from outside (`setsockopt` on its descriptor; Linux copies "
          "it to every connection accepted afterwards: "
       << r.nodelay_check << "), and the queries run again on new connections.\n\n";
    md << "| request | as shipped: median / p95 | TCP_NODELAY: median / p95 | TCP_NODELAY, "
          "identity: median | TCP_NODELAY, br: median | TCP_NODELAY: CPU | engine: median, CPU "
          "|\n|---|---|---|---|---|---|---|\n";
    for (const QueryResult& q : r.nodelay_queries) {
      const QueryResult* before = FindQuery(r, q.q.id);
      auto s2 = [](const QueryResult* x, const Encoding& e) {
        if (x == nullptr || !x->by_encoding.count(e.name) || x->by_encoding.at(e.name).n == 0)
          return std::string("–");
        return FmtMs(x->by_encoding.at(e.name).median) + " / " +
               FmtMs(x->by_encoding.at(e.name).p95);
      };
      auto m = [](const QueryResult& x, const Encoding& e) {
        if (!x.by_encoding.count(e.name) || x.by_encoding.at(e.name).n == 0)
          return std::string("–");
        return FmtMs(x.by_encoding.at(e.name).median);
      };
      md << "| " << q.q.label << (q.q.goal ? " **(goal)**" : "") << " | " << s2(before, kGzip)
         << " | " << s2(&q, kGzip) << " | " << m(q, kIdentity) << " | " << m(q, kBr) << " | "
         << (q.cpu_by_encoding.count(kGzip.name) ? FmtMs(q.cpu_by_encoding.at(kGzip.name).median)
                                                 : std::string("–"))
         << " | "
         << (q.engine.n ? FmtMs(q.engine.median) + ", " + FmtMs(q.engine_cpu.median)
                        : std::string("–"))
         << " |\n";
    }
    md << "\n";
  }

  // Page.
  md << "## The dashboard's first load\n\n";
  md << "Each file as a browser asks for it (`GET`, `Host`, `Accept-Encoding`), counted byte for "
        "byte as the server sent it: status line and headers plus body. The files are those "
        "`index.html` names in `src=`/`href=` (and `url()` in the CSS), same origin only. "
     << (r.server_compresses ? "The server compresses (cpp-httplib with zlib and brotli: "
                               "`Content-Encoding` below)."
                             : "The server does not compress.")
     << "\n\n";
  md << "| file | type | identity | gzip (browser, http) | br (browser, https) |\n";
  md << "|---|---|---|---|---|\n";
  auto cell = [](const PageFile& f, const Encoding& e) {
    if (!f.total.count(e.name)) return std::string("–");
    std::string enc = f.content_encoding.count(e.name) ? f.content_encoding.at(e.name) : "";
    return FmtKB(static_cast<double>(f.total.at(e.name))) + (enc.empty() ? "" : " (" + enc + ")");
  };
  for (const PageFile& f : r.page)
    md << "| `" << f.path << "` | " << f.content_type << " | " << cell(f, kIdentity) << " | "
       << cell(f, kGzip) << " | " << cell(f, kBr) << " |\n";
  auto tot = [](const std::map<std::string, size_t>& m, const Encoding& e) {
    return m.count(e.name) ? FmtKB(static_cast<double>(m.at(e.name))) : std::string("–");
  };
  md << "| **total, first load** | | **" << tot(r.page_total, kIdentity) << "** | **"
     << tot(r.page_total, kGzip) << "** | **" << tot(r.page_total, kBr) << "** |\n\n";
  md << "Then the overview's data (the API calls the page makes on its first load; the event "
        "stream `/api/events` is left out: it stays open):\n\n";
  md << "| request | identity | gzip | br |\n|---|---|---|---|\n";
  for (const PageFile& f : r.first_api)
    md << "| `" << f.path << "` | " << cell(f, kIdentity) << " | " << cell(f, kGzip) << " | "
       << cell(f, kBr) << " |\n";
  md << "| **total, data** | **" << tot(r.api_total, kIdentity) << "** | **"
     << tot(r.api_total, kGzip) << "** | **" << tot(r.api_total, kBr) << "** |\n\n";
  md << "Server RSS when idle after start-up and the first queries: "
     << FmtMiB(static_cast<double>(r.idle_rss_kib)) << ".\n";
  return md.str();
}

// ---- main ------------------------------------------------------------------------------------

int Main(const Args& args) {
  const bool quick = args.Has("quick");
  const long files = args.Int("files", quick ? 10'000 : 100'000);
  const long versions = args.Int("versions", quick ? 100 : 1000);
  const int reps = static_cast<int>(args.Int("reps", quick ? 5 : 20));
  const int clients = static_cast<int>(args.Int("clients", 200));
  const double load_seconds = std::atof(args.Get("seconds", quick ? "3" : "10").c_str());
  const std::string corpus = args.Get("corpus");
  const std::string out_md = args.Get("out");
  std::string out_raw = args.Get("raw");
  if (!out_md.empty() && out_raw.empty()) {
    char stamp[32];
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", gmtime_r(&t, &tm));
    out_raw = (fs::path(out_md).parent_path() /
               ("raw-web-" + std::string(stamp) + (quick ? "-quick" : "") + ".tsv"))
                  .string();
  }
  if (files < 1 || versions < 1 || reps < 1 || clients < 1 || load_seconds <= 0)
    Die("--files, --versions, --reps, --clients and --seconds must be positive");

  Report report;
  {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", gmtime_r(&t, &tm));
    report.date = buf;
  }
  report.command = args.Get("command", "web_bench");
  report.commit = args.Get("commit", "(unknown)");
  report.machine = MachineLine();
  report.load_start = LoadAvg();
  report.reps = reps;
  report.clients = clients;
  report.load_seconds = load_seconds;
  Raw raw;

  // The work folder.
  std::string dir = args.Get("dir");
  bool temporary = false;
  if (dir.empty()) {
    if (args.Has("prepare-only")) Die("--prepare-only needs --dir");
    std::string tmpl = (fs::temp_directory_path() / "web-bench-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) Die("mkdtemp failed");
    dir = tmpl;
    temporary = true;
  }
  fs::create_directories(dir);
  dir = fs::canonical(dir).string();
  Say("work folder " + dir + (temporary ? " (temporary)" : ""));
  Home home(dir + "/home");

  // 1. The data.
  PrepareSynthetic(home, dir, files, versions, &report.data, raw);
  if (!corpus.empty()) {
    if (fs::is_directory(corpus)) {
      PrepareKernel(home, dir, fs::canonical(corpus).string(), &report.data, raw);
    } else {
      report.kernel_skipped = true;
      report.kernel_skip_reason = "no corpus at " + corpus + " (bench/prepare_corpus.sh makes it)";
    }
  } else {
    report.kernel_skipped = true;
    report.kernel_skip_reason = "no --corpus given";
  }
  if (report.kernel_skipped)
    Say("search over the kernel corpus skipped: " + report.kernel_skip_reason);
  if (args.Has("prepare-only")) {
    Say("prepared: " + dir);
    return 0;
  }

  // 2. The servers.
  const double measure_busy0 = BusySeconds(), measure_cpu0 = ProcessCpuSeconds();
  const auto measure_t0 = Clock::now();
  double max_load1 = Load1();
  Served synthetic = StartServer(home.Open("synthetic"));
  Say("server on 127.0.0.1:" + std::to_string(synthetic.port) + " (synthetic repository)");
  std::unique_ptr<Served> kernel;
  if (!report.data.kernel.empty()) {
    kernel = std::make_unique<Served>(StartServer(home.Open("kernel")));
    Say("server on 127.0.0.1:" + std::to_string(kernel->port) + " (kernel repository)");
  }

  if (args.Has("serve")) {
    // For profiling (perf record -p PID) with a client of one's own.
    Say("serving for " + args.Get("serve") + " s: synthetic on port " +
        std::to_string(synthetic.port) +
        (kernel ? ", kernel on port " + std::to_string(kernel->port) : "") + "; token in " +
        synthetic.server->token_file() + "; pid " + std::to_string(::getpid()));
    std::this_thread::sleep_for(std::chrono::seconds(args.Int("serve", 60)));
    return 0;
  }

  // A first request opens the repository and the catalog (as the
  // dashboard's first page does); not a figure.
  for (Served* s : {&synthetic, kernel.get()}) {
    if (s == nullptr) continue;
    auto c = NewClient(s->port);
    auto t0 = Clock::now();
    auto res = c->Get("/api/status", {{"Authorization", "Bearer " + s->token}});
    if (!res || res->status != 200) Die("the first /api/status failed");
    raw.Add("warmup", "status", "ms", Ms(Clock::now() - t0));
  }

  // The queries.
  const std::string big = report.data.big_dir;
  const long n = report.data.files;
  auto entries_check = [](size_t want, bool more) {
    return [want, more](const json& j, std::string* what) -> std::string {
      const size_t got = j["entries"].size();
      *what = std::to_string(got) + " entries" + (j["next_cursor"].is_null() ? ", last page" : "");
      if (got != want)
        return "expected " + std::to_string(want) + " entries, got " + std::to_string(got);
      if (j["next_cursor"].is_null() == more) return "next_cursor is wrong";
      return "";
    };
  };
  const size_t page = static_cast<size_t>(std::min<long>(200, n));
  std::vector<Query> queries;
  std::string kernel_folder;
  queries.push_back({"files-first", "first page of a folder of " + FmtInt(n) + " files", &synthetic,
                     "/api/files?path=" + Enc(big) + "&limit=200", true,
                     entries_check(page, n > 200)});
  if (n > 400) {
    queries.push_back({"files-middle", "a page from the middle (cursor)", &synthetic,
                       "/api/files?path=" + Enc(big) + "&limit=200&cursor=" + Enc(BigName(n / 2)),
                       false, entries_check(200, true)});
    const long last_start = n - 150;
    queries.push_back(
        {"files-last", "the last page (cursor; 150 entries)", &synthetic,
         "/api/files?path=" + Enc(big) + "&limit=200&cursor=" + Enc(BigName(last_start - 1)), false,
         entries_check(150, false)});
  }
  queries.push_back({"files-first-at", "first page, as of a time (`at=`)", &synthetic,
                     "/api/files?path=" + Enc(big) + "&limit=200&at=" + Enc(FormatRfc3339(NowNs())),
                     false, entries_check(page, n > 200)});
  queries.push_back(
      {"versions", "timeline of a file with " + FmtInt(report.data.versions) + " versions",
       &synthetic, "/api/versions?path=" + Enc(report.data.timeline_file), true,
       [want = report.data.versions](const json& j, std::string* what) -> std::string {
         const size_t got = j["versions"].size();
         *what = std::to_string(got) + " versions";
         if (static_cast<long>(got) != want)
           return "expected " + std::to_string(want) + " versions";
         return "";
       }});
  auto results_check = [](bool need_some) {
    return [need_some](const json& j, std::string* what) -> std::string {
      const size_t got = j["results"].size();
      *what = std::to_string(got) + " results" + (j["truncated"].get<bool>() ? ", truncated" : "");
      if (need_some && got == 0) return "no results";
      return "";
    };
  };
  const std::string one = BigName(n * 2 / 3);
  queries.push_back({"search-big-one",
                     "search `" + one.substr(0, 7) + "` (1 file of " + FmtInt(n) + ")", &synthetic,
                     "/api/search?q=" + Enc(one.substr(0, 7)) + "&limit=200", false,
                     results_check(true)});
  queries.push_back({"search-big-all", "search `f0` (every file matches; limit 200)", &synthetic,
                     "/api/search?q=f0&limit=200", false, results_check(true)});
  queries.push_back({"search-big-none", "search a word nothing matches", &synthetic,
                     "/api/search?q=zzqqxx&limit=200", false, results_check(false)});
  if (kernel) {
    queries.push_back({"search-kernel-mutex", "search over the kernel corpus: `mutex` (limit 200)",
                       kernel.get(), "/api/search?q=mutex&limit=200", true, results_check(false)});
    queries.push_back({"search-kernel-common", "kernel: `Kconfig` (limit 200)", kernel.get(),
                       "/api/search?q=Kconfig&limit=200", false, results_check(true)});
    queries.push_back({"search-kernel-none", "kernel: a word nothing matches", kernel.get(),
                       "/api/search?q=zzqqxx&limit=200", false, results_check(false)});
    kernel_folder = fs::is_directory(report.data.kernel + "/include/linux")
                        ? report.data.kernel + "/include/linux"
                        : report.data.kernel;
    const std::string& folder = kernel_folder;
    queries.push_back({"files-kernel-folder",
                       "kernel: a folder's first page (`" +
                           fs::path(folder).lexically_relative(report.data.kernel).string() + "`)",
                       kernel.get(), "/api/files?path=" + Enc(folder) + "&limit=200", false,
                       [](const json& j, std::string* what) -> std::string {
                         *what = std::to_string(j["entries"].size()) + " entries";
                         return j["entries"].empty() ? "no entries" : "";
                       }});
  }
  queries.push_back({"status", "`/api/status`, one client", &synthetic, "/api/status", false,
                     [](const json& j, std::string* what) -> std::string {
                       *what = j.value("protected", false) ? "protected" : "not protected";
                       return j.contains("stats") ? "" : "no stats";
                     }});
  {
    // /api/status keeps the repository's figures 5 s: the request after
    // that computes them again (Session::Stats) while others wait for it.
    Query cold = queries.back();
    cold.id = "status-stats";
    cold.label = "`/api/status`, its 5 s stats cache expired";
    cold.pause_before_ms = 5200;
    cold.gzip_only = true;
    queries.push_back(cold);
  }
  // The engine calls behind them, for the column "engine".
  auto list_call = [](Served* s, const std::string& path, const std::string& after,
                      bool with_at) -> std::function<Status()> {
    return [s, path, after, with_at]() -> Status {
      engine::ListRequest lr;
      lr.path = path;
      lr.after = after;
      lr.limit = 200;
      if (with_at) lr.at = NowNs();
      auto r = s->session->List(lr, [](const engine::FileVersion&) { return Status::OK(); });
      return r.ok() ? Status::OK() : r.error();
    };
  };
  auto find_call = [](Served* s, const std::string& pattern) -> std::function<Status()> {
    return [s, pattern]() -> Status {
      engine::FindRequest fr;
      fr.pattern = pattern;
      fr.include_deleted = true;  // as /api/search by default
      fr.limit = 200;
      auto r = s->session->Find(fr, [](const engine::FileVersion&) { return Status::OK(); });
      return r.ok() ? Status::OK() : r.error();
    };
  };
  for (Query& q : queries) {
    const std::string& id = q.id;
    if (id == "files-first") q.engine = list_call(q.served, big, "", false);
    if (id == "files-middle") q.engine = list_call(q.served, big, BigName(n / 2), false);
    if (id == "files-last") q.engine = list_call(q.served, big, BigName(n - 151), false);
    if (id == "files-first-at") q.engine = list_call(q.served, big, "", true);
    if (id == "files-kernel-folder") q.engine = list_call(q.served, kernel_folder, "", false);
    if (id == "search-big-one") q.engine = find_call(q.served, one.substr(0, 7));
    if (id == "search-big-all") q.engine = find_call(q.served, "f0");
    if (id == "search-big-none" || id == "search-kernel-none")
      q.engine = find_call(q.served, "zzqqxx");
    if (id == "search-kernel-mutex") q.engine = find_call(q.served, "mutex");
    if (id == "search-kernel-common") q.engine = find_call(q.served, "Kconfig");
    if (id == "versions") {
      q.engine = [s = q.served, path = report.data.timeline_file]() -> Status {
        auto r = s->session->Versions(path);
        return r.ok() ? Status::OK() : r.error();
      };
    }
    if (id == "status" || id == "status-stats") {
      q.engine = [s = q.served]() -> Status {
        auto r = s->session->Stats({}, false);  // what /api/status computes every 5 s
        return r.ok() ? Status::OK() : r.error();
      };
    }
  }

  Say("queries, " + std::to_string(reps) + " of each per encoding");
  bool failed = false;
  for (const Query& q : queries) {
    max_load1 = std::max(max_load1, Load1());
    report.queries.push_back(RunQuery(q, q.pause_before_ms > 0 ? std::min(reps, 5) : reps, raw));
    if (!report.queries.back().error.empty()) failed = true;
  }
  report.idle_rss_kib = StatusField("VmRSS");

  // 3. The dashboard's first load.
  Say("the dashboard's first load");
  max_load1 = std::max(max_load1, Load1());
  {
    RawAnswer index = RawGet(synthetic.port, "/", kIdentity.header);
    if (!index.ok) Die("GET / failed: " + index.error + " status " + std::to_string(index.status));
    std::vector<std::string> paths = {"/"};
    for (const std::string& p : LinkedFiles(index.body)) paths.push_back(p);
    // The CSS may name more files.
    for (size_t i = 1; i < paths.size(); ++i) {
      if (paths[i].size() > 4 && paths[i].substr(paths[i].size() - 4) == ".css") {
        RawAnswer css = RawGet(synthetic.port, paths[i], kIdentity.header);
        for (const std::string& p : LinkedFiles(css.body))
          if (std::find(paths.begin(), paths.end(), p) == paths.end()) paths.push_back(p);
      }
    }
    for (const std::string& p : paths) {
      PageFile f;
      f.path = p;
      for (const Encoding& e : kEncodings) {
        RawAnswer a = RawGet(synthetic.port, p, e.header);
        if (!a.ok) Die("GET " + p + " failed: " + a.error + " status " + std::to_string(a.status));
        if (!a.error.empty()) Say("  " + p + ": " + a.error);
        f.status = a.status;
        f.content_type = a.content_type;
        f.total[e.name] = a.header_bytes + a.body_bytes;
        f.body[e.name] = a.body_bytes;
        f.content_encoding[e.name] = a.content_encoding;
        if (!a.content_encoding.empty()) report.server_compresses = true;
        report.page_total[e.name] += a.header_bytes + a.body_bytes;
        raw.Add("page", p + "/" + e.name, "total_bytes", static_cast<double>(f.total[e.name]));
        raw.Add("page", p + "/" + e.name, "body_bytes", static_cast<double>(a.body_bytes));
      }
      report.page.push_back(f);
    }
    const std::string auth = "Authorization: Bearer " + synthetic.token + "\r\n";
    for (const char* p : {"/api/session", "/api/status", "/api/devices", "/api/jobs", "/api/stats",
                          "/api/stats/history?days=30"}) {
      PageFile f;
      f.path = p;
      for (const Encoding& e : kEncodings) {
        RawAnswer a = RawGet(synthetic.port, p, e.header, auth);
        if (!a.ok) Die(std::string("GET ") + p + " failed: status " + std::to_string(a.status));
        f.status = a.status;
        f.content_type = a.content_type;
        f.total[e.name] = a.header_bytes + a.body_bytes;
        f.content_encoding[e.name] = a.content_encoding;
        report.api_total[e.name] += a.header_bytes + a.body_bytes;
        raw.Add("page-data", std::string(p) + "/" + e.name, "total_bytes",
                static_cast<double>(f.total[e.name]));
      }
      report.first_api.push_back(f);
    }
    Say("  first load: " + FmtKB(static_cast<double>(report.page_total[kGzip.name])) +
        " with gzip, " + FmtKB(static_cast<double>(report.page_total[kIdentity.name])) +
        " uncompressed");
  }

  report.queries_wall = Seconds(Clock::now() - measure_t0);
  report.queries_other_cpu =
      std::max(0.0, BusySeconds() - measure_busy0 - (ProcessCpuSeconds() - measure_cpu0));
  raw.Add("machine", "queries", "wall_seconds", report.queries_wall);
  raw.Add("machine", "queries", "other_cpu_seconds", report.queries_other_cpu);

  // 4. /api/status under load.
  auto load = [&](Served& served, const std::string& label) {
    Say("/api/status with " + std::to_string(clients) + " concurrent clients for " +
        Fmt(load_seconds, 0) + " s: " + label);
    LoadResult r = RunLoad(served, clients, load_seconds, raw, label);
    const auto& v = r.v;
    Say("  " + FmtInt(static_cast<uint64_t>(v.at("rps"))) + " requests/s, errors " +
        Fmt(v.at("errors") + v.at("bad_status"), 0) + ", p99 " + FmtMs(v.at("p99_ms")) +
        " ms, no answer for " + Fmt(v.at("clients_without_answer"), 0) +
        " clients, server peak RSS " + FmtMiB(static_cast<double>(r.hwm_kib)));
    report.loads.push_back({label, r});
    return v.at("errors") + v.at("bad_status") > 0;
  };
  const std::string shipped_label =
      "as shipped (" + std::to_string(web::ServerOptions{}.threads) + " threads)";
  if (load(synthetic, shipped_label)) failed = true;

  // 5. Diagnostics: TCP_NODELAY, then a longer listen backlog, then as
  // many threads as clients.
  if (!args.Has("no-diagnostics")) {
    Say("diagnostic: TCP_NODELAY on the servers' listeners");
    for (Served* s : {&synthetic, kernel.get()}) {
      if (s == nullptr) continue;
      if (ServerSockets(s->port, true).listeners != 1) Die("cannot find the server's listener");
    }
    for (const Query& q : queries) {
      if (!q.goal && q.id != "status" && q.id != "files-middle" && q.id != "search-big-one" &&
          q.id != "search-big-none")
        continue;
      report.nodelay_queries.push_back(RunQuery(q, reps, raw, "nodelay/"));
    }
    {
      // A connection accepted after the change: does it have TCP_NODELAY?
      auto c = NewClient(synthetic.port);
      auto res = c->Get("/api/status", {{"Authorization", "Bearer " + synthetic.token}});
      if (!res || res->status != 200) Die("/api/status failed after setting TCP_NODELAY");
      SocketCount sc = ServerSockets(synthetic.port, false);
      report.nodelay_check = std::to_string(sc.nodelay_connections) + " of the " +
                             std::to_string(sc.connections) + " connections open then had it";
    }
    load(synthetic, "diagnostic: TCP_NODELAY");
    ServerSockets(synthetic.port, true, kDiagnosticBacklog);
    load(synthetic, "diagnostic: TCP_NODELAY, backlog " + std::to_string(kDiagnosticBacklog));
    kernel.reset();
    synthetic.server.reset();
    const size_t threads = static_cast<size_t>(clients) + 16;
    Served wide = StartServer(synthetic.session, threads);
    ServerSockets(wide.port, true, kDiagnosticBacklog);
    load(wide, "diagnostic: TCP_NODELAY, backlog " + std::to_string(kDiagnosticBacklog) + ", " +
                   std::to_string(threads) + " threads");
  }

  report.measure_wall = Seconds(Clock::now() - measure_t0);
  double own = ProcessCpuSeconds() - measure_cpu0;
  for (const auto& l : report.loads) own += l.r.client_cpu;
  report.measure_other_cpu = std::max(0.0, BusySeconds() - measure_busy0 - own);
  report.max_load1 = max_load1;
  report.load_end = LoadAvg();
  raw.Add("machine", "measuring", "wall_seconds", report.measure_wall);
  raw.Add("machine", "measuring", "other_cpu_seconds", report.measure_other_cpu);
  raw.Add("machine", "measuring", "max_load1", report.max_load1);

  kernel.reset();
  synthetic.server.reset();

  const std::string md = Markdown(report);
  std::fwrite(md.data(), 1, md.size(), stdout);
  if (!out_md.empty()) {
    fs::create_directories(fs::path(out_md).parent_path());
    std::ofstream(out_md) << md;
    std::ofstream(out_raw) << raw.text();
    Say("wrote " + out_md + " and " + out_raw);
  }
  if (temporary) fs::remove_all(dir);
  return failed ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args args = ParseArgs(argc, argv);
  if (args.Has("help")) {
    std::fprintf(
        stderr,
        "web_bench [--dir DIR] [--files N] [--versions N] [--corpus TREE] [--reps N]\n"
        "          [--clients N] [--seconds S] [--out FILE.md] [--raw FILE.tsv] [--quick]\n"
        "          [--commit ID] [--command TEXT] [--no-diagnostics]\n"
        "          [--prepare-only] [--serve SECONDS]\n");
    return 0;
  }
  if (args.Has("load-child")) return LoadChild(args);
  // As cmd/cairn/main.cc: large buffers are returned to the system when freed.
  mallopt(M_MMAP_THRESHOLD, 1 << 20);  // NOLINT(concurrency-mt-unsafe): no other thread yet
  engine::InitProcess();
  try {
    return Main(args);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "web_bench: %s\n", e.what());
    return 1;
  }
}
