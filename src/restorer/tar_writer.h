// TarWriter: writes a POSIX pax tar archive (IEEE 1003.1-2001) to a
// ByteSink, through libarchive. Every entry gets a pax extended header, so
// names and link targets of any length and any bytes, sizes above 8 GiB,
// nanosecond mtimes, owner names and extended attributes (SCHILY.xattr, what
// GNU tar's --xattrs reads) survive. Names that are valid UTF-8 are stored as
// pax requires (UTF-8, whatever the process locale); other byte strings are
// stored as they are, marked hdrcharset=BINARY (GNU tar extracts them
// byte for byte, after a warning that it ignores that keyword).
//
// Not thread-safe: one archive is written by one thread at a time.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/status.h"
#include "repo/version_record.h"
#include "restorer/stream.h"

struct archive;

namespace cairn::restorer {

class TarWriter {
 public:
  // An archive that writes its blocks (10 KiB each) to `sink`, which must
  // outlive it. The sink's Begin is not called (the caller does that).
  static Result<std::unique_ptr<TarWriter>> Open(ByteSink& sink);
  ~TarWriter();
  TarWriter(const TarWriter&) = delete;
  TarWriter& operator=(const TarWriter&) = delete;

  // Writes the header of `rec` under `name` (relative, no leading '/'): its
  // type, mode, owner ids and names, mtime, xattrs, symlink target, device
  // numbers, and for a regular file its size. With a non-empty
  // `hardlink_to`, a hard link to the earlier entry of that name instead
  // (no content). REQUIRES: the previous file's content is complete; rec is
  // not a socket (tar cannot hold one).
  Status AddEntry(const repo::VersionRecord& rec, std::string_view name,
                  std::string_view hardlink_to = {});
  // Content of the last regular file added; exactly its recorded size must
  // be written, in any number of calls, before the next AddEntry or Close.
  Status WriteData(ByteView data);
  // Writes the end-of-archive blocks. The archive is complete only when this
  // returned OK.
  Status Close();

  // Bytes given to the sink so far.
  uint64_t bytes_written() const { return written_; }

 private:
  explicit TarWriter(ByteSink& sink);
  // Status of a failed libarchive call: the sink's own error when it caused
  // the failure, else libarchive's message.
  Status Failure(std::string_view what);
  friend struct TarWriterCallbacks;  // libarchive's write callback (tar_writer.cc)

  ByteSink& sink_;
  struct archive* archive_ = nullptr;
  Status sink_error_;       // the first error of sink_.Write
  uint64_t written_ = 0;    // bytes given to sink_
  uint64_t remaining_ = 0;  // content bytes still owed to the current entry
  bool closed_ = false;
  // Set when the writer is destroyed unclosed: libarchive then writes its
  // end blocks while freeing, and those must not reach the sink after an
  // error (the caller has already stopped the stream).
  bool discard_ = false;
};

}  // namespace cairn::restorer
