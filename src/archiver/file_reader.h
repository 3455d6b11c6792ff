// Reading one file's metadata and content into a VersionRecord. Every
// access to the file goes through the given FileSystem (base/file_system.h).
#pragma once

#include <sys/stat.h>

#include <string>

#include "base/file_system.h"
#include "chunk/chunker.h"
#include "repo/repository.h"
#include "repo/version_record.h"

namespace cairn::archiver {

// Fills the metadata fields of `rec` (type, size, mode, owner, times, inode,
// device, sparse flag) from an lstat result; a symlink's target is read by
// FileSystem::ReadLink. Returns false for a type cairn does not know.
bool FillMetadata(const std::string& path, const struct stat& st, repo::VersionRecord& rec);

// Reads extended attributes of `path` (not following symlinks) into `out`.
// Errors other than "not supported" are returned.
Status ReadXattrs(FileSystem& fs, const std::string& path, std::vector<repo::Xattr>& out);

// Reads a regular file, storing its chunks in `repo` and filling
// rec.chunks, rec.content_sha256, rec.size and rec.xattrs. Fails with Cancelled ("changed
// while being read") when the file's size/mtime/ctime changed during the
// read, IOError/PermissionDenied/NotFound for read errors; repository errors
// pass through (with their codes). `on_bytes` reports progress.
Status ReadFileContent(FileSystem& fs, const std::string& path, const chunk::Chunker& chunker,
                       repo::Repository& repo, repo::VersionRecord& rec,
                       const std::function<void(uint64_t)>& on_bytes);

}  // namespace cairn::archiver
