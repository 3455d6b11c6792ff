#include "checker/checker.h"

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "repo/envelope.h"

namespace cairn::checker {

using backend::ObjectName;
using backend::ObjectType;

namespace {

struct Subset {
  enum { kAll, kGroup, kPercent } kind = kAll;
  uint64_t n = 0, m = 0;
  double percent = 100;
};

Result<Subset> ParseSubset(const std::string& s) {
  Subset out;
  if (s.empty()) return out;
  auto bad = [&] {
    return Status::InvalidArgument("cannot read subset '" + s +
                                   "': use n/m (e.g. 1/5) or a percentage (e.g. 10%)");
  };
  try {
    if (s.back() == '%') {
      out.kind = Subset::kPercent;
      size_t used = 0;
      out.percent = std::stod(s.substr(0, s.size() - 1), &used);
      if (used != s.size() - 1 || out.percent <= 0 || out.percent > 100) return bad();
      return out;
    }
    size_t slash = s.find('/');
    if (slash == std::string::npos) return bad();
    out.kind = Subset::kGroup;
    out.n = std::stoull(s.substr(0, slash));
    out.m = std::stoull(s.substr(slash + 1));
    if (out.m == 0 || out.n == 0 || out.n > out.m) return bad();
    return out;
  } catch (const std::exception&) {
    return bad();
  }
}

}  // namespace

Status ValidateSubset(const std::string& subset) { return ParseSubset(subset).status(); }

Result<CheckReport> RunCheck(repo::Repository& repo, const CheckOptions& options) {
  CAIRN_ASSIGN_OR_RETURN(Subset subset, ParseSubset(options.subset));
  CheckReport report;
  auto& be = repo.backend();
  std::set<Id> bad_blobs;

  // Index objects, one by one, so that each problem is named.
  std::map<Id, std::vector<repo::PackEntry>> indexed;  // pack -> entries
  std::vector<Id> index_ids;
  CAIRN_RETURN_IF_ERROR(be.List(ObjectType::kIndex, [&](const backend::ObjectInfo& i) {
    auto id = Id::FromHex(i.name.name);
    if (id.ok()) index_ids.push_back(*id);
    return Status::OK();
  }));
  for (const Id& id : index_ids) {
    ++report.index_objects;
    auto body = repo.LoadSealed(ObjectType::kIndex, "index", id);
    if (!body.ok()) {
      report.errors.push_back("index " + id.Hex() + ": " + body.error().message());
      continue;
    }
    auto packs = repo::DecodeIndexBody(*body);
    if (!packs.ok()) {
      report.errors.push_back("index " + id.Hex() + ": " + packs.error().message());
      continue;
    }
    for (auto& p : *packs) indexed.emplace(p.pack_id, std::move(p.entries));
  }
  repo::Index index;
  for (auto& [pid, entries] : indexed) index.AddPack(pid, entries);

  // Packs present, with sizes.
  std::map<Id, uint64_t> present;
  CAIRN_RETURN_IF_ERROR(be.List(ObjectType::kPack, [&](const backend::ObjectInfo& i) {
    auto id = Id::FromHex(i.name.name);
    if (id.ok()) present[*id] = i.size;
    return Status::OK();
  }));
  report.packs = present.size();
  for (auto& [pid, entries] : indexed) {
    report.blobs += entries.size();
    auto it = present.find(pid);
    if (it == present.end()) {
      report.errors.push_back("pack " + pid.Hex() + " is listed in the index but missing");
      for (auto& e : entries) bad_blobs.insert(e.id);
      continue;
    }
    auto header = repo::ReadPackHeader(be, repo.keys().meta_key, pid, it->second);
    bool agrees = header.ok() && header->size() == entries.size();
    if (agrees)
      for (size_t i = 0; i < entries.size(); ++i)
        agrees &= (*header)[i].id == entries[i].id && (*header)[i].offset == entries[i].offset &&
                  (*header)[i].length == entries[i].length;
    if (!agrees) {
      report.errors.push_back("pack " + pid.Hex() + ": " +
                              (header.ok() ? std::string("header disagrees with the index")
                                           : header.error().message()));
      for (auto& e : entries) bad_blobs.insert(e.id);
    }
  }
  for (auto& [pid, size] : present)
    if (!indexed.count(pid))
      report.warnings.push_back("pack " + pid.Hex() +
                                " is not indexed (left by an interrupted backup; the next backup "
                                "adopts it)");

  // Data: read selected packs whole and verify every blob.
  if (options.read_data) {
    std::vector<Id> to_read;
    uint64_t k = 0;
    std::mt19937_64 rng(std::random_device{}());
    std::uniform_real_distribution<double> dist(0, 100);
    for (auto& [pid, entries] : indexed) {
      if (!present.count(pid)) continue;
      bool pick = subset.kind == Subset::kAll ||
                  (subset.kind == Subset::kGroup && k % subset.m == subset.n - 1) ||
                  (subset.kind == Subset::kPercent && dist(rng) < subset.percent);
      ++k;
      if (pick) to_read.push_back(pid);
    }
    // Packs are verified on a few threads (reading, decrypting, decompressing
    // and hashing overlap); results are merged under one lock.
    std::mutex mu;
    std::atomic<size_t> next{0};
    uint64_t done = 0;
    auto verify_pack = [&](const Id& pid) {
      const std::vector<repo::PackEntry>& entries = indexed.at(pid);
      auto data = be.Load(ObjectName{ObjectType::kPack, pid.Hex()}, 0, 0);
      std::vector<std::string> errors;
      std::vector<Id> bad;
      uint64_t bytes = 0;
      if (!data.ok()) {
        errors.push_back("pack " + pid.Hex() + ": " + data.error().message());
        for (auto& e : entries) bad.push_back(e.id);
      } else {
        bytes = data->size();
        for (const repo::PackEntry& e : entries) {
          if (static_cast<uint64_t>(e.offset) + e.length > data->size()) {
            errors.push_back("pack " + pid.Hex() + " is truncated");
            bad.push_back(e.id);
            continue;
          }
          auto plain = repo::OpenEnvelope(
              e.type == repo::BlobType::kData ? repo.keys().data_key : repo.keys().meta_key,
              repo::BlobKind(e.type), e.id.Hex(), ByteView(data->data() + e.offset, e.length),
              e.raw_length);
          if (!plain.ok()) {
            errors.push_back("pack " + pid.Hex() + ": chunk " + e.id.Hex().substr(0, 16) + ": " +
                             plain.error().message());
            bad.push_back(e.id);
            continue;
          }
          if (e.type == repo::BlobType::kData &&
              crypto::KeyedId(repo.keys().id_key, *plain) != e.id) {
            errors.push_back("pack " + pid.Hex() + ": chunk " + e.id.Hex().substr(0, 16) +
                             " does not match its ID");
            bad.push_back(e.id);
          }
        }
      }
      std::lock_guard lock(mu);
      if (data.ok()) {
        ++report.packs_read;
        report.bytes_read += bytes;
      }
      report.errors.insert(report.errors.end(), errors.begin(), errors.end());
      bad_blobs.insert(bad.begin(), bad.end());
      if (options.progress) options.progress(++done, to_read.size());
    };
    // Reading is mostly waiting for the disk or network: more readers than
    // cores keep the device queue full.
    unsigned n = std::max(4u, 2 * std::thread::hardware_concurrency());
    std::vector<std::jthread> workers;
    for (unsigned i = 0; i < n; ++i)
      workers.emplace_back([&] {
        for (size_t k = next++; k < to_read.size(); k = next++) verify_pack(to_read[k]);
      });
    workers.clear();  // joins
  }

  // Version segments: every one opens; every referenced chunk is indexed and
  // not known to be bad.
  std::vector<Id> seg_ids;
  CAIRN_RETURN_IF_ERROR(repo.ListSegments([&](const Id& id) {
    seg_ids.push_back(id);
    return Status::OK();
  }));
  std::set<std::string> affected;
  for (const Id& sid : seg_ids) {
    ++report.segments;
    auto seg = repo.LoadSegment(sid);
    if (!seg.ok()) {
      report.errors.push_back(seg.error().message() +
                              " (the versions it recorded are not restorable)");
      continue;
    }
    for (const auto& r : seg->records) {
      ++report.records;
      if (r.deleted) continue;
      bool missing = false, damaged = false;
      for (const Id& c : r.chunks) {
        if (!index.Contains(c))
          missing = true;
        else if (bad_blobs.count(c))
          damaged = true;
      }
      if (missing || damaged)
        affected.insert(r.device + ":" + r.path + " (version of " + FormatLocal(r.backup_time) +
                        (missing ? ", data missing)" : ", data damaged)"));
    }
  }
  report.affected_files.assign(affected.begin(), affected.end());
  if (!affected.empty() && report.errors.empty())
    report.errors.push_back(std::to_string(affected.size()) +
                            " file versions reference chunks that are not in the index");
  return report;
}

}  // namespace cairn::checker
