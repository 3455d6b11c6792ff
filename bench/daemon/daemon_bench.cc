// The figures of `cairn run` (continuous protection) that need the engine or
// the daemon in-process: bench/run_daemon_bench.sh drives it, and measures
// the real `cairn run` binary itself for idle CPU and memory.
//
//   daemon_bench prepare --home H --repo R --tree T
//       A repository at R (cheap key derivation: the figures are about
//       objects, not the KDF) holding one backup of T; H holds the settings
//       (stability_seconds: 1), the catalog and the daemon's state.
//   daemon_bench latency --home H --repo R --tree T [--changes 1000] [--interval-ms 100]
//       A Daemon watching T (real inotify, real repository): one file of T
//       appended to every interval, each a different file; the latency of a
//       change is from the moment its write returned to the end of the run
//       whose batch named it (Hooks::on_run, after Session::Backup returned:
//       the version is durable).
//   daemon_bench batch --home H --repo R --tree T [--batches 30]
//       The same daemon; 3 files appended at once, then the process's CPU
//       time until the run that covered them is over and the persisted
//       queue is empty again.
//   daemon_bench month --home H --repo R --docs D [--batches 10000] [--compact-every 0]
//                      [--ls-tree T]
//       N backups of 3 changed files of D (a daemon's batches, in one open
//       session), then the repository's objects and the time to open it, to
//       list, to back up from a fresh session and to recover the catalog;
//       then one compaction and the same again.
//   daemon_bench watch --tree T [--reps 3]
//       InotifyWatcher::AddRoot(T): time, watches, this process's memory
//       and the kernel's (inotify marks and connectors, from /sys/kernel/slab).
//
// `--malloc default` (any subcommand) leaves glibc's malloc as it is instead
// of setting the mmap threshold cmd/cairn/main.cc sets: a diagnostic.
//
// Every subcommand appends its figures to --raw FILE as lines
// "figure<TAB>case<TAB>measure<TAB>value" (--case names the tree) and says
// them on stderr; latency writes one line per change to --samples FILE.
#include <fcntl.h>
#include <malloc.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "daemon/daemon.h"
#include "engine/session.h"
#include "watch/inotify_watcher.h"

namespace {

using namespace cairn;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Ends the process at once, stdio flushed: std::exit would run the static
// destructors while other threads (the server's, the pipeline's) still run.
[[noreturn]] void Exit(int code) {
  std::fflush(nullptr);
  std::_Exit(code);
}

// ---- options -----------------------------------------------------------------

struct Args {
  std::string cmd;
  std::map<std::string, std::string> kv;
  std::string Get(const std::string& k, const std::string& def = "") const {
    auto it = kv.find(k);
    return it == kv.end() ? def : it->second;
  }
  long Int(const std::string& k, long def) const {
    auto it = kv.find(k);
    return it == kv.end() ? def : std::atol(it->second.c_str());
  }
  std::string Need(const std::string& k) const {
    auto it = kv.find(k);
    if (it == kv.end()) {
      std::fprintf(stderr, "daemon_bench %s: --%s is required\n", cmd.c_str(), k.c_str());
      Exit(2);
    }
    return it->second;
  }
};

// ---- measuring ---------------------------------------------------------------

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

double ProcessCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

// A field of /proc/self/status in KiB (VmRSS, VmHWM).
long StatusKib(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const size_t n = std::strlen(field);
  while (std::getline(in, line))
    if (line.compare(0, n, field) == 0 && line.size() > n && line[n] == ':')
      return std::atol(line.c_str() + n + 1);
  return -1;
}

// Objects in use in a kernel slab cache (-1 when it cannot be read; a
// merged cache counts its aliases' objects too).
long SlabObjects(const std::string& cache) {
  std::ifstream in("/sys/kernel/slab/" + cache + "/objects");
  long n = -1;
  if (in >> n) return n;
  return -1;
}
long SlabObjectSize(const std::string& cache) {
  std::ifstream in("/sys/kernel/slab/" + cache + "/object_size");
  long n = -1;
  if (in >> n) return n;
  return -1;
}

// User and system CPU seconds of this process.
std::pair<double, double> UserSystemSeconds() {
  rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return {ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
          ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6};
}

// Bytes the heap has handed out (glibc), freed memory not counted.
double HeapMib() {
  struct mallinfo2 mi = mallinfo2();
  return (mi.uordblks + mi.hblkhd) / 1048576.0;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  // Nearest rank.
  size_t rank = static_cast<size_t>(std::ceil(p * v.size()));
  if (rank == 0) rank = 1;
  return v[std::min(v.size(), rank) - 1];
}
double Mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0 : s / v.size();
}

class Raw {
 public:
  Raw(std::string path, std::string figure, std::string label)
      : path_(std::move(path)), figure_(std::move(figure)), case_(std::move(label)) {}
  void Put(const std::string& measure, double value, const char* fmt = nullptr) {
    if (fmt == nullptr)
      fmt = value == std::floor(value) && std::fabs(value) < 1e15 ? "%.0f" : "%.6g";
    char buf[64];
    std::snprintf(buf, sizeof(buf), fmt, value);
    PutText(measure, buf);
  }
  void PutText(const std::string& measure, const std::string& value) {
    std::fprintf(stderr, "  %s [%s] %s = %s\n", figure_.c_str(), case_.c_str(), measure.c_str(),
                 value.c_str());
    if (path_.empty()) return;
    std::ofstream out(path_, std::ios::app);
    out << figure_ << '\t' << case_ << '\t' << measure << '\t' << value << '\n';
  }

 private:
  std::string path_, figure_, case_;
};

// ---- the environment of a bench home -------------------------------------------

class Home {
 public:
  Home(std::string home, std::string repo) : home_(std::move(home)), repo_(std::move(repo)) {
    fs::create_directories(home_);
    env_ = {{"HOME", home_},
            {"XDG_CACHE_HOME", home_ + "/cache"},
            {"XDG_CONFIG_HOME", home_ + "/config"},
            {"XDG_DATA_HOME", home_ + "/data"},
            {"XDG_STATE_HOME", home_ + "/state"},
            {"CAIRN_PASSWORD", "bench"},
            {"CAIRN_LOCK_WAIT", "0"}};
    if (!fs::exists(Settings())) std::ofstream(Settings()) << "backup:\n  stability_seconds: 1\n";
  }
  std::string Settings() const { return home_ + "/settings.yaml"; }
  const std::string& repo() const { return repo_; }
  std::function<const char*(const char*)> GetEnv() const {
    return [this](const char* name) -> const char* {
      auto it = env_.find(name);
      return it == env_.end() ? nullptr : it->second.c_str();
    };
  }
  engine::SessionOptions Options() const {
    engine::SessionOptions o;
    o.repository = repo_;
    o.config_file = Settings();
    o.device = "bench";
    o.cheap_kdf_for_tests = true;
    o.getenv = GetEnv();
    return o;
  }
  Result<std::unique_ptr<engine::Session>> Session() const {
    return engine::Session::Create(Options());
  }

 private:
  std::string home_, repo_;
  std::map<std::string, std::string> env_;
};

[[noreturn]] void Die(const std::string& what, const Status& st) {
  std::fprintf(stderr, "daemon_bench: %s: %s\n", what.c_str(), st.ToString().c_str());
  Exit(1);
}

// Progress of a long job on stderr, every 10 s.
class ProgressSink final : public engine::EventSink {
 public:
  void OnProgress(const engine::Progress& p) override {
    auto now = Clock::now();
    if (now - last_ < std::chrono::seconds(10) && !p.final) return;
    last_ = now;
    std::fprintf(stderr, "    %s %s: %llu/%llu files, %.0f MiB\n", p.operation.c_str(),
                 p.phase.c_str(), static_cast<unsigned long long>(p.files_done),
                 static_cast<unsigned long long>(p.files_total), p.bytes_done / 1048576.0);
  }
  void OnIssue(const engine::PathIssue& i) override {
    if (issues_++ < 10) std::fprintf(stderr, "    issue: %s\n", i.message.c_str());
  }

 private:
  Clock::time_point last_ = Clock::now();
  int issues_ = 0;
};

// ---- files to change -------------------------------------------------------------

// Regular files of `tree` up to 256 KiB, in path order, `n` of them spread
// evenly (all when there are fewer).
std::vector<std::string> PickFiles(const std::string& tree, size_t n) {
  std::vector<std::string> all;
  for (auto it =
           fs::recursive_directory_iterator(tree, fs::directory_options::skip_permission_denied);
       it != fs::recursive_directory_iterator(); ++it) {
    std::error_code ec;
    if (it->is_symlink(ec)) continue;
    if (it->is_regular_file(ec) && it->file_size(ec) <= 256 * 1024) all.push_back(it->path());
  }
  std::sort(all.begin(), all.end());
  if (all.size() <= n) return all;
  std::vector<std::string> out;
  const double stride = static_cast<double>(all.size()) / n;
  for (size_t i = 0; i < n; ++i) out.push_back(all[static_cast<size_t>(i * stride)]);
  return out;
}

void Append(const std::string& path, const std::string& line) {
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::perror(path.c_str());
    Exit(1);
  }
  if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    std::perror(path.c_str());
    Exit(1);
  }
  ::close(fd);
}

// ---- a daemon in this process -------------------------------------------------

class DaemonRun {
 public:
  using OnRun = std::function<void(const daemon::RunReport&, Clock::time_point)>;
  DaemonRun(const Home& home, const std::string& tree, OnRun on_run)
      : home_(home), tree_(tree), on_run_(std::move(on_run)) {}
  ~DaemonRun() { Stop(); }

  // Starts the daemon and returns once its catch-up pass is over.
  void Start(Raw& raw) {
    daemon::DaemonOptions o;
    o.make_session = [this] { return home_.Session(); };
    o.folders = {tree_};
    o.getenv = home_.GetEnv();
    o.hooks.log = [](daemon::LogLevel level, const std::string& line) {
      if (level >= daemon::LogLevel::kWarning)
        std::fprintf(stderr, "    daemon: %s\n", line.c_str());
    };
    o.hooks.on_run = [this](const daemon::RunReport& r) {
      const auto now = Clock::now();
      if (r.kind == "catch-up") {
        std::lock_guard lock(mu_);
        catch_up_ = r;
        cv_.notify_all();
        return;
      }
      if (!r.status.ok())
        std::fprintf(stderr, "    daemon run failed: %s\n", r.status.ToString().c_str());
      if (on_run_) on_run_(r, now);
    };
    const double cpu0 = ProcessCpuSeconds();
    const auto t0 = Clock::now();
    auto d = daemon::Daemon::Create(std::move(o));
    if (!d.ok()) Die("daemon", d.error());
    daemon_ = std::move(*d);
    thread_ = std::jthread([this](std::stop_token stop) {
      Status st = daemon_->Run(stop);
      if (!st.ok()) Die("daemon run", st);
    });
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return catch_up_.has_value(); });
    if (!catch_up_->status.ok()) Die("catch-up", catch_up_->status);
    raw.Put("catch_up_wall_s", Seconds(Clock::now() - t0));
    raw.Put("catch_up_cpu_s", ProcessCpuSeconds() - cpu0);
    raw.Put("catch_up_files_stored", catch_up_->files);
    raw.Put("catch_up_files_unchanged", catch_up_->unchanged);
    auto snap = daemon_->Snapshot();
    raw.Put("watches", snap.watcher.watches);
  }
  void Stop() {
    if (!thread_.joinable()) return;
    thread_.request_stop();
    thread_.join();
    daemon_.reset();
  }
  // Waits until the daemon runs nothing and has nothing queued.
  bool WaitIdle(std::chrono::milliseconds limit) {
    const auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
      auto s = daemon_->Snapshot();
      if (s.queued == 0 && s.running.empty()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return false;
  }

 private:
  const Home& home_;
  std::string tree_;
  OnRun on_run_;
  std::unique_ptr<daemon::Daemon> daemon_;
  std::jthread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<daemon::RunReport> catch_up_;
};

// ---- prepare ------------------------------------------------------------------------

int Prepare(const Args& a) {
  Home home(a.Need("home"), a.Need("repo"));
  Raw raw(a.Get("raw"), "prepare", a.Get("case", "tree"));
  auto s = home.Session();
  if (!s.ok()) Die("session", s.error());
  if (!fs::exists(home.repo() + "/config")) {
    auto init = (*s)->Init("bench");
    if (!init.ok()) Die("init", init.error());
  }
  ProgressSink sink;
  engine::BackupRequest req;
  req.paths = {a.Need("tree")};
  const double cpu0 = ProcessCpuSeconds();
  const auto t0 = Clock::now();
  auto b = (*s)->Backup(req, engine::JobContext{{}, &sink});
  if (!b.ok()) Die("backup", b.error());
  raw.Put("backup_wall_s", Seconds(Clock::now() - t0));
  raw.Put("backup_cpu_s", ProcessCpuSeconds() - cpu0);
  raw.Put("files_stored", b->files_new + b->files_changed);
  raw.Put("files_unchanged", b->files_unchanged);
  raw.Put("peak_rss_mib", StatusKib("VmHWM") / 1024.0, "%.1f");
  return 0;
}

// ---- latency ------------------------------------------------------------------------

int Latency(const Args& a) {
  Home home(a.Need("home"), a.Need("repo"));
  const std::string tree = a.Need("tree");
  const size_t changes = a.Int("changes", 1000);
  const auto interval = std::chrono::milliseconds(a.Int("interval-ms", 100));
  Raw raw(a.Get("raw"), "latency", a.Get("case", "tree"));

  const std::vector<std::string> files = PickFiles(tree, changes);
  if (files.size() < std::min<size_t>(changes, 20)) {
    std::fprintf(stderr, "daemon_bench latency: too few files in %s\n", tree.c_str());
    return 1;
  }
  std::mutex mu;
  std::condition_variable cv;
  std::unordered_map<std::string, std::vector<size_t>> pending;  // path -> change numbers
  std::vector<Clock::time_point> changed_at(changes);
  std::vector<double> latency(changes, -1), run_s(changes, 0);
  std::vector<size_t> batch_size(changes, 0);
  size_t open = 0, runs = 0, failed_runs = 0;
  DaemonRun d(home, tree, [&](const daemon::RunReport& r, Clock::time_point now) {
    std::lock_guard lock(mu);
    if (!r.status.ok()) {
      ++failed_runs;
      return;
    }
    ++runs;
    for (const std::string& p : r.batch_paths) {
      auto it = pending.find(p);
      if (it == pending.end()) continue;
      for (size_t i : it->second) {
        latency[i] = Seconds(now - changed_at[i]);
        run_s[i] = r.seconds;
        batch_size[i] = r.batch_paths.size();
        --open;
      }
      pending.erase(it);
    }
    cv.notify_all();
  });
  d.Start(raw);
  std::fprintf(stderr, "  latency: %zu changes, one every %lld ms, %zu files\n", changes,
               static_cast<long long>(interval.count()), files.size());
  const double cpu0 = ProcessCpuSeconds();
  const auto start = Clock::now();
  for (size_t i = 0; i < changes; ++i) {
    std::this_thread::sleep_until(start + i * interval);
    const std::string& path = files[i % files.size()];
    Append(path, "/* cairn daemon bench: change " + std::to_string(i) + " */\n");
    const auto now = Clock::now();
    std::lock_guard lock(mu);
    changed_at[i] = now;
    pending[path].push_back(i);
    ++open;
  }
  {
    std::unique_lock lock(mu);
    cv.wait_for(lock, std::chrono::seconds(120), [&] { return open == 0; });
  }
  const double wall = Seconds(Clock::now() - start);
  d.WaitIdle(std::chrono::seconds(30));
  const double cpu = ProcessCpuSeconds() - cpu0;
  d.Stop();

  std::vector<double> lat, runs_s, sizes;
  for (size_t i = 0; i < changes; ++i) {
    if (latency[i] < 0) continue;
    lat.push_back(latency[i]);
    runs_s.push_back(run_s[i]);
    sizes.push_back(static_cast<double>(batch_size[i]));
  }
  raw.Put("changes", changes);
  raw.Put("interval_ms", interval.count());
  raw.Put("files_changed", std::min(files.size(), changes));
  raw.Put("never_backed_up", changes - lat.size());
  raw.Put("runs", runs);
  raw.Put("failed_runs", failed_runs);
  raw.Put("p50_s", Percentile(lat, 0.50), "%.4f");
  raw.Put("p90_s", Percentile(lat, 0.90), "%.4f");
  raw.Put("p99_s", Percentile(lat, 0.99), "%.4f");
  raw.Put("max_s", Percentile(lat, 1.0), "%.4f");
  raw.Put("min_s", lat.empty() ? 0 : *std::min_element(lat.begin(), lat.end()), "%.4f");
  raw.Put("mean_s", Mean(lat), "%.4f");
  raw.Put("run_p50_s", Percentile(runs_s, 0.50), "%.4f");
  raw.Put("run_p99_s", Percentile(runs_s, 0.99), "%.4f");
  raw.Put("batch_paths_mean", Mean(sizes), "%.2f");
  raw.Put("wall_s", wall, "%.1f");
  raw.Put("cpu_s", cpu, "%.2f");
  raw.Put("cpu_ms_per_change", 1000 * cpu / changes, "%.2f");
  if (std::string samples = a.Get("samples"); !samples.empty()) {
    std::ofstream out(samples);
    out << "change\tpath\tlatency_s\trun_s\tbatch_paths\n";
    for (size_t i = 0; i < changes; ++i)
      out << i << '\t' << files[i % files.size()] << '\t' << latency[i] << '\t' << run_s[i] << '\t'
          << batch_size[i] << '\n';
  }
  return lat.size() == changes ? 0 : 1;
}

// ---- batch ---------------------------------------------------------------------------

constexpr size_t kWarmUpBatches = 2;

int Batch(const Args& a) {
  Home home(a.Need("home"), a.Need("repo"));
  const std::string tree = a.Need("tree");
  const size_t batches = a.Int("batches", 30);
  Raw raw(a.Get("raw"), "batch", a.Get("case", "tree"));
  const std::vector<std::string> files = PickFiles(tree, 3 * batches);
  if (files.size() < 3) return 1;

  std::mutex mu;
  std::condition_variable cv;
  std::set<std::string> pending;
  int runs = 0;
  double run_seconds = 0;
  double cpu_at_run = 0;
  uint64_t bytes_read = 0;
  DaemonRun d(home, tree, [&](const daemon::RunReport& r, Clock::time_point) {
    std::lock_guard lock(mu);
    ++runs;
    run_seconds += r.seconds;
    bytes_read += r.bytes_read;
    for (const std::string& p : r.batch_paths) pending.erase(p);
    if (pending.empty()) cpu_at_run = ProcessCpuSeconds();
    cv.notify_all();
  });
  d.Start(raw);
  d.WaitIdle(std::chrono::seconds(30));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  std::vector<double> cpu_ms, to_run_ms, backup_ms, wall_ms, runs_per, kib_read;
  for (size_t b = 0; b < batches; ++b) {
    std::vector<std::string> three;
    for (size_t k = 0; k < 3; ++k) three.push_back(files[(3 * b + k) % files.size()]);
    {
      std::lock_guard lock(mu);
      pending = std::set<std::string>(three.begin(), three.end());
      runs = 0;
      run_seconds = 0;
      bytes_read = 0;
    }
    const double cpu0 = ProcessCpuSeconds();
    const auto t0 = Clock::now();
    for (const std::string& p : three)
      Append(p, "/* cairn daemon bench: batch " + std::to_string(b) + " */\n");
    {
      std::unique_lock lock(mu);
      if (!cv.wait_for(lock, std::chrono::seconds(60), [&] { return pending.empty(); })) {
        std::fprintf(stderr, "daemon_bench batch: batch %zu never ran\n", b);
        return 1;
      }
    }
    d.WaitIdle(std::chrono::seconds(30));
    const double cpu1 = ProcessCpuSeconds();
    const auto t1 = Clock::now();
    std::lock_guard lock(mu);
    cpu_ms.push_back(1000 * (cpu1 - cpu0));
    to_run_ms.push_back(1000 * (cpu_at_run - cpu0));
    backup_ms.push_back(1000 * run_seconds);
    wall_ms.push_back(1000 * Seconds(t1 - t0));
    runs_per.push_back(runs);
    kib_read.push_back(bytes_read / 1024.0);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  d.Stop();
  if (std::string samples = a.Get("samples"); !samples.empty()) {
    std::ofstream out(samples);
    out << "batch\tcpu_ms\tcpu_to_run_end_ms\tbackup_wall_ms\tchange_to_idle_ms\truns\tkib_read\n";
    for (size_t b = 0; b < cpu_ms.size(); ++b)
      out << b << '\t' << cpu_ms[b] << '\t' << to_run_ms[b] << '\t' << backup_ms[b] << '\t'
          << wall_ms[b] << '\t' << runs_per[b] << '\t' << kib_read[b] << '\n';
  }
  raw.Put("batches", batches);
  // The first batches after a start (a warm-up) are said apart, and left
  // out of the steady figures.
  const size_t warm = std::min<size_t>(kWarmUpBatches, cpu_ms.size());
  for (size_t b = 0; b < warm; ++b)
    raw.Put("first_cpu_ms." + std::to_string(b + 1), cpu_ms[b], "%.1f");
  const std::vector<double> all = cpu_ms;
  // Batches whose 3 changes went into one run: the cost of one run, which a
  // split batch (the changes settled a moment apart) pays twice.
  std::vector<double> single;
  for (size_t b = warm; b < cpu_ms.size(); ++b)
    if (runs_per[b] == 1) single.push_back(cpu_ms[b]);
  const auto skip = static_cast<std::ptrdiff_t>(warm);
  cpu_ms.erase(cpu_ms.begin(), cpu_ms.begin() + skip);
  backup_ms.erase(backup_ms.begin(), backup_ms.begin() + skip);
  to_run_ms.erase(to_run_ms.begin(), to_run_ms.begin() + skip);
  raw.Put("steady_batches", cpu_ms.size());
  raw.Put("cpu_ms_p50", Percentile(cpu_ms, 0.5), "%.1f");
  raw.Put("cpu_ms_p95", Percentile(cpu_ms, 0.95), "%.1f");
  raw.Put("cpu_ms_max", Percentile(cpu_ms, 1.0), "%.1f");
  raw.Put("cpu_ms_mean", Mean(cpu_ms), "%.1f");
  raw.Put("all_cpu_ms_p95", Percentile(all, 0.95), "%.1f");
  raw.Put("single_run_batches", single.size());
  if (!single.empty()) {
    raw.Put("single_run_cpu_ms_p50", Percentile(single, 0.5), "%.1f");
    raw.Put("single_run_cpu_ms_p95", Percentile(single, 0.95), "%.1f");
  }
  raw.Put("all_cpu_ms_mean", Mean(all), "%.1f");
  raw.Put("cpu_to_run_end_ms_p50", Percentile(to_run_ms, 0.5), "%.1f");
  raw.Put("backup_wall_ms_p50", Percentile(backup_ms, 0.5), "%.1f");
  raw.Put("backup_wall_ms_p95", Percentile(backup_ms, 0.95), "%.1f");
  raw.Put("change_to_idle_wall_ms_p50", Percentile(wall_ms, 0.5), "%.0f");
  raw.Put("runs_per_batch_mean", Mean(runs_per), "%.2f");
  return 0;
}

// ---- month ---------------------------------------------------------------------------

struct ObjectCounts {
  std::map<std::string, std::pair<uint64_t, uint64_t>> by_dir;  // files, bytes
  uint64_t total = 0;
};
ObjectCounts CountObjects(const std::string& repo) {
  ObjectCounts c;
  for (const auto& top : fs::directory_iterator(repo)) {
    const std::string name = top.path().filename();
    if (name.empty() || name[0] == '.') continue;  // the local backend's own files
    auto& [n, bytes] = c.by_dir[name];
    if (top.is_regular_file()) {
      ++n;
      bytes += top.file_size();
    } else if (top.is_directory()) {
      for (const auto& e : fs::recursive_directory_iterator(top.path()))
        if (e.is_regular_file()) ++n, bytes += e.file_size();
    }
    c.total += n;
  }
  return c;
}

void MeasureRepo(const Home& home, const std::string& docs, const std::string& ls_tree,
                 const std::string& phase, Raw& raw) {
  ObjectCounts c = CountObjects(home.repo());
  raw.Put(phase + ".objects", c.total);
  for (const auto& [dir, nb] : c.by_dir) {
    raw.Put(phase + ".objects." + dir, nb.first);
    raw.Put(phase + ".bytes." + dir, nb.second);
  }
  auto timed = [&](const std::string& what, const std::function<Status(engine::Session&)>& fn) {
    auto s = home.Session();
    if (!s.ok()) Die("session", s.error());
    const double cpu0 = ProcessCpuSeconds();
    const auto t0 = Clock::now();
    Status st = fn(**s);
    if (!st.ok()) Die(what, st);
    raw.Put(phase + "." + what + "_s", Seconds(Clock::now() - t0), "%.4f");
    raw.Put(phase + "." + what + "_cpu_s", ProcessCpuSeconds() - cpu0, "%.4f");
  };
  // Each in a fresh session, as a new process would: open reads the config
  // and the key; the first operation loads the index and brings the
  // catalog up to date.
  timed("open", [](engine::Session& s) { return s.Open(); });
  timed("open_and_stats", [](engine::Session& s) { return s.Stats().status(); });
  timed("backup_3_files", [&](engine::Session& s) {
    engine::BackupRequest req;
    for (int k = 0; k < 3; ++k) {
      std::string p = docs + "/d" + std::to_string(k) + "/f0";
      Append(p, phase + "\n");
      req.paths.push_back(p);
    }
    return s.Backup(req).status();
  });
  uint64_t n = 0;
  timed("ls_docs", [&](engine::Session& s) {
    engine::ListRequest r;
    r.path = docs + "/d0";
    return s.List(r, [&](const engine::FileVersion&) { return ++n, Status::OK(); }).status();
  });
  raw.Put(phase + ".ls_docs_entries", n);
  if (!ls_tree.empty()) {
    n = 0;
    timed("ls_r_tree", [&](engine::Session& s) {
      engine::ListRequest r;
      r.path = ls_tree;
      r.recursive = true;
      return s.List(r, [&](const engine::FileVersion&) { return ++n, Status::OK(); }).status();
    });
    raw.Put(phase + ".ls_r_tree_entries", n);
  }
  uint64_t segments = 0, versions = 0;
  timed("recover", [&](engine::Session& s) {
    auto r = s.Recover();
    if (!r.ok()) return r.status();
    segments = r->segments;
    versions = r->versions;
    return Status::OK();
  });
  raw.Put(phase + ".recover_segments", segments);
  raw.Put(phase + ".recover_versions", versions);
}

int Month(const Args& a) {
  Home home(a.Need("home"), a.Need("repo"));
  const std::string docs = a.Need("docs");
  const std::string ls_tree = a.Get("ls-tree");
  const int batches = static_cast<int>(a.Int("batches", 10000));
  const int compact_every = static_cast<int>(a.Int("compact-every", 0));
  const int bucket = static_cast<int>(a.Int("bucket", std::max(1, batches / 10)));
  Raw raw(a.Get("raw"), "month", a.Get("case", "tree"));
  {
    auto s = home.Session();
    if (!s.ok()) Die("session", s.error());
    if (!fs::exists(home.repo() + "/config")) {
      auto init = (*s)->Init("bench");
      if (!init.ok()) Die("init", init.error());
    }
    for (int k = 0; k < 3; ++k) fs::create_directories(docs + "/d" + std::to_string(k));
    MeasureRepo(home, docs, "", "start", raw);
  }
  auto s = home.Session();
  if (!s.ok()) Die("session", s.error());
  std::vector<double> times;
  double compact_s = 0;
  int compactions = 0;
  const auto start = Clock::now();
  for (int i = 0; i < batches; ++i) {
    engine::BackupRequest req;
    for (int k = 0; k < 3; ++k) {
      std::string p = docs + "/d" + std::to_string(k) + "/f" + std::to_string(i % 200);
      std::ofstream(p, std::ios::trunc) << "batch " << i << " file " << k << "\n";
      req.paths.push_back(p);
    }
    const auto t0 = Clock::now();
    auto b = (*s)->Backup(req);
    if (!b.ok()) Die("backup " + std::to_string(i), b.error());
    times.push_back(1000 * Seconds(Clock::now() - t0));
    if (compact_every > 0 && (i + 1) % compact_every == 0) {
      const auto t1 = Clock::now();
      auto c = (*s)->Compact();
      if (!c.ok()) Die("compact", c.error());
      compact_s += Seconds(Clock::now() - t1);
      ++compactions;
    }
    if ((i + 1) % bucket == 0 || i + 1 == batches) {
      const std::string b = "backup_ms." + std::to_string(i + 1);
      raw.Put(b + ".mean", Mean(times), "%.2f");
      raw.Put(b + ".p95", Percentile(times, 0.95), "%.2f");
      times.clear();
    }
  }
  raw.Put("batches", batches);
  raw.Put("compact_every", compact_every);
  raw.Put("compactions_during", compactions);
  raw.Put("compaction_s_mean", compactions ? compact_s / compactions : 0, "%.3f");
  raw.Put("batches_wall_s", Seconds(Clock::now() - start), "%.1f");
  (*s).reset();
  MeasureRepo(home, docs, ls_tree, "before", raw);
  {
    auto c = home.Session();
    if (!c.ok()) Die("session", c.error());
    const double cpu0 = ProcessCpuSeconds();
    const auto t0 = Clock::now();
    auto r = (*c)->Compact();
    if (!r.ok()) Die("compact", r.error());
    raw.Put("compact_s", Seconds(Clock::now() - t0), "%.3f");
    raw.Put("compact_cpu_s", ProcessCpuSeconds() - cpu0, "%.3f");
    raw.Put("compact.packs_merged", r->packs_merged);
    raw.Put("compact.index_rewritten", r->index_rewritten);
    raw.Put("compact.segments_merged", r->segments_merged);
    raw.Put("compact.objects_deleted", r->objects_deleted);
  }
  MeasureRepo(home, docs, ls_tree, "after", raw);
  raw.Put("peak_rss_mib", StatusKib("VmHWM") / 1024.0, "%.1f");
  return 0;
}

// ---- watch ----------------------------------------------------------------------------

int Watch(const Args& a) {
  const std::string tree = a.Need("tree");
  const int reps = static_cast<int>(a.Int("reps", 3));
  Raw raw(a.Get("raw"), "watch", a.Get("case", "tree"));
  const long mark_size = SlabObjectSize("inotify_inode_mark");
  const long conn_size = SlabObjectSize("fsnotify_mark_connector");
  std::vector<double> secs, rss_mib, heap_mib, marks_kib, teardown, user_s, sys_s;
  size_t watches = 0;
  uint64_t limit = 0;
  for (int r = 0; r < reps; ++r) {
    const long rss0 = StatusKib("VmRSS");
    const long marks0 = SlabObjects("inotify_inode_mark");
    const long conns0 = SlabObjects("fsnotify_mark_connector");
    const double heap0 = HeapMib();
    const auto cpu0 = UserSystemSeconds();
    const auto t0 = Clock::now();
    auto w = watch::InotifyWatcher::Create(watch::WatchOptions{});
    if (!w.ok()) Die("inotify", w.error());
    Status st = (*w)->AddRoot(tree);
    if (!st.ok()) Die("AddRoot", st);
    const auto t1 = Clock::now();
    const auto cpu1 = UserSystemSeconds();
    auto stats = (*w)->Stats();
    watches = stats.watches;
    limit = stats.watch_limit;
    auto batch = (*w)->Wait(std::chrono::milliseconds(0));
    for (const auto& n : batch.ok() ? batch->notices : std::vector<watch::WatchNotice>{})
      std::fprintf(stderr, "    notice: %s\n", n.text.c_str());
    const long rss1 = StatusKib("VmRSS");
    heap_mib.push_back(HeapMib() - heap0);
    user_s.push_back(cpu1.first - cpu0.first);
    sys_s.push_back(cpu1.second - cpu0.second);
    const long marks1 = SlabObjects("inotify_inode_mark");
    const long conns1 = SlabObjects("fsnotify_mark_connector");
    const auto t2 = Clock::now();
    (*w).reset();
    teardown.push_back(Seconds(Clock::now() - t2));
    secs.push_back(Seconds(t1 - t0));
    rss_mib.push_back((rss1 - rss0) / 1024.0);
    if (marks0 >= 0 && marks1 >= 0 && mark_size > 0)
      marks_kib.push_back(((marks1 - marks0) * mark_size + (conns1 - conns0) * conn_size) / 1024.0);
  }
  raw.Put("watches", watches);
  raw.Put("watch_limit", limit);
  raw.Put("reps", reps);
  raw.Put("add_root_s_median", Percentile(secs, 0.5), "%.3f");
  raw.Put("add_root_s_min", Percentile(secs, 0), "%.3f");
  raw.Put("add_root_s_max", Percentile(secs, 1.0), "%.3f");
  raw.Put("rss_growth_mib_first", rss_mib.empty() ? 0 : rss_mib[0], "%.2f");
  raw.Put("rss_growth_mib_median", Percentile(rss_mib, 0.5), "%.2f");
  raw.Put("heap_growth_mib_median", Percentile(heap_mib, 0.5), "%.2f");
  raw.Put("user_s_median", Percentile(user_s, 0.5), "%.3f");
  raw.Put("sys_s_median", Percentile(sys_s, 0.5), "%.3f");
  raw.Put("teardown_s_median", Percentile(teardown, 0.5), "%.3f");
  if (!marks_kib.empty()) raw.Put("kernel_marks_kib_median", Percentile(marks_kib, 0.5), "%.0f");
  raw.Put("peak_rss_mib", StatusKib("VmHWM") / 1024.0, "%.1f");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // As cmd/cairn/main.cc does: buffers of 1 MiB and more are mmapped, so
  // freeing them returns memory. Without copying that, this process would
  // measure something else than `cairn run` costs. `--malloc default`
  // leaves glibc's dynamic threshold (a diagnostic).
  bool default_malloc = false;
  for (int i = 2; i + 1 < argc; ++i)
    if (std::string(argv[i]) == "--malloc") default_malloc = std::string(argv[i + 1]) == "default";
  // NOLINTNEXTLINE(concurrency-mt-unsafe): no other thread yet
  if (!default_malloc) mallopt(M_MMAP_THRESHOLD, 1 << 20);
  engine::InitProcess();
  if (argc < 2) {
    std::fprintf(stderr, "usage: daemon_bench prepare|latency|batch|month|watch --opt value...\n");
    return 2;
  }
  Args a;
  a.cmd = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string k = argv[i];
    if (k.rfind("--", 0) != 0 || i + 1 >= argc) {
      std::fprintf(stderr, "daemon_bench: bad argument %s\n", k.c_str());
      return 2;
    }
    a.kv[k.substr(2)] = argv[++i];
  }
  if (a.cmd == "prepare") return Prepare(a);
  if (a.cmd == "latency") return Latency(a);
  if (a.cmd == "batch") return Batch(a);
  if (a.cmd == "month") return Month(a);
  if (a.cmd == "watch") return Watch(a);
  std::fprintf(stderr, "daemon_bench: unknown subcommand %s\n", a.cmd.c_str());
  return 2;
}
