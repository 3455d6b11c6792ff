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
#include "repo/version_id.h"

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

using Kind = Finding::Kind;
using Severity = Finding::Severity;

std::string PackObject(const Id& id) { return "pack " + id.Hex(); }

// One check run, phase by phase. Each phase appends findings; the
// references phase then names, for every finding about damaged chunks, the
// file versions that use them.
class Checker {
 public:
  Checker(repo::Repository& repo, const CheckOptions& options, const Subset& subset)
      : repo_(repo), be_(repo.backend()), options_(options), subset_(subset) {}

  Result<CheckReport> Run() {
    CAIRN_RETURN_IF_ERROR(CheckIndexObjects());
    CAIRN_RETURN_IF_ERROR(CheckPacks());
    if (options_.read_data) ReadData();
    // Packs not read after a stop request would look fine: say it stopped.
    if (options_.stop.stop_requested())
      return Status::Cancelled("check cancelled; nothing was changed");
    CAIRN_RETURN_IF_ERROR(CheckSegmentsAndReferences());
    Flatten();
    return std::move(report_);
  }

 private:
  // Adds a finding and returns its position in report_.findings.
  size_t Add(Severity severity, Kind kind, std::string object, std::string message) {
    report_.findings.push_back(Finding{severity, kind, std::move(object), std::move(message), {}});
    return report_.findings.size() - 1;
  }
  // Every chunk of `entries` is damaged because of finding `f`.
  void MarkBad(const std::vector<repo::PackEntry>& entries, size_t f) {
    for (const repo::PackEntry& e : entries) bad_chunks_[e.id].push_back(f);
  }

  // Index objects, one by one, so that each problem is named. Fills indexed_
  // and index_ from the readable ones.
  Status CheckIndexObjects() {
    std::vector<Id> index_ids;
    CAIRN_RETURN_IF_ERROR(be_.List(ObjectType::kIndex, [&](const backend::ObjectInfo& i) {
      auto id = Id::FromHex(i.name.name);
      if (id.ok()) index_ids.push_back(*id);
      return Status::OK();
    }));
    for (const Id& id : index_ids) {
      ++report_.index_objects;
      auto body = repo_.LoadSealed(ObjectType::kIndex, "index", id);
      auto packs = body.ok() ? repo::DecodeIndexBody(*body)
                             : Result<std::vector<repo::IndexedPack>>(body.error());
      if (!packs.ok()) {
        Add(Severity::kError, Kind::kUnreadableIndex, "index " + id.Hex(),
            "index " + id.Hex() + ": " + packs.error().message() +
                " (the packs it listed are read by their own headers; the next backup indexes "
                "them again, then prune deletes this object)");
        continue;
      }
      for (auto& p : *packs) indexed_.emplace(p.pack_id, std::move(p.entries));
    }
    for (auto& [pid, entries] : indexed_) index_.AddPack(pid, entries);
    return Status::OK();
  }

  // Packs: every indexed one is present and its header agrees with the
  // index; present packs that no index lists are warned about.
  Status CheckPacks() {
    CAIRN_RETURN_IF_ERROR(be_.List(ObjectType::kPack, [&](const backend::ObjectInfo& i) {
      auto id = Id::FromHex(i.name.name);
      if (id.ok()) present_[*id] = i.size;
      return Status::OK();
    }));
    report_.packs = present_.size();
    for (auto& [pid, entries] : indexed_) {
      report_.blobs += entries.size();
      auto it = present_.find(pid);
      if (it == present_.end()) {
        MarkBad(entries, Add(Severity::kError, Kind::kMissingPack, PackObject(pid),
                             "pack " + pid.Hex() + " is listed in the index but missing"));
        continue;
      }
      auto header = repo::ReadPackHeader(be_, repo_.keys().meta_key, pid, it->second);
      if (!header.ok()) {
        MarkBad(entries, Add(Severity::kError, Kind::kUnreadablePackHeader, PackObject(pid),
                             "pack " + pid.Hex() + ": " + header.error().message()));
        continue;
      }
      bool agrees = header->size() == entries.size();
      for (size_t i = 0; agrees && i < entries.size(); ++i)
        agrees = (*header)[i].id == entries[i].id && (*header)[i].offset == entries[i].offset &&
                 (*header)[i].length == entries[i].length;
      if (!agrees)
        MarkBad(entries, Add(Severity::kError, Kind::kPackHeaderMismatch, PackObject(pid),
                             "pack " + pid.Hex() + ": header disagrees with the index"));
    }
    // Packs no readable index object lists: left by an interrupted backup,
    // or listed by a damaged index object. Their headers say what they hold
    // (design.md §6), as restore finds them, so their chunks count as stored
    // and --read-data verifies them too; an unreadable header is damage.
    std::vector<std::pair<Id, std::vector<repo::PackEntry>>> adopted;
    for (auto& [pid, size] : present_) {
      if (indexed_.count(pid)) continue;
      auto header = repo::ReadPackHeader(be_, repo_.keys().meta_key, pid, size);
      if (!header.ok()) {
        Add(Severity::kError, Kind::kUnreadablePackHeader, PackObject(pid),
            "pack " + pid.Hex() +
                " is not indexed, and its header cannot be read: " + header.error().message());
        continue;
      }
      Add(Severity::kWarning, Kind::kUnindexedPack, PackObject(pid),
          "pack " + pid.Hex() + " is not indexed (left by an interrupted backup, or listed by a " +
              "damaged index object); its header is readable and the next backup indexes it " +
              "again");
      report_.blobs += header->size();
      adopted.emplace_back(pid, std::move(*header));
    }
    for (auto& [pid, entries] : adopted) {
      index_.AddPack(pid, entries);
      indexed_.emplace(pid, std::move(entries));
    }
    return Status::OK();
  }

  // What verifying one pack found; merged in pack order so that the report
  // does not depend on thread timing.
  struct PackResult {
    bool loaded = false;
    uint64_t bytes = 0;
    struct Problem {
      Kind kind;
      std::string message;
      std::vector<repo::PackEntry> chunks;  // the chunks it damages
    };
    std::vector<Problem> problems;
  };

  PackResult VerifyPack(const Id& pid) {
    const std::vector<repo::PackEntry>& entries = indexed_.at(pid);
    PackResult out;
    auto data = be_.Load(ObjectName{ObjectType::kPack, pid.Hex()}, 0, 0);
    if (!data.ok()) {
      out.problems.push_back(
          {Kind::kUnreadablePack, "pack " + pid.Hex() + ": " + data.error().message(), entries});
      return out;
    }
    out.loaded = true;
    out.bytes = data->size();
    std::vector<repo::PackEntry> cut;  // entries past the end: one finding for all
    for (const repo::PackEntry& e : entries) {
      if (static_cast<uint64_t>(e.offset) + e.length > data->size()) {
        cut.push_back(e);
        continue;
      }
      auto plain = repo::OpenEnvelope(
          e.type == repo::BlobType::kData ? repo_.keys().data_key : repo_.keys().meta_key,
          repo::BlobKind(e.type), e.id.Hex(), ByteView(data->data() + e.offset, e.length),
          e.raw_length);
      const std::string chunk = "pack " + pid.Hex() + ": chunk " + e.id.Hex().substr(0, 16);
      if (!plain.ok())
        out.problems.push_back({Kind::kCorruptChunk, chunk + ": " + plain.error().message(), {e}});
      else if (e.type == repo::BlobType::kData &&
               crypto::KeyedId(repo_.keys().id_key, *plain) != e.id)
        out.problems.push_back({Kind::kChunkIdMismatch, chunk + " does not match its ID", {e}});
    }
    if (!cut.empty())
      out.problems.push_back(
          {Kind::kTruncatedPack, "pack " + pid.Hex() + " is truncated", std::move(cut)});
    return out;
  }

  // Data: reads the selected packs whole and verifies every blob.
  void ReadData() {
    std::vector<Id> to_read;
    uint64_t k = 0;
    std::mt19937_64 rng(std::random_device{}());
    std::uniform_real_distribution<double> dist(0, 100);
    for (auto& [pid, entries] : indexed_) {
      if (!present_.count(pid)) continue;
      bool pick = subset_.kind == Subset::kAll ||
                  (subset_.kind == Subset::kGroup && k % subset_.m == subset_.n - 1) ||
                  (subset_.kind == Subset::kPercent && dist(rng) < subset_.percent);
      ++k;
      if (pick) to_read.push_back(pid);
    }
    // Packs are verified on a few threads (reading, decrypting, decompressing
    // and hashing overlap); each writes only its own slot of `results`.
    std::vector<PackResult> results(to_read.size());
    std::mutex progress_mu;
    std::atomic<size_t> next{0};
    uint64_t done = 0;
    // Reading is mostly waiting for the disk or network: more readers than
    // cores keep the device queue full.
    unsigned n = std::max(4u, 2 * std::thread::hardware_concurrency());
    {
      std::vector<std::jthread> workers;
      for (unsigned i = 0; i < n; ++i)
        workers.emplace_back([&] {
          for (size_t j = next++; j < to_read.size(); j = next++) {
            if (options_.stop.stop_requested()) break;
            results[j] = VerifyPack(to_read[j]);
            std::lock_guard lock(progress_mu);
            if (options_.progress) options_.progress(++done, to_read.size());
          }
        });
    }  // joins
    for (size_t j = 0; j < to_read.size(); ++j) {
      PackResult& r = results[j];
      if (r.loaded) {
        ++report_.packs_read;
        report_.bytes_read += r.bytes;
      }
      for (auto& p : r.problems)
        MarkBad(p.chunks,
                Add(Severity::kError, p.kind, PackObject(to_read[j]), std::move(p.message)));
    }
  }

  // Version segments: every one opens; every chunk a live version references
  // is indexed and not known to be damaged. Names the affected file versions
  // on the findings that affect them.
  Status CheckSegmentsAndReferences() {
    std::vector<Id> seg_ids;
    CAIRN_RETURN_IF_ERROR(repo_.ListSegments([&](const Id& id) {
      seg_ids.push_back(id);
      return Status::OK();
    }));
    std::vector<std::set<std::string>> affected(report_.findings.size());
    std::set<std::string> missing_files;
    // Forgotten versions are known only once every segment was read: the
    // problems found are kept with their version ids and judged at the end.
    std::set<repo::VersionId> forget;
    std::vector<repo::VersionId> all_ids;
    struct Problem {
      repo::VersionId id;
      std::string file;
      bool missing;
      std::set<size_t> causes;
    };
    std::vector<Problem> problems;
    for (const Id& sid : seg_ids) {
      ++report_.segments;
      auto seg = repo_.LoadSegment(sid);
      if (!seg.ok()) {
        Add(Severity::kError, Kind::kUnreadableSegment, "segment " + sid.Hex(),
            seg.error().message() + " (the versions it recorded are not restorable)");
        continue;
      }
      forget.insert(seg->forget.begin(), seg->forget.end());
      for (const auto& r : seg->records) {
        ++report_.records;
        const repo::VersionId vid = repo::VersionIdOf(r);
        all_ids.push_back(vid);
        if (r.deleted) continue;
        bool missing = false;
        std::set<size_t> causes;  // findings damaging this version's chunks
        for (const Id& c : r.chunks) {
          if (!index_.Contains(c)) {
            missing = true;
          } else if (auto it = bad_chunks_.find(c); it != bad_chunks_.end()) {
            causes.insert(it->second.begin(), it->second.end());
          }
        }
        if (!missing && causes.empty()) continue;
        const std::string file = r.device + ":" + r.path + " (version of " +
                                 FormatLocal(r.backup_time) +
                                 (missing ? ", data missing)" : ", data damaged)");
        problems.push_back({vid, file, missing, std::move(causes)});
      }
    }
    if (!forget.empty())
      for (const repo::VersionId& vid : all_ids) report_.forgotten += forget.count(vid);
    for (Problem& p : problems) {
      if (forget.count(p.id)) continue;  // forgotten: its chunks may be freed
      if (p.missing) missing_files.insert(p.file);
      for (size_t f : p.causes) affected[f].insert(p.file);
    }
    for (size_t f = 0; f < affected.size(); ++f)
      report_.findings[f].affected_files.assign(affected[f].begin(), affected[f].end());
    if (!missing_files.empty()) {
      size_t f = Add(Severity::kError, Kind::kMissingChunk, "",
                     std::to_string(missing_files.size()) +
                         " file versions reference chunks that are not in the index");
      report_.findings[f].affected_files.assign(missing_files.begin(), missing_files.end());
    }
    return Status::OK();
  }

  void Flatten() {
    std::set<std::string> files;
    for (const Finding& f : report_.findings) {
      (f.severity == Severity::kError ? report_.errors : report_.warnings).push_back(f.message);
      files.insert(f.affected_files.begin(), f.affected_files.end());
    }
    report_.affected_files.assign(files.begin(), files.end());
  }

  repo::Repository& repo_;
  backend::Backend& be_;
  const CheckOptions& options_;
  const Subset subset_;
  CheckReport report_;
  std::map<Id, std::vector<repo::PackEntry>> indexed_;  // pack -> entries, from index objects
  repo::Index index_;                                   // built from indexed_
  std::map<Id, uint64_t> present_;                      // pack -> size, in the backend
  // Damaged chunk -> the findings that damage it (positions in findings).
  std::map<Id, std::vector<size_t>> bad_chunks_;
};

}  // namespace

std::string_view KindName(Finding::Kind kind) {
  switch (kind) {
    case Kind::kUnreadableIndex:
      return "unreadable_index";
    case Kind::kMissingPack:
      return "missing_pack";
    case Kind::kUnreadablePackHeader:
      return "unreadable_pack_header";
    case Kind::kPackHeaderMismatch:
      return "pack_header_mismatch";
    case Kind::kUnindexedPack:
      return "unindexed_pack";
    case Kind::kUnreadableSegment:
      return "unreadable_segment";
    case Kind::kMissingChunk:
      return "missing_chunk";
    case Kind::kUnreadablePack:
      return "unreadable_pack";
    case Kind::kTruncatedPack:
      return "truncated_pack";
    case Kind::kCorruptChunk:
      return "corrupt_chunk";
    case Kind::kChunkIdMismatch:
      return "chunk_id_mismatch";
  }
  return "unknown";
}

std::string_view SeverityName(Finding::Severity severity) {
  return severity == Finding::Severity::kError ? "error" : "warning";
}

bool CheckReport::ok() const {
  return std::none_of(findings.begin(), findings.end(),
                      [](const Finding& f) { return f.severity == Finding::Severity::kError; });
}

Status ValidateSubset(const std::string& subset) { return ParseSubset(subset).status(); }

Result<CheckReport> RunCheck(repo::Repository& repo, const CheckOptions& options) {
  CAIRN_ASSIGN_OR_RETURN(Subset subset, ParseSubset(options.subset));
  return Checker(repo, options, subset).Run();
}

}  // namespace cairn::checker
