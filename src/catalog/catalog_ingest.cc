// Ingestion: segments in and out, the run history, and the name tree and
// interned strings they add to.
#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "catalog/catalog_impl.h"
#include "catalog/version_coding.h"
#include "repo/version_id.h"

namespace cairn::catalog {
namespace {

using repo::VersionRecord;

constexpr const char kSegmentFind[] = "SELECT seg FROM segments WHERE id = ?1";
constexpr const char kSegmentInsert[] =
    "INSERT INTO segments(id, first_seq, records, max_time) VALUES (?1, ?2, ?3, ?4)";
constexpr const char kSegmentRange[] = "SELECT seg, first_seq, records FROM segments WHERE id = ?1";
constexpr const char kSegmentDelete[] = "DELETE FROM segments WHERE seg = ?1";

constexpr const char kVersionsInRange[] =
    "SELECT node, device, latest FROM versions WHERE seq BETWEEN ?1 AND ?2";
constexpr const char kVersionDeleteRange[] = "DELETE FROM versions WHERE seq BETWEEN ?1 AND ?2";
constexpr const char kVersionLatest[] =
    "SELECT seq, bt FROM versions WHERE node = ?1 AND device = ?2 AND latest = 1";
constexpr const char kVersionTimes[] =
    "SELECT seq, bt FROM versions WHERE node = ?1 AND device = ?2";
constexpr const char kVersionSetLatest[] = "UPDATE versions SET latest = ?2 WHERE seq = ?1";
constexpr const char kVersionInsert[] =
    "INSERT INTO versions(node, device, latest, deleted, bt, vkey, rec) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
constexpr const char kNodeHasVersion[] = "SELECT 1 FROM versions WHERE node = ?1 LIMIT 1";
constexpr const char kForgottenInsert[] = "INSERT OR IGNORE INTO forgotten(vid) VALUES (?1)";
constexpr const char kForgottenAny[] = "SELECT 1 FROM forgotten LIMIT 1";
constexpr const char kForgottenHas[] = "SELECT 1 FROM forgotten WHERE vid = ?1";
constexpr const char kVersionsByKey[] =
    "SELECT v.seq, v.device, v.deleted, v.bt, v.rec, v.node, v.latest FROM versions v "
    "WHERE v.vkey = ?1";
constexpr const char kVersionDelete[] = "DELETE FROM versions WHERE seq = ?1";

constexpr const char kNodeFind[] = "SELECT id FROM names WHERE parent = ?1 AND name = ?2";
constexpr const char kNodeInsert[] = "INSERT INTO nodes(parent) VALUES (?1)";
constexpr const char kNameInsert[] = "INSERT INTO names(parent, name, id) VALUES (?1, ?2, ?3)";
constexpr const char kNameHasKids[] =
    "UPDATE names SET kids = 1 WHERE parent = ?1 AND name = ?2 AND kids = 0";
constexpr const char kNodeParent[] = "SELECT parent FROM nodes WHERE id = ?1";
// A node's parent and name (found among its siblings).
constexpr const char kNodeGet[] =
    "SELECT n.parent, (SELECT s.name FROM names s WHERE s.parent = n.parent AND s.id = n.id) "
    "FROM nodes n WHERE n.id = ?1";
constexpr const char kNodeHasChild[] = "SELECT 1 FROM names WHERE parent = ?1 LIMIT 1";
constexpr const char kNodeDelete[] = "DELETE FROM nodes WHERE id = ?1";
constexpr const char kNameDelete[] = "DELETE FROM names WHERE parent = ?1 AND id = ?2";

constexpr const char kDeviceFind[] = "SELECT id FROM devices WHERE name = ?1";
constexpr const char kDeviceGet[] = "SELECT name FROM devices WHERE id = ?1";
constexpr const char kDeviceInsert[] = "INSERT INTO devices(name) VALUES (?1)";
constexpr const char kAttrsInsert[] =
    "INSERT INTO attrs(uid, gid, user, grp, dev) VALUES (?1, ?2, ?3, ?4, ?5) "
    "ON CONFLICT DO NOTHING";
constexpr const char kAttrsFind[] =
    "SELECT id FROM attrs WHERE uid = ?1 AND gid = ?2 AND user = ?3 AND grp = ?4 AND dev = ?5";
constexpr const char kAttrsGet[] = "SELECT uid, gid, user, grp, dev FROM attrs WHERE id = ?1";

// One row per run; a later segment widens the times, completes the run and
// brings the final statistics. Roots come with the run's own segments (a
// compacted segment's account of a run has none).
constexpr const char kRunUpsert[] =
    "INSERT INTO runs(run, device, started, ended, complete, roots, files_new, files_changed, "
    "files_unchanged, bytes_read, bytes_stored, errors) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) "
    "ON CONFLICT(run) DO UPDATE SET started = MIN(started, excluded.started), "
    "ended = MAX(ended, excluded.ended), complete = MAX(complete, excluded.complete), "
    "roots = IIF(roots = x'', excluded.roots, roots), "
    "files_new = IIF(excluded.complete, excluded.files_new, files_new), "
    "files_changed = IIF(excluded.complete, excluded.files_changed, files_changed), "
    "files_unchanged = IIF(excluded.complete, excluded.files_unchanged, files_unchanged), "
    "bytes_read = IIF(excluded.complete, excluded.bytes_read, bytes_read), "
    "bytes_stored = IIF(excluded.complete, excluded.bytes_stored, bytes_stored), "
    "errors = IIF(excluded.complete, excluded.errors, errors)";

constexpr const char kClear[] =
    "DELETE FROM versions; DELETE FROM names; DELETE FROM nodes; DELETE FROM segments; "
    "DELETE FROM runs; DELETE FROM superseded; DELETE FROM forgotten; "
    "DELETE FROM meta";

void BindId(Query& q, int i, const Id& id) { q.BindBlob(i, id.bytes.data(), id.bytes.size()); }

// The attrs cache's key: every field, unambiguously.
std::string AttrsKey(const VersionRecord& r) {
  std::string key;
  key.append(reinterpret_cast<const char*>(&r.uid), sizeof(r.uid));
  key.append(reinterpret_cast<const char*>(&r.gid), sizeof(r.gid));
  key.append(reinterpret_cast<const char*>(&r.dev), sizeof(r.dev));
  key.append(std::to_string(r.user.size()));
  key.push_back(':');
  key.append(r.user);
  key.append(r.group);
  return key;
}

}  // namespace

// ---- Segments ------------------------------------------------------------------

Status Catalog::Impl::AddSegment(const Id& segment_id, const SegmentInfo& info,
                                 const std::vector<VersionRecord>& records) {
  {
    CAIRN_ASSIGN_OR_RETURN(Query q, db_->Prepare(kSegmentFind));
    BindId(q, 1, segment_id);
    CAIRN_ASSIGN_OR_RETURN(bool found, q.Step());
    if (found) return Status::OK();
  }
  for (const auto& r : records) {
    if (r.path.empty()) {
      return Status::InvalidArgument("catalog: segment " + segment_id.Hex() +
                                     " has a version with an empty path");
    }
  }
  CAIRN_RETURN_IF_ERROR(CheckDataVersion());
  if (!info.forget.empty()) CAIRN_RETURN_IF_ERROR(ForgetVersions(info.forget));
  // Records forgotten before they arrive are not inserted (a new catalog may
  // meet the forget segment first).
  bool any_forgotten = false;
  {
    CAIRN_ASSIGN_OR_RETURN(Query q, db_->Prepare(kForgottenAny));
    CAIRN_ASSIGN_OR_RETURN(any_forgotten, q.Step());
  }
  int64_t first_seq = 0, inserted = 0;
  TimeNs max_time = 0;
  // Records of a segment nearly always share their device.
  std::string_view device_name;
  int64_t device = -1;
  for (const auto& r : records) {
    const repo::VersionId vid = repo::VersionIdOf(r);
    if (any_forgotten) {
      CAIRN_ASSIGN_OR_RETURN(Query q, db_->Prepare(kForgottenHas));
      q.BindBlob(1, vid.data(), vid.size());
      CAIRN_ASSIGN_OR_RETURN(bool gone, q.Step());
      if (gone) continue;
    }
    if (device < 0 || r.device != device_name) {
      CAIRN_ASSIGN_OR_RETURN(auto id, DeviceId(r.device, true));
      device = *id;
      device_name = r.device;
    }
    CAIRN_ASSIGN_OR_RETURN(int64_t seq, InsertVersion(r, vid, device));
    if (first_seq == 0) first_seq = seq;
    ++inserted;
    max_time = std::max(max_time, r.backup_time);
  }
  {
    CAIRN_ASSIGN_OR_RETURN(Query q, db_->Prepare(kSegmentInsert));
    BindId(q, 1, segment_id);
    q.Bind(2, first_seq);
    q.Bind(3, inserted);
    q.Bind(4, max_time);
    CAIRN_RETURN_IF_ERROR(q.Run());
  }
  return AddRun(info);
}

Result<int64_t> Catalog::Impl::InsertVersion(const VersionRecord& r, const repo::VersionId& vid,
                                             int64_t device) {
  CAIRN_ASSIGN_OR_RETURN(auto node, Node(r.path, true));
  CAIRN_ASSIGN_OR_RETURN(int64_t attrs, AttrsId(r));
  bool is_latest = true;
  {
    CAIRN_ASSIGN_OR_RETURN(Query q, db_->Prepare(kVersionLatest));
    q.Bind(1, *node);
    q.Bind(2, device);
    CAIRN_ASSIGN_OR_RETURN(bool found, q.Step());
    if (found) {
      int64_t seq = q.Int(0);
      is_latest = r.backup_time >= q.Int(1);  // ties: the later ingested wins
      if (is_latest) {
        CAIRN_ASSIGN_OR_RETURN(Query u, db_->Prepare(kVersionSetLatest));
        u.Bind(1, seq);
        u.Bind(2, 0);
        CAIRN_RETURN_IF_ERROR(u.Run());
      }
    }
  }
  EncodeVersion(r, attrs, &rec_buffer_);
  CAIRN_ASSIGN_OR_RETURN(Query q, db_->Prepare(kVersionInsert));
  q.Bind(1, *node);
  q.Bind(2, device);
  q.Bind(3, is_latest ? 1 : 0);
  q.Bind(4, r.deleted ? 1 : 0);
  q.Bind(5, r.backup_time);
  q.Bind(6, VersionKey(vid));
  q.BindBlob(7, rec_buffer_);
  CAIRN_RETURN_IF_ERROR(q.Run());
  return db_->LastInsertRowid();
}

Status Catalog::Impl::RemoveSegment(const Id& segment_id) {
  int64_t seg = 0, first = 0, count = 0;
  {
    CAIRN_ASSIGN_OR_RETURN(Query q, db_->Prepare(kSegmentRange));
    BindId(q, 1, segment_id);
    CAIRN_ASSIGN_OR_RETURN(bool found, q.Step());
    if (!found) return Status::OK();
    seg = q.Int(0);
    first = q.Int(1);
    count = q.Int(2);
  }
  // Paths that lose their latest version need a new one; nodes that lose
  // versions may be left with none.
  std::vector<std::pair<int64_t, int64_t>> relatest;  // (node, device)
  std::vector<int64_t> nodes;
  if (count > 0) {
    {
      CAIRN_ASSIGN_OR_RETURN(Query q, db_->Prepare(kVersionsInRange));
      q.Bind(1, first);
      q.Bind(2, first + count - 1);
      while (true) {
        CAIRN_ASSIGN_OR_RETURN(bool row, q.Step());
        if (!row) break;
        nodes.push_back(q.Int(0));
        if (q.Int(2) != 0) relatest.emplace_back(q.Int(0), q.Int(1));
      }
    }
    CAIRN_ASSIGN_OR_RETURN(Query q, db_->Prepare(kVersionDeleteRange));
    q.Bind(1, first);
    q.Bind(2, first + count - 1);
    CAIRN_RETURN_IF_ERROR(q.Run());
  }
  {
    CAIRN_ASSIGN_OR_RETURN(Query q, db_->Prepare(kSegmentDelete));
    q.Bind(1, seg);
    CAIRN_RETURN_IF_ERROR(q.Run());
  }
  for (const auto& [node, device] : relatest) CAIRN_RETURN_IF_ERROR(Relatest(node, device));
  std::sort(nodes.begin(), nodes.end());
  nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());
  // Nodes may go, and their ids be given again.
  chain_.clear();
  folders_.clear();
  for (int64_t node : nodes) CAIRN_RETURN_IF_ERROR(CollectNode(node));
  return Status::OK();
}

Status Catalog::Impl::Relatest(int64_t node, int64_t device) {
  int64_t best_seq = 0;
  TimeNs best_bt = 0;
  {
    CAIRN_ASSIGN_OR_RETURN(Query q, db_->Prepare(kVersionTimes));
    q.Bind(1, node);
    q.Bind(2, device);
    while (true) {
      CAIRN_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      int64_t seq = q.Int(0);
      TimeNs bt = q.Int(1);
      if (best_seq == 0 || bt > best_bt || (bt == best_bt && seq > best_seq)) {
        best_seq = seq;
        best_bt = bt;
      }
    }
  }
  if (best_seq == 0) return Status::OK();  // no version left on this device
  CAIRN_ASSIGN_OR_RETURN(Query u, db_->Prepare(kVersionSetLatest));
  u.Bind(1, best_seq);
  u.Bind(2, 1);
  return u.Run();
}

Status Catalog::Impl::ForgetVersions(const std::vector<repo::VersionId>& ids) {
  std::vector<std::pair<int64_t, int64_t>> relatest;  // (node, device)
  std::vector<int64_t> nodes;
  // A forget drops several versions of each path it touches (and its ids
  // come path by path): each path is looked up once.
  std::unordered_map<int64_t, std::string> paths;
  for (const repo::VersionId& id : ids) {
    {
      CAIRN_ASSIGN_OR_RETURN(Query q, db_->Prepare(kForgottenInsert));
      q.BindBlob(1, id.data(), id.size());
      CAIRN_RETURN_IF_ERROR(q.Run());
    }
    // Candidates share the id's first 3 bytes; the full id decides.
    struct Candidate {
      RawVersion raw;
      int64_t node;
      bool latest;
    };
    std::vector<Candidate> candidates;
    {
      CAIRN_ASSIGN_OR_RETURN(Query q, db_->Prepare(kVersionsByKey));
      q.Bind(1, VersionKey(id));
      while (true) {
        CAIRN_ASSIGN_OR_RETURN(bool row, q.Step());
        if (!row) break;
        candidates.push_back({ReadRaw(q, 0), q.Int(kVersionCols), q.Int(kVersionCols + 1) != 0});
      }
    }
    for (const Candidate& c : candidates) {
      auto known = paths.find(c.node);
      if (known == paths.end()) {
        CAIRN_ASSIGN_OR_RETURN(std::string path, PathOf(c.node));
        known = paths.emplace(c.node, std::move(path)).first;
      }
      CAIRN_ASSIGN_OR_RETURN(VersionRecord r, Decode(c.raw, known->second));
      if (repo::VersionIdOf(r) != id) continue;
      CAIRN_ASSIGN_OR_RETURN(Query d, db_->Prepare(kVersionDelete));
      d.Bind(1, c.raw.seq);
      CAIRN_RETURN_IF_ERROR(d.Run());
      nodes.push_back(c.node);
      if (c.latest) relatest.emplace_back(c.node, c.raw.device);
    }
  }
  for (const auto& [node, device] : relatest) CAIRN_RETURN_IF_ERROR(Relatest(node, device));
  std::sort(nodes.begin(), nodes.end());
  nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());
  if (nodes.empty()) return Status::OK();
  chain_.clear();
  folders_.clear();
  for (int64_t node : nodes) CAIRN_RETURN_IF_ERROR(CollectNode(node));
  return Status::OK();
}

Status Catalog::Impl::CollectNode(int64_t node) {
  while (node != 0) {
    for (const char* sql : {kNodeHasVersion, kNodeHasChild}) {
      CAIRN_ASSIGN_OR_RETURN(Query q, db_->Prepare(sql));
      q.Bind(1, node);
      CAIRN_ASSIGN_OR_RETURN(bool row, q.Step());
      if (row) return Status::OK();
    }
    int64_t parent = 0;
    {
      CAIRN_ASSIGN_OR_RETURN(Query q, db_->Prepare(kNodeParent));
      q.Bind(1, node);
      CAIRN_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) return Status::OK();  // collected already, below another node
      parent = q.Int(0);
    }
    {
      CAIRN_ASSIGN_OR_RETURN(Query d, db_->Prepare(kNameDelete));
      d.Bind(1, parent);
      d.Bind(2, node);
      CAIRN_RETURN_IF_ERROR(d.Run());
    }
    CAIRN_ASSIGN_OR_RETURN(Query d, db_->Prepare(kNodeDelete));
    d.Bind(1, node);
    CAIRN_RETURN_IF_ERROR(d.Run());
    node = parent;
  }
  return Status::OK();
}

Status Catalog::Impl::AddRun(const SegmentInfo& info) {
  if (info.compacted) {
    for (const repo::RunInfo& r : info.runs) {
      RunInfo run{.run_id = r.run_id,
                  .device = r.device,
                  .start = r.start,
                  .end = r.end,
                  .complete = r.complete,
                  .roots = {},
                  .stats = {r.files_new, r.files_changed, r.files_unchanged, r.bytes_read,
                            r.bytes_stored, r.errors}};
      CAIRN_RETURN_IF_ERROR(UpsertRun(run));
    }
    return Status::OK();
  }
  // Statistics only from the final segment: earlier ones carry none.
  return UpsertRun(RunInfo{.run_id = info.run_id,
                           .device = info.device,
                           .start = info.created,
                           .end = info.created,
                           .complete = info.final,
                           .roots = info.roots,
                           .stats = info.final ? info.stats : RunStats()});
}

Status Catalog::Impl::UpsertRun(const RunInfo& run) {
  if (run.run_id.IsZero()) return Status::OK();  // no run
  CAIRN_ASSIGN_OR_RETURN(auto device, DeviceId(run.device, true));
  CAIRN_ASSIGN_OR_RETURN(Query q, db_->Prepare(kRunUpsert));
  BindId(q, 1, run.run_id);
  q.Bind(2, *device);
  q.Bind(3, run.start);
  q.Bind(4, run.end);
  q.Bind(5, run.complete ? 1 : 0);
  q.BindBlob(6, JoinRoots(run.roots));
  q.BindU64(7, run.stats.files_new);
  q.BindU64(8, run.stats.files_changed);
  q.BindU64(9, run.stats.files_unchanged);
  q.BindU64(10, run.stats.bytes_read);
  q.BindU64(11, run.stats.bytes_stored);
  q.BindU64(12, run.stats.errors);
  return q.Run();
}

Status Catalog::Impl::ClearAll() {
  chain_.clear();
  folders_.clear();
  return db_->Exec(kClear);
}

// ---- Names -------------------------------------------------------------------------

Status Catalog::Impl::CheckDataVersion() {
  CAIRN_ASSIGN_OR_RETURN(Query q, db_->Prepare("PRAGMA data_version"));
  CAIRN_ASSIGN_OR_RETURN(bool row, q.Step());
  int64_t v = row ? q.Int(0) : -1;
  if (v != data_version_) {
    chain_.clear();
    folders_.clear();
    data_version_ = v;
  }
  return Status::OK();
}

Result<std::optional<int64_t>> Catalog::Impl::Node(std::string_view path, bool create) {
  CAIRN_RETURN_IF_ERROR(CheckDataVersion());
  std::vector<std::string_view> parts = SplitPath(path);
  size_t i = 0;
  int64_t node = 0;
  while (i < parts.size() && i < chain_.size() && chain_[i].first == parts[i]) {
    node = chain_[i].second;
    ++i;
  }
  chain_.resize(i);
  for (; i < parts.size(); ++i) {
    bool found = false;
    {
      CAIRN_ASSIGN_OR_RETURN(Query q, db_->Prepare(kNodeFind));
      q.Bind(1, node);
      q.BindBlob(2, parts[i]);
      CAIRN_ASSIGN_OR_RETURN(found, q.Step());
      if (found) node = q.Int(0);
    }
    if (!found) {
      if (!create) return std::optional<int64_t>();
      int64_t parent = node;
      {
        CAIRN_ASSIGN_OR_RETURN(Query q, db_->Prepare(kNodeInsert));
        q.Bind(1, parent);
        CAIRN_RETURN_IF_ERROR(q.Run());
        node = db_->LastInsertRowid();
      }
      {
        CAIRN_ASSIGN_OR_RETURN(Query q, db_->Prepare(kNameInsert));
        q.Bind(1, parent);
        q.BindBlob(2, parts[i]);
        q.Bind(3, node);
        CAIRN_RETURN_IF_ERROR(q.Run());
      }
      if (i > 0) {  // the parent (chain_[i - 1]) has a child now
        CAIRN_ASSIGN_OR_RETURN(Query q, db_->Prepare(kNameHasKids));
        q.Bind(1, i >= 2 ? chain_[i - 2].second : 0);
        q.BindBlob(2, chain_[i - 1].first);
        CAIRN_RETURN_IF_ERROR(q.Run());
      }
    }
    chain_.emplace_back(std::string(parts[i]), node);
  }
  return std::optional<int64_t>(node);
}

Result<std::string> Catalog::Impl::PathOf(int64_t node) {
  CAIRN_RETURN_IF_ERROR(CheckDataVersion());
  std::vector<std::string_view> parts;
  std::string leaf;
  for (bool first = true; node != 0; first = false) {
    auto it = first ? folders_.end() : folders_.find(node);
    if (it == folders_.end()) {
      CAIRN_ASSIGN_OR_RETURN(Query q, db_->Prepare(kNodeGet));
      q.Bind(1, node);
      CAIRN_ASSIGN_OR_RETURN(bool row, q.Step());
      // Children are added after their parent, so ids grow downwards: a
      // parent id not below its child's means a damaged file (and could loop).
      if (!row || q.Int(0) >= node || q.IsNull(1)) {
        return Status::Corruption("catalog: broken name tree");
      }
      if (first) {
        leaf.assign(q.Blob(1));
        parts.push_back(leaf);
        node = q.Int(0);
        continue;
      }
      // Folders are few and shared by many paths: remember them.
      if (folders_.size() >= kMaxFolders) folders_.clear();
      it = folders_.emplace(node, std::make_pair(q.Int(0), std::string(q.Blob(1)))).first;
    }
    parts.push_back(it->second.second);
    node = it->second.first;
  }
  std::string path;
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    if (it != parts.rbegin()) path.push_back('/');
    path.append(*it);
  }
  return path;
}

// ---- Interned strings ------------------------------------------------------------

Result<std::optional<int64_t>> Catalog::Impl::DeviceId(std::string_view name, bool create) {
  auto it = device_ids_.find(std::string(name));
  if (it != device_ids_.end()) return std::optional<int64_t>(it->second);
  int64_t id = 0;
  {
    CAIRN_ASSIGN_OR_RETURN(Query q, db_->Prepare(kDeviceFind));
    q.BindBlob(1, name);
    CAIRN_ASSIGN_OR_RETURN(bool found, q.Step());
    if (found) id = q.Int(0);
  }
  if (id == 0) {
    if (!create) return std::optional<int64_t>();
    CAIRN_ASSIGN_OR_RETURN(Query q, db_->Prepare(kDeviceInsert));
    q.BindBlob(1, name);
    CAIRN_RETURN_IF_ERROR(q.Run());
    id = db_->LastInsertRowid();
  }
  device_ids_.emplace(std::string(name), id);
  device_names_.emplace(id, std::string(name));
  return std::optional<int64_t>(id);
}

Result<std::string> Catalog::Impl::DeviceName(int64_t id) {
  auto it = device_names_.find(id);
  if (it != device_names_.end()) return it->second;
  CAIRN_ASSIGN_OR_RETURN(Query q, db_->Prepare(kDeviceGet));
  q.Bind(1, id);
  CAIRN_ASSIGN_OR_RETURN(bool found, q.Step());
  if (!found) return Status::Corruption("catalog: a version names an unknown device");
  std::string name(q.Blob(0));
  device_names_.emplace(id, name);
  device_ids_.emplace(name, id);
  return name;
}

Result<int64_t> Catalog::Impl::AttrsId(const VersionRecord& r) {
  if (r.uid == 0 && r.gid == 0 && r.user.empty() && r.group.empty() && r.dev == 0) return 0;
  std::string key = AttrsKey(r);
  auto it = attrs_ids_.find(key);
  if (it != attrs_ids_.end()) return it->second;
  auto bind = [&](Query& q) {
    q.Bind(1, r.uid);
    q.Bind(2, r.gid);
    q.BindBlob(3, r.user);
    q.BindBlob(4, r.group);
    q.BindU64(5, r.dev);
  };
  {
    CAIRN_ASSIGN_OR_RETURN(Query q, db_->Prepare(kAttrsInsert));
    bind(q);
    CAIRN_RETURN_IF_ERROR(q.Run());
  }
  CAIRN_ASSIGN_OR_RETURN(Query q, db_->Prepare(kAttrsFind));
  bind(q);
  CAIRN_ASSIGN_OR_RETURN(bool found, q.Step());
  if (!found) return Status::Corruption("catalog: attributes vanished while being added");
  int64_t id = q.Int(0);
  attrs_ids_.emplace(std::move(key), id);
  attrs_.emplace(id, SharedAttrs{r.uid, r.gid, r.user, r.group, r.dev});
  return id;
}

Result<const Catalog::Impl::SharedAttrs*> Catalog::Impl::Attrs(int64_t id) {
  auto it = attrs_.find(id);
  if (it != attrs_.end()) return &it->second;
  CAIRN_ASSIGN_OR_RETURN(Query q, db_->Prepare(kAttrsGet));
  q.Bind(1, id);
  CAIRN_ASSIGN_OR_RETURN(bool found, q.Step());
  if (!found) return Status::Corruption("catalog: a version names unknown attributes");
  SharedAttrs a{static_cast<uint32_t>(q.Int(0)), static_cast<uint32_t>(q.Int(1)),
                std::string(q.Blob(2)), std::string(q.Blob(3)), q.U64(4)};
  return &attrs_.emplace(id, std::move(a)).first->second;
}

}  // namespace cairn::catalog
