// End-to-end tests of the cairn CLI: every test runs the real binary in its
// own sandbox (temporary HOME and XDG folders, repository, source trees), so
// nothing touches the user's files. See tests/e2e_util.h.
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "e2e_util.h"

namespace cairn::e2e {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

constexpr int64_t kSec = 1000000000LL;
constexpr uint64_t kMiB = 1 << 20;

std::string JoinArgs(const std::vector<std::string>& args) {
  std::string s = "cairn";
  for (const auto& a : args) s += " " + Printable(a);
  return s;
}

std::set<std::string> PathsOf(const json& arr) {
  std::set<std::string> out;
  if (!arr.is_array()) return out;
  for (const auto& item : arr)
    if (item.is_object() && item.contains("path") && item["path"].is_string())
      out.insert(item["path"].get<std::string>());
  return out;
}

class CliE2eTest : public ::testing::Test {
 protected:
  Sandbox sb;

  std::string src() const { return sb.Path("src"); }

  // Runs cairn and expects the exit code `want`.
  ProcResult Expect(int want, const std::vector<std::string>& args, const CairnRunOptions& o = {}) {
    ProcResult r = sb.Cairn(args, o);
    EXPECT_EQ(r.exit_code, want) << JoinArgs(args) << "\n" << r.Describe();
    return r;
  }
  ProcResult Ok(const std::vector<std::string>& args, const CairnRunOptions& o = {}) {
    return Expect(0, args, o);
  }
  // Runs `cairn --json ARGS`, expects exit 0 and returns the parsed output.
  json Json(const std::vector<std::string>& args, const CairnRunOptions& o = {}) {
    std::vector<std::string> full{"--json"};
    full.insert(full.end(), args.begin(), args.end());
    ProcResult r = Ok(full, o);
    try {
      return json::parse(r.out);
    } catch (const std::exception& e) {
      ADD_FAILURE() << JoinArgs(full) << ": output is not JSON (" << e.what() << ")\n"
                    << r.Describe();
      return json();
    }
  }
  json Backup(const std::vector<std::string>& paths, const CairnRunOptions& o = {}) {
    std::vector<std::string> args{"backup"};
    args.insert(args.end(), paths.begin(), paths.end());
    return Json(args, o);
  }
  std::set<std::string> LsPaths(const std::vector<std::string>& args,
                                const CairnRunOptions& o = {}) {
    std::vector<std::string> full{"ls"};
    full.insert(full.end(), args.begin(), args.end());
    return PathsOf(Json(full, o));
  }
  std::string Sha256Sum(const std::string& path) {
    ProcResult r = sb.Run({"sha256sum", path});
    EXPECT_EQ(r.exit_code, 0) << r.Describe();
    return r.out.substr(0, 64);
  }
  void ExpectSameTree(const std::string& expected, const std::string& actual,
                      const CompareOptions& o = {}) {
    std::vector<std::string> diffs = CompareTrees(expected, actual, o);
    std::string all;
    for (const auto& d : diffs) all += "  " + d + "\n";
    EXPECT_TRUE(diffs.empty()) << expected << " vs " << actual << ":\n" << all;
  }
};

// ---------------------------------------------------------------------------
// 0. The tree comparison itself notices every kind of difference (so the
// round-trip assertions below can fail).

TEST_F(CliE2eTest, CompareTreesDetectsDifferences) {
  const std::string a = sb.Path("a");
  MakeDirs(a + "/d");
  WriteFile(a + "/f.txt", "content");
  WriteFile(a + "/d/g.txt", "more");
  ASSERT_EQ(link((a + "/f.txt").c_str(), (a + "/d/h.txt").c_str()), 0);
  ASSERT_EQ(symlink("f.txt", (a + "/l").c_str()), 0);
  MakeSparseFile(a + "/sparse", 8 * kMiB, {{kMiB, "x"}});
  bool xattrs = TrySetXattr(a + "/d/g.txt", "user.k", "v");
  SetMtime(a + "/d", 1400000000LL * kSec + 1);
  SetMtime(a + "/f.txt", 1400000000LL * kSec + 2);
  int n = 0;
  // Copies `a` with cp -a, applies `change` to the copy and returns the differences.
  auto diffs = [&](const std::function<void(const std::string&)>& change) {
    std::string b = sb.Path("b" + std::to_string(n++));
    EXPECT_EQ(sb.Run({"cp", "-a", "--sparse=always", a, b}).exit_code, 0);
    change(b);
    return CompareTrees(a, b);
  };
  EXPECT_EQ(diffs([&](const std::string&) {}), std::vector<std::string>{});
  EXPECT_FALSE(diffs([&](const std::string& b) { PatchFile(b + "/d/g.txt", 1, "X"); }).empty());
  EXPECT_FALSE(diffs([&](const std::string& b) { Chmod(b + "/f.txt", 0600); }).empty());
  EXPECT_FALSE(
      diffs([&](const std::string& b) { SetMtime(b + "/d", 1400000000LL * kSec); }).empty());
  EXPECT_FALSE(diffs([&](const std::string& b) { SetMtime(b, 1400000000LL * kSec); }).empty());
  EXPECT_FALSE(diffs([&](const std::string& b) {
                 int64_t t = MtimeNs(b + "/d");
                 unlink((b + "/l").c_str());
                 EXPECT_EQ(symlink("d", (b + "/l").c_str()), 0);
                 SetMtime(b + "/l", MtimeNs(a + "/l"));
                 SetMtime(b + "/d", t);
                 SetMtime(b, MtimeNs(a));
               }).empty());
  EXPECT_FALSE(diffs([&](const std::string& b) {
                 std::string data = ReadFile(b + "/d/h.txt");
                 unlink((b + "/d/h.txt").c_str());
                 WriteFile(b + "/d/h.txt", data);
                 SetMtime(b + "/d/h.txt", MtimeNs(b + "/f.txt"));
                 SetMtime(b + "/d", MtimeNs(a + "/d"));
               }).empty());
  EXPECT_FALSE(diffs([&](const std::string& b) {
                 WriteFile(b + "/sparse", std::string(8 * kMiB, '\0'));
                 PatchFile(b + "/sparse", kMiB, "x");
                 SetMtime(b + "/sparse", MtimeNs(a + "/sparse"));
                 SetMtime(b, MtimeNs(a));
               }).empty());
  EXPECT_FALSE(diffs([&](const std::string& b) { WriteFile(b + "/d/extra", ""); }).empty());
  EXPECT_FALSE(diffs([&](const std::string& b) { unlink((b + "/d/g.txt").c_str()); }).empty());
  if (xattrs) {
    EXPECT_FALSE(
        diffs([&](const std::string& b) { TrySetXattr(b + "/d/g.txt", "user.k", "w"); }).empty());
  }
  if (geteuid() == 0) {
    EXPECT_FALSE(diffs([&](const std::string& b) {
                   EXPECT_EQ(lchown((b + "/l").c_str(), 7, 7), 0);
                 }).empty());
  }
}

// ---------------------------------------------------------------------------
// 1. Everything a tree can hold survives a backup and a restore.

TEST_F(CliE2eTest, FullRoundTripRestoresContentAndMetadata) {
  const std::string s = src();
  MakeDirs(s);
  WriteFile(s + "/empty.txt", "");
  WriteFile(s + "/small.txt", "hello, cairn\n", 0600);
  WriteFile(s + "/random.bin", RandomData(3 * kMiB + 12345, 1));
  WriteFile(s + "/compressible.txt", CompressibleData(2 * kMiB));
  MakeDirs(s + "/emptydir");
  Chmod(s + "/emptydir", 0700);
  MakeDirs(s + "/nested/a/b/c");
  WriteFile(s + "/nested/a/b/c/deep.sh", "#!/bin/sh\necho deep\n", 0755);
  WriteFile(s + "/nested/a/mid.txt", "middle\n", 0640);
  Chmod(s + "/nested/a/b", 0700);
  ASSERT_EQ(symlink("nested/a/b/c/deep.sh", (s + "/link-relative").c_str()), 0);
  ASSERT_EQ(symlink("../does/not/exist", (s + "/nested/link-dangling").c_str()), 0);
  WriteFile(s + "/hard1.txt", "two names, one inode\n");
  ASSERT_EQ(link((s + "/hard1.txt").c_str(), (s + "/nested/hard2.txt").c_str()), 0);
  WriteFile(s + "/with space.txt", "spaces\n");
  WriteFile(s + "/new\nline.txt", "newline in the name\n");
  WriteFile(s + "/bad\xff"
                "byte.bin",
            std::string("\x00\xff\x01", 3));
  MakeDirs(s + "/dir with space/\xfe\xfdsub");
  WriteFile(s + "/dir with space/\xfe\xfdsub/f", "inside odd folders\n", 0600);
  // 64 MiB with two small data regions.
  const uint64_t kSparseSize = 64 * kMiB;
  MakeSparseFile(s + "/sparse.img", kSparseSize,
                 {{1 * kMiB, RandomData(4096, 2)}, {40 * kMiB + 100, RandomData(5000, 3)}});
  ASSERT_EQ(mkfifo((s + "/fifo").c_str(), 0640), 0);
  // A socket: recorded or skipped, never an error (restore does not recreate it).
  {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    struct sockaddr_un addr {};
    addr.sun_family = AF_UNIX;
    std::string sock = s + "/sock";
    ASSERT_LT(sock.size(), sizeof(addr.sun_path));
    memcpy(addr.sun_path, sock.c_str(), sock.size() + 1);
    ASSERT_EQ(bind(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof(addr)), 0);
    close(fd);
  }
  bool xattrs = TrySetXattr(s + "/small.txt", "user.comment", "a note");
  if (xattrs) {
    TrySetXattr(s + "/small.txt", "user.binary", std::string("\x00\x01\xff", 3));
    TrySetXattr(s + "/nested", "user.folder", "folder attribute");
  } else {
    std::cerr << "extended attributes not supported here; not tested\n";
  }
  bool root = geteuid() == 0;
  if (root) {
    ASSERT_EQ(lchown((s + "/nested/a/mid.txt").c_str(), 1234, 2345), 0);
    ASSERT_EQ(lchown((s + "/emptydir").c_str(), 4321, 5432), 0);
    ASSERT_EQ(lchown((s + "/link-relative").c_str(), 1111, 2222), 0);
  }
  // Distinctive mtimes everywhere, directories last (deepest first).
  Tree before = ScanTree(s);
  int64_t t = 1500000000LL * kSec + 123456789;
  int k = 0;
  for (auto it = before.rbegin(); it != before.rend(); ++it) {
    std::string p = it->first.empty() ? s : s + "/" + it->first;
    SetMtime(p, t + k * 1000 * kSec + k);
    ++k;
  }
  ASSERT_TRUE(ScanTree(s).at("sparse.img").sparse()) << "the temp file system has no holes";

  Ok({"init"});
  json b = Backup({s});
  EXPECT_EQ(b.value("errors", json::array()).size(), 0u) << b.dump();
  EXPECT_EQ(b.value("partial", true), false);
  EXPECT_GE(b.value("files_new", 0), 10);

  const std::string to = sb.Path("restored");
  json r = Json({"restore", s, "--to", to});
  EXPECT_EQ(r.value("partial", true), false) << r.dump();
  const std::string restored = to + s;
  CompareOptions opts;
  opts.ignore = {"sock"};
  ExpectSameTree(s, restored, opts);

  Tree got = ScanTree(restored);
  ASSERT_TRUE(got.count("sparse.img"));
  EXPECT_EQ(got["sparse.img"].size, kSparseSize);
  EXPECT_LT(got["sparse.img"].blocks * 512, kSparseSize / 16)
      << "the sparse file was restored with its holes filled";
  ASSERT_TRUE(got.count("nested/hard2.txt"));
  EXPECT_EQ(got["nested/hard2.txt"].nlink, 2u);
  EXPECT_EQ(got["nested/link-dangling"].link_target, "../does/not/exist");
  EXPECT_EQ(got["fifo"].type, 'p');
  if (xattrs) {
    EXPECT_EQ(got["small.txt"].xattrs["user.comment"], "a note");
  }
  if (root) {
    EXPECT_EQ(got["nested/a/mid.txt"].uid, 1234u);
  }

  // A sub-folder alone: the hard link whose first name is outside it comes
  // back as a copy of the content.
  const std::string to2 = sb.Path("restored-nested");
  Ok({"restore", s + "/nested", "--to", to2});
  Tree sub = ScanTree(to2 + s + "/nested");
  EXPECT_EQ(sub["hard2.txt"].type, 'f');
  EXPECT_EQ(ReadFile(to2 + s + "/nested/hard2.txt"), "two names, one inode\n");
  EXPECT_FALSE(Exists(to2 + s + "/small.txt"));
  CompareOptions sub_opts;
  sub_opts.hardlinks = false;
  ExpectSameTree(s + "/nested", to2 + s + "/nested", sub_opts);

  // Cross-check with diff(1); fifos are always reported (and the socket is
  // not restored), anything else is a difference.
  ProcResult d = sb.Run({"diff", "-r", "--no-dereference", s, restored});
  EXPECT_LE(d.exit_code, 1) << d.Describe();
  std::string unexpected;
  size_t pos = 0;
  while (pos < d.out.size()) {
    size_t end = d.out.find('\n', pos);
    if (end == std::string::npos) end = d.out.size();
    std::string line = d.out.substr(pos, end - pos);
    pos = end + 1;
    bool fifo =
        line.rfind("File ", 0) == 0 && line.find(" is a fifo while file ") != std::string::npos;
    bool sock = line == "Only in " + s + ": sock";
    if (!fifo && !sock) unexpected += line + "\n";
  }
  EXPECT_EQ(unexpected, "") << "diff -r found differences";
}

// ---------------------------------------------------------------------------
// 2. A second backup records new versions; old ones stay restorable.

TEST_F(CliE2eTest, VersionsAndRestoreAtTime) {
  const std::string s = src();
  MakeDirs(s + "/sub");
  // Several times the chunker's largest chunk (4 MiB), so that "only the
  // chunks around the edit" is a clear margin whatever the repository's
  // random chunker key: in an 8 MiB file, two large chunks around the edit
  // once came to more than 3/4 of it.
  const uint64_t kBig = 32 * kMiB;
  WriteFile(s + "/big.bin", RandomData(kBig, 10));
  WriteFile(s + "/doc.txt", "first draft\n");
  WriteFile(s + "/log.txt", "line 1\n");
  WriteFile(s + "/gone.txt", "deleted after the first backup\n", 0600);
  WriteFile(s + "/sub/gone2.txt", "also deleted\n");
  WriteFile(s + "/sub/stays.txt", "stays\n");
  SetMtime(s + "/doc.txt", 1600000000LL * kSec + 5);
  SetMtime(s + "/gone.txt", 1600000100LL * kSec + 7);

  Ok({"init"});
  Backup({s});
  // A snapshot of the first state to compare restores with.
  const std::string v1 = sb.Path("v1");
  ASSERT_EQ(sb.Run({"cp", "-a", s, v1}).exit_code, 0);

  // A whole-second time strictly between the two runs.
  int64_t between = (NowNs() / kSec + 1) * kSec;
  while (NowNs() <= between + kSec / 20) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const std::string at = Rfc3339(between, /*whole_seconds=*/true);

  PatchFile(s + "/big.bin", 3 * kMiB, RandomData(84 * 1024, 11));  // 84 KiB edited
  WriteFile(s + "/doc.txt", "second draft, longer than the first\n");
  AppendFile(s + "/log.txt", "line 2\n");
  ASSERT_EQ(unlink((s + "/gone.txt").c_str()), 0);
  ASSERT_EQ(unlink((s + "/sub/gone2.txt").c_str()), 0);
  WriteFile(s + "/new.txt", "added later\n");

  json b2 = Backup({s});
  EXPECT_EQ(b2.value("files_new", -1), 1) << b2.dump();
  EXPECT_EQ(b2.value("files_changed", -1), 3) << b2.dump();
  EXPECT_EQ(b2.value("deleted", -1), 2) << b2.dump();
  // Only the chunks around the edit are stored again.
  EXPECT_LT(b2.value("bytes_added", kBig), kBig / 4) << b2.dump();

  // versions: 1 and 2, with the sha256sum of each content.
  json vs = Json({"versions", s + "/big.bin"});
  ASSERT_TRUE(vs.is_array());
  ASSERT_EQ(vs.size(), 2u) << vs.dump();
  EXPECT_EQ(vs[0].value("version", 0), 1);
  EXPECT_EQ(vs[1].value("version", 0), 2);
  const std::string old_sum = Sha256Sum(v1 + "/big.bin"), new_sum = Sha256Sum(s + "/big.bin");
  ASSERT_NE(old_sum, new_sum);
  EXPECT_EQ(vs[0].value("sha256", ""), old_sum);
  EXPECT_EQ(vs[1].value("sha256", ""), new_sum);
  EXPECT_EQ(vs[0].value("size", 0u), kBig);
  ProcResult text = Ok({"versions", s + "/big.bin"});
  EXPECT_NE(text.out.find(old_sum), std::string::npos) << text.out;
  EXPECT_NE(text.out.find(new_sum), std::string::npos) << text.out;
  EXPECT_LT(text.out.find(old_sum), text.out.find(new_sum)) << "oldest first";

  // --version 1, --at between the runs: the old content; latest: the new.
  Ok({"restore", s + "/big.bin", "--version", "1", "--to", sb.Path("r-v1")});
  EXPECT_TRUE(FilesEqual(sb.Path("r-v1") + s + "/big.bin", v1 + "/big.bin"));
  Ok({"restore", s + "/big.bin", "--version", "2", "--to", sb.Path("r-v2")});
  EXPECT_TRUE(FilesEqual(sb.Path("r-v2") + s + "/big.bin", s + "/big.bin"));
  Ok({"restore", s + "/big.bin", "--at", at, "--to", sb.Path("r-at")});
  EXPECT_TRUE(FilesEqual(sb.Path("r-at") + s + "/big.bin", v1 + "/big.bin"));
  Ok({"restore", s + "/big.bin", "--to", sb.Path("r-latest")});
  EXPECT_TRUE(FilesEqual(sb.Path("r-latest") + s + "/big.bin", s + "/big.bin"));
  Expect(1, {"restore", s + "/big.bin", "--version", "3", "--to", sb.Path("r-none")});
  EXPECT_FALSE(Exists(sb.Path("r-none") + s + "/big.bin"));

  // ls: the deleted file is gone now, there at the first time.
  std::set<std::string> now = LsPaths({s});
  EXPECT_FALSE(now.count(s + "/gone.txt"));
  EXPECT_TRUE(now.count(s + "/new.txt"));
  EXPECT_TRUE(now.count(s + "/big.bin"));
  std::set<std::string> then = LsPaths({s, "--at", at});
  EXPECT_TRUE(then.count(s + "/gone.txt"));
  EXPECT_FALSE(then.count(s + "/new.txt"));
  std::set<std::string> then_r = LsPaths({"-R", s, "--at", at});
  EXPECT_TRUE(then_r.count(s + "/sub/gone2.txt"));
  EXPECT_FALSE(LsPaths({"-R", s}).count(s + "/sub/gone2.txt"));
  Expect(1, {"ls", s + "/gone.txt"});  // nothing there now
  // The local form of --at (TZ=UTC here) means the same time.
  std::string local = at.substr(0, 10) + " " + at.substr(11, 8);
  EXPECT_EQ(LsPaths({"-R", s, "--at", local}), then_r) << local;
  // Before the first backup there was nothing.
  Expect(1, {"restore", s, "--at", "2001-01-01T00:00:00Z", "--to", sb.Path("r-early")});
  EXPECT_FALSE(Exists(sb.Path("r-early") + s));

  // The whole folder as it was: identical to the first state.
  Ok({"restore", s, "--at", at, "--to", sb.Path("r-folder-v1")});
  ExpectSameTree(v1, sb.Path("r-folder-v1") + s);
  // And as it is.
  Ok({"restore", s, "--to", sb.Path("r-folder-v2")});
  ExpectSameTree(s, sb.Path("r-folder-v2") + s);
}

// ---------------------------------------------------------------------------
// 3. No plaintext name, path or content reaches the repository.

TEST_F(CliE2eTest, RepositoryHoldsNoPlaintext) {
  const std::string token = RandomToken();
  const std::string marker = "SECRETMARKER-" + token;
  const std::string device = "device-" + RandomToken(8);
  const std::string s = sb.Path("zk-" + token);  // the source folder's own name is secret too
  MakeDirs(s + "/" + marker + "-folder");
  WriteFile(s + "/" + marker + "-name.txt", "content: " + marker + "-content\n");
  WriteFile(s + "/" + marker + "-folder/plain.txt", marker + "-in-folder\n");
  std::string line = "a compressible line holding " + marker + "-compressible\n";
  WriteFile(s + "/compressible.txt", CompressibleData(1 * kMiB, line));
  ASSERT_EQ(symlink((marker + "-symlink-target").c_str(), (s + "/link").c_str()), 0);
  TrySetXattr(s + "/compressible.txt", "user.note", marker + "-xattr");

  CairnRunOptions o;
  o.set["DEVICE_ID"] = device;
  Ok({"init"}, o);
  Backup({s}, o);
  Ok({"check", "--read-data"}, o);

  // The backup holds the content (so it is somewhere, encrypted).
  Ok({"restore", s, "--to", sb.Path("r")}, o);
  EXPECT_TRUE(FilesEqual(s + "/compressible.txt", sb.Path("r") + s + "/compressible.txt"));
  // The search works where the plaintext is.
  EXPECT_FALSE(FilesContaining(s, marker + "-content").empty());
  EXPECT_FALSE(FilesContaining(s, marker + "-compressible").empty());

  std::vector<std::string> needles = {marker, token, s, fs::path(sb.root()).filename().string(),
                                      device};
  struct passwd pw {};
  struct passwd* me = nullptr;
  char pw_buf[4096];
  if (getpwuid_r(getuid(), &pw, pw_buf, sizeof pw_buf, &me) == 0 && me != nullptr &&
      strlen(me->pw_name) >= 4)
    needles.push_back(me->pw_name);
  ASSERT_GT(CountFiles(sb.repo()), 3u);
  for (const auto& n : needles) {
    std::vector<std::string> hits = FilesContaining(sb.repo(), n);
    std::string all;
    for (const auto& h : hits) all += "  " + h + "\n";
    EXPECT_TRUE(hits.empty()) << "'" << n << "' found in the repository:\n" << all;
  }
}

// ---------------------------------------------------------------------------
// 4. A backup of an unchanged tree reads nothing and stores nothing.

TEST_F(CliE2eTest, UnchangedFilesAreSkipped) {
  const std::string s = src();
  MakeDirs(s + "/d");
  WriteFile(s + "/a.bin", RandomData(300000, 4));
  WriteFile(s + "/d/b.txt", "bee\n");
  WriteFile(s + "/d/c.txt", CompressibleData(100000));
  // `backup --init --json` creates the repository and prints one document.
  json b1 = Json({"backup", "--init", s});
  EXPECT_EQ(b1.value("files_new", -1), 3) << b1.dump();
  ASSERT_TRUE(b1.contains("created")) << b1.dump();
  EXPECT_EQ(b1["created"].value("location", ""), sb.repo()) << b1.dump();
  const uint64_t packs = CountFiles(sb.repo() + "/data"), bytes = TotalSize(sb.repo() + "/data");
  const uint64_t indexes = CountFiles(sb.repo() + "/index");
  ASSERT_GT(packs, 0u);

  json b2 = Backup({s});
  EXPECT_EQ(b2.value("files_new", -1), 0) << b2.dump();
  EXPECT_EQ(b2.value("files_changed", -1), 0) << b2.dump();
  EXPECT_EQ(b2.value("files_unchanged", -1), 3) << b2.dump();
  EXPECT_EQ(b2.value("bytes_read", -1), 0) << b2.dump();
  EXPECT_EQ(CountFiles(sb.repo() + "/data"), packs);
  EXPECT_EQ(TotalSize(sb.repo() + "/data"), bytes);
  EXPECT_EQ(CountFiles(sb.repo() + "/index"), indexes) << "an empty index object was written";
  json vs = Json({"versions", s + "/a.bin"});
  EXPECT_EQ(vs.size(), 1u) << vs.dump();

  // The run history holds the first run (the second recorded nothing, so
  // the repository has no trace of it), and compaction of a repository this
  // small finds nothing to do.
  json runs = Json({"runs"});
  ASSERT_EQ(runs.size(), 1u) << runs.dump();
  EXPECT_TRUE(runs[0].value("complete", false)) << runs.dump();
  EXPECT_EQ(runs[0].value("files_new", -1), 3) << runs.dump();
  json compacted = Json({"compact"});
  EXPECT_EQ(compacted.value("objects_deleted", -1), 0) << compacted.dump();
}

// ---------------------------------------------------------------------------
// 5. Exit codes and refusals.

TEST_F(CliE2eTest, WrongPasswordExits12AndWritesNothing) {
  const std::string s = src();
  MakeDirs(s);
  WriteFile(s + "/f.txt", "data\n");
  Ok({"init"});
  Backup({s});
  auto before = ListWithSizes(sb.repo());
  CairnRunOptions wrong;
  wrong.set["CAIRN_PASSWORD"] = "not the password";
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"ls", s},
                                             {"backup", s},
                                             {"restore", s, "--to", sb.Path("r")},
                                             {"versions", s + "/f.txt"},
                                             {"check"},
                                             {"stats"},
                                             {"key", "list"},
                                             {"recover"}}) {
    ProcResult r = Expect(12, args, wrong);
    EXPECT_NE(r.err.find("password"), std::string::npos) << r.Describe();
  }
  EXPECT_EQ(ListWithSizes(sb.repo()), before) << "a command with a wrong password wrote";
  EXPECT_FALSE(Exists(sb.Path("r") + s));
  ProcResult json_err = Expect(12, {"--json", "ls", s}, wrong);
  EXPECT_EQ(json::parse(json_err.out, nullptr, false).value("exit_code", 0), 12) << json_err.out;
}

TEST_F(CliE2eTest, NoRepositoryExits10) {
  MakeDirs(src());
  WriteFile(src() + "/f.txt", "data\n");
  CairnRunOptions missing;
  missing.set["CAIRN_REPOSITORY"] = sb.Path("nothing-here");
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"ls"},
                                             {"backup", src()},
                                             {"restore", src(), "--to", sb.Path("r")},
                                             {"check"},
                                             {"versions", src() + "/f.txt"},
                                             {"stats"},
                                             {"key", "list"}}) {
    ProcResult r = Expect(10, args, missing);
    EXPECT_NE(r.err.find("cairn init"), std::string::npos) << r.Describe();
  }
  EXPECT_FALSE(Exists(sb.Path("nothing-here"))) << "a failed command created the location";
  // An existing, empty folder is no repository either; --repo beats the environment.
  MakeDirs(sb.Path("empty"));
  Expect(10, {"--repo", sb.Path("empty"), "ls"});
  EXPECT_TRUE(ListWithSizes(sb.Path("empty")).size() == 1u) << "the empty folder was written to";
}

TEST_F(CliE2eTest, InitRefusesALocationHoldingData) {
  Ok({"init"});
  auto repo_before = ListWithSizes(sb.repo());
  ProcResult again = sb.Cairn({"init"});
  EXPECT_NE(again.exit_code, 0) << again.Describe();
  EXPECT_NE(again.err.find("already"), std::string::npos) << again.Describe();
  EXPECT_EQ(ListWithSizes(sb.repo()), repo_before);
  Ok({"key", "list"});  // still the same, working repository

  // A folder with someone's file in it.
  const std::string other = sb.Path("other");
  MakeDirs(other);
  WriteFile(other + "/notes.txt", "my notes\n");
  auto other_before = ListWithSizes(other);
  ProcResult r = sb.Cairn({"--repo", other, "init"});
  EXPECT_NE(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(ListWithSizes(other), other_before) << "init changed a folder it refused";
  EXPECT_EQ(ReadFile(other + "/notes.txt"), "my notes\n");
  // The generated-secret path was not taken either: a secret was given.
  EXPECT_FALSE(Exists(sb.config_home() + "/cairn"));
}

TEST_F(CliE2eTest, InPlaceRestoreOverwritesOnlyWithFlag) {
  const std::string s = src();
  MakeDirs(s);
  WriteFile(s + "/file.txt", "original content\n", 0640);
  WriteFile(s + "/other.txt", "other\n");
  SetMtime(s + "/file.txt", 1550000000LL * kSec + 42);
  Ok({"init"});
  Backup({s});
  WriteFile(s + "/file.txt", "modified locally\n", 0600);

  ProcResult r = Expect(3, {"restore", s + "/file.txt"});
  EXPECT_NE(r.err.find("file.txt"), std::string::npos) << r.Describe();
  EXPECT_EQ(ReadFile(s + "/file.txt"), "modified locally\n");
  Expect(3, {"restore", s});
  EXPECT_EQ(ReadFile(s + "/file.txt"), "modified locally\n");

  Ok({"restore", s + "/file.txt", "--overwrite"});
  EXPECT_EQ(ReadFile(s + "/file.txt"), "original content\n");
  Tree t = ScanTree(s);
  EXPECT_EQ(t["file.txt"].mode, 0640u);
  EXPECT_EQ(t["file.txt"].mtime_ns, 1550000000LL * kSec + 42);
  // No temp files left behind.
  EXPECT_EQ(t.size(), 3u);

  // A deleted file comes back in place without --overwrite.
  ASSERT_EQ(unlink((s + "/other.txt").c_str()), 0);
  Ok({"restore", s + "/other.txt"});
  EXPECT_EQ(ReadFile(s + "/other.txt"), "other\n");

  // A whole lost folder comes back in place, metadata included.
  MakeDirs(s + "/sub");
  WriteFile(s + "/sub/x.txt", "x\n", 0604);
  SetMtime(s + "/sub/x.txt", 1550000000LL * kSec + 7);
  SetMtime(s + "/sub", 1550000000LL * kSec + 8);
  Chmod(s, 0750);
  SetMtime(s, 1550000000LL * kSec + 9);
  Backup({s});
  const std::string copy = sb.Path("copy");
  ASSERT_EQ(sb.Run({"cp", "-a", s, copy}).exit_code, 0);
  fs::remove_all(s);
  Ok({"restore", s});
  ExpectSameTree(copy, s);
}

// Restoring a folder to recover one lost file: existing identical files count
// as done, and folders that are already there keep their permissions.
TEST_F(CliE2eTest, InPlaceFolderRestoreLeavesWhatIsThereAlone) {
  const std::string s = src();
  MakeDirs(s + "/work");
  WriteFile(s + "/work/a.txt", "a\n");
  WriteFile(s + "/work/b.txt", "b\n");
  Ok({"init"});
  Backup({s});
  Chmod(s + "/work", 0700);
  ASSERT_EQ(unlink((s + "/work/b.txt").c_str()), 0);
  json r = Json({"restore", s});
  EXPECT_EQ(r["files"], 1);
  EXPECT_EQ(r["already_present"], 1);
  EXPECT_EQ(r["partial"], false);
  EXPECT_EQ(ReadFile(s + "/work/b.txt"), "b\n");
  Tree t = ScanTree(s);
  EXPECT_EQ(t["work"].mode, 0700u);  // not reset to the backed-up 0755
}

// Mistakes a user makes get an error that says what happened.
TEST_F(CliE2eTest, MistakesGetClearMessages) {
  const std::string s = src();
  MakeDirs(s);
  WriteFile(s + "/shopping list.txt", "milk\n");
  Ok({"init"});
  // A folder that does not exist is not a successful backup.
  ProcResult missing = Expect(3, {"backup", s, sb.Path("no-such-folder")});
  EXPECT_NE(missing.err.find("no-such-folder does not exist"), std::string::npos)
      << missing.Describe();
  // A plain word finds names containing it.
  ProcResult found = Ok({"find", "shopping"});
  EXPECT_NE(found.out.find("shopping list.txt"), std::string::npos) << found.Describe();
  // A deleted file: the message says so and how to get it back.
  ASSERT_EQ(unlink((s + "/shopping list.txt").c_str()), 0);
  Backup({s});
  ProcResult deleted = Expect(1, {"restore", s + "/shopping list.txt", "--to", sb.Path("r")});
  EXPECT_NE(deleted.err.find("was deleted"), std::string::npos) << deleted.Describe();
  EXPECT_NE(deleted.err.find("--version"), std::string::npos) << deleted.Describe();
  // "I deleted it last week": find still finds it, marked as deleted with
  // when, and says how to get it back; --no-deleted leaves it out.
  ProcResult found_deleted = Ok({"find", "shopping"});
  EXPECT_NE(found_deleted.out.find("shopping list.txt  (deleted 20"), std::string::npos)
      << found_deleted.Describe();
  EXPECT_NE(found_deleted.err.find("cairn versions"), std::string::npos)
      << found_deleted.Describe();
  ProcResult existing = Ok({"find", "--no-deleted", "shopping"});
  EXPECT_EQ(existing.out.find("shopping list.txt"), std::string::npos) << existing.Describe();
  EXPECT_NE(existing.err.find("no backed-up file matches"), std::string::npos)
      << existing.Describe();
  json found_json = Json({"find", "shopping"});
  ASSERT_EQ(found_json.size(), 1u) << found_json.dump();
  EXPECT_EQ(found_json[0].value("type", ""), "deleted") << found_json.dump();
  EXPECT_EQ(found_json[0].value("deleted", false), true) << found_json.dump();
  EXPECT_EQ(Json({"find", "--no-deleted", "shopping"}), json::array());
  // --version is for files.
  ProcResult folder = Expect(1, {"restore", s, "--version", "1", "--to", sb.Path("r")});
  EXPECT_NE(folder.err.find("--at"), std::string::npos) << folder.Describe();
  // A mistyped command is named, with a suggestion.
  ProcResult typo = Expect(1, {"restor", s});
  EXPECT_NE(typo.err.find("did you mean restore"), std::string::npos) << typo.Describe();
}

// ---------------------------------------------------------------------------
// 6. Where the secret comes from.

TEST_F(CliE2eTest, SecretSources) {
  const std::string s = src();
  MakeDirs(s);
  WriteFile(s + "/f.txt", "data\n");
  Ok({"init"});
  Backup({s});

  const std::string pwfile = sb.Path("pw.txt");
  WriteFile(pwfile, std::string(Sandbox::kPassword) + "\n", 0600);
  CairnRunOptions none;
  none.unset = {"CAIRN_PASSWORD"};
  Expect(12, {"ls", s}, none);  // no secret, no terminal
  Ok({"--password-file", pwfile, "ls", s}, none);
  // --password-file beats CAIRN_PASSWORD, which beats BACKUP_ENCRYPTION_KEY.
  CairnRunOptions wrong_env;
  wrong_env.set["CAIRN_PASSWORD"] = "wrong";
  Ok({"--password-file", pwfile, "ls", s}, wrong_env);
  CairnRunOptions env_first;
  env_first.set["BACKUP_ENCRYPTION_KEY"] = "d3Jvbmcgd3Jvbmcgd3Jvbmcgd3Jvbmcgd3Jvbmc=";
  Ok({"ls", s}, env_first);
  WriteFile(sb.Path("bad.txt"), "wrong\n");
  Expect(12, {"--password-file", sb.Path("bad.txt"), "ls", s});

  // BACKUP_ENCRYPTION_KEY: the original design's base64 key.
  const std::string key = "q83vASNFZ4mrze8BI0VniavN7wEjRWeJq83vASNFZ4k=";
  CairnRunOptions k;
  k.unset = {"CAIRN_PASSWORD"};
  k.set["BACKUP_ENCRYPTION_KEY"] = key;
  k.set["CAIRN_REPOSITORY"] = sb.Path("repo-key");
  Ok({"init"}, k);
  Backup({s}, k);
  EXPECT_TRUE(LsPaths({s}, k).count(s + "/f.txt"));
  CairnRunOptions other_key = k;
  other_key.set["BACKUP_ENCRYPTION_KEY"] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
  Expect(12, {"ls", s}, other_key);
  CairnRunOptions key_as_password;
  key_as_password.set["CAIRN_REPOSITORY"] = sb.Path("repo-key");
  key_as_password.set["CAIRN_PASSWORD"] = key;
  Ok({"ls", s}, key_as_password);
}

TEST_F(CliE2eTest, UnattendedInitGeneratesASecretFile) {
  const std::string s = src();
  MakeDirs(s);
  WriteFile(s + "/f.txt", "quick start\n");
  // The default location, no secret, no terminal: the quick start.
  CairnRunOptions bare;
  bare.unset = {"CAIRN_PASSWORD", "CAIRN_REPOSITORY"};
  ProcResult r = Ok({"init"}, bare);
  const std::string dir = sb.config_home() + "/cairn";
  std::vector<std::string> files;
  if (Exists(dir))
    for (const auto& e : fs::directory_iterator(dir)) files.push_back(e.path().string());
  ASSERT_EQ(files.size(), 1u) << r.Describe();
  struct stat st;
  ASSERT_EQ(stat(files[0].c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_GE(ReadFile(files[0]).size(), 32u);
  EXPECT_NE(r.err.find(files[0]), std::string::npos) << "the user is not told where the secret is";
  EXPECT_TRUE(Exists(sb.data_home() + "/cairn/repo/config"));

  // Later commands need no secret.
  json b = Backup({s}, bare);
  EXPECT_EQ(b.value("files_new", -1), 1);
  EXPECT_TRUE(LsPaths({s}, bare).count(s + "/f.txt"));
  Ok({"restore", s, "--to", sb.Path("r")}, bare);
  EXPECT_EQ(ReadFile(sb.Path("r") + s + "/f.txt"), "quick start\n");
  // A given secret still comes first.
  CairnRunOptions wrong = bare;
  wrong.set["CAIRN_PASSWORD"] = "wrong";
  Expect(12, {"ls", s}, wrong);
  // And init does not overwrite the secret file of an existing repository.
  std::string secret = ReadFile(files[0]);
  EXPECT_NE(sb.Cairn({"init"}, bare).exit_code, 0);
  EXPECT_EQ(ReadFile(files[0]), secret);
}

// ---------------------------------------------------------------------------
// 7. Keys.

TEST_F(CliE2eTest, KeyManagement) {
  const std::string s = src();
  MakeDirs(s);
  WriteFile(s + "/f.bin", RandomData(200000, 7));
  Ok({"init"});
  Backup({s});
  const std::string pw1 = Sandbox::kPassword, pw2 = "second password", pw3 = "third password";
  auto as = [](const std::string& pw) {
    CairnRunOptions o;
    o.set["CAIRN_PASSWORD"] = pw;
    return o;
  };
  CairnRunOptions add;
  add.set["CAIRN_NEW_PASSWORD"] = pw2;
  Ok({"key", "add", "--label", "laptop"}, add);
  json keys = Json({"key", "list"});
  ASSERT_EQ(keys.size(), 2u) << keys.dump();
  int current = 0;
  for (const auto& kk : keys) current += kk.value("current", false) ? 1 : 0;
  EXPECT_EQ(current, 1);
  ProcResult text = Ok({"key", "list"});
  EXPECT_NE(text.out.find("laptop"), std::string::npos) << text.out;
  Ok({"ls", s}, as(pw2));

  // passwd changes the key in use (pw2 -> pw3).
  const std::string pw3file = sb.Path("pw3.txt");
  WriteFile(pw3file, pw3 + "\n", 0600);
  Ok({"key", "passwd", "--new-password-file", pw3file}, as(pw2));
  Expect(12, {"ls", s}, as(pw2));
  Ok({"ls", s}, as(pw3));
  Ok({"ls", s}, as(pw1));
  json keys2 = Json({"key", "list"}, as(pw3));
  ASSERT_EQ(keys2.size(), 2u) << keys2.dump();
  std::string id_current, id_other;
  for (const auto& kk : keys2)
    (kk.value("current", false) ? id_current : id_other) = kk.value("id", "");
  ASSERT_FALSE(id_current.empty());
  ASSERT_FALSE(id_other.empty());

  // Removing the key in use is refused; removing the other works.
  auto repo_before = ListWithSizes(sb.repo() + "/keys");
  ProcResult refused = sb.Cairn({"key", "remove", id_current.substr(0, 12)}, as(pw3));
  EXPECT_NE(refused.exit_code, 0) << refused.Describe();
  EXPECT_EQ(ListWithSizes(sb.repo() + "/keys"), repo_before);
  Ok({"key", "remove", id_other.substr(0, 12)}, as(pw3));
  EXPECT_EQ(Json({"key", "list"}, as(pw3)).size(), 1u);
  Expect(12, {"ls", s}, as(pw1));
  Expect(1, {"key", "remove", id_other.substr(0, 12)}, as(pw3));  // gone already

  // key add with --new-password-file too.
  Ok({"key", "add", "--new-password-file", pw3file}, as(pw3));
  EXPECT_EQ(Json({"key", "list"}, as(pw3)).size(), 2u);

  // The data is untouched.
  Ok({"restore", s, "--to", sb.Path("r")}, as(pw3));
  ExpectSameTree(s, sb.Path("r") + s);
  Ok({"check", "--read-data"}, as(pw3));
}

// Slots planted in the storage (copies of the real slot with opslimit 0,
// under random names: the issue's reproduction) neither stop the right
// password nor turn a wrong one into another error.
TEST_F(CliE2eTest, PlantedKeySlotsDoNotStopTheRightPassword) {
  Ok({"init"});
  const std::string keys_dir = sb.repo() + "/keys";
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(keys_dir))
    names.push_back(e.path().filename().string());
  ASSERT_EQ(names.size(), 1u);
  const std::string real = names[0];
  std::string slot = ReadFile(keys_dir + "/" + real);
  json j = json::parse(slot);
  j["opslimit"] = 0;
  std::vector<std::string> planted;
  for (char c : std::string("0123")) {
    planted.push_back(std::string(64, c));
    WriteFile(keys_dir + "/" + planted.back(), j.dump());
  }
  // Without the hint of the slot that opened last time, so the planted slots
  // are met in directory order, wherever the real one is.
  int hints = 0;
  for (const auto& e : std::filesystem::directory_iterator(sb.cache_home() + "/cairn"))
    if (e.path().filename().string().starts_with("key-slot-"))
      hints += std::filesystem::remove(e.path()) ? 1 : 0;
  EXPECT_EQ(hints, 1);  // init wrote it
  Ok({"ls", "/"});
  json keys = Json({"key", "list"});
  ASSERT_EQ(keys.size(), 1u) << keys.dump();  // the planted slots are no keys
  EXPECT_EQ(keys[0].value("id", ""), real);

  // A wrong password tries every slot: exit 12 (wrong password), and the
  // message names the skipped slots.
  CairnRunOptions wrong;
  wrong.set["CAIRN_PASSWORD"] = "not the password";
  ProcResult r = Expect(12, {"ls", "/"}, wrong);
  for (const auto& p : planted)
    EXPECT_NE(r.err.find(p.substr(0, 16)), std::string::npos) << p << "\n" << r.Describe();
  EXPECT_NE(r.err.find("opslimit 0 out of range"), std::string::npos) << r.Describe();
}

// The shipped cairn has no test hooks: CAIRN_TEST_CHEAP_KDF=1 (set in the
// sandbox's environment) does not weaken its keys. The test build's cheap
// keys are the contrast that shows the variable was really seen.
TEST_F(CliE2eTest, ShippedBinaryIgnoresTheCheapKdfVariable) {
  ASSERT_EQ(sb.env().at("CAIRN_TEST_CHEAP_KDF"), "1");
  ProcResult init = sb.Run({ShippedCairnBinary(), "init"});
  ASSERT_EQ(init.exit_code, 0) << init.Describe();
  ProcResult list = sb.Run({ShippedCairnBinary(), "--json", "key", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.Describe();
  json keys = json::parse(list.out);
  ASSERT_EQ(keys.size(), 1u) << list.out;
  // crypto::DefaultKdfParams(): 64 MiB, 3 passes.
  EXPECT_EQ(keys[0].value("memlimit", uint64_t{0}), uint64_t{64} << 20) << list.out;
  EXPECT_EQ(keys[0].value("opslimit", uint64_t{0}), 3u) << list.out;

  Sandbox test_build;
  ProcResult cheap_init = test_build.Cairn({"init"});
  ASSERT_EQ(cheap_init.exit_code, 0) << cheap_init.Describe();
  ProcResult cheap = test_build.Cairn({"--json", "key", "list"});
  ASSERT_EQ(cheap.exit_code, 0) << cheap.Describe();
  json cheap_keys = json::parse(cheap.out);
  ASSERT_EQ(cheap_keys.size(), 1u) << cheap.out;
  EXPECT_EQ(cheap_keys[0].value("memlimit", uint64_t{0}), 8192u) << cheap.out;
  EXPECT_EQ(cheap_keys[0].value("opslimit", uint64_t{0}), 1u) << cheap.out;
}

// ---------------------------------------------------------------------------
// 8. Several devices in one repository.

TEST_F(CliE2eTest, DevicesShareARepository) {
  const std::string a = sb.Path("laptop"), b = sb.Path("desktop");
  MakeDirs(a);
  MakeDirs(b);
  const std::string shared = RandomData(5 * kMiB, 8);
  WriteFile(a + "/shared.bin", shared);
  WriteFile(a + "/only-a.txt", "from a\n");
  WriteFile(b + "/copy-of-shared.bin", shared);
  WriteFile(b + "/only-b.txt", "from b\n");
  CairnRunOptions da, db;
  da.set["DEVICE_ID"] = "a";
  db.set["DEVICE_ID"] = "b";
  Ok({"init"});
  Backup({a}, da);
  const uint64_t size_after_a = TotalSize(sb.repo());
  json bb = Backup({b}, db);
  const uint64_t growth = TotalSize(sb.repo()) - size_after_a;
  EXPECT_LT(growth, 256u * 1024) << "the shared 5 MiB were stored again";
  EXPECT_LT(bb.value("bytes_added", kMiB), 64u * 1024) << bb.dump();

  // Each device sees its own files; --device and --all-devices the others.
  std::set<std::string> seen_b = LsPaths({"-R", "/"}, db);
  EXPECT_TRUE(seen_b.count(b + "/only-b.txt"));
  EXPECT_FALSE(seen_b.count(a + "/only-a.txt"));
  std::set<std::string> seen_a = LsPaths({"--device", "a", "-R", "/"}, db);
  EXPECT_TRUE(seen_a.count(a + "/only-a.txt"));
  EXPECT_FALSE(seen_a.count(b + "/only-b.txt"));
  json all = Json({"--all-devices", "ls", "-R", "/"}, db);
  std::set<std::string> seen_all = PathsOf(all);
  EXPECT_TRUE(seen_all.count(a + "/only-a.txt"));
  EXPECT_TRUE(seen_all.count(b + "/only-b.txt"));
  std::set<std::string> devices;
  for (const auto& item : all) devices.insert(item.value("device", ""));
  EXPECT_EQ(devices, (std::set<std::string>{"a", "b"}));
  Expect(1, {"versions", a + "/only-a.txt"}, db);
  EXPECT_EQ(Json({"--device", "a", "versions", a + "/only-a.txt"}, db).size(), 1u);
  json found = Json({"--all-devices", "find", "only-*"}, db);
  EXPECT_EQ(PathsOf(found), (std::set<std::string>{a + "/only-a.txt", b + "/only-b.txt"}));

  // A new machine (device b) restores device a's files.
  Expect(1, {"restore", a, "--to", sb.Path("r-wrong")}, db);
  Ok({"--device", "a", "restore", a, "--to", sb.Path("r")}, db);
  ExpectSameTree(a, sb.Path("r") + a);
}

// ---------------------------------------------------------------------------
// 9. The catalog is a cache.

TEST_F(CliE2eTest, CatalogIsRebuiltWhenMissingOrCorrupt) {
  const std::string s = src();
  MakeDirs(s);
  WriteFile(s + "/f.txt", "one\n");
  WriteFile(s + "/g.txt", "gee\n");
  Ok({"init"});
  Backup({s});
  WriteFile(s + "/f.txt", "two\n");
  Backup({s});
  const json ls = Json({"ls", "-R", s});
  const json vs = Json({"versions", s + "/f.txt"});
  ASSERT_EQ(vs.size(), 2u);
  const std::string cache = sb.cache_home() + "/cairn";
  ASSERT_TRUE(Exists(cache));

  fs::remove_all(cache);
  EXPECT_EQ(Json({"ls", "-R", s}), ls);
  EXPECT_EQ(Json({"versions", s + "/f.txt"}), vs);
  EXPECT_TRUE(Exists(cache));

  ProcResult rec = Ok({"recover"});
  EXPECT_NE(rec.out.find("2 version segments"), std::string::npos) << rec.Describe();
  json recj = Json({"recover"});
  EXPECT_EQ(recj.value("segments", 0), 2) << recj.dump();
  EXPECT_EQ(recj.value("versions", 0), Json({"--all-devices", "stats"}).value("versions", -1));
  EXPECT_GE(recj.value("versions", 0), 5);

  // Garbage over the catalog file (WAL files left as they are).
  std::vector<std::string> dbs;
  for (const auto& e : fs::directory_iterator(cache))
    if (e.path().extension() == ".db") dbs.push_back(e.path().string());
  ASSERT_EQ(dbs.size(), 1u);
  WriteFile(dbs[0], RandomData(64 * 1024, 99), 0600);
  EXPECT_EQ(Json({"ls", "-R", s}), ls);
  EXPECT_EQ(Json({"versions", s + "/f.txt"}), vs);
  // Truncated to half a page.
  WriteFile(dbs[0], "SQLite format 3", 0600);
  EXPECT_EQ(Json({"versions", s + "/f.txt"}), vs);
  Ok({"restore", s, "--to", sb.Path("r")});
  ExpectSameTree(s, sb.Path("r") + s);
  // A backup with a rebuilt catalog still skips what did not change.
  fs::remove_all(cache);
  json b3 = Backup({s});
  EXPECT_EQ(b3.value("files_new", -1), 0) << b3.dump();
  EXPECT_EQ(b3.value("files_changed", -1), 0) << b3.dump();
  EXPECT_EQ(b3.value("files_unchanged", -1), 2) << b3.dump();
  EXPECT_EQ(Json({"versions", s + "/f.txt"}), vs);
  // The catalog is private.
  struct stat st;
  ASSERT_EQ(stat(dbs[0].c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 077, 0u);
  ASSERT_EQ(stat(cache.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 077, 0u);
}

// ---------------------------------------------------------------------------
// 10. Settings.

// `cairn backup ~` with the default repository (~/.local/share/cairn/repo),
// the catalog (~/.cache/cairn) and the state folder (~/.local/state/cairn)
// inside: none of cairn's own files is backed up (the repository would grow
// by its own size at every run).
TEST_F(CliE2eTest, BackingUpHomeLeavesCairnsOwnFoldersOut) {
  CairnRunOptions o;
  o.unset = {"CAIRN_REPOSITORY"};  // the default location, under $HOME
  WriteFile(sb.home() + "/Documents/letter.txt", "dear\n");
  WriteFile(sb.home() + "/.local/state/cairn/logs/backup.log", "a log line\n");
  Ok({"init"}, o);
  Ok({"backup", sb.home()}, o);
  Ok({"backup", sb.home()}, o);  // the repository and catalog now exist and changed
  ProcResult ls = Ok({"--json", "ls", "-R", sb.home()}, o);
  const json listed = json::parse(ls.out);
  bool letter = false;
  for (const json& e : listed) {
    const std::string path = e.value("path", "");
    letter |= path == sb.home() + "/Documents/letter.txt";
    for (const std::string& own : {sb.data_home() + "/cairn/repo", sb.cache_home() + "/cairn",
                                   sb.home() + "/.local/state/cairn"})
      EXPECT_NE(path.rfind(own, 0), 0u) << "backed up: " << path;
  }
  EXPECT_TRUE(letter) << ls.out;
}

// `cairn forget`: the original design's max_versions_per_file from the
// settings file (8 versions, 3 kept), a flag overriding it, --dry-run and
// --json, and bad values refused with the flag or key named.
// `--exclude PATTERN FOLDER`: the folder is what to back up, not a second
// pattern (a user's mistake that used to back up the default folders).
TEST_F(CliE2eTest, ExcludeTakesOnePatternEachTime) {
  WriteFile(src() + "/a.jpg", "jpeg");
  WriteFile(src() + "/b.png", "png");
  WriteFile(src() + "/c.txt", "text");
  Ok({"init"});
  ProcResult r = Ok({"--json", "backup", "--exclude", "*.jpg", "--exclude", "*.png", src()});
  const json j = json::parse(r.out);
  EXPECT_EQ(j["paths"], json::array({src()})) << r.out;
  EXPECT_EQ(j.value("excluded", 0), 2) << r.out;
  EXPECT_EQ(j.value("files_new", 0), 1) << r.out;
}

TEST_F(CliE2eTest, ForgetKeepsWhatThePolicySaysAndListsWhy) {
  const std::string f = src() + "/notes.txt";
  const std::string cfg = sb.Path("cfg/settings.yaml");
  WriteFile(cfg, "versioning:\n  max_versions_per_file: 3\n");
  Ok({"init"});
  for (int i = 0; i < 8; ++i) {
    WriteFile(f, "notes, draft " + std::to_string(i));
    Ok({"--config", cfg, "backup", src()});
  }
  // Nothing set: nothing to forget.
  ProcResult none = Ok({"forget"});
  EXPECT_NE(none.out.find("no retention rule is set"), std::string::npos) << none.Describe();

  ProcResult dry = Ok({"--config", cfg, "forget", "--dry-run"});
  EXPECT_NE(dry.out.find("would forget 5 of "), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("drop    1"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("beyond max_versions_per_file"), std::string::npos) << dry.out;
  EXPECT_NE(dry.out.find("keep    8"), std::string::npos) << dry.out;
  ProcResult versions = Ok({"--json", "versions", f});
  EXPECT_EQ(json::parse(versions.out).size(), 8u);  // a dry run changes nothing

  ProcResult js = Ok({"--config", cfg, "--json", "forget", "-n", "--max-versions", "6"});
  const json j = json::parse(js.out);
  EXPECT_EQ(j.value("versions_dropped", 0), 2);
  EXPECT_TRUE(j.value("dry_run", false));
  int dropped = 0;
  for (const json& d : j["decisions"])
    if (!d.value("keep", true)) {
      ++dropped;
      EXPECT_EQ(d.value("path", ""), f);
    }
  EXPECT_EQ(dropped, 2);

  ProcResult real = Ok({"--config", cfg, "forget"});
  EXPECT_NE(real.out.find("forgot 5 of "), std::string::npos) << real.out;
  versions = Ok({"--json", "versions", f});
  const json v = json::parse(versions.out);
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(Ok({"restore", f, "--stdout"}).out, "notes, draft 7");
  ProcResult check = Ok({"--json", "check", "--read-data"});
  EXPECT_EQ(json::parse(check.out).value("forgotten", 0), 5) << check.out;

  ProcResult bad = Expect(1, {"forget", "--keep-within", "3x"});
  EXPECT_NE(bad.err.find("--keep-within: bad duration '3x'"), std::string::npos) << bad.Describe();
  bad = Expect(1, {"forget", "--keep-daily", "-1"});
  EXPECT_NE(bad.err.find("--keep-daily"), std::string::npos) << bad.Describe();
  WriteFile(cfg, "versioning:\n  keep_within: 2w\n");
  bad = Expect(1, {"--config", cfg, "forget"});
  EXPECT_NE(bad.err.find("versioning.keep_within"), std::string::npos) << bad.Describe();
}

// forget, then prune frees the space; cleanup does both by the settings;
// a second prune finds nothing; bad flags are refused by name.
TEST_F(CliE2eTest, PruneFreesWhatForgetDroppedAndCleanupDoesBoth) {
  const std::string f = src() + "/photo.raw";
  Ok({"init"});
  for (int i = 0; i < 5; ++i) {
    WriteFile(f, RandomData(3 * kMiB, 100 + i));
    Ok({"backup", src()});
  }
  ProcResult dry = Ok({"--json", "prune", "--dry-run"});
  EXPECT_EQ(json::parse(dry.out).value("bytes_to_free", -1), 0) << dry.out;  // nothing forgotten

  Ok({"forget", "--keep-last", "2"});
  dry = Ok({"--json", "prune", "-n"});
  const json d = json::parse(dry.out);
  EXPECT_TRUE(d.value("dry_run", false));
  EXPECT_GE(d.value("bytes_to_free", uint64_t{0}), 8 * kMiB) << dry.out;

  ProcResult pruned = Ok({"prune"});
  EXPECT_NE(pruned.out.find("freed "), std::string::npos) << pruned.Describe();
  ProcResult again = Ok({"--json", "prune"});
  const json a = json::parse(again.out);
  EXPECT_EQ(a.value("packs_deleted", -1), 0) << again.out;
  EXPECT_LE(a.value("pack_bytes", uint64_t{0}), 7 * kMiB) << again.out;  // 2 versions of 3 MiB
  EXPECT_EQ(Ok({"--json", "check", "--read-data"}).exit_code, 0);
  const json v = json::parse(Ok({"--json", "versions", f}).out);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(Ok({"restore", f, "--stdout"}).out, RandomData(3 * kMiB, 104));
  EXPECT_EQ(Ok({"restore", "--id", v[0].value("id", ""), "--stdout"}).out,
            RandomData(3 * kMiB, 103));

  // cleanup = forget by the settings, then prune.
  const std::string cfg = sb.Path("cfg/settings.yaml");
  WriteFile(cfg, "versioning:\n  max_versions_per_file: 1\n");
  ProcResult cleaned = Ok({"--config", cfg, "--json", "cleanup"});
  const json c = json::parse(cleaned.out);
  EXPECT_TRUE(c.value("forgot", false)) << cleaned.out;
  EXPECT_EQ(c["forget"].value("versions_dropped", 0), 1) << cleaned.out;
  EXPECT_GE(c["prune"].value("bytes_freed", uint64_t{0}), 2 * kMiB) << cleaned.out;
  EXPECT_EQ(Ok({"restore", f, "--stdout"}).out, RandomData(3 * kMiB, 104));

  // forget --prune: both in one run.
  WriteFile(f, RandomData(3 * kMiB, 105));
  Ok({"backup", src()});
  ProcResult both = Ok({"--json", "forget", "--keep-last", "1", "--prune"});
  const json b = json::parse(both.out);
  EXPECT_EQ(b.value("versions_dropped", 0), 1) << both.out;
  EXPECT_GE(b["prune"].value("bytes_freed", uint64_t{0}), 2 * kMiB) << both.out;
  EXPECT_EQ(Ok({"restore", f, "--stdout"}).out, RandomData(3 * kMiB, 105));

  ProcResult bad = Expect(1, {"prune", "--max-unused", "120%"});
  EXPECT_NE(bad.err.find("--max-unused"), std::string::npos) << bad.Describe();
  bad = Expect(1, {"prune", "--max-repack-size", "5X"});
  EXPECT_NE(bad.err.find("--max-repack-size"), std::string::npos) << bad.Describe();
  // More than 2^64 bytes: refused, not converted out of range.
  bad = Expect(1, {"prune", "--max-repack-size", "99999999999999999999T"});
  EXPECT_NE(bad.err.find("--max-repack-size"), std::string::npos) << bad.Describe();
  bad = Expect(1, {"prune", "--keep-last", "3"});
  EXPECT_NE(bad.err.find("--keep-last"), std::string::npos) << bad.Describe();
}

TEST_F(CliE2eTest, ConfigWatchedDirectoriesExcludesAndSizeLimit) {
  const std::string w = sb.Path("watched");
  MakeDirs(w + "/.git/objects/ab");
  MakeDirs(w + "/sub");
  WriteFile(w + "/keep.txt", "keep\n");
  WriteFile(w + "/junk.tmp", "junk\n");
  WriteFile(w + "/sub/keep2.txt", "keep too\n");
  WriteFile(w + "/sub/x.tmp", "junk\n");
  WriteFile(w + "/.git/config", "[core]\n");
  WriteFile(w + "/.git/objects/ab/cdef", "blob\n");
  WriteFile(w + "/big.bin", RandomData(2 * kMiB + 1, 5));
  WriteFile(w + "/small-enough.bin", RandomData(kMiB - 1, 6));
  const std::string cfg = sb.Path("cfg/settings.yaml");
  MakeDirs(sb.Path("cfg"));
  WriteFile(cfg,
            "backup:\n"
            "  watched_directories:\n"
            "    - " +
                w +
                "\n"
                "  exclude_patterns: [\"*.tmp\", \".git/*\"]\n"
                "  max_file_size_mb: 1\n");
  Ok({"init"});
  json b = Backup({"--config", cfg});
  EXPECT_EQ(b.value("paths", json::array()), json::array({w})) << b.dump();
  std::set<std::string> got = LsPaths({"-R", w});
  for (const char* rel : {"/keep.txt", "/sub/keep2.txt", "/small-enough.bin"})
    EXPECT_TRUE(got.count(w + rel)) << rel;
  for (const char* rel :
       {"/junk.tmp", "/sub/x.tmp", "/.git/config", "/.git/objects/ab/cdef", "/big.bin"})
    EXPECT_FALSE(got.count(w + rel)) << rel << " should have been excluded";
  for (const auto& p : got) EXPECT_EQ(p.find("/.git/"), std::string::npos) << p;
  // Counted, not silently dropped: junk.tmp, sub/x.tmp and the .git folder
  // (one) excluded; big.bin too large.
  EXPECT_EQ(b.value("excluded", -1), 3) << b.dump();
  EXPECT_EQ(b.value("skipped_size", -1), 1) << b.dump();
  EXPECT_EQ(b.value("skipped_special", -1), 0) << b.dump();
  ProcResult text = sb.Cairn({"--config", cfg, "backup"});
  EXPECT_EQ(text.exit_code, 0) << text.Describe();
  EXPECT_NE(text.out.find("left out: 3 excluded, 1 too large"), std::string::npos)
      << text.Describe();

  // The same file found as ./config/settings.yaml of the working directory.
  const std::string proj = sb.Path("project");
  MakeDirs(proj + "/config");
  WriteFile(proj + "/config/settings.yaml", ReadFile(cfg));
  WriteFile(w + "/later.txt", "later\n");
  WriteFile(w + "/later.tmp", "later junk\n");
  CairnRunOptions in_proj;
  in_proj.cwd = proj;
  json b2 = Backup({}, in_proj);
  EXPECT_EQ(b2.value("files_new", -1), 1) << b2.dump();
  got = LsPaths({"-R", w});
  EXPECT_TRUE(got.count(w + "/later.txt"));
  EXPECT_FALSE(got.count(w + "/later.tmp"));

  // Unknown keys and bad values are refused, naming the key.
  auto before = ListWithSizes(sb.repo());
  WriteFile(cfg,
            "backup:\n"
            "  watched_directories: [" +
                w +
                "]\n"
                "  exclude_paterns: [\"*.tmp\"]\n");
  ProcResult r = sb.Cairn({"--config", cfg, "backup"});
  EXPECT_NE(r.exit_code, 0) << r.Describe();
  EXPECT_NE(r.err.find("exclude_paterns"), std::string::npos) << r.Describe();
  WriteFile(cfg, "colour_scheme: dark\n");
  r = sb.Cairn({"--config", cfg, "ls"});
  EXPECT_NE(r.exit_code, 0) << r.Describe();
  EXPECT_NE(r.err.find("colour_scheme"), std::string::npos) << r.Describe();
  WriteFile(cfg, "backup:\n  compression: lz4\n");
  r = sb.Cairn({"--config", cfg, "backup", w});
  EXPECT_NE(r.exit_code, 0) << r.Describe();
  EXPECT_NE(r.err.find("compression"), std::string::npos) << r.Describe();
  EXPECT_EQ(ListWithSizes(sb.repo()), before);
  // A --config that does not exist is an error, not a silent default.
  r = sb.Cairn({"--config", sb.Path("missing.yaml"), "ls"});
  EXPECT_NE(r.exit_code, 0) << r.Describe();
}

// ---------------------------------------------------------------------------
// 11. Machine-readable output.

TEST_F(CliE2eTest, JsonOutputAndVersion) {
  ProcResult v = Ok({"--version"});
  EXPECT_TRUE(std::regex_search(v.out, std::regex("^cairn [0-9]+\\.[0-9]+\\.[0-9]+"))) << v.out;

  const std::string s = src();
  MakeDirs(s + "/d");
  WriteFile(s + "/report.txt", "report\n");
  WriteFile(s + "/d/photo.jpg", RandomData(1000, 3));
  Ok({"init"});
  json b = Backup({s});
  EXPECT_TRUE(b.is_object());
  EXPECT_EQ(b.value("files_new", -1), 2);

  json ls = Json({"ls", s});
  ASSERT_TRUE(ls.is_array());
  EXPECT_EQ(PathsOf(ls), (std::set<std::string>{s + "/report.txt", s + "/d"}));
  for (const auto& item : ls) {
    EXPECT_TRUE(item.contains("type")) << item.dump();
    EXPECT_TRUE(item.contains("backup_time")) << item.dump();
  }
  json lsr = Json({"ls", "-R", s});
  EXPECT_TRUE(PathsOf(lsr).count(s + "/d/photo.jpg"));
  json one = Json({"ls", s + "/report.txt"});
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].value("type", ""), "file");
  EXPECT_EQ(one[0].value("size", 0), 7);

  json vs = Json({"versions", s + "/report.txt"});
  ASSERT_EQ(vs.size(), 1u);
  EXPECT_EQ(vs[0].value("version", 0), 1);
  EXPECT_EQ(vs[0].value("sha256", ""), Sha256Sum(s + "/report.txt"));

  json found = Json({"find", "*.jpg"});
  EXPECT_EQ(PathsOf(found), (std::set<std::string>{s + "/d/photo.jpg"}));
  EXPECT_EQ(Json({"find", "nothing-matches-*"}), json::array());

  json stats = Json({"stats"});
  ASSERT_TRUE(stats.is_object());
  EXPECT_GE(stats.value("chunks", 0), 2);
  EXPECT_GE(stats.value("packs", 0), 1);
  EXPECT_GE(stats.value("versions", 0), 4);
  EXPECT_TRUE(stats["devices"].contains(Sandbox::kDevice)) << stats.dump();

  json check = Json({"check", "--read-data"});
  EXPECT_EQ(check.value("ok", false), true) << check.dump();
  json restore = Json({"restore", s, "--to", sb.Path("r")});
  EXPECT_EQ(restore.value("files", 0), 2) << restore.dump();

  // Relative paths are taken from the working directory.
  CairnRunOptions in_root;
  in_root.cwd = sb.root();
  EXPECT_EQ(LsPaths({"src"}, in_root), PathsOf(ls));
  WriteFile(sb.Path("single.txt"), "one file as a root\n");
  json single = Backup({"single.txt"}, in_root);
  EXPECT_EQ(single.value("files_new", -1), 1) << single.dump();
  EXPECT_EQ(LsPaths({sb.Path("single.txt")}), (std::set<std::string>{sb.Path("single.txt")}));

  // Flags after the subcommand work too.
  ProcResult after = Ok({"ls", s, "--json"});
  EXPECT_EQ(json::parse(after.out, nullptr, false), ls) << after.out;
  // Errors are JSON as well.
  ProcResult err = Expect(1, {"--json", "versions", s + "/nope.txt"});
  json ej = json::parse(err.out, nullptr, false);
  EXPECT_EQ(ej.value("exit_code", 0), 1) << err.out;
  EXPECT_TRUE(ej.contains("error")) << err.out;
}

}  // namespace
}  // namespace cairn::e2e

namespace cairn::e2e {
namespace {

// Ctrl-C (SIGINT) or SIGTERM during a backup: cairn stops at a safe point,
// keeps what it finished, releases its repository lock and exits 130; the
// next backup finishes the job.
// `cairn versions` shows each version's stable id; `cairn restore --id`
// restores exactly that version, with no path.
TEST_F(CliE2eTest, RestoreByIdRestoresThatVersion) {
  const std::string file = src() + "/notes.txt";
  WriteFile(file, "first");
  Ok({"init"});
  Backup({src()});
  WriteFile(file, "second version");
  Backup({src()});
  json versions = Json({"versions", file});
  ASSERT_EQ(versions.size(), 2u) << versions.dump();
  std::string id = versions[0].value("id", "");
  ASSERT_EQ(id.size(), 24u) << versions.dump();
  EXPECT_NE(id, versions[1].value("id", ""));
  ProcResult table = Ok({"versions", file});
  EXPECT_NE(table.out.find(id), std::string::npos) << table.Describe();

  Ok({"restore", "--id", id, "--to", sb.Path("out")});
  EXPECT_EQ(ReadFile(sb.Path("out") + file), "first");
  ProcResult both = Expect(1, {"restore", file, "--id", id});
  EXPECT_NE(both.err.find("not both"), std::string::npos) << both.Describe();
  ProcResult unknown = Expect(1, {"restore", "--id", "0123456789abcdef01234567"});
  EXPECT_NE(unknown.err.find("no version has the id"), std::string::npos) << unknown.Describe();
}

// `check --restore-sample N` restores and verifies N versions, reports each,
// and fails naming the file whose pack is damaged; the flag and the
// settings key refuse bad values by name.
TEST_F(CliE2eTest, CheckRestoreSampleFindsADamagedPack) {
  const std::string a = src() + "/a.txt", b = src() + "/b.txt";
  auto packs = [&] {
    std::set<std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(sb.repo() + "/data"))
      if (e.is_regular_file()) out.insert(e.path().string());
    return out;
  };
  WriteFile(a, std::string(3000, 'a') + "first file");
  Ok({"init"});
  Backup({src()});
  const std::set<std::string> before_b = packs();
  WriteFile(b, std::string(3000, 'b') + "second file");
  Backup({src()});

  ProcResult plain = Ok({"check"});
  EXPECT_EQ(plain.out.find("restore sample"), std::string::npos) << plain.Describe();
  ProcResult sample = Ok({"check", "--restore-sample", "5"});
  EXPECT_NE(sample.out.find("restore sample: 2 of 2 file versions restored"), std::string::npos)
      << sample.Describe();
  EXPECT_NE(sample.out.find("ok      " + a), std::string::npos) << sample.Describe();
  EXPECT_NE(sample.out.find("ok      " + b), std::string::npos) << sample.Describe();
  json js = Json({"check", "--read-data", "--restore-sample", "1"});
  EXPECT_EQ(js.value("ok", false), true) << js.dump();
  EXPECT_EQ(js["restore_sample"]["files"].size(), 1u) << js.dump();
  EXPECT_EQ(js["restore_sample"].value("eligible", 0), 2) << js.dump();
  EXPECT_GT(js.value("packs_read", 0), 0) << js.dump();

  // Damage the pack that holds a.txt (its first bytes: a sealed chunk).
  std::set<std::string> pack_a;
  for (const auto& p : before_b)
    if (p.find("/.tmp") == std::string::npos) pack_a.insert(p);
  ASSERT_EQ(pack_a.size(), 1u);
  PatchFile(*pack_a.begin(), 8, std::string(48, 'X'));
  ProcResult damaged = Expect(1, {"check", "--restore-sample", "5"});
  EXPECT_NE(damaged.err.find("error: restore sample failed: " + a), std::string::npos)
      << damaged.Describe();
  EXPECT_EQ(damaged.err.find("restore sample failed: " + b), std::string::npos)
      << damaged.Describe();
  EXPECT_NE(damaged.out.find("ok      " + b), std::string::npos) << damaged.Describe();
  ProcResult dj = Expect(1, {"--json", "check", "--restore-sample", "5"});
  const json d = json::parse(dj.out);
  EXPECT_EQ(d.value("ok", true), false) << dj.out;
  EXPECT_EQ(d["restore_sample"].value("ok", true), false) << dj.out;
  int failed = 0;
  for (const json& f : d["restore_sample"]["files"])
    if (!f.value("ok", true)) {
      ++failed;
      EXPECT_EQ(f.value("path", ""), a) << dj.out;
      EXPECT_TRUE(f["error"].is_string()) << dj.out;
    }
  EXPECT_EQ(failed, 1) << dj.out;
  // Nothing restored stays behind.
  for (const auto& e : fs::directory_iterator(sb.cache_home() + "/cairn"))
    EXPECT_NE(e.path().filename().string().rfind("restore-sample-", 0), 0u) << e.path();

  for (const char* bad : {"-1", "ten", "100001"}) {
    ProcResult r = Expect(1, {"check", "--restore-sample", bad});
    EXPECT_NE(r.err.find("--restore-sample"), std::string::npos) << bad << "\n" << r.Describe();
  }
  const std::string cfg = sb.Path("cfg/settings.yaml");
  WriteFile(cfg, "maintenance:\n  restore_sample_files: -3\n");
  ProcResult key = Expect(1, {"--config", cfg, "check"});
  EXPECT_NE(key.err.find("maintenance.restore_sample_files: must not be negative"),
            std::string::npos)
      << key.Describe();
}

class InterruptTest : public CliE2eTest {
 protected:
  // Lock objects in the repository (not the local backend's flock file,
  // which stays and holds nothing when no process has it open).
  int LockObjects() const {
    int n = 0;
    std::error_code ec;
    for (auto& e : std::filesystem::directory_iterator(sb.repo() + "/locks", ec))
      n += e.path().extension() != ".flock";
    return n;
  }
};

TEST_F(InterruptTest, InterruptedBackupReleasesItsLockAndTheNextOneFinishes) {
  // Slow on purpose (zstd 19 on incompressible data, one thread).
  WriteFile(sb.Path("settings.yaml"), "backup:\n  compression_level: 19\n  threads: 1\n");
  constexpr int kFiles = 120;
  for (int i = 0; i < kFiles; ++i)
    WriteFile(src() + "/d" + std::to_string(i % 6) + "/f" + std::to_string(i),
              RandomData(128 * 1024, 100 + i));
  Ok({"init"});
  for (int sig : {SIGINT, SIGTERM}) {
    SCOPED_TRACE(sig == SIGINT ? "SIGINT" : "SIGTERM");
    Process p = sb.SpawnCairn({"--config", sb.Path("settings.yaml"), "backup", src()});
    // Wait until it holds its lock and works, then interrupt it.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    bool locked = false;
    while (!locked && std::chrono::steady_clock::now() < deadline) {
      locked = LockObjects() > 0;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_TRUE(locked) << "the backup never took its lock";
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    p.Kill(sig);
    ProcResult r = p.Wait();
    // 15 MiB at zstd 19 takes seconds: the signal lands mid-backup.
    EXPECT_EQ(r.exit_code, 130) << r.Describe();
    EXPECT_NE(r.err.find("stopping"), std::string::npos) << r.Describe();
    EXPECT_EQ(LockObjects(), 0) << "the interrupted backup left its lock behind";
  }
  // Nothing waits for a lock, the repository is sound, and the rest is done.
  CairnRunOptions no_wait;
  no_wait.set = {{"CAIRN_LOCK_WAIT", "0"}};
  json done = Backup({src()}, no_wait);
  EXPECT_EQ(done.value("files_new", 0) + done.value("files_unchanged", 0), kFiles) << done.dump();
  Ok({"check"});
}

// `restore --stdout`: one version's bytes (by id, or by path), and a folder
// as a tar that `tar x` turns back into the same tree (modes, mtimes, a
// symlink, a hard link, a long non-ASCII name). Messages go to stderr only;
// a terminal is refused; damaged data ends in an error that says to discard
// the output.
TEST_F(CliE2eTest, RestoreToStdoutStreamsAVersionAndAFolderAsTar) {
  const std::string dir = src() + "/docs";
  const std::string big = RandomData(3 * kMiB + 123, 7);
  const std::string deep =
      dir + "/sub/été-" + std::string(150, 'x') + "/" + std::string(120, 'y') + "-日本語.txt";
  WriteFile(dir + "/big.bin", big);
  WriteFile(dir + "/notes.txt", "first", 0600);
  WriteFile(deep, "deep\n", 0640);
  ASSERT_EQ(symlink("notes.txt", (dir + "/link").c_str()), 0);
  ASSERT_EQ(link((dir + "/big.bin").c_str(), (dir + "/sub/big-again.bin").c_str()), 0);
  Chmod(dir + "/sub", 0750);
  SetMtime(dir + "/big.bin", 1600000000LL * kSec + 123456789);
  Ok({"init"});
  Backup({src()});
  WriteFile(dir + "/notes.txt", "second version", 0600);
  SetMtime(dir + "/notes.txt", 1600000001LL * kSec + 5);
  SetMtime(dir, 1600000002LL * kSec + 7);
  Backup({src()});
  json versions = Json({"versions", dir + "/notes.txt"});
  ASSERT_EQ(versions.size(), 2u) << versions.dump();
  const std::string id = versions[0].value("id", "");

  // One version: exactly its bytes on stdout, the summary on stderr.
  ProcResult first = Ok({"restore", "--id", id, "--stdout"});
  EXPECT_EQ(first.out, "first");
  EXPECT_NE(first.err.find("SHA-256"), std::string::npos) << first.Describe();
  ProcResult whole = Ok({"restore", dir + "/big.bin", "--stdout"});
  EXPECT_TRUE(whole.out == big) << whole.out.size() << " bytes instead of " << big.size();
  ProcResult quiet = Ok({"-q", "restore", dir + "/notes.txt", "--stdout"});
  EXPECT_EQ(quiet.out, "second version");
  EXPECT_EQ(quiet.err, "");

  // A folder, through a pipe into tar.
  const std::string out = sb.Path("out");
  MakeDirs(out);
  ProcResult piped =
      sb.Run({"bash", "-c", "set -o pipefail; \"$0\" restore \"$1\" --stdout | tar -x -p -C \"$2\"",
              CairnBinary(), dir, out});
  ASSERT_EQ(piped.exit_code, 0) << piped.Describe();
  EXPECT_NE(piped.err.find("a tar of"), std::string::npos) << piped.Describe();
  CompareOptions o;
  o.xattrs = false;  // (tar x reads them only with --xattrs)
  o.sparse = false;
  ExpectSameTree(dir, out + "/docs", o);
  EXPECT_EQ(ReadFile(out + "/docs" + deep.substr(dir.size())), "deep\n");

  // A terminal is refused, saying what to do instead.
  if (!sb.Run({"sh", "-c", "command -v script"}).out.empty()) {
    ProcResult tty = sb.Run(
        {"script", "-qec", CairnBinary() + " restore " + dir + "/notes.txt --stdout", "/dev/null"});
    EXPECT_EQ(tty.exit_code, 1) << tty.Describe();
    EXPECT_NE(tty.out.find("redirect it to a file"), std::string::npos) << tty.Describe();
    EXPECT_EQ(tty.out.find("second version"), std::string::npos) << tty.Describe();
  }
  ProcResult to_and_stdout = Expect(1, {"restore", dir, "--stdout", "--to", sb.Path("x")});
  EXPECT_NE(to_and_stdout.err.find("--to"), std::string::npos) << to_and_stdout.Describe();

  // Damaged data: an error, and the output is declared unusable. later.bin
  // is backed up alone, so its chunks fill a new pack in order; damage to
  // the end of that pack hits its last chunk, after the first were written.
  std::set<std::string> packs_before;
  for (const auto& e : fs::recursive_directory_iterator(sb.repo() + "/data"))
    packs_before.insert(e.path().string());
  const std::string later = RandomData(3 * kMiB, 8);
  WriteFile(dir + "/later.bin", later);
  Backup({src()});
  int damaged_packs = 0;
  for (const auto& e : fs::recursive_directory_iterator(sb.repo() + "/data")) {
    if (!e.is_regular_file() || packs_before.count(e.path().string())) continue;
    std::string pack = ReadFile(e.path());
    for (size_t i = pack.size() * 9 / 10; i < pack.size(); i += 4096) pack[i] ^= 0x5a;
    fs::permissions(e.path(), fs::perms::owner_write, fs::perm_options::add);
    WriteFile(e.path(), pack);
    ++damaged_packs;
  }
  ASSERT_EQ(damaged_packs, 1);
  ProcResult damaged = Expect(1, {"restore", dir + "/later.bin", "--stdout"});
  EXPECT_NE(damaged.err.find("discard"), std::string::npos) << damaged.Describe();
  EXPECT_GT(damaged.out.size(), 0u) << damaged.Describe();
  EXPECT_LT(damaged.out.size(), later.size());
}

}  // namespace
}  // namespace cairn::e2e
