// Queries: a path's versions and state, listings and search over the name
// tree, totals.
#include <algorithm>
#include <cstring>
#include <optional>

#include "base/glob_match.h"
#include "catalog/catalog_impl.h"
#include "catalog/version_coding.h"
#include "repo/version_id.h"

namespace cairn::catalog {
namespace {

using repo::VersionRecord;

// Parameters: ?1 node (or parent), ?2 device id.
constexpr const char kLatestDev[] = "SELECT " CAIRN_VERSION_COLS
                                    " FROM versions v WHERE v.node = ?1 AND v.device = ?2 "
                                    "AND v.latest = 1";
constexpr const char kLatestAll[] =
    "SELECT " CAIRN_VERSION_COLS " FROM versions v WHERE v.node = ?1 AND v.latest = 1";
constexpr const char kVersionsDev[] =
    "SELECT " CAIRN_VERSION_COLS " FROM versions v WHERE v.node = ?1 AND v.device = ?2";
constexpr const char kVersionsAll[] =
    "SELECT " CAIRN_VERSION_COLS " FROM versions v WHERE v.node = ?1";
constexpr const char kByKey[] =
    "SELECT " CAIRN_VERSION_COLS ", v.node FROM versions v WHERE v.vkey = ?1 ORDER BY v.seq";
// A folder's children with their latest version on each device (or none):
// rows of one child are consecutive (names is the outer loop of the join).
#define CAIRN_CHILDREN                               \
  "SELECT n.id, n.name, n.kids, " CAIRN_VERSION_COLS \
  " FROM names n LEFT JOIN versions v ON v.node = n.id AND v.latest = 1"
constexpr const char kChildrenDev[] = CAIRN_CHILDREN " AND v.device = ?2 WHERE n.parent = ?1";
constexpr const char kChildrenAll[] = CAIRN_CHILDREN " WHERE n.parent = ?1";
// The same in name order (the order of the names table's key: no sort), from
// the first name or from after ?3 (bytes: names are BLOBs): a folder's
// listing reads only the rows of the page it gives.
constexpr const char kChildrenDevOrdered[] =
    CAIRN_CHILDREN " AND v.device = ?2 WHERE n.parent = ?1 ORDER BY n.name";
constexpr const char kChildrenAllOrdered[] = CAIRN_CHILDREN " WHERE n.parent = ?1 ORDER BY n.name";
constexpr const char kChildrenDevAfter[] =
    CAIRN_CHILDREN " AND v.device = ?2 WHERE n.parent = ?1 AND n.name > ?3 ORDER BY n.name";
constexpr const char kChildrenAllAfter[] =
    CAIRN_CHILDREN " WHERE n.parent = ?1 AND n.name > ?3 ORDER BY n.name";
#undef CAIRN_CHILDREN
// The same without versions, for walks that keep few paths (Find).
constexpr const char kChildNames[] = "SELECT n.id, n.name, n.kids FROM names n WHERE n.parent = ?1";

constexpr const char kMaxTime[] = "SELECT MAX(max_time) FROM segments";
constexpr const char kDevices[] = "SELECT device, COUNT(*) FROM versions GROUP BY device";
constexpr const char kCountAll[] = "SELECT COUNT(*) FROM versions";
constexpr const char kCountDev[] = "SELECT COUNT(*) FROM versions WHERE device = ?1";
constexpr const char kLatestRecsAll[] =
    "SELECT bt, rec FROM versions WHERE latest = 1 AND deleted = 0";
constexpr const char kLatestRecsDev[] =
    "SELECT bt, rec FROM versions WHERE latest = 1 AND deleted = 0 AND device = ?1";

// "" -> "/", "/a/b/" -> "/a/b"; InvalidArgument unless absolute.
Result<std::string> NormalizeRoot(std::string_view root) {
  if (root.empty()) return std::string("/");
  if (root[0] != '/') {
    return Status::InvalidArgument("catalog: path \"" + std::string(root) + "\" is not absolute");
  }
  while (root.size() > 1 && root.back() == '/') root.remove_suffix(1);
  return std::string(root);
}

// A node of the tree below the folder being listed.
struct Child {
  int64_t node = 0;
  std::string name;
  bool has_children = false;
  std::vector<RawVersion> latest;  // the latest version on each device listed
  bool matched = false;            // Find: its path matches the pattern
};

// Find's test of a path. A plain word ("*word*": no wildcard inside, no '/')
// matches a path iff one of its names contains the word, so the walk tests
// each name once and hands "a folder above matched" down instead of matching
// every full path (most of a search's time before). Any other pattern is
// matched against the full path and the name.
class PathMatcher {
 public:
  explicit PathMatcher(std::string_view pattern) : pattern_(pattern) {
    if (pattern.size() >= 3 && pattern.front() == '*' && pattern.back() == '*') {
      std::string_view word = pattern.substr(1, pattern.size() - 2);
      if (word.find_first_of("*?[\\/") == std::string_view::npos) {
        plain_ = true;
        word_.reserve(word.size());
        for (char c : word) word_.push_back(Lower(c));
      }
    }
  }

  // Whether the path `parent` + `name` matches (`parent` is the folder's
  // path, empty at the root of the tree), given that the path of a folder
  // above it matched or not.
  bool Matches(const std::string& parent, bool root, std::string_view name, bool below_match) {
    if (plain_) return below_match || ContainsWord(name);
    // Names typed at a prompt: ASCII letters in either case, bytes as
    // stored, '\' to quote a wildcard.
    static constexpr GlobOptions kFindGlob{.ascii_case_insensitive = true,
                                           .utf8 = false,
                                           .backslash_escapes = true,
                                           .caret_negates = true};
    if (root) return GlobMatch(pattern_, name, kFindGlob);
    path_.assign(parent);
    path_.push_back('/');
    path_.append(name);
    return GlobMatch(pattern_, path_, kFindGlob) || GlobMatch(pattern_, name, kFindGlob);
  }

 private:
  static char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
  bool ContainsWord(std::string_view name) const {
    const size_t m = word_.size();
    if (name.size() < m) return false;
    for (size_t i = 0; i + m <= name.size(); ++i) {
      if (Lower(name[i]) != word_[0]) continue;
      size_t j = 1;
      while (j < m && Lower(name[i + j]) == word_[j]) ++j;
      if (j == m) return true;
    }
    return false;
  }

  const std::string pattern_;
  bool plain_ = false;
  std::string word_;  // the plain word, ASCII lower case
  std::string path_;  // scratch: the full path being matched
};

// Full-path byte order among one folder's entries: a child itself sorts by
// its name, everything below it by its name + "/" (so "b-x" < "b/c" < "b2").
struct Item {
  const Child* child;
  bool below;  // the child's subtree, not the child
};
bool ItemLess(const Item& a, const Item& b) {
  const std::string& x = a.child->name;
  const std::string& y = b.child->name;
  size_t n = std::min(x.size(), y.size());
  int c = n == 0 ? 0 : std::memcmp(x.data(), y.data(), n);
  if (c != 0) return c < 0;
  if (x.size() == y.size()) return !a.below && b.below;
  // One name is a prefix of the other: compare what follows it.
  auto next = [n](const std::string& s, bool below) -> int {
    if (s.size() > n) return static_cast<unsigned char>(s[n]);
    return below ? '/' : -1;  // -1: the key ends here
  };
  return next(x, a.below) < next(y, b.below);
}

}  // namespace

// ---- Reading versions ------------------------------------------------------------

RawVersion Catalog::Impl::ReadRaw(const Query& q, int first) {
  RawVersion r;
  r.seq = q.Int(first);
  r.device = q.Int(first + 1);
  r.deleted = q.Int(first + 2) != 0;
  r.bt = q.Int(first + 3);
  r.rec.assign(q.Blob(first + 4));
  return r;
}

Result<VersionRecord> Catalog::Impl::Decode(const RawVersion& raw, std::string_view path) {
  VersionRecord r;
  r.path.assign(path);
  CAIRN_ASSIGN_OR_RETURN(r.device, DeviceName(raw.device));
  r.backup_time = raw.bt;
  r.deleted = raw.deleted;
  int64_t attrs_id = 0;
  CAIRN_RETURN_IF_ERROR(DecodeVersion(raw.rec, &r, &attrs_id));
  if (attrs_id != 0) {
    CAIRN_ASSIGN_OR_RETURN(const SharedAttrs* a, Attrs(attrs_id));
    r.uid = a->uid;
    r.gid = a->gid;
    r.user = a->user;
    r.group = a->group;
    r.dev = a->dev;
  }
  return r;
}

Status Catalog::Impl::VersionsOf(int64_t node, int64_t device, std::vector<RawVersion>* out) {
  CAIRN_ASSIGN_OR_RETURN(Query q, db_->Prepare(device != 0 ? kVersionsDev : kVersionsAll));
  q.Bind(1, node);
  if (device != 0) q.Bind(2, device);
  while (true) {
    CAIRN_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return Status::OK();
    out->push_back(ReadRaw(q, 0));
  }
}

Result<const RawVersion*> Catalog::Impl::StateAt(const std::vector<RawVersion>& candidates,
                                                 TimeNs at) {
  const RawVersion* best = nullptr;
  for (const RawVersion& v : candidates) {
    if (best != nullptr && Before(v, *best)) continue;
    if (at != kLatest) {
      CAIRN_ASSIGN_OR_RETURN(VersionPeek peek, PeekVersion(v.rec, v.bt));
      if (peek.wall > at) continue;
    }
    best = &v;
  }
  return best;
}

namespace {

// The id of `device`, 0 for all devices; nullopt for a device the catalog
// has never seen (nothing to find).
Result<std::optional<int64_t>> DeviceFilter(Catalog::Impl& impl, std::string_view device) {
  if (device.empty()) return std::optional<int64_t>(0);
  return impl.DeviceId(device, false);
}

// The catalog's listings: a depth-first walk of the name tree in full-path
// byte order, one query per folder (its children with their latest
// versions), emitting the state at `at` of every existing path.
class TreeWalk {
 public:
  // With a filter, only the paths it matches are emitted (else all). With
  // include_deleted, a path whose state at `at` is a deletion record is
  // emitted as that record (else it is skipped).
  TreeWalk(Catalog::Impl& impl, int64_t device, TimeNs at, PathMatcher* filter,
           const std::function<Status(const VersionRecord&)>& fn, bool include_deleted = false)
      : impl_(impl),
        device_(device),
        at_(at),
        filter_(filter),
        fn_(fn),
        include_deleted_(include_deleted) {}

  // Everything below `node`, whose path is `*path` (a buffer the walk
  // extends and gives back as it was); `below_match`: the filter matched a
  // folder above.
  Status Below(int64_t node, std::string* path, bool below_match = false) {
    std::vector<Child> children;
    CAIRN_RETURN_IF_ERROR(Children(node, *path, below_match, &children));
    std::vector<Item> items;
    items.reserve(children.size() * 2);
    for (const Child& c : children) {
      items.push_back({&c, false});
      if (c.has_children) items.push_back({&c, true});
    }
    std::sort(items.begin(), items.end(), ItemLess);
    const size_t length = path->size();
    for (const Item& item : items) {
      if (node != 0) path->push_back('/');
      path->append(item.child->name);
      Status st = item.below ? Below(item.child->node, path, below_match || item.child->matched)
                             : Emit(*item.child, *path);
      path->resize(length);
      CAIRN_RETURN_IF_ERROR(st);
    }
    return Status::OK();
  }

  // The direct children of `node` (except one named `skip`, if given), in
  // name order: those whose name sorts after `after` (bytes; all when
  // empty), until `limit` entries were emitted (0: no limit). Returns the
  // name to list after for the next page: the last one emitted, when the
  // limit was reached and a child after it has an entry to emit; else "".
  // Reads the children's rows as it emits them, up to the next entry after
  // the page (past children with no state at `at`, or deleted ones).
  Result<std::string> ChildrenOf(int64_t node, const std::string& path, const std::string* skip,
                                 std::string_view after = {}, size_t limit = 0) {
    const char* sql = after.empty() ? (device_ != 0 ? kChildrenDevOrdered : kChildrenAllOrdered)
                                    : (device_ != 0 ? kChildrenDevAfter : kChildrenAllAfter);
    CAIRN_ASSIGN_OR_RETURN(Query q, impl_.db().Prepare(sql));
    q.Bind(1, node);
    if (device_ != 0) q.Bind(2, device_);
    if (!after.empty()) q.BindBlob(3, after);
    size_t emitted = 0;
    std::string last;  // the last name emitted
    Child c;
    // Done with child `c`: emits it, or (once the page is full) tells
    // whether it has an entry, i.e. whether another page follows.
    auto done = [&]() -> Result<bool> {  // true: stop here
      if (skip != nullptr && c.name == *skip) return false;
      if (limit != 0 && emitted >= limit) return HasEntry(c);
      size_t n = 0;
      CAIRN_RETURN_IF_ERROR(Emit(c, node == 0 ? c.name : path + "/" + c.name, &n));
      if (n != 0) last = c.name;
      emitted += n;
      return false;
    };
    bool have = false;
    while (true) {
      CAIRN_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      int64_t id = q.Int(0);
      if (!have || c.node != id) {
        if (have) {
          CAIRN_ASSIGN_OR_RETURN(bool stop, done());
          if (stop) return last;
        }
        have = true;
        c.node = id;
        c.name.assign(q.Blob(1));
        c.has_children = q.Int(2) != 0;
        c.latest.clear();
      }
      if (!q.IsNull(3)) c.latest.push_back(Catalog::Impl::ReadRaw(q, 3));
    }
    if (have) {
      CAIRN_ASSIGN_OR_RETURN(bool stop, done());
      if (stop) return last;
    }
    return std::string();
  }

  // `node` itself.
  Status Self(int64_t node, const std::string& path) {
    Child c;
    c.node = node;
    CAIRN_RETURN_IF_ERROR(Latest(node, &c.latest));  // (done before fn runs: it may query)
    return Emit(c, path);
  }

 private:
  // The children of `node` (whose path is `path`), with the latest versions
  // of those the filter keeps.
  Status Children(int64_t node, const std::string& path, bool below_match,
                  std::vector<Child>* out) {
    if (filter_ != nullptr) return FilteredChildren(node, path, below_match, out);
    CAIRN_ASSIGN_OR_RETURN(Query q, impl_.db().Prepare(device_ != 0 ? kChildrenDev : kChildrenAll));
    q.Bind(1, node);
    if (device_ != 0) q.Bind(2, device_);
    while (true) {
      CAIRN_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) return Status::OK();
      int64_t id = q.Int(0);
      if (out->empty() || out->back().node != id) {
        out->push_back(Child{id, std::string(q.Blob(1)), q.Int(2) != 0, {}});
      }
      if (!q.IsNull(3)) out->back().latest.push_back(Catalog::Impl::ReadRaw(q, 3));
    }
  }

  // Names first, then the versions of those the filter keeps: a search
  // reads the versions of its matches only.
  Status FilteredChildren(int64_t node, const std::string& path, bool below_match,
                          std::vector<Child>* out) {
    std::vector<size_t> kept;
    {
      CAIRN_ASSIGN_OR_RETURN(Query q, impl_.db().Prepare(kChildNames));
      q.Bind(1, node);
      while (true) {
        CAIRN_ASSIGN_OR_RETURN(bool row, q.Step());
        if (!row) break;
        Child& c = out->emplace_back(Child{q.Int(0), std::string(q.Blob(1)), q.Int(2) != 0, {}});
        c.matched = filter_->Matches(path, node == 0, c.name, below_match);
        if (c.matched) kept.push_back(out->size() - 1);
      }
    }
    for (size_t i : kept) CAIRN_RETURN_IF_ERROR(Latest((*out)[i].node, &(*out)[i].latest));
    return Status::OK();
  }

  // The latest version of `node` on each device listed.
  Status Latest(int64_t node, std::vector<RawVersion>* out) {
    CAIRN_ASSIGN_OR_RETURN(Query q, impl_.db().Prepare(device_ != 0 ? kLatestDev : kLatestAll));
    q.Bind(1, node);
    if (device_ != 0) q.Bind(2, device_);
    while (true) {
      CAIRN_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) return Status::OK();
      out->push_back(Catalog::Impl::ReadRaw(q, 0));
    }
  }

  // The state at `at` of `latest`'s path on its device (pointing to
  // `latest` or into `*all`): null when it has none then, or it is a
  // deletion record and those are not emitted.
  Result<const RawVersion*> StateOf(const Child& c, const RawVersion& latest,
                                    std::vector<RawVersion>* all) {
    const RawVersion* state = &latest;
    if (at_ != kLatest) {
      CAIRN_ASSIGN_OR_RETURN(VersionPeek peek, PeekVersion(latest.rec, latest.bt));
      if (peek.wall > at_) {
        // Made after `at` by its device's clock: an older version, if any.
        CAIRN_RETURN_IF_ERROR(impl_.VersionsOf(c.node, latest.device, all));
        CAIRN_ASSIGN_OR_RETURN(state, impl_.StateAt(*all, at_));
      }
    }
    if (state == nullptr || (state->deleted && !include_deleted_)) return nullptr;
    return state;
  }

  // Whether Emit would emit anything for `c`.
  Result<bool> HasEntry(const Child& c) {
    for (const RawVersion& latest : c.latest) {
      std::vector<RawVersion> all;
      CAIRN_ASSIGN_OR_RETURN(const RawVersion* state, StateOf(c, latest, &all));
      if (state != nullptr) return true;
    }
    return false;
  }

  // The state at `at` of each device's path at this node, by device name;
  // adds the number of entries given to fn to `*emitted` when set.
  Status Emit(const Child& c, const std::string& path, size_t* emitted = nullptr) {
    if (c.latest.empty()) return Status::OK();
    std::vector<VersionRecord> out;  // several devices: sorted before fn sees them
    for (const RawVersion& latest : c.latest) {
      std::vector<RawVersion> all;
      CAIRN_ASSIGN_OR_RETURN(const RawVersion* state, StateOf(c, latest, &all));
      if (state == nullptr) continue;
      CAIRN_ASSIGN_OR_RETURN(VersionRecord r, impl_.Decode(*state, path));
      if (emitted != nullptr) ++*emitted;
      if (c.latest.size() == 1) return fn_(r);
      out.push_back(std::move(r));
    }
    if (out.size() > 1) {
      std::sort(out.begin(), out.end(),
                [](const VersionRecord& a, const VersionRecord& b) { return a.device < b.device; });
    }
    for (const VersionRecord& r : out) CAIRN_RETURN_IF_ERROR(fn_(r));
    return Status::OK();
  }

  Catalog::Impl& impl_;
  const int64_t device_;
  const TimeNs at_;
  PathMatcher* const filter_;
  const std::function<Status(const VersionRecord&)>& fn_;
  const bool include_deleted_;
};

}  // namespace

// ---- Catalog ---------------------------------------------------------------------

Result<std::optional<VersionRecord>> Catalog::Lookup(std::string_view device, std::string_view path,
                                                     TimeNs at) {
  ReadTransaction txn(&impl_->db());
  CAIRN_RETURN_IF_ERROR(txn.Begin());
  using Out = std::optional<VersionRecord>;
  CAIRN_ASSIGN_OR_RETURN(auto dev, DeviceFilter(*impl_, device));
  if (!dev) return Out();
  CAIRN_ASSIGN_OR_RETURN(auto node, impl_->Node(path, false));
  if (!node) return Out();
  std::vector<RawVersion> candidates;
  if (at == kLatest) {
    CAIRN_ASSIGN_OR_RETURN(Query q, impl_->db().Prepare(*dev != 0 ? kLatestDev : kLatestAll));
    q.Bind(1, *node);
    if (*dev != 0) q.Bind(2, *dev);
    while (true) {
      CAIRN_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      candidates.push_back(Impl::ReadRaw(q, 0));
    }
  } else {
    CAIRN_RETURN_IF_ERROR(impl_->VersionsOf(*node, *dev, &candidates));
  }
  CAIRN_ASSIGN_OR_RETURN(const RawVersion* state, impl_->StateAt(candidates, at));
  if (state == nullptr || state->deleted) return Out();
  CAIRN_ASSIGN_OR_RETURN(VersionRecord r, impl_->Decode(*state, path));
  return Out(std::move(r));
}

Result<std::vector<VersionRecord>> Catalog::Versions(std::string_view device,
                                                     std::string_view path) {
  ReadTransaction txn(&impl_->db());
  CAIRN_RETURN_IF_ERROR(txn.Begin());
  std::vector<VersionRecord> out;
  CAIRN_ASSIGN_OR_RETURN(auto dev, DeviceFilter(*impl_, device));
  if (!dev) return out;
  CAIRN_ASSIGN_OR_RETURN(auto node, impl_->Node(path, false));
  if (!node) return out;
  std::vector<RawVersion> raw;
  CAIRN_RETURN_IF_ERROR(impl_->VersionsOf(*node, *dev, &raw));
  std::sort(raw.begin(), raw.end(), Before);
  out.reserve(raw.size());
  for (const RawVersion& v : raw) {
    CAIRN_ASSIGN_OR_RETURN(VersionRecord r, impl_->Decode(v, path));
    out.push_back(std::move(r));
  }
  return out;
}

Result<std::optional<VersionRecord>> Catalog::VersionById(const repo::VersionId& id) {
  ReadTransaction txn(&impl_->db());
  CAIRN_RETURN_IF_ERROR(txn.Begin());
  std::vector<std::pair<RawVersion, int64_t>> candidates;  // (version, node)
  {
    CAIRN_ASSIGN_OR_RETURN(Query q, impl_->db().Prepare(kByKey));
    q.Bind(1, VersionKey(id));
    while (true) {
      CAIRN_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      candidates.emplace_back(Impl::ReadRaw(q, 0), q.Int(kVersionCols));
    }
  }
  // Other versions share the key's 3 bytes: the full id decides. The same
  // record ingested twice (a compaction) is one version: the first is kept.
  for (const auto& [raw, node] : candidates) {
    CAIRN_ASSIGN_OR_RETURN(std::string path, impl_->PathOf(node));
    CAIRN_ASSIGN_OR_RETURN(VersionRecord r, impl_->Decode(raw, path));
    if (repo::VersionIdOf(r) == id) return std::optional<VersionRecord>(std::move(r));
  }
  return std::optional<VersionRecord>();
}

Status Catalog::ForEachHistory(std::string_view device,
                               const std::function<Status(std::vector<VersionRecord>&&)>& fn) {
  return ForEachHistoryLazyPath(
      device, [&](std::vector<VersionRecord>&& history, const PathFn& path) -> Status {
        CAIRN_ASSIGN_OR_RETURN(std::string p, path());
        for (VersionRecord& r : history) r.path = p;
        return fn(std::move(history));
      });
}

Status Catalog::ForEachHistoryLazyPath(
    std::string_view device,
    const std::function<Status(std::vector<VersionRecord>&&, const PathFn&)>& fn) {
  ReadTransaction txn(&impl_->db());
  CAIRN_RETURN_IF_ERROR(txn.Begin());
  CAIRN_ASSIGN_OR_RETURN(auto dev, DeviceFilter(*impl_, device));
  if (!dev) return Status::OK();
  CAIRN_ASSIGN_OR_RETURN(
      Query q,
      impl_->db().Prepare(*dev != 0 ? "SELECT " CAIRN_VERSION_COLS
                                      ", v.node FROM versions v WHERE v.device = ?1 "
                                      "ORDER BY v.node, v.device, v.bt, v.seq"
                                    : "SELECT " CAIRN_VERSION_COLS ", v.node FROM versions v "
                                      "ORDER BY v.node, v.device, v.bt, v.seq"));
  if (*dev != 0) q.Bind(1, *dev);
  std::vector<VersionRecord> history;
  int64_t node = -1, node_device = -1;
  // The path of the history being emitted, looked up at most once.
  std::optional<std::string> path;
  const PathFn path_of = [&]() -> Result<std::string> {
    if (!path) {
      CAIRN_ASSIGN_OR_RETURN(std::string p, impl_->PathOf(node));
      path = std::move(p);
    }
    return *path;
  };
  static const std::string kNoPath;
  while (true) {
    CAIRN_ASSIGN_OR_RETURN(bool row, q.Step());
    const RawVersion raw = row ? Impl::ReadRaw(q, 0) : RawVersion();
    const int64_t row_node = row ? q.Int(kVersionCols) : -1;
    if (!history.empty() && (!row || row_node != node || raw.device != node_device)) {
      CAIRN_RETURN_IF_ERROR(fn(std::move(history), path_of));
      history.clear();
    }
    if (!row) break;
    if (row_node != node) {
      node = row_node;
      path.reset();
    }
    node_device = raw.device;
    CAIRN_ASSIGN_OR_RETURN(VersionRecord r, impl_->Decode(raw, kNoPath));
    history.push_back(std::move(r));
  }
  return Status::OK();
}

Status Catalog::ForEachChunkList(const std::function<Status(const std::vector<Id>&)>& fn) {
  ReadTransaction txn(&impl_->db());
  CAIRN_RETURN_IF_ERROR(txn.Begin());
  CAIRN_ASSIGN_OR_RETURN(
      Query q, impl_->db().Prepare("SELECT v.bt, v.rec FROM versions v WHERE v.deleted = 0"));
  while (true) {
    CAIRN_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return Status::OK();
    VersionRecord r;
    r.backup_time = q.Int(0);
    int64_t attrs = 0;
    CAIRN_RETURN_IF_ERROR(DecodeVersion(q.Blob(1), &r, &attrs));
    if (r.chunks.empty()) continue;
    CAIRN_RETURN_IF_ERROR(fn(r.chunks));
  }
}

Status Catalog::ListTree(std::string_view device, std::string_view root, TimeNs at, bool recursive,
                         const std::function<Status(const VersionRecord&)>& fn) {
  if (!recursive) return ListChildren(device, root, at, {}, 0, fn).status();
  CAIRN_ASSIGN_OR_RETURN(std::string dir, NormalizeRoot(root));
  ReadTransaction txn(&impl_->db());
  CAIRN_RETURN_IF_ERROR(txn.Begin());
  CAIRN_ASSIGN_OR_RETURN(auto dev, DeviceFilter(*impl_, device));
  if (!dev) return Status::OK();
  TreeWalk walk(*impl_, *dev, at, nullptr, fn);
  if (dir == "/") {
    // Every absolute path lies below the node of "" (the first component of
    // "/x"); "/" itself is its child named "".
    CAIRN_ASSIGN_OR_RETURN(auto top, impl_->Node("", false));
    if (!top) return Status::OK();
    std::string path;
    return walk.Below(*top, &path);
  }
  CAIRN_ASSIGN_OR_RETURN(auto node, impl_->Node(dir, false));
  if (!node) return Status::OK();
  CAIRN_RETURN_IF_ERROR(walk.Self(*node, dir));  // root sorts before everything under it
  return walk.Below(*node, &dir);
}

Result<std::string> Catalog::ListChildren(std::string_view device, std::string_view root, TimeNs at,
                                          std::string_view after, size_t limit,
                                          const std::function<Status(const VersionRecord&)>& fn) {
  CAIRN_ASSIGN_OR_RETURN(std::string dir, NormalizeRoot(root));
  ReadTransaction txn(&impl_->db());
  CAIRN_RETURN_IF_ERROR(txn.Begin());
  CAIRN_ASSIGN_OR_RETURN(auto dev, DeviceFilter(*impl_, device));
  if (!dev) return std::string();
  TreeWalk walk(*impl_, *dev, at, nullptr, fn);
  if (dir == "/") {
    // The children of "/" are those of the node of "" (the first component
    // of "/x"), but for "/" itself, its child named "".
    CAIRN_ASSIGN_OR_RETURN(auto top, impl_->Node("", false));
    if (!top) return std::string();
    static const std::string kSelf;
    return walk.ChildrenOf(*top, std::string(), &kSelf, after, limit);
  }
  CAIRN_ASSIGN_OR_RETURN(auto node, impl_->Node(dir, false));
  if (!node) return std::string();
  return walk.ChildrenOf(*node, dir, nullptr, after, limit);
}

Status Catalog::Find(std::string_view device, std::string_view pattern,
                     const std::function<Status(const VersionRecord&)>& fn,
                     const FindOptions& options) {
  ReadTransaction txn(&impl_->db());
  CAIRN_RETURN_IF_ERROR(txn.Begin());
  CAIRN_ASSIGN_OR_RETURN(auto dev, DeviceFilter(*impl_, device));
  if (!dev) return Status::OK();
  PathMatcher matcher(pattern);
  TreeWalk walk(*impl_, *dev, kLatest, &matcher, fn, options.include_deleted);
  std::string path;
  return walk.Below(0, &path);
}

Result<std::optional<VersionRecord>> Catalog::LatestForSkip(std::string_view device,
                                                            std::string_view path) {
  using Out = std::optional<VersionRecord>;
  if (device.empty()) return Status::InvalidArgument("catalog: LatestForSkip needs a device");
  ReadTransaction txn(&impl_->db());
  CAIRN_RETURN_IF_ERROR(txn.Begin());
  CAIRN_ASSIGN_OR_RETURN(auto dev, impl_->DeviceId(device, false));
  if (!dev) return Out();
  CAIRN_ASSIGN_OR_RETURN(auto node, impl_->Node(path, false));
  if (!node) return Out();
  RawVersion raw;
  {
    CAIRN_ASSIGN_OR_RETURN(Query q, impl_->db().Prepare(kLatestDev));
    q.Bind(1, *node);
    q.Bind(2, *dev);
    CAIRN_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) return Out();
    raw = Impl::ReadRaw(q, 0);
  }
  if (raw.deleted) return Out();
  CAIRN_ASSIGN_OR_RETURN(VersionRecord r, impl_->Decode(raw, path));
  return Out(std::move(r));
}

Result<TimeNs> Catalog::MaxBackupTime() {
  CAIRN_ASSIGN_OR_RETURN(Query q, impl_->db().Prepare(kMaxTime));
  CAIRN_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row || q.IsNull(0)) return TimeNs{0};
  return TimeNs{q.Int(0)};
}

Result<std::vector<std::pair<std::string, uint64_t>>> Catalog::Devices() {
  ReadTransaction txn(&impl_->db());
  CAIRN_RETURN_IF_ERROR(txn.Begin());
  std::vector<std::pair<int64_t, uint64_t>> counts;
  {
    CAIRN_ASSIGN_OR_RETURN(Query q, impl_->db().Prepare(kDevices));
    while (true) {
      CAIRN_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      counts.emplace_back(q.Int(0), q.U64(1));
    }
  }
  std::vector<std::pair<std::string, uint64_t>> out;
  for (const auto& [id, n] : counts) {
    CAIRN_ASSIGN_OR_RETURN(std::string name, impl_->DeviceName(id));
    out.emplace_back(std::move(name), n);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<Catalog::Totals> Catalog::GetTotals(std::string_view device) {
  ReadTransaction txn(&impl_->db());
  CAIRN_RETURN_IF_ERROR(txn.Begin());
  Totals t;
  CAIRN_ASSIGN_OR_RETURN(auto dev, DeviceFilter(*impl_, device));
  if (!dev) return t;
  const bool all = *dev == 0;
  {
    CAIRN_ASSIGN_OR_RETURN(Query q, impl_->db().Prepare(all ? kCountAll : kCountDev));
    if (!all) q.Bind(1, *dev);
    CAIRN_ASSIGN_OR_RETURN(bool row, q.Step());
    if (row) t.versions = q.U64(0);
  }
  CAIRN_ASSIGN_OR_RETURN(Query q, impl_->db().Prepare(all ? kLatestRecsAll : kLatestRecsDev));
  if (!all) q.Bind(1, *dev);
  while (true) {
    CAIRN_ASSIGN_OR_RETURN(bool row, q.Step());
    if (!row) break;
    ++t.paths;
    CAIRN_ASSIGN_OR_RETURN(VersionPeek peek, PeekVersion(q.Blob(1), q.Int(0)));
    if (peek.type == repo::FileType::kFile) t.latest_bytes += peek.size;
  }
  return t;
}

}  // namespace cairn::catalog
