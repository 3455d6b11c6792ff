#include "repo/version_segment.h"

#include "repo/cbor.h"

#include <algorithm>
#include <optional>

namespace cairn::repo {

namespace {

constexpr int kSegmentVersion = 1;

void EncodeRecord(CborWriter& w, const VersionRecord& r, const std::string& segment_device) {
  bool has_device = r.device != segment_device;
  bool is_file = !r.deleted && r.type == FileType::kFile;
  // Every record: p, bt (and dv when it differs from the segment's). A
  // tombstone adds only del; a version always has t s m u g mt ct ino dev (9)
  // and the optional keys counted here.
  uint64_t n = 2 + (has_device ? 1 : 0);
  if (r.wall_time != 0) n += 1;
  if (r.deleted)
    n += 1;
  else
    n += 9 + (!r.user.empty()) + (!r.group.empty()) + (r.rdev != 0) + (r.sparse ? 1 : 0) +
         (!r.link_target.empty()) + (is_file ? 2 : 0) + (!r.xattrs.empty());
  w.Map(n);
  w.Text("p");
  w.ByteString(r.path);
  if (has_device) {
    w.Text("dv");
    w.Text(r.device);
  }
  w.Text("bt");
  w.Int(r.backup_time);
  if (r.wall_time != 0) {
    w.Text("wt");
    w.Int(r.wall_time);
  }
  if (r.deleted) {
    w.Text("del");
    w.Bool(true);
    return;
  }
  w.Text("t");
  w.Uint(static_cast<uint64_t>(r.type));
  w.Text("s");
  w.Uint(r.size);
  w.Text("m");
  w.Uint(r.mode);
  w.Text("u");
  w.Uint(r.uid);
  w.Text("g");
  w.Uint(r.gid);
  if (!r.user.empty()) {
    w.Text("un");
    w.Text(r.user);
  }
  if (!r.group.empty()) {
    w.Text("gn");
    w.Text(r.group);
  }
  w.Text("mt");
  w.Int(r.mtime);
  w.Text("ct");
  w.Int(r.ctime);
  w.Text("ino");
  w.Uint(r.inode);
  w.Text("dev");
  w.Uint(r.dev);
  if (r.rdev) {
    w.Text("rdev");
    w.Uint(r.rdev);
  }
  if (r.sparse) {
    w.Text("sp");
    w.Bool(true);
  }
  if (!r.link_target.empty()) {
    w.Text("l");
    w.ByteString(r.link_target);
  }
  if (is_file) {
    w.Text("h");
    w.ByteString(r.content_sha256.bytes);
    w.Text("c");
    Bytes chunks;
    chunks.reserve(r.chunks.size() * 32);
    for (const Id& c : r.chunks) chunks.insert(chunks.end(), c.bytes.begin(), c.bytes.end());
    w.ByteString(chunks);
  }
  if (!r.xattrs.empty()) {
    w.Text("x");
    w.Array(r.xattrs.size());
    for (const Xattr& x : r.xattrs) {
      w.Array(2);
      w.ByteString(x.name);
      w.ByteString(x.value);
    }
  }
}

Result<Id> ReadId(CborReader& r) {
  CAIRN_ASSIGN_OR_RETURN(std::string b, r.ByteString());
  if (b.size() != 32) return Status::Corruption("an ID must be 32 bytes");
  return Id::FromBytes(AsBytes(b));
}

#define SEG_READ(lhs, expr) CAIRN_ASSIGN_OR_RETURN(lhs, expr)

Result<VersionRecord> DecodeRecord(CborReader& r, const std::string& segment_device) {
  VersionRecord rec;
  rec.device = segment_device;
  SEG_READ(uint64_t n, r.Map());
  bool has_path = false, has_type = false;
  for (uint64_t i = 0; i < n; ++i) {
    SEG_READ(std::string key, r.Text());
    if (key == "p") {
      SEG_READ(rec.path, r.ByteString());
      has_path = true;
    } else if (key == "dv") {
      SEG_READ(rec.device, r.Text());
    } else if (key == "bt") {
      SEG_READ(rec.backup_time, r.Int());
    } else if (key == "wt") {
      SEG_READ(rec.wall_time, r.Int());
    } else if (key == "del") {
      SEG_READ(rec.deleted, r.Bool());
    } else if (key == "t") {
      SEG_READ(uint64_t t, r.Uint());
      if (t < 1 || t > 8) return Status::Corruption("a record has an unknown file type");
      rec.type = static_cast<FileType>(t);
      has_type = true;
    } else if (key == "s") {
      SEG_READ(rec.size, r.Uint());
    } else if (key == "m") {
      SEG_READ(uint64_t m, r.Uint());
      rec.mode = static_cast<uint32_t>(m);
    } else if (key == "u") {
      SEG_READ(uint64_t u, r.Uint());
      rec.uid = static_cast<uint32_t>(u);
    } else if (key == "g") {
      SEG_READ(uint64_t g, r.Uint());
      rec.gid = static_cast<uint32_t>(g);
    } else if (key == "un") {
      SEG_READ(rec.user, r.Text());
    } else if (key == "gn") {
      SEG_READ(rec.group, r.Text());
    } else if (key == "mt") {
      SEG_READ(rec.mtime, r.Int());
    } else if (key == "ct") {
      SEG_READ(rec.ctime, r.Int());
    } else if (key == "ino") {
      SEG_READ(rec.inode, r.Uint());
    } else if (key == "dev") {
      SEG_READ(rec.dev, r.Uint());
    } else if (key == "rdev") {
      SEG_READ(rec.rdev, r.Uint());
    } else if (key == "sp") {
      SEG_READ(rec.sparse, r.Bool());
    } else if (key == "l") {
      SEG_READ(rec.link_target, r.ByteString());
    } else if (key == "h") {
      SEG_READ(rec.content_sha256, ReadId(r));
    } else if (key == "c") {
      SEG_READ(std::string c, r.ByteString());
      if (c.size() % 32) return Status::Corruption("a chunk list has a bad length");
      rec.chunks.resize(c.size() / 32);
      for (size_t k = 0; k < rec.chunks.size(); ++k)
        rec.chunks[k] = Id::FromBytes(AsBytes(std::string_view(c).substr(32 * k, 32)));
    } else if (key == "x") {
      SEG_READ(uint64_t nx, r.Array());
      for (uint64_t k = 0; k < nx; ++k) {
        SEG_READ(uint64_t two, r.Array());
        if (two != 2) return Status::Corruption("an extended attribute is malformed");
        SEG_READ(std::string name, r.ByteString());
        SEG_READ(std::string value, r.ByteString());
        rec.xattrs.push_back(Xattr{std::move(name), Bytes(value.begin(), value.end())});
      }
    } else {
      CAIRN_RETURN_IF_ERROR(r.Skip());  // a field from a newer minor version
    }
  }
  if (!has_path || rec.path.empty() || rec.path.find('\0') != std::string::npos)
    return Status::Corruption("a record has an empty path or one with NUL");
  if (!rec.deleted && !has_type) return Status::Corruption("a record has no file type");
  if (!rec.deleted && rec.type != FileType::kFile) {
    // Only files have content: a content hash or chunks on anything else
    // (never written by cairn) would be dropped by the next encoding and
    // change the version's id (VersionIdOf) when a compaction copies it.
    rec.content_sha256 = Id();
    rec.chunks.clear();
  }
  if (rec.deleted) {  // a tombstone carries nothing else
    VersionRecord t;
    t.path = std::move(rec.path);
    t.device = std::move(rec.device);
    t.backup_time = rec.backup_time;
    t.wall_time = rec.wall_time;
    t.deleted = true;
    return t;
  }
  return rec;
}

Result<VersionSegment> Decode(ByteView body) {
  CborReader r(body);
  VersionSegment s;
  SEG_READ(uint64_t n, r.Map());
  bool has_version = false;
  // The device must be known before records are decoded: remember where the
  // records are and decode them after the map is read.
  std::optional<CborReader> records_at;
  for (uint64_t i = 0; i < n; ++i) {
    SEG_READ(std::string key, r.Text());
    if (key == "v") {
      SEG_READ(uint64_t v, r.Uint());
      if (v > kSegmentVersion)
        return Status::Unsupported("version segment format " + std::to_string(v) +
                                   " is newer than this cairn; upgrade cairn");
      has_version = true;
    } else if (key == "run") {
      SEG_READ(s.run_id, ReadId(r));
    } else if (key == "seq") {
      SEG_READ(uint64_t q, r.Uint());
      s.sequence = static_cast<uint32_t>(q);
    } else if (key == "final") {
      SEG_READ(s.final, r.Bool());
    } else if (key == "device") {
      SEG_READ(s.device, r.Text());
    } else if (key == "created") {
      SEG_READ(s.created, r.Int());
    } else if (key == "roots") {
      SEG_READ(uint64_t nr, r.Array());
      for (uint64_t k = 0; k < nr; ++k) {
        SEG_READ(std::string root, r.ByteString());
        s.roots.push_back(std::move(root));
      }
    } else if (key == "supersedes") {
      SEG_READ(uint64_t ns, r.Array());
      for (uint64_t k = 0; k < ns; ++k) {
        SEG_READ(Id id, ReadId(r));
        s.supersedes.push_back(id);
      }
    } else if (key == "forget") {
      SEG_READ(uint64_t nf, r.Array());
      s.forget.reserve(std::min<uint64_t>(nf, 4096));  // a count read, not trusted
      for (uint64_t k = 0; k < nf; ++k) {
        SEG_READ(std::string id, r.ByteString());
        VersionId v;
        if (id.size() != v.size()) return Status::Corruption("version segment: bad forget id");
        std::copy(id.begin(), id.end(), v.begin());
        s.forget.push_back(v);
      }
    } else if (key == "runs") {
      SEG_READ(uint64_t nruns, r.Array());
      for (uint64_t k = 0; k < nruns; ++k) {
        RunInfo run;
        SEG_READ(uint64_t nf, r.Map());
        for (uint64_t f = 0; f < nf; ++f) {
          SEG_READ(std::string name, r.Text());
          if (name == "run") {
            SEG_READ(run.run_id, ReadId(r));
          } else if (name == "device") {
            SEG_READ(run.device, r.Text());
          } else if (name == "start") {
            SEG_READ(run.start, r.Int());
          } else if (name == "end") {
            SEG_READ(run.end, r.Int());
          } else if (name == "complete") {
            SEG_READ(run.complete, r.Bool());
          } else if (name == "files_new") {
            SEG_READ(run.files_new, r.Uint());
          } else if (name == "files_changed") {
            SEG_READ(run.files_changed, r.Uint());
          } else if (name == "files_unchanged") {
            SEG_READ(run.files_unchanged, r.Uint());
          } else if (name == "bytes_read") {
            SEG_READ(run.bytes_read, r.Uint());
          } else if (name == "bytes_stored") {
            SEG_READ(run.bytes_stored, r.Uint());
          } else if (name == "errors") {
            SEG_READ(run.errors, r.Uint());
          } else {
            CAIRN_RETURN_IF_ERROR(r.Skip());
          }
        }
        s.runs.push_back(std::move(run));
      }
    } else if (key == "records") {
      records_at = r;
      CAIRN_RETURN_IF_ERROR(r.Skip());
    } else if (key == "stats") {
      SEG_READ(uint64_t nst, r.Map());
      for (uint64_t k = 0; k < nst; ++k) {
        SEG_READ(std::string name, r.Text());
        SEG_READ(uint64_t v, r.Uint());
        if (name == "files_new")
          s.files_new = v;
        else if (name == "files_changed")
          s.files_changed = v;
        else if (name == "files_unchanged")
          s.files_unchanged = v;
        else if (name == "bytes_read")
          s.bytes_read = v;
        else if (name == "bytes_stored")
          s.bytes_stored = v;
        else if (name == "errors")
          s.errors = v;
      }
    } else {
      CAIRN_RETURN_IF_ERROR(r.Skip());
    }
  }
  if (!r.AtEnd()) return Status::Corruption("version segment has trailing data");
  if (!has_version || !records_at) return Status::Corruption("version segment lacks fields");
  SEG_READ(uint64_t nrec, records_at->Array());
  s.records.reserve(std::min<uint64_t>(nrec, 4096));  // ~300 bytes each: not trusted
  for (uint64_t k = 0; k < nrec; ++k) {
    SEG_READ(VersionRecord rec, DecodeRecord(*records_at, s.device));
    s.records.push_back(std::move(rec));
  }
  return s;
}

}  // namespace

Bytes EncodeSegmentBody(const VersionSegment& s) {
  Bytes out;
  out.reserve(256 + s.records.size() * (160 + 32));
  CborWriter w(out);
  w.Map(8 + (s.supersedes.empty() ? 0 : 1) + (s.final ? 1 : 0) + (s.runs.empty() ? 0 : 1) +
        (s.forget.empty() ? 0 : 1));
  w.Text("v");
  w.Uint(kSegmentVersion);
  w.Text("run");
  w.ByteString(s.run_id.bytes);
  w.Text("seq");
  w.Uint(s.sequence);
  w.Text("final");
  w.Bool(s.final);
  w.Text("device");
  w.Text(s.device);
  w.Text("created");
  w.Int(s.created);
  w.Text("roots");
  w.Array(s.roots.size());
  for (const auto& r : s.roots) w.ByteString(r);
  if (!s.supersedes.empty()) {
    w.Text("supersedes");
    w.Array(s.supersedes.size());
    for (const Id& id : s.supersedes) w.ByteString(id.bytes);
  }
  if (!s.runs.empty()) {
    w.Text("runs");
    w.Array(s.runs.size());
    for (const RunInfo& run : s.runs) {
      w.Map(11);
      w.Text("run");
      w.ByteString(run.run_id.bytes);
      w.Text("device");
      w.Text(run.device);
      w.Text("start");
      w.Int(run.start);
      w.Text("end");
      w.Int(run.end);
      w.Text("complete");
      w.Bool(run.complete);
      w.Text("files_new");
      w.Uint(run.files_new);
      w.Text("files_changed");
      w.Uint(run.files_changed);
      w.Text("files_unchanged");
      w.Uint(run.files_unchanged);
      w.Text("bytes_read");
      w.Uint(run.bytes_read);
      w.Text("bytes_stored");
      w.Uint(run.bytes_stored);
      w.Text("errors");
      w.Uint(run.errors);
    }
  }
  if (!s.forget.empty()) {
    w.Text("forget");
    w.Array(s.forget.size());
    for (const VersionId& id : s.forget)
      w.ByteString(std::string_view(reinterpret_cast<const char*>(id.data()), id.size()));
  }
  w.Text("records");
  w.Array(s.records.size());
  for (const auto& r : s.records) EncodeRecord(w, r, s.device);
  if (s.final) {
    w.Text("stats");
    w.Map(6);
    w.Text("files_new");
    w.Uint(s.files_new);
    w.Text("files_changed");
    w.Uint(s.files_changed);
    w.Text("files_unchanged");
    w.Uint(s.files_unchanged);
    w.Text("bytes_read");
    w.Uint(s.bytes_read);
    w.Text("bytes_stored");
    w.Uint(s.bytes_stored);
    w.Text("errors");
    w.Uint(s.errors);
  }
  return out;
}

Result<VersionSegment> DecodeSegmentBody(ByteView body) {
  auto s = Decode(body);
  if (!s.ok() && s.error().code() != StatusCode::kUnsupported)
    return Status::Corruption("version segment is malformed: " + s.error().message());
  return s;
}

}  // namespace cairn::repo
