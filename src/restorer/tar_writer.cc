#include "restorer/tar_writer.h"

#include <archive.h>
#include <archive_entry.h>
#include <locale.h>

namespace cairn::restorer {

namespace {

// libarchive converts names from the locale's charset to the UTF-8 that pax
// headers hold. cairn never calls setlocale, so it runs in the "C" locale,
// where libarchive cannot convert any non-ASCII name: it would store every
// one as hdrcharset=BINARY (and, given a UTF-8 name directly, 3.6.2 crashes
// on a null string). Each call into libarchive therefore runs with this
// thread's LC_CTYPE switched to C.UTF-8 (uselocale affects only the calling
// thread and is undone on return). When C.UTF-8 is missing nothing changes:
// names are still stored byte for byte, as hdrcharset=BINARY.
class Utf8Ctype {
 public:
  Utf8Ctype() {
    static const locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", locale_t{});
    if (utf8) previous_ = uselocale(utf8);
  }
  ~Utf8Ctype() {
    if (previous_) uselocale(previous_);
  }
  Utf8Ctype(const Utf8Ctype&) = delete;
  Utf8Ctype& operator=(const Utf8Ctype&) = delete;

 private:
  locale_t previous_{};
};

struct EntryDeleter {
  void operator()(struct archive_entry* e) const { archive_entry_free(e); }
};

}  // namespace

struct TarWriterCallbacks {
  static la_ssize_t Write(struct archive*, void* self, const void* buf, size_t n) {
    auto* w = static_cast<TarWriter*>(self);
    if (w->discard_) return static_cast<la_ssize_t>(n);
    if (!w->sink_error_.ok()) return -1;
    Status st = w->sink_.Write(ByteView(static_cast<const uint8_t*>(buf), n));
    if (!st.ok()) {
      w->sink_error_ = std::move(st);
      return -1;
    }
    w->written_ += n;
    return static_cast<la_ssize_t>(n);
  }
};

TarWriter::TarWriter(ByteSink& sink) : sink_(sink) {}

TarWriter::~TarWriter() {
  if (!archive_) return;
  discard_ = !closed_;
  Utf8Ctype ctype;
  archive_write_free(archive_);
}

Status TarWriter::Failure(std::string_view what) {
  if (!sink_error_.ok()) return sink_error_;
  const char* msg = archive_ ? archive_error_string(archive_) : nullptr;
  return Status::IOError(std::string(what) + ": " + (msg ? msg : "libarchive failed"));
}

Result<std::unique_ptr<TarWriter>> TarWriter::Open(ByteSink& sink) {
  std::unique_ptr<TarWriter> w(new TarWriter(sink));
  Utf8Ctype ctype;
  w->archive_ = archive_write_new();
  if (!w->archive_) return Status::IOError("cannot start a tar archive: out of memory");
  // Full pax (not "restricted"): every entry carries an extended header, so
  // mtimes keep their nanoseconds.
  if (archive_write_set_format_pax(w->archive_) != ARCHIVE_OK)
    return w->Failure("cannot start a tar archive");
  if (archive_write_open2(w->archive_, w.get(), nullptr, &TarWriterCallbacks::Write, nullptr,
                          nullptr) != ARCHIVE_OK)
    return w->Failure("cannot start a tar archive");
  return w;
}

Status TarWriter::AddEntry(const repo::VersionRecord& rec, std::string_view name,
                           std::string_view hardlink_to) {
  if (closed_) return Status::InvalidArgument("the tar archive is already closed");
  if (remaining_ != 0)
    return Status::InvalidArgument("tar entry " + std::string(name) + " follows a file " +
                                   std::to_string(remaining_) + " bytes short");
  Utf8Ctype ctype;
  std::unique_ptr<struct archive_entry, EntryDeleter> e(archive_entry_new2(archive_));
  if (!e) return Status::IOError("tar entry " + std::string(name) + ": out of memory");
  const std::string path(name);
  archive_entry_set_pathname(e.get(), path.c_str());
  archive_entry_set_perm(e.get(), static_cast<mode_t>(rec.mode & 07777));
  archive_entry_set_uid(e.get(), rec.uid);
  archive_entry_set_gid(e.get(), rec.gid);
  if (!rec.user.empty()) archive_entry_set_uname(e.get(), rec.user.c_str());
  if (!rec.group.empty()) archive_entry_set_gname(e.get(), rec.group.c_str());
  TimeNs secs = rec.mtime / 1000000000LL, nanos = rec.mtime % 1000000000LL;
  if (nanos < 0) nanos += 1000000000LL, secs -= 1;
  archive_entry_set_mtime(e.get(), static_cast<time_t>(secs), static_cast<long>(nanos));
  for (const auto& x : rec.xattrs)
    archive_entry_xattr_add_entry(e.get(), x.name.c_str(), x.value.data(), x.value.size());
  uint64_t content = 0;
  if (!hardlink_to.empty()) {
    const std::string target(hardlink_to);
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_hardlink(e.get(), target.c_str());
    archive_entry_set_size(e.get(), 0);
  } else {
    switch (rec.type) {
      case repo::FileType::kFile:
      case repo::FileType::kHardlink:  // (given with its target's content)
        archive_entry_set_filetype(e.get(), AE_IFREG);
        archive_entry_set_size(e.get(), static_cast<la_int64_t>(rec.size));
        content = rec.size;
        break;
      case repo::FileType::kDir:
        archive_entry_set_filetype(e.get(), AE_IFDIR);
        break;
      case repo::FileType::kSymlink:
        archive_entry_set_filetype(e.get(), AE_IFLNK);
        archive_entry_set_symlink(e.get(), rec.link_target.c_str());
        break;
      case repo::FileType::kFifo:
        archive_entry_set_filetype(e.get(), AE_IFIFO);
        break;
      case repo::FileType::kCharDevice:
        archive_entry_set_filetype(e.get(), AE_IFCHR);
        archive_entry_set_rdev(e.get(), static_cast<dev_t>(rec.rdev));
        break;
      case repo::FileType::kBlockDevice:
        archive_entry_set_filetype(e.get(), AE_IFBLK);
        archive_entry_set_rdev(e.get(), static_cast<dev_t>(rec.rdev));
        break;
      case repo::FileType::kSocket:
        return Status::InvalidArgument("a tar archive cannot hold the socket " + path);
    }
  }
  // ARCHIVE_WARN: a name that is not UTF-8 was stored as bytes
  // (hdrcharset=BINARY); the entry is complete.
  if (archive_write_header(archive_, e.get()) < ARCHIVE_WARN)
    return Failure("writing the tar header of " + path);
  remaining_ = content;
  return Status::OK();
}

Status TarWriter::WriteData(ByteView data) {
  if (data.size() > remaining_)
    return Status::InvalidArgument("more tar content than the entry's recorded size");
  size_t pos = 0;
  while (pos < data.size()) {
    la_ssize_t n = archive_write_data(archive_, data.data() + pos, data.size() - pos);
    if (n <= 0) return Failure("writing tar content");
    pos += static_cast<size_t>(n);
  }
  remaining_ -= data.size();
  return Status::OK();
}

Status TarWriter::Close() {
  if (closed_) return Status::OK();
  if (remaining_ != 0)
    return Status::InvalidArgument("the last tar entry is " + std::to_string(remaining_) +
                                   " bytes short");
  Utf8Ctype ctype;
  if (archive_write_close(archive_) != ARCHIVE_OK) return Failure("ending the tar archive");
  closed_ = true;
  return Status::OK();
}

}  // namespace cairn::restorer
