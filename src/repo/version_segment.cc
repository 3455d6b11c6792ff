#include "repo/version_segment.h"

#include <nlohmann/json.hpp>

namespace cairn::repo {

using json = nlohmann::json;

namespace {

json Bin(ByteView b) { return json::binary(std::vector<uint8_t>(b.begin(), b.end())); }
json Bin(std::string_view s) { return Bin(AsBytes(s)); }

std::string StrFromBin(const json& j) {
  const auto& b = j.get_binary();
  return std::string(b.begin(), b.end());
}

Id IdFromBin(const json& j) {
  const auto& b = j.get_binary();
  if (b.size() != 32) throw std::runtime_error("an ID must be 32 bytes");
  return Id::FromBytes(b);
}

json EncodeRecord(const VersionRecord& r, const std::string& segment_device) {
  json j = json::object();
  j["p"] = Bin(r.path);
  if (r.device != segment_device) j["dv"] = r.device;
  j["bt"] = r.backup_time;
  if (r.deleted) {
    j["del"] = true;
    return j;
  }
  j["t"] = static_cast<int>(r.type);
  j["s"] = r.size;
  j["m"] = r.mode;
  j["u"] = r.uid;
  j["g"] = r.gid;
  if (!r.user.empty()) j["un"] = r.user;
  if (!r.group.empty()) j["gn"] = r.group;
  j["mt"] = r.mtime;
  j["ct"] = r.ctime;
  j["ino"] = r.inode;
  j["dev"] = r.dev;
  if (r.rdev) j["rdev"] = r.rdev;
  if (r.sparse) j["sp"] = true;
  if (!r.link_target.empty()) j["l"] = Bin(r.link_target);
  if (r.type == FileType::kFile) {
    j["h"] = Bin(r.content_sha256.bytes);
    std::vector<uint8_t> chunks;
    chunks.reserve(r.chunks.size() * 32);
    for (const Id& c : r.chunks) chunks.insert(chunks.end(), c.bytes.begin(), c.bytes.end());
    j["c"] = json::binary(std::move(chunks));
  }
  if (!r.xattrs.empty()) {
    json xs = json::array();
    for (const Xattr& x : r.xattrs) xs.push_back(json::array({Bin(x.name), Bin(x.value)}));
    j["x"] = std::move(xs);
  }
  return j;
}

VersionRecord DecodeRecord(const json& j, const std::string& segment_device) {
  VersionRecord r;
  r.path = StrFromBin(j.at("p"));
  if (r.path.empty() || r.path.find('\0') != std::string::npos)
    throw std::runtime_error("a record has an empty path or one with NUL");
  r.device = j.contains("dv") ? j["dv"].get<std::string>() : segment_device;
  r.backup_time = j.at("bt").get<int64_t>();
  if (j.value("del", false)) {
    r.deleted = true;
    return r;
  }
  int t = j.at("t").get<int>();
  if (t < 1 || t > 8) throw std::runtime_error("a record has an unknown file type");
  r.type = static_cast<FileType>(t);
  r.size = j.at("s").get<uint64_t>();
  r.mode = j.at("m").get<uint32_t>();
  r.uid = j.at("u").get<uint32_t>();
  r.gid = j.at("g").get<uint32_t>();
  r.user = j.value("un", std::string());
  r.group = j.value("gn", std::string());
  r.mtime = j.at("mt").get<int64_t>();
  r.ctime = j.at("ct").get<int64_t>();
  r.inode = j.value("ino", uint64_t{0});
  r.dev = j.value("dev", uint64_t{0});
  r.rdev = j.value("rdev", uint64_t{0});
  r.sparse = j.value("sp", false);
  if (j.contains("l")) r.link_target = StrFromBin(j["l"]);
  if (r.type == FileType::kFile) {
    r.content_sha256 = IdFromBin(j.at("h"));
    const auto& c = j.at("c").get_binary();
    if (c.size() % 32) throw std::runtime_error("a chunk list has a bad length");
    r.chunks.resize(c.size() / 32);
    for (size_t i = 0; i < r.chunks.size(); ++i)
      r.chunks[i] = Id::FromBytes(ByteView(c.data() + 32 * i, 32));
  }
  if (j.contains("x")) {
    for (const json& x : j["x"]) {
      const auto& v = x.at(1).get_binary();
      r.xattrs.push_back(Xattr{StrFromBin(x.at(0)), Bytes(v.begin(), v.end())});
    }
  }
  return r;
}

}  // namespace

Bytes EncodeSegmentBody(const VersionSegment& s) {
  json j = json::object();
  j["v"] = 1;
  j["run"] = Bin(s.run_id.bytes);
  j["seq"] = s.sequence;
  j["final"] = s.final;
  j["device"] = s.device;
  j["created"] = s.created;
  json roots = json::array();
  for (const auto& r : s.roots) roots.push_back(Bin(r));
  j["roots"] = std::move(roots);
  if (!s.supersedes.empty()) {
    json sup = json::array();
    for (const Id& id : s.supersedes) sup.push_back(Bin(id.bytes));
    j["supersedes"] = std::move(sup);
  }
  json recs = json::array();
  for (const auto& r : s.records) recs.push_back(EncodeRecord(r, s.device));
  j["records"] = std::move(recs);
  if (s.final) {
    j["stats"] = {{"files_new", s.files_new},
                  {"files_changed", s.files_changed},
                  {"files_unchanged", s.files_unchanged},
                  {"bytes_read", s.bytes_read},
                  {"bytes_stored", s.bytes_stored},
                  {"errors", s.errors}};
  }
  return json::to_cbor(j);
}

Result<VersionSegment> DecodeSegmentBody(ByteView body) {
  try {
    json j = json::from_cbor(body.begin(), body.end());
    int v = j.at("v").get<int>();
    if (v > 1)
      return Status::Unsupported("version segment format " + std::to_string(v) +
                                 " is newer than this cairn");
    VersionSegment s;
    s.run_id = IdFromBin(j.at("run"));
    s.sequence = j.at("seq").get<uint32_t>();
    s.final = j.at("final").get<bool>();
    s.device = j.at("device").get<std::string>();
    s.created = j.at("created").get<int64_t>();
    for (const json& r : j.at("roots")) s.roots.push_back(StrFromBin(r));
    if (j.contains("supersedes"))
      for (const json& id : j["supersedes"]) s.supersedes.push_back(IdFromBin(id));
    const json& recs = j.at("records");
    s.records.reserve(recs.size());
    for (const json& r : recs) s.records.push_back(DecodeRecord(r, s.device));
    if (j.contains("stats")) {
      const json& st = j["stats"];
      s.files_new = st.value("files_new", uint64_t{0});
      s.files_changed = st.value("files_changed", uint64_t{0});
      s.files_unchanged = st.value("files_unchanged", uint64_t{0});
      s.bytes_read = st.value("bytes_read", uint64_t{0});
      s.bytes_stored = st.value("bytes_stored", uint64_t{0});
      s.errors = st.value("errors", uint64_t{0});
    }
    return s;
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("version segment is malformed: ") + e.what());
  }
}

}  // namespace cairn::repo
