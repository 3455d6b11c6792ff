// Restore to a stream: one file version's bytes (optionally a byte range, for
// HTTP Range), or a folder as it was at a time as a tar archive, written to a
// caller's ByteSink (an HTTP response, stdout, a buffer) instead of a file
// system. For downloads (the dashboard's GET /api/download/{version_id}) and
// `cairn restore --stdout`.
//
// Memory: content is streamed chunk by chunk, never a whole file in RAM; at
// most two pack spans of up to 32 MiB each are cached (PackCache), plus the
// chunk in hand. A folder's records (metadata, not content) are held in
// memory while its tar is written, as RunRestore holds them.
//
// What is verified when (docs/design.md §13):
//  - Before the first byte (before ByteSink::Begin): the selection, the
//    safety of every path (normal, absolute, under the requested one), and
//    that every chunk of every file is in the index with sizes adding up to
//    the recorded size. A tar entry that fails these is left out and named
//    in StreamInfo::left_out; a single file that fails them is an error and
//    nothing is streamed.
//  - While streaming: every chunk is authenticated as it is read (AEAD,
//    bound to its id); with a byte range, each chunk read is also checked
//    against its keyed id (the content hash the record names); a whole file
//    (alone or in a tar) is checked against its recorded SHA-256 once its
//    last byte has been written.
//
// THE CONSUMER'S CONTRACT: the bytes are written before they can all be
// verified, so a stream that returns an error (a damaged or missing chunk, a
// SHA-256 mismatch, a cancelled job, a lost lock, the sink's own error) has
// given the sink bytes that must be discarded: an HTTP server aborts the
// response (it must not end it as if complete), a CLI says the output is
// incomplete. Only an OK result means every byte given was verified.
//
// Thread-safety: one stream runs on the calling thread; the sink is called
// from that thread only. Several streams may run at once on one Repository.
#pragma once

#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "catalog/catalog.h"
#include "repo/repository.h"
#include "restorer/restorer.h"

namespace cairn::restorer {

// What a streamed restore is about to write, given to ByteSink::Begin before
// the first byte (an HTTP server writes its status line and headers here).
struct StreamInfo {
  enum class Kind { kFile, kTar };
  Kind kind = Kind::kFile;
  std::string path;        // the requested path (absolute; raw bytes)
  std::string name;        // a name to save it as: the file's name, or the folder's + ".tar"
  std::string version_id;  // hex id of the version streamed (a folder's own); "" for "/"
  TimeNs mtime = 0;        // the file's or folder's modification time
  // kFile only: the whole content's size and SHA-256, and the bytes that
  // follow: [offset, offset + length), the requested range clamped to the
  // end (the whole file without a range).
  uint64_t size = 0;
  Id content_sha256;
  uint64_t offset = 0, length = 0;
  // kTar only: entries left out of the archive, one line each saying why
  // (an unsafe path, data missing from the index, a socket, ...).
  std::vector<std::string> left_out;
};

// Where a streamed restore writes. Called from the streaming thread only.
class ByteSink {
 public:
  virtual ~ByteSink() = default;
  // Called once, after everything that can be checked without reading data
  // (see the header comment), before the first Write. An error stops the
  // stream (nothing is written) and is what the stream returns.
  virtual Status Begin(const StreamInfo& info) { return Status::OK(); }
  // The next bytes of the stream. An error stops the stream and is what it
  // returns (e.g. IOError when the client went away).
  virtual Status Write(ByteView data) = 0;
};

// A byte range of a file: `length` bytes from `offset` (to the end when
// nullopt). Clamped to the end of the file; an offset past the end is
// InvalidArgument.
struct ByteRange {
  uint64_t offset = 0;
  std::optional<uint64_t> length;
};

struct StreamOptions {
  Selection selection;
  // Files only (InvalidArgument for a tar).
  std::optional<ByteRange> range;
  // Called from the streaming thread, at most about every 250 ms.
  std::function<void(const RestoreProgress&)> progress;
  // A stop request ends the stream with Cancelled at the next chunk.
  std::stop_token stop;
};

struct StreamSummary {
  StreamInfo info;  // as given to Begin
  uint64_t files = 0, dirs = 0, links = 0,
           others = 0;         // entries written (a file stream: files = 1)
  uint64_t content_bytes = 0;  // file content written (of the range, for a range)
  uint64_t stream_bytes = 0;   // everything given to the sink (tar headers and padding included)
  double seconds = 0;
};

// Streams what options.selection names to `sink`: a regular file (or a hard
// link, as its target's content) as its bytes; a folder, "/" or any other
// kind of entry (a symlink, a FIFO) as a POSIX pax tar archive whose names
// are relative to the requested path's parent (so `tar x` recreates it),
// never absolute and never with "..". Errors before Begin: those of
// SelectRecords, InvalidArgument (a bad path, a range for a folder, an offset
// past the end), Corruption (a file's data missing from the index). After
// Begin: see the consumer's contract above.
Result<StreamSummary> RunStreamRestore(repo::Repository& repo, catalog::Catalog& catalog,
                                       const StreamOptions& options, ByteSink& sink);

}  // namespace cairn::restorer
