// catalog_bench: size and speed of the catalog (src/catalog) on a real tree
// or on a synthetic home folder, fed straight to the catalog (no repository).
//
//   catalog_bench tree DIR [DB]      records shaped like a backup of DIR (lstat of
//                                    every entry; hashes and chunk ids made up)
//   catalog_bench home N [DB]        N small files in a synthetic home folder
//                                    (nested folders, ~20 files each)
//
// It ingests the first run as a rebuild would (one transaction, segments of
// 20,000 records), then two more runs as a backup would (one transaction per
// segment: every 10th file changed, then every 100th changed and every 200th
// deleted), and prints the file size and the time of the queries the CLI and
// the archiver make. DB defaults to /tmp/catalog_bench.db (overwritten).
// Query times are CPU time, the best of several repetitions (so other work on
// the machine disturbs them little); ingestion times are wall-clock and CPU.
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "base/time_util.h"
#include "catalog/catalog.h"
#include "repo/version_id.h"
#include "repo/version_segment.h"

namespace cairn {
namespace {

namespace fs = std::filesystem;
using catalog::Catalog;
using repo::FileType;
using repo::VersionRecord;
using Clock = std::chrono::steady_clock;

// Ends the process at once, stdio flushed: std::exit would run the static
// destructors while other threads (the server's, the pipeline's) still run.
[[noreturn]] void Exit(int code) {
  std::fflush(nullptr);
  std::_Exit(code);
}

constexpr size_t kSegmentRecords = 20000;  // the archiver's checkpoint_records
constexpr const char kDevice[] = "bench-laptop";

double Ms(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

void Die(const Status& st, const char* what) {
  if (st.ok()) return;
  std::fprintf(stderr, "%s: %s\n", what, st.ToString().c_str());
  Exit(1);
}

Id MadeUpId(uint64_t a, uint64_t b) {
  Id id;
  std::mt19937_64 rng(a * 0x9e3779b97f4a7c15ULL + b);
  for (size_t i = 0; i < id.bytes.size(); i += 8) {
    uint64_t v = rng();
    std::memcpy(id.bytes.data() + i, &v, 8);
  }
  return id;
}

// Content-derived fields of a file version: a made-up SHA-256 and one chunk
// id per MiB (the chunker's average), as a backup would record.
void FillContent(VersionRecord* r, uint64_t salt) {
  if (r->type != FileType::kFile) return;
  r->content_sha256 = MadeUpId(salt, 1);
  size_t n = r->size == 0 ? 0 : (r->size + (1 << 20) - 1) >> 20;
  r->chunks.clear();
  for (size_t i = 0; i < n; ++i) r->chunks.push_back(MadeUpId(salt, 2 + i));
}

struct Corpus {
  std::vector<VersionRecord> first;  // the first run, in walk order
  std::string big_dir;               // the folder with the most direct children
  std::string big_tree;              // a large subtree (for a recursive listing)
  std::string pattern_many, pattern_few;
};

std::string NameOf(std::map<uint32_t, std::string>& cache, uint32_t id, bool group) {
  auto it = cache.find(id);
  if (it != cache.end()) return it->second;
  std::string name;
  char buf[4096];
  if (group) {
    struct group g {};
    struct group* found = nullptr;
    if (getgrgid_r(id, &g, buf, sizeof buf, &found) == 0 && found != nullptr) name = found->gr_name;
  } else {
    struct passwd p {};
    struct passwd* found = nullptr;
    if (getpwuid_r(id, &p, buf, sizeof buf, &found) == 0 && found != nullptr) name = found->pw_name;
  }
  return cache[id] = name;
}

// The parents of `root` (as the archiver records them), then every entry below it.
Corpus WalkTree(const std::string& dir, TimeNs t0) {
  Corpus c;
  std::string root = fs::canonical(dir).string();
  std::map<uint32_t, std::string> users, groups;
  std::map<std::string, size_t> children;
  auto add = [&](const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return;
    VersionRecord r;
    r.path = path;
    r.device = kDevice;
    r.type = S_ISDIR(st.st_mode)   ? FileType::kDir
             : S_ISLNK(st.st_mode) ? FileType::kSymlink
                                   : FileType::kFile;
    r.size = r.type == FileType::kFile ? static_cast<uint64_t>(st.st_size) : 0;
    r.mode = st.st_mode & 07777;
    r.uid = st.st_uid;
    r.gid = st.st_gid;
    r.user = NameOf(users, st.st_uid, false);
    r.group = NameOf(groups, st.st_gid, true);
    r.mtime = st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec;
    r.ctime = st.st_ctim.tv_sec * 1'000'000'000LL + st.st_ctim.tv_nsec;
    r.inode = st.st_ino;
    r.dev = st.st_dev;
    if (r.type == FileType::kSymlink) {
      std::error_code ec;
      r.link_target = fs::read_symlink(path, ec).string();
    }
    FillContent(&r, c.first.size());
    c.first.push_back(std::move(r));
    ++children[fs::path(path).parent_path().string()];
  };
  std::vector<std::string> parents;
  for (fs::path p = fs::path(root).parent_path();; p = p.parent_path()) {
    parents.push_back(p.string());
    if (p == p.parent_path()) break;
  }
  for (auto it = parents.rbegin(); it != parents.rend(); ++it) add(*it);
  add(root);
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    add(it->path().string());
  }
  for (size_t i = 0; i < c.first.size(); ++i) {
    c.first[i].backup_time = t0 + static_cast<TimeNs>(i);
    c.first[i].wall_time = c.first[i].backup_time;
  }
  size_t best = 0;
  for (const auto& [d, n] : children)
    if (n > best) best = n, c.big_dir = d;
  c.big_tree = fs::exists(root + "/drivers") ? root + "/drivers" : root;
  c.pattern_many = "*.c";
  c.pattern_few = "*mutex*";
  return c;
}

// A home folder: /home/user/<top>/... nested 1-4 levels, ~20 files per folder.
Corpus MakeHome(size_t files, TimeNs t0) {
  static const char* kTop[] = {"Documents", "Pictures", "Music",   "Projects", "Downloads",
                               ".cache",    ".config",  "Desktop", "Videos",   "src"};
  static const char* kWords[] = {"report", "notes",  "IMG",    "draft",   "invoice", "photo",
                                 "backup", "main",   "test",   "summary", "lecture", "thesis",
                                 "budget", "config", "readme", "song",    "track",   "data"};
  static const char* kExt[] = {".pdf", ".jpg", ".md",  ".txt", ".cc",  ".h",
                               ".py",  ".mp3", ".odt", ".png", ".json"};
  Corpus c;
  std::mt19937_64 rng(42);
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  TimeNs now = t0;
  auto rec = [&](std::string path, FileType type) {
    VersionRecord r;
    r.path = std::move(path);
    r.device = kDevice;
    r.type = type;
    r.mode = type == FileType::kDir ? 0755 : 0644;
    r.uid = r.gid = 1000;
    r.user = r.group = "user";
    r.mtime = now - static_cast<TimeNs>(rng() % (5 * 365 * 86400ULL)) * 1'000'000'000LL -
              static_cast<TimeNs>(rng() % 1'000'000'000);
    r.ctime = rng() % 4 == 0 ? r.mtime + static_cast<TimeNs>(rng() % 1'000'000'000'000) : r.mtime;
    r.inode = 100000 + c.first.size();
    r.dev = 0x10302;
    if (type == FileType::kFile) {
      // Mostly small: 100 B .. ~4 MB, log-uniform.
      r.size = static_cast<uint64_t>(std::exp2(6.6 + (rng() % 1600) / 100.0));
    }
    FillContent(&r, c.first.size());
    c.first.push_back(std::move(r));
  };
  rec("/", FileType::kDir);
  rec("/home", FileType::kDir);
  rec("/home/user", FileType::kDir);
  size_t made = 0, serial = 0;
  std::function<void(const std::string&, int)> fill = [&](const std::string& dir, int depth) {
    rec(dir, FileType::kDir);
    size_t n = 10 + pick(21);
    for (size_t i = 0; i < n && made < files; ++i, ++made) {
      std::string name = std::string(kWords[pick(std::size(kWords))]) + "-" +
                         std::to_string(++serial % 10000) + kExt[pick(std::size(kExt))];
      rec(dir + "/" + name, FileType::kFile);
    }
    if (depth >= 4) return;
    size_t subdirs = depth == 0 ? 40 : 1 + pick(4);
    for (size_t i = 0; i < subdirs && made < files; ++i) {
      fill(dir + "/" + kWords[pick(std::size(kWords))] + std::to_string(i), depth + 1);
    }
  };
  while (made < files) {
    for (const char* top : kTop) {
      if (made >= files) break;
      fill("/home/user/" + std::string(top) + (serial > 0 ? std::to_string(serial % 97) : ""), 0);
    }
  }
  // Several top folders may share a name: keep each path's first record.
  std::sort(c.first.begin(), c.first.end(),
            [](const VersionRecord& a, const VersionRecord& b) { return a.path < b.path; });
  c.first.erase(
      std::unique(c.first.begin(), c.first.end(),
                  [](const VersionRecord& a, const VersionRecord& b) { return a.path == b.path; }),
      c.first.end());
  std::map<std::string, size_t> children;
  for (size_t i = 0; i < c.first.size(); ++i) {
    c.first[i].backup_time = t0 + static_cast<TimeNs>(i);
    c.first[i].wall_time = c.first[i].backup_time;
    ++children[fs::path(c.first[i].path).parent_path().string()];
  }
  size_t best = 0;
  for (const auto& [d, n] : children)
    if (n > best && d != "/home/user") best = n, c.big_dir = d;
  c.big_tree = "/home/user/Documents";
  c.pattern_many = "*.pdf";
  c.pattern_few = "*thesis-12*";
  return c;
}

struct Run {
  Id id;
  std::vector<VersionRecord> records;
};

// Splits a run into segments as the archiver does and ingests them.
void Ingest(Catalog& cat, uint64_t run_no, std::vector<VersionRecord> records, bool one_txn) {
  if (one_txn) Die(cat.Begin(), "begin");
  Id run_id = MadeUpId(run_no, 999);
  uint32_t seq = 0;
  for (size_t i = 0; i < records.size(); i += kSegmentRecords) {
    size_t end = std::min(records.size(), i + kSegmentRecords);
    std::vector<VersionRecord> part(records.begin() + static_cast<std::ptrdiff_t>(i),
                                    records.begin() + static_cast<std::ptrdiff_t>(end));
    repo::VersionSegment seg;
    seg.run_id = run_id;
    seg.sequence = seq++;
    seg.final = end == records.size();
    seg.device = kDevice;
    seg.created = part.back().wall_time;
    seg.files_new = part.size();
    Die(cat.AddSegment(MadeUpId(run_no, 1000 + seq), catalog::SegmentInfo::Of(seg), part),
        "ingest");
  }
  if (one_txn) Die(cat.Commit(), "commit");
}

// This thread's CPU time in ms: what a query costs, whatever else the
// machine is doing (the catalog file is in the page cache by then).
double CpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

// The least CPU time of `reps` runs of f.
template <typename F>
double Best(int reps, F&& f) {
  double best = 0;
  for (int i = 0; i < reps; ++i) {
    double a = CpuMs();
    f();
    double t = CpuMs() - a;
    if (i == 0 || t < best) best = t;
  }
  return best;
}

int Main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s tree DIR [DB] | home N [DB]\n", argv[0]);
    return 2;
  }
  std::string mode = argv[1];
  std::string db = argc > 3 ? argv[3] : "/tmp/catalog_bench.db";
  // Backed up now, as a backup would be: times relative to it stay realistic.
  const TimeNs t0 = NowNs();
  const TimeNs hour = 3600'000'000'000LL;
  auto tb = Clock::now();
  Corpus c = mode == "tree" ? WalkTree(argv[2], t0) : MakeHome(std::stoul(argv[2]), t0);
  std::printf("corpus: %zu records (built in %.0f ms); big folder %s; big tree %s\n",
              c.first.size(), Ms(tb, Clock::now()), c.big_dir.c_str(), c.big_tree.c_str());

  Die(Catalog::Remove(db), "remove");
  auto opened = Catalog::Open(db);
  Die(opened.status(), "open");
  std::unique_ptr<Catalog> cat = std::move(opened).value();

  auto ta = Clock::now();
  double ta_cpu = CpuMs();
  Ingest(*cat, 1, c.first, true);
  double ingest_ms = Ms(ta, Clock::now()), ingest_cpu = CpuMs() - ta_cpu;
  cat.reset();  // the last close checkpoints the WAL into the file
  uint64_t size1 = fs::file_size(db);

  // Run 2 (an hour later): every 10th file changed. Run 3: every 100th
  // changed, every 200th (offset 50) deleted.
  std::vector<VersionRecord> run2, run3;
  std::vector<size_t> files;
  for (size_t i = 0; i < c.first.size(); ++i)
    if (c.first[i].type == FileType::kFile) files.push_back(i);
  for (size_t k = 0; k < files.size(); ++k) {
    const VersionRecord& r = c.first[files[k]];
    if (k % 10 == 0) {
      VersionRecord v = r;
      v.backup_time = v.wall_time = t0 + hour + static_cast<TimeNs>(run2.size());
      v.size += 1;
      v.mtime = v.ctime = v.backup_time - 1000;
      FillContent(&v, 1'000'000'000 + k);
      run2.push_back(std::move(v));
    }
    if (k % 100 == 0 || k % 200 == 50) {
      VersionRecord v = r;
      v.backup_time = v.wall_time = t0 + 2 * hour + static_cast<TimeNs>(run3.size());
      if (k % 200 == 50) {
        VersionRecord t;
        t.path = r.path;
        t.device = r.device;
        t.backup_time = t.wall_time = v.backup_time;
        t.deleted = true;
        v = std::move(t);
      } else {
        v.size += 2;
        FillContent(&v, 2'000'000'000 + k);
      }
      run3.push_back(std::move(v));
    }
  }
  opened = Catalog::Open(db);
  Die(opened.status(), "open");
  cat = std::move(opened).value();
  auto tc = Clock::now();
  double tc_cpu = CpuMs();
  Ingest(*cat, 2, run2, false);
  Ingest(*cat, 3, run3, false);
  double incr_ms = Ms(tc, Clock::now()), incr_cpu = CpuMs() - tc_cpu;
  size_t total_versions = c.first.size() + run2.size() + run3.size();
  cat.reset();
  uint64_t size3 = fs::file_size(db);
  opened = Catalog::Open(db);
  Die(opened.status(), "open");
  cat = std::move(opened).value();

  size_t n = 0;
  auto count = [&n](const VersionRecord&) {
    ++n;
    return Status::OK();
  };
  const int reps = 5;
  std::printf("\n| measure | value (queries: CPU time) |\n|---|---|\n");
  std::printf("| versions after run 1 / after run 3 | %zu / %zu |\n", c.first.size(),
              total_versions);
  std::printf("| file after run 1 | %.1f MB, %.0f B/version |\n", size1 / 1e6,
              double(size1) / c.first.size());
  std::printf("| file after run 3 | %.1f MB, %.0f B/version |\n", size3 / 1e6,
              double(size3) / total_versions);
  std::printf("| ingest run 1 (one transaction) | %.0f ms, CPU %.0f ms (%.1f us/record) |\n",
              ingest_ms, ingest_cpu, ingest_cpu * 1000 / c.first.size());
  std::printf(
      "| ingest runs 2+3 (%zu records, a transaction per segment) | %.0f ms, CPU %.0f ms |\n",
      run2.size() + run3.size(), incr_ms, incr_cpu);

  double t = Best(reps, [&] {
    n = 0;
    Die(cat->ListTree(kDevice, c.big_dir, catalog::kLatest, false, count), "ls");
  });
  std::printf("| ListTree %s (%zu entries) | %.2f ms |\n", c.big_dir.c_str(), n, t);
  t = Best(reps, [&] {
    n = 0;
    Die(cat->ListTree(kDevice, c.big_tree, catalog::kLatest, true, count), "ls -R");
  });
  std::printf("| ListTree -R %s (%zu entries) | %.1f ms |\n", c.big_tree.c_str(), n, t);
  t = Best(3, [&] {
    n = 0;
    Die(cat->ListTree(kDevice, "/", catalog::kLatest, true, count), "ls -R /");
  });
  std::printf("| ListTree -R / latest (%zu entries) | %.0f ms |\n", n, t);
  t = Best(3, [&] {
    n = 0;
    Die(cat->ListTree(kDevice, "/", t0 + hour + hour / 2, true, count), "ls -R / at");
  });
  std::printf("| ListTree -R / at run 2 (%zu entries) | %.0f ms |\n", n, t);
  t = Best(3, [&] {
    n = 0;
    Die(cat->ListTree("", "/", catalog::kLatest, true, count), "ls -R / all");
  });
  std::printf("| ListTree -R / all devices (%zu entries) | %.0f ms |\n", n, t);

  // Files changed in runs 2 and 3 have 3 versions.
  std::vector<std::string> sample;
  for (size_t k = 0; k < files.size(); k += std::max<size_t>(1, files.size() / 1000))
    sample.push_back(c.first[files[k - k % 100]].path);
  size_t nv = 0;
  t = Best(reps, [&] {
    nv = 0;
    for (const auto& p : sample) {
      auto v = cat->Versions(kDevice, p);
      Die(v.status(), "versions");
      nv += v->size();
    }
  });
  std::printf("| Versions of a file (%zu files, %zu versions) | %.1f us/file |\n", sample.size(),
              nv, t * 1000 / sample.size());
  t = Best(reps, [&] {
    for (const auto& p : sample) Die(cat->Lookup(kDevice, p, t0 + hour + 1).status(), "lookup");
  });
  std::printf("| Lookup at a time | %.1f us/file |\n", t * 1000 / sample.size());
  std::vector<repo::VersionId> ids;
  for (size_t k = 0; k < c.first.size(); k += std::max<size_t>(1, c.first.size() / 1000))
    ids.push_back(repo::VersionIdOf(c.first[k]));
  t = Best(reps, [&] {
    for (const auto& id : ids) {
      auto v = cat->VersionById(id);
      Die(v.status(), "by id");
      if (!v->has_value()) Die(Status::NotFound("version id"), "by id");
    }
  });
  std::printf("| VersionById | %.1f us/version |\n", t * 1000 / ids.size());
  // The archiver's pattern: every path of a folder after the other.
  size_t skip_n = std::min<size_t>(c.first.size(), 20000);
  size_t skip_from = c.first.size() / 2 - skip_n / 2;
  t = Best(reps, [&] {
    for (size_t i = skip_from; i < skip_from + skip_n; ++i)
      Die(cat->LatestForSkip(kDevice, c.first[i].path).status(), "skip");
  });
  std::printf("| LatestForSkip (%zu paths in walk order) | %.2f us/path |\n", skip_n,
              t * 1000 / skip_n);
  for (const std::string& pattern : {c.pattern_many, c.pattern_few}) {
    t = Best(3, [&] {
      n = 0;
      Die(cat->Find(kDevice, pattern, count), "find");
    });
    std::printf("| Find %s (%zu found) | %.0f ms |\n", pattern.c_str(), n, t);
  }
  t = Best(3, [&] { Die(cat->GetTotals(kDevice).status(), "totals"); });
  std::printf("| GetTotals | %.0f ms |\n", t);
  t = Best(3, [&] { Die(cat->Devices().status(), "devices"); });
  std::printf("| Devices | %.0f ms |\n", t);
  t = Best(reps, [&] { Die(cat->MaxBackupTime().status(), "max"); });
  std::printf("| MaxBackupTime | %.3f ms |\n", t);
  t = Best(1, [&] { Die(cat->RemoveSegments({MadeUpId(2, 1001)}), "remove"); });
  std::printf("| RemoveSegments (one segment of run 2, %zu records) | %.0f ms |\n",
              std::min(run2.size(), kSegmentRecords), t);
  return 0;
}

}  // namespace
}  // namespace cairn

int main(int argc, char** argv) { return cairn::Main(argc, argv); }
