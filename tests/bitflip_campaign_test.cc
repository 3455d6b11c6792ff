// The bit-flip campaign (issue 15, docs/testing.md "Fault campaigns"): one
// repository with three backups and a forget, then, round after round, one
// random byte of one object changed on a fresh copy, followed by
// `cairn check --read-data` and a full restore with a fresh catalog.
//
// Per round, whatever the byte:
//   - no command crashes or hangs (each has CAIRN_BITFLIP_TIMEOUT seconds);
//   - check fails and names the object when it is authenticated (packs,
//     index objects, version segments, the config); a key slot (plain JSON,
//     design.md §3.2) is either harmless (everything works) or refused,
//     named, with nothing restored;
//   - every file the restore writes holds a version that was backed up for
//     that path, never other bytes; a restore that exits 0 wrote exactly the
//     newest version of every file and nothing else;
//   - every file the damage cannot reach is restored with its newest content,
//     and one that is missing is named on stderr.
//
// Knobs: CAIRN_BITFLIP_ROUNDS (default 24), CAIRN_BITFLIP_SEED (round i uses
// seed + i - 1; default random, printed), CAIRN_BITFLIP_SUMMARY (a Markdown
// file with the figures), CAIRN_BITFLIP_KEEP (a folder where the damaged
// repository of every failed round is kept). scripts/fault-campaign bitflip
// runs it.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "backend/local/local_backend.h"
#include "crypto/crypto.h"
#include "e2e_util.h"
#include "repo/index.h"
#include "repo/repository.h"

namespace cairn::e2e {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

uint64_t EnvNumber(const char* name, uint64_t fallback) {
  std::string v = GetEnv(name);
  if (v.empty()) return fallback;
  return std::stoull(v);
}

std::string Sha256Hex(const std::string& data) {
  return crypto::Sha256::Digest(AsBytes(data)).Hex();
}

// Regular files under `root`: path relative to it -> SHA-256 of the content.
std::map<std::string, std::string> HashFiles(const std::string& root) {
  std::map<std::string, std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_symlink() || !it->is_regular_file()) continue;
    out[fs::relative(it->path(), root).string()] = Sha256Hex(ReadFile(it->path().string()));
  }
  return out;
}

// The kinds of object a round damages (design.md §2; locks exist only while a
// command runs).
enum class Kind { kPack, kIndex, kSegment, kConfig, kKeySlot };
constexpr Kind kKinds[] = {Kind::kPack, Kind::kIndex, Kind::kSegment, Kind::kConfig,
                           Kind::kKeySlot};

const char* KindName(Kind k) {
  switch (k) {
    case Kind::kPack:
      return "pack";
    case Kind::kIndex:
      return "index object";
    case Kind::kSegment:
      return "version segment";
    case Kind::kConfig:
      return "config";
    case Kind::kKeySlot:
      return "key slot";
  }
  return "?";
}

struct StoredObject {
  Kind kind;
  std::string rel;   // path inside the repository folder
  std::string name;  // what check must name: the id, or "config"
  uint64_t size = 0;
};

// A command's outcome, with a hang cut short.
struct Outcome {
  ProcResult r;
  bool hung = false;
  double seconds = 0;
};

Outcome RunWithTimeout(const Sandbox& sb, const std::vector<std::string>& args,
                       const CairnRunOptions& o, int timeout_s) {
  const auto start = Clock::now();
  Process p = sb.SpawnCairn(args, o);
  Outcome out;
  while (true) {
    if (auto r = p.TryWait()) {
      out.r = std::move(*r);
      break;
    }
    if (Clock::now() - start > std::chrono::seconds(timeout_s)) {
      out.hung = true;
      p.Kill(SIGKILL);
      out.r = p.Wait();
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  out.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return out;
}

class BitflipCampaignTest : public ::testing::Test {
 protected:
  // The source tree's history: what was backed up, per relative path.
  std::map<std::string, std::set<std::string>> versions_;  // every content hash backed up
  std::map<std::string, std::string> newest_;              // current files -> newest hash
  std::string src_;

  void WriteTree(std::mt19937_64& rng) {
    for (int i = 0; i < 24; ++i)
      WriteFile(
          src_ + "/docs/note" + std::to_string(i) + ".txt",
          CompressibleData(2000 + rng() % 40000, "note " + std::to_string(i) + " line of text\n"));
    for (int i = 0; i < 8; ++i)
      WriteFile(src_ + "/photos/p" + std::to_string(i) + ".jpg",
                RandomData(150000 + rng() % 550000, rng()));
    // Several chunks each (the chunker's average is 1 MiB).
    WriteFile(src_ + "/big/video.mp4", RandomData(5u << 20, rng()));
    WriteFile(src_ + "/big/archive.tar", RandomData(3u << 20, rng()));
    // Deduplicated: the same bytes under two paths.
    WriteFile(src_ + "/copies/p0.jpg", ReadFile(src_ + "/photos/p0.jpg"));
    WriteFile(src_ + "/copies/note0.txt", ReadFile(src_ + "/docs/note0.txt"));
    WriteFile(src_ + "/empty", "");
    WriteFile(src_ + "/deep/a/b/c/d/leaf.txt", "a leaf\n");
  }

  void Snapshot() {
    newest_ = HashFiles(src_);
    for (const auto& [rel, hash] : newest_) versions_[rel].insert(hash);
  }
};

TEST_F(BitflipCampaignTest, EveryFlipIsDetectedAndNoFileIsRestoredWrong) {
  const uint64_t rounds = EnvNumber("CAIRN_BITFLIP_ROUNDS", 24);
  uint64_t seed = EnvNumber("CAIRN_BITFLIP_SEED", 0);
  if (seed == 0) seed = std::random_device{}() % 1000000000 + 1;
  const int timeout_s = static_cast<int>(EnvNumber("CAIRN_BITFLIP_TIMEOUT", 120));
  const std::string keep = GetEnv("CAIRN_BITFLIP_KEEP");
  std::printf("bit-flip campaign: %llu rounds, seed %llu\n",
              static_cast<unsigned long long>(rounds), static_cast<unsigned long long>(seed));
  const auto campaign_start = Clock::now();

  // ---- The repository: small packs, three backups, a forget.
  Sandbox sb;
  src_ = sb.Path("src");
  const std::string pristine = sb.repo();
  {
    crypto::Init();
    auto be = backend::LocalBackend::Open(pristine);
    ASSERT_TRUE(be.ok()) << be.status().ToString();
    repo::InitOptions o;
    o.kdf = crypto::CheapKdfParams();
    o.pack_size = 512 << 10;  // many packs
    auto r = repo::Repository::Init(*be, Sandbox::kPassword, o);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  std::mt19937_64 tree_rng(20261130);
  WriteTree(tree_rng);
  ProcResult r = sb.Cairn({"backup", src_});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  Snapshot();
  // Second backup: edits, a rewrite, a deletion, new files, a patched big file.
  for (int i = 0; i < 6; ++i)
    AppendFile(src_ + "/docs/note" + std::to_string(i) + ".txt", "edited once\n");
  WriteFile(src_ + "/photos/p1.jpg", RandomData(300000, 11));
  fs::remove(src_ + "/docs/note20.txt");
  WriteFile(src_ + "/new/report.pdf", RandomData(400000, 12));
  WriteFile(src_ + "/new/todo.txt", "buy milk\n");
  PatchFile(src_ + "/big/video.mp4", 2u << 20, RandomData(4096, 13));
  r = sb.Cairn({"backup", src_});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  Snapshot();
  // Third: more edits, a photo gone, another new file.
  for (int i = 0; i < 3; ++i)
    AppendFile(src_ + "/docs/note" + std::to_string(i) + ".txt", "edited twice\n");
  fs::remove(src_ + "/photos/p7.jpg");
  WriteFile(src_ + "/new/later.txt", CompressibleData(9000, "later\n"));
  r = sb.Cairn({"backup", src_});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  Snapshot();
  // A forget segment: the oldest versions of the twice-edited notes go.
  r = sb.Cairn({"forget", "--keep-last", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  r = sb.Cairn({"check", "--read-data"});
  ASSERT_EQ(r.exit_code, 0) << "the undamaged repository must check clean\n" << r.Describe();

  // ---- What the repository holds: objects by kind, and for every object the
  // current files its loss may take (their newest version depends on it).
  std::map<Kind, std::vector<StoredObject>> objects;
  std::map<std::string, std::set<std::string>> affected_by;  // object name -> relative paths
  {
    auto be = backend::LocalBackend::Open(pristine);
    ASSERT_TRUE(be.ok());
    auto repo = repo::Repository::Open(*be, Sandbox::kPassword);
    ASSERT_TRUE(repo.ok()) << repo.status().ToString();
    std::map<Id, std::set<Id>> chunk_packs;            // chunk -> packs holding it
    std::map<std::string, std::pair<TimeNs, Id>> top;  // abs path -> newest record's time, segment
    std::map<std::string, std::vector<Id>> top_chunks;
    for (const auto& e : fs::recursive_directory_iterator(pristine)) {
      if (!e.is_regular_file()) continue;
      std::string rel = fs::relative(e.path(), pristine).string();
      std::string base = e.path().filename().string();
      StoredObject obj{Kind::kPack, rel, base, e.file_size()};
      if (rel == "config") {
        obj.kind = Kind::kConfig;
        obj.name = "config";
      } else if (rel.starts_with("keys/")) {
        obj.kind = Kind::kKeySlot;
        obj.name = base.substr(0, 16);  // messages name a slot by its first 16 hex digits
      } else if (rel.starts_with("data/")) {
        obj.kind = Kind::kPack;
      } else if (rel.starts_with("index/")) {
        obj.kind = Kind::kIndex;
        auto id = Id::FromHex(base);
        ASSERT_TRUE(id.ok());
        auto body = (*repo)->LoadSealed(backend::ObjectType::kIndex, "index", *id);
        ASSERT_TRUE(body.ok());
        auto packs = repo::DecodeIndexBody(*body);
        ASSERT_TRUE(packs.ok());
        for (const auto& p : *packs) {
          for (const auto& c : p.entries) chunk_packs[c.id].insert(p.pack_id);
        }
      } else if (rel.starts_with("versions/")) {
        obj.kind = Kind::kSegment;
        auto id = Id::FromHex(base);
        ASSERT_TRUE(id.ok());
        auto seg = (*repo)->LoadSegment(*id);
        ASSERT_TRUE(seg.ok());
        for (const auto& rec : seg->records) {
          auto it = top.find(rec.path);
          if (it == top.end() || it->second.first < rec.backup_time) {
            top[rec.path] = {rec.backup_time, *id};
            top_chunks[rec.path] = rec.deleted ? std::vector<Id>{} : rec.chunks;
          }
        }
      } else {
        continue;  // locks/*.flock and the like
      }
      objects[obj.kind].push_back(obj);
    }
    // Relative paths of the current files, by the absolute path records use.
    std::map<std::string, std::string> rel_of;
    for (const auto& [rel, hash] : newest_) rel_of[src_ + "/" + rel] = rel;
    for (const auto& [path, t_seg] : top) {
      auto rel = rel_of.find(path);
      if (rel == rel_of.end()) continue;  // a folder or a deleted file
      affected_by[t_seg.second.Hex()].insert(rel->second);
      for (const Id& c : top_chunks[path])
        for (const Id& pack : chunk_packs[c]) affected_by[pack.Hex()].insert(rel->second);
    }
    // An index object reaches no file: the packs it lists are intact, and
    // readers find them by their own headers (design.md §7).
  }
  for (Kind k : kKinds) ASSERT_FALSE(objects[k].empty()) << "no " << KindName(k);
  std::printf("repository: %zu packs, %zu index objects, %zu segments, %zu key slot(s)\n",
              objects[Kind::kPack].size(), objects[Kind::kIndex].size(),
              objects[Kind::kSegment].size(), objects[Kind::kKeySlot].size());

  // ---- The rounds.
  struct KindFigures {
    int rounds = 0, check_failed = 0, named = 0, harmless = 0;
    int restore_complete = 0, restore_partial = 0, restore_refused = 0;
    uint64_t unaffected = 0, unaffected_restored = 0, files_missing = 0;
    uint64_t files_older_reported = 0;
    int failed_rounds = 0;
    double check_s = 0, restore_s = 0;
  };
  std::map<Kind, KindFigures> fig;
  int failed_rounds = 0, hangs = 0, crashes = 0;
  std::vector<std::string> failures;
  const std::string round_repo = sb.Path("round-repo");
  const std::string all_files_count = std::to_string(newest_.size());

  for (uint64_t round = 1; round <= rounds; ++round) {
    const uint64_t round_seed = seed + round - 1;
    std::mt19937_64 rng(round_seed);
    const Kind kind = kKinds[rng() % std::size(kKinds)];
    const auto& pool = objects[kind];
    const StoredObject& obj = pool[rng() % pool.size()];
    const uint64_t offset = rng() % obj.size;
    const uint8_t mask = static_cast<uint8_t>(1 + rng() % 255);
    KindFigures& f = fig[kind];
    ++f.rounds;
    const std::string where = "round " + std::to_string(round) + " (seed " +
                              std::to_string(round_seed) + "): " + KindName(kind) + " " + obj.rel +
                              ", byte " + std::to_string(offset) + " ^ " + std::to_string(mask);
    SCOPED_TRACE(where);
    std::vector<std::string> problems;

    // A fresh copy, damaged.
    fs::remove_all(round_repo);
    fs::copy(pristine, round_repo, fs::copy_options::recursive);
    {
      const std::string p = round_repo + "/" + obj.rel;
      int fd = open(p.c_str(), O_RDWR);
      ASSERT_GE(fd, 0) << p;
      unsigned char c = 0;
      ASSERT_EQ(pread(fd, &c, 1, static_cast<off_t>(offset)), 1);
      c ^= mask;
      ASSERT_EQ(pwrite(fd, &c, 1, static_cast<off_t>(offset)), 1);
      close(fd);
    }
    // A new machine for each command: no catalog, no preferred key slot.
    auto fresh = [&](const std::string& name) {
      const std::string cache = sb.Path("cache-" + name);
      fs::remove_all(cache);
      MakeDirs(cache, 0700);
      CairnRunOptions o;
      o.set = {{"CAIRN_REPOSITORY", round_repo}, {"XDG_CACHE_HOME", cache}};
      return o;
    };
    Outcome check = RunWithTimeout(sb, {"check", "--read-data"}, fresh("check"), timeout_s);
    f.check_s += check.seconds;
    const std::string check_text = check.r.out + check.r.err;
    if (check.hung)
      problems.push_back("check hung (killed after " + std::to_string(timeout_s) + " s)");
    if (check.r.term_signal != 0)
      problems.push_back("check crashed with signal " + std::to_string(check.r.term_signal));
    const bool check_failed = check.r.exit_code != 0;
    const bool named = check_text.find(obj.name) != std::string::npos;
    if (check_failed) ++f.check_failed;
    if (check_failed && named) ++f.named;
    if (kind != Kind::kKeySlot) {
      if (!check_failed)
        problems.push_back("check did not detect the damage");
      else if (!named)
        problems.push_back("check does not name " + obj.name);
    } else if (check_failed && !named) {
      problems.push_back("check refused the repository without naming the key slot " + obj.name);
    }

    const std::string target = sb.Path("restore");
    fs::remove_all(target);
    Outcome restore =
        RunWithTimeout(sb, {"restore", src_, "--to", target}, fresh("restore"), timeout_s);
    f.restore_s += restore.seconds;
    if (restore.hung)
      problems.push_back("restore hung (killed after " + std::to_string(timeout_s) + " s)");
    if (restore.r.term_signal != 0)
      problems.push_back("restore crashed with signal " + std::to_string(restore.r.term_signal));
    const bool restore_ok = restore.r.exit_code == 0;
    const std::map<std::string, std::string> got = HashFiles(target + src_);
    const uint64_t written = CountFiles(target);

    // Every file written holds a version of its path.
    for (const auto& [rel, hash] : got) {
      auto v = versions_.find(rel);
      if (v == versions_.end()) {
        problems.push_back("restore wrote a file that was never backed up: " + rel);
      } else if (!v->second.count(hash)) {
        problems.push_back("WRONG CONTENT restored: " + rel);
      } else if (!newest_.count(rel) || newest_.at(rel) != hash) {
        ++f.files_older_reported;
        if (restore_ok) problems.push_back("restore exited 0 with an older version of " + rel);
      }
    }
    if (written != got.size())
      problems.push_back("restore wrote " + std::to_string(written - got.size()) +
                         " file(s) outside the restored folder");
    // Exit 0: exactly the newest versions.
    if (restore_ok) {
      for (const auto& [rel, hash] : newest_)
        if (!got.count(rel)) problems.push_back("restore exited 0 without " + rel);
      ++f.restore_complete;
    } else if (got.empty()) {
      ++f.restore_refused;
    } else {
      ++f.restore_partial;
    }
    // What the damage cannot reach.
    std::set<std::string> affected;
    bool opens = true;
    if (kind == Kind::kConfig || (kind == Kind::kKeySlot && check_failed)) {
      opens = false;
      for (const auto& [rel, hash] : newest_) affected.insert(rel);
      if (!got.empty()) problems.push_back("restore wrote files from an unusable repository");
      if (restore_ok) problems.push_back("restore exited 0 on an unusable repository");
    } else if (auto a = affected_by.find(obj.name); a != affected_by.end()) {
      affected = a->second;
    }
    if (kind == Kind::kKeySlot && !check_failed) {
      ++f.harmless;
      if (!restore_ok) problems.push_back("check passed but the restore failed");
    }
    if (kind == Kind::kSegment && restore_ok)
      problems.push_back("restore exited 0 although a version segment could not be read");
    for (const auto& [rel, hash] : newest_) {
      const bool hit = affected.count(rel) > 0;
      if (!hit) ++f.unaffected;
      auto g = got.find(rel);
      if (g != got.end() && g->second == hash) {
        if (!hit) ++f.unaffected_restored;
        continue;
      }
      if (!hit) {
        problems.push_back("an unaffected file was not restored: " + rel);
        continue;
      }
      if (g == got.end()) {
        ++f.files_missing;
        if (restore_ok) continue;  // reported above
        if (opens && kind != Kind::kSegment &&
            restore.r.err.find(src_ + "/" + rel) == std::string::npos)
          problems.push_back("a file that was not restored is not named: " + rel);
      }
    }

    if (!problems.empty()) {
      ++failed_rounds;
      ++f.failed_rounds;
      if (check.hung || restore.hung) ++hangs;
      if (check.r.term_signal || restore.r.term_signal) ++crashes;
      std::string msg = where + ":";
      for (const auto& p : problems) msg += "\n  - " + p;
      msg += "\n  check: " + check.r.Describe() + "\n  restore: " + restore.r.Describe();
      if (!keep.empty()) {
        const std::string dest = keep + "/round-" + std::to_string(round);
        fs::remove_all(dest);
        fs::create_directories(keep);
        fs::copy(round_repo, dest, fs::copy_options::recursive);
        msg += "\n  the damaged repository is kept in " + dest;
      }
      ADD_FAILURE() << msg;
      failures.push_back(where);
      if (failed_rounds >= 20) {
        ADD_FAILURE() << "stopping after 20 failed rounds";
        break;
      }
    }
    if (round % 50 == 0 || round == rounds)
      std::printf("round %llu of %llu: %d failed so far\n", static_cast<unsigned long long>(round),
                  static_cast<unsigned long long>(rounds), failed_rounds);
  }
  const double total_s = std::chrono::duration<double>(Clock::now() - campaign_start).count();

  // ---- The figures.
  const std::string summary = GetEnv("CAIRN_BITFLIP_SUMMARY");
  if (!summary.empty()) {
    std::ofstream out(summary);
    char buf[512];
    out << "# Bit-flip campaign\n\n"
           "`scripts/fault-campaign bitflip` (tests/bitflip_campaign_test.cc): per round, one "
           "random byte of one random object (kind first, then object, then offset) XORed with "
           "a random non-zero mask, on a fresh copy of a repository of three backups and a "
           "forget; then `cairn check --read-data` and `cairn restore` of the whole tree, each "
           "with a fresh catalog and cache.\n\n";
    out << "| | |\n|---|---|\n";
    out << "| date | " << Rfc3339(NowNs(), true) << " |\n";
    out << "| commit | "
        << (GetEnv("CAIRN_CAMPAIGN_COMMIT").empty() ? "?" : GetEnv("CAIRN_CAMPAIGN_COMMIT"))
        << " |\n";
    out << "| rounds | " << rounds << " |\n";
    out << "| seed | " << seed << " (round i: " << seed << " + i - 1) |\n";
    out << "| repository | " << objects[Kind::kPack].size() << " packs, "
        << objects[Kind::kIndex].size() << " index objects, " << objects[Kind::kSegment].size()
        << " version segments (one of them a forget segment), the config, "
        << objects[Kind::kKeySlot].size() << " key slot; " << all_files_count
        << " files in the newest backup |\n";
    out << "| result | "
        << (failed_rounds == 0 ? "**all passed**"
                               : "**" + std::to_string(failed_rounds) + " rounds FAILED**")
        << "; hangs " << hangs << ", crashes " << crashes << " |\n";
    std::snprintf(buf, sizeof buf, "| total time | %.0f s |\n\n", total_s);
    out << buf;
    out << "| object | rounds | check failed | named it | restore: exit 0, complete | "
           "partial, reported | refused, nothing written | unaffected files restored | "
           "affected files missing | older versions (non-zero exit) | failed rounds | "
           "check / restore mean |\n";
    out << "|---|---|---|---|---|---|---|---|---|---|---|---|\n";
    for (Kind k : kKinds) {
      const KindFigures& x = fig[k];
      std::snprintf(buf, sizeof buf,
                    "| %s | %d | %d | %d | %d | %d | %d | %llu of %llu | %llu | %llu | %d | "
                    "%.2f / %.2f s |\n",
                    KindName(k), x.rounds, x.check_failed, x.named, x.restore_complete,
                    x.restore_partial, x.restore_refused,
                    static_cast<unsigned long long>(x.unaffected_restored),
                    static_cast<unsigned long long>(x.unaffected),
                    static_cast<unsigned long long>(x.files_missing),
                    static_cast<unsigned long long>(x.files_older_reported), x.failed_rounds,
                    x.rounds ? x.check_s / x.rounds : 0, x.rounds ? x.restore_s / x.rounds : 0);
      out << buf;
    }
    out << "\nA key slot is plain JSON (design.md §3.2): a flip in its label or creation time is "
           "harmless ("
        << fig[Kind::kKeySlot].harmless
        << " rounds here: check and restore passed); any other is refused, naming the slot.\n";
    if (!failures.empty()) {
      out << "\nFailed rounds:\n\n";
      for (const auto& w : failures) out << "- " << w << "\n";
    }
  }
  EXPECT_EQ(failed_rounds, 0);
}

}  // namespace
}  // namespace cairn::e2e
