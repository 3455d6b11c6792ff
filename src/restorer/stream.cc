#include "restorer/stream.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <unordered_set>

#include "crypto/crypto.h"
#include "repo/version_id.h"
#include "restorer/pack_cache.h"
#include "restorer/tar_writer.h"

namespace cairn::restorer {

namespace {

using repo::FileType;
using repo::VersionRecord;

// Memory bound of a stream's pack cache: two packs (so a file whose chunks
// alternate between two packs reads each once), each read as one span of at
// most this many bytes; a span larger than that is read blob by blob.
constexpr size_t kCachedPacks = 2;
constexpr uint64_t kMaxCachedSpan = 32ull << 20;
constexpr auto kProgressInterval = std::chrono::milliseconds(250);

// One chunk of a file and where its plaintext lies in the file.
struct ChunkSpan {
  Id id;
  uint64_t offset = 0;
  uint32_t length = 0;
};

// The chunk layout of rec's content, from the index (which knows every
// chunk's plaintext length): so a range reads only the chunks that overlap
// it, and a file whose data is not all there is known before its first byte.
// Corruption when a chunk is not in the index or the lengths do not add up to
// the recorded size.
Result<std::vector<ChunkSpan>> Layout(repo::Repository& repo, const VersionRecord& rec) {
  std::vector<ChunkSpan> out;
  out.reserve(rec.chunks.size());
  uint64_t offset = 0;
  for (const Id& id : rec.chunks) {
    auto loc = repo.index().Find(id);
    if (!loc)
      return Status::Corruption("data of " + rec.path + " is missing from the repository (chunk " +
                                id.Hex().substr(0, 16) + " is in no index): run `cairn check`");
    out.push_back(ChunkSpan{id, offset, loc->raw_length});
    offset += loc->raw_length;
  }
  if (offset != rec.size)
    return Status::Corruption("the chunks of " + rec.path + " hold " + std::to_string(offset) +
                              " bytes, its record says " + std::to_string(rec.size) +
                              ": run `cairn check`");
  return out;
}

std::string BaseName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

class Stream {
 public:
  Stream(repo::Repository& repo, catalog::Catalog& catalog, const StreamOptions& o, ByteSink& sink)
      : repo_(repo),
        catalog_(catalog),
        o_(o),
        sink_(sink),
        cache_(repo, kCachedPacks, kMaxCachedSpan),
        start_(std::chrono::steady_clock::now()) {}

  Result<StreamSummary> Execute();

 private:
  // One entry of a tar, planned before the first byte.
  struct TarItem {
    const VersionRecord* rec = nullptr;  // for a hard link copied as a file: its target's content
    std::string name;                    // relative to the requested path's parent
    std::string hardlink_to;             // a hard link to this earlier entry
    std::vector<ChunkSpan> layout;       // regular files
  };

  Status StreamFile(const VersionRecord& selected);
  Status StreamTar(std::vector<VersionRecord>& records);
  // Plans the tar's entries (sorted by name, hard links last), noting what
  // is left out in summary_.info.left_out.
  std::vector<TarItem> PlanTar(std::vector<VersionRecord>& records);
  // Reads the chunks of rec overlapping [begin, end) and gives exactly those
  // bytes to `out`, verifying as it goes (see stream.h). REQUIRES: cache_
  // planned; layout == Layout(rec).
  Status Content(const VersionRecord& rec, const std::vector<ChunkSpan>& layout, uint64_t begin,
                 uint64_t end, const std::function<Status(ByteView)>& out);
  void Plan(const std::vector<ChunkSpan>& layout, uint64_t begin, uint64_t end,
            std::vector<Id>& ids) const;
  void ReportProgress(bool force);
  // The tar name of `path`: relative to the requested path's parent.
  std::string TarName(const std::string& path) const { return path.substr(name_start_); }

  repo::Repository& repo_;
  catalog::Catalog& catalog_;
  const StreamOptions& o_;
  ByteSink& sink_;
  PackCache cache_;
  const std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_progress_{};
  RestoreProgress progress_;
  size_t name_start_ = 0;
  std::deque<VersionRecord> copies_;  // targets of hard links copied into a tar (stable addresses)
  StreamSummary summary_;
};

void Stream::ReportProgress(bool force) {
  if (!o_.progress) return;
  auto now = std::chrono::steady_clock::now();
  if (!force && now - last_progress_ < kProgressInterval) return;
  last_progress_ = now;
  o_.progress(progress_);
}

void Stream::Plan(const std::vector<ChunkSpan>& layout, uint64_t begin, uint64_t end,
                  std::vector<Id>& ids) const {
  for (const ChunkSpan& c : layout)
    if (c.offset < end && c.offset + c.length > begin) ids.push_back(c.id);
}

Status Stream::Content(const VersionRecord& rec, const std::vector<ChunkSpan>& layout,
                       uint64_t begin, uint64_t end, const std::function<Status(ByteView)>& out) {
  // A whole file is checked against its recorded SHA-256 at the end; a range
  // cannot be, so each chunk it reads is checked against its keyed id.
  const bool whole = begin == 0 && end == rec.size;
  crypto::Sha256 sha;
  for (const ChunkSpan& c : layout) {
    if (c.offset + c.length <= begin) continue;
    if (c.offset >= end) break;
    if (o_.stop.stop_requested())
      return Status::Cancelled("the stream of " + rec.path + " was stopped; discard what it gave");
    auto data = cache_.LoadBlob(c.id);
    if (!data.ok()) return data.error().WithContext("cannot read " + rec.path);
    if (data->size() != c.length)
      return Status::Corruption("chunk " + c.id.Hex().substr(0, 16) + " of " + rec.path +
                                " is not the length the index gives");
    if (whole)
      sha.Update(*data);
    else if (crypto::KeyedId(repo_.keys().id_key, *data) != c.id)
      return Status::Corruption("chunk " + c.id.Hex().substr(0, 16) + " of " + rec.path +
                                " does not match its id");
    const uint64_t from = std::max(begin, c.offset) - c.offset;
    const uint64_t to = std::min(end, c.offset + c.length) - c.offset;
    CAIRN_RETURN_IF_ERROR(out(ByteView(data->data() + from, to - from)));
    summary_.content_bytes += to - from;
    progress_.bytes_done += to - from;
    ReportProgress(false);
  }
  if (whole && sha.Final() != rec.content_sha256)
    return Status::Corruption("the content of " + rec.path +
                              " does not match its recorded SHA-256: what was streamed is damaged");
  return Status::OK();
}

Status Stream::StreamFile(const VersionRecord& selected) {
  const VersionRecord* content = &selected;
  std::optional<VersionRecord> target;
  if (selected.type == FileType::kHardlink) {
    // The link's content is its target's, as it was then.
    CAIRN_ASSIGN_OR_RETURN(target,
                           catalog_.Lookup(selected.device, selected.link_target, o_.selection.at));
    if (!target || target->type != FileType::kFile)
      return Status::NotFound("hard link " + selected.path + ": its target " +
                              selected.link_target + " is not in the backup");
    content = &*target;
  }
  CAIRN_ASSIGN_OR_RETURN(std::vector<ChunkSpan> layout, Layout(repo_, *content));
  uint64_t begin = 0, end = content->size;
  if (o_.range) {
    if (o_.range->offset > content->size)
      return Status::InvalidArgument(
          "the range starts at byte " + std::to_string(o_.range->offset) + ", past the end of " +
          selected.path + " (" + std::to_string(content->size) + " bytes)");
    begin = o_.range->offset;
    end = begin + std::min(o_.range->length.value_or(UINT64_MAX), content->size - begin);
  }
  StreamInfo& info = summary_.info;
  info.kind = StreamInfo::Kind::kFile;
  info.name = BaseName(selected.path);
  info.version_id = repo::VersionIdHex(repo::VersionIdOf(selected));
  info.mtime = content->mtime;
  info.size = content->size;
  info.content_sha256 = content->content_sha256;
  info.offset = begin;
  info.length = end - begin;
  progress_.files_total = 1;
  progress_.bytes_total = end - begin;
  std::vector<Id> planned;
  Plan(layout, begin, end, planned);
  cache_.Plan(planned);
  CAIRN_RETURN_IF_ERROR(sink_.Begin(info));
  CAIRN_RETURN_IF_ERROR(Content(*content, layout, begin, end, [&](ByteView b) {
    CAIRN_RETURN_IF_ERROR(sink_.Write(b));
    summary_.stream_bytes += b.size();
    return Status::OK();
  }));
  summary_.files = 1;
  progress_.files_done = 1;
  return Status::OK();
}

std::vector<Stream::TarItem> Stream::PlanTar(std::vector<VersionRecord>& records) {
  const std::string& root = o_.selection.path;
  std::vector<std::string>& left_out = summary_.info.left_out;
  // Sorted by path, a folder comes before everything in it (its path is a
  // prefix of theirs), as tar extractors expect.
  std::sort(records.begin(), records.end(),
            [](const VersionRecord& a, const VersionRecord& b) { return a.path < b.path; });
  std::vector<TarItem> items;
  std::vector<const VersionRecord*> hardlinks;
  std::unordered_set<std::string> files;  // paths written as regular files
  for (const VersionRecord& r : records) {
    // The same rule as RunRestore: only normal paths at or under the
    // requested one, so no name in the archive is absolute or has "..".
    if (r.path == "/") continue;  // "/" itself: its name would be empty
    if (!IsRestorablePath(r.path, root)) {
      left_out.push_back("unsafe path from the repository: " + r.path);
      continue;
    }
    if (r.type == FileType::kSocket) {
      left_out.push_back(r.path + ": a socket (a tar archive cannot hold one)");
      continue;
    }
    if (r.type == FileType::kHardlink) {
      hardlinks.push_back(&r);
      continue;
    }
    TarItem item{&r, TarName(r.path), {}, {}};
    if (r.type == FileType::kFile) {
      auto layout = Layout(repo_, r);
      if (!layout.ok()) {
        left_out.push_back(layout.error().message());
        continue;
      }
      item.layout = std::move(*layout);
      files.insert(r.path);
    }
    items.push_back(std::move(item));
  }
  // Hard links last, so their target entry is always earlier in the archive.
  for (const VersionRecord* h : hardlinks) {
    if (files.count(h->link_target)) {
      items.push_back(TarItem{h, TarName(h->path), TarName(h->link_target), {}});
      continue;
    }
    // The target is outside the folder (or was left out): a copy of its
    // content under the link's name, as RunRestore does.
    auto target = catalog_.Lookup(h->device, h->link_target, o_.selection.at);
    if (!target.ok() || !*target || (*target)->type != FileType::kFile) {
      left_out.push_back("hard link " + h->path + ": its target " + h->link_target +
                         " is not in the backup");
      continue;
    }
    auto layout = Layout(repo_, **target);
    if (!layout.ok()) {
      left_out.push_back(layout.error().message());
      continue;
    }
    copies_.push_back(std::move(**target));
    items.push_back(TarItem{&copies_.back(), TarName(h->path), {}, std::move(*layout)});
  }
  return items;
}

Status Stream::StreamTar(std::vector<VersionRecord>& records) {
  const std::string& root = o_.selection.path;
  if (o_.range)
    return Status::InvalidArgument("a byte range applies to a file; " + root +
                                   " is streamed as a tar archive");
  // Names start after the requested path's parent folder: "/a/b" -> "b/...",
  // "/" -> "a/...".
  name_start_ = root == "/" ? 1 : root.find_last_of('/') + 1;
  StreamInfo& info = summary_.info;
  info.kind = StreamInfo::Kind::kTar;
  info.name = (root == "/" ? std::string("root") : BaseName(root)) + ".tar";
  if (!records.empty() && records.front().path == root) {
    info.version_id = repo::VersionIdHex(repo::VersionIdOf(records.front()));
    info.mtime = records.front().mtime;
  }
  std::vector<TarItem> items = PlanTar(records);
  std::vector<Id> planned;
  for (const TarItem& item : items) {
    if (!item.hardlink_to.empty() || item.rec->type != FileType::kFile) continue;
    Plan(item.layout, 0, item.rec->size, planned);
    ++progress_.files_total;
    progress_.bytes_total += item.rec->size;
  }
  cache_.Plan(planned);
  CAIRN_RETURN_IF_ERROR(sink_.Begin(info));
  CAIRN_ASSIGN_OR_RETURN(auto tar, TarWriter::Open(sink_));
  for (const TarItem& item : items) {
    const VersionRecord& r = *item.rec;
    CAIRN_RETURN_IF_ERROR(tar->AddEntry(r, item.name, item.hardlink_to));
    if (!item.hardlink_to.empty() || r.type == FileType::kSymlink) {
      ++summary_.links;
    } else if (r.type == FileType::kFile) {
      CAIRN_RETURN_IF_ERROR(
          Content(r, item.layout, 0, r.size, [&](ByteView b) { return tar->WriteData(b); }));
      ++summary_.files;
      ++progress_.files_done;
    } else if (r.type == FileType::kDir) {
      ++summary_.dirs;
    } else {
      ++summary_.others;
    }
    if (o_.stop.stop_requested())
      return Status::Cancelled("the tar stream of " + root + " was stopped; discard what it gave");
  }
  CAIRN_RETURN_IF_ERROR(tar->Close());
  summary_.stream_bytes = tar->bytes_written();
  return Status::OK();
}

Result<StreamSummary> Stream::Execute() {
  const Selection& sel = o_.selection;
  if (!IsNormalAbsolutePath(sel.path))
    return Status::InvalidArgument("restore needs an absolute path without . or ..: " + sel.path);
  CAIRN_ASSIGN_OR_RETURN(std::vector<VersionRecord> records, SelectRecords(catalog_, sel));
  summary_.info.path = sel.path;
  const bool single =
      !records.empty() && records.front().path == sel.path &&
      (records.front().type == FileType::kFile || records.front().type == FileType::kHardlink);
  if (single)
    CAIRN_RETURN_IF_ERROR(StreamFile(records.front()));
  else
    CAIRN_RETURN_IF_ERROR(StreamTar(records));
  ReportProgress(true);
  summary_.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  return std::move(summary_);
}

}  // namespace

Result<StreamSummary> RunStreamRestore(repo::Repository& repo, catalog::Catalog& catalog,
                                       const StreamOptions& options, ByteSink& sink) {
  Stream s(repo, catalog, options, sink);
  return s.Execute();
}

}  // namespace cairn::restorer
