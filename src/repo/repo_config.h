// The repository config object: format version, repository id and the
// parameters every writer must share (chunker, pack size). Sealed with the
// meta key (kind "config", name "config").
#pragma once

#include <string>

#include "base/bytes.h"
#include "base/time_util.h"
#include "chunk/chunker.h"

namespace cairn::repo {

// Version 2: chunk IDs are HMAC-SHA256(id_key, SHA-256(chunk)) (version 1,
// pre-release only, keyed the chunk itself). Version 3: version segments may
// carry `forget` (retention), which a version-2 reader would ignore and so
// show forgotten versions: new repositories are created at 3, and a version-2
// one is raised to 3 before its first forget segment is written, so an older
// cairn refuses it instead. This cairn reads 2 and 3.
constexpr int kFormatMajor = 3;
constexpr int kFormatMinor = 0;
constexpr int kOldestFormatMajor = 2;
constexpr int kFormatWithForget = 3;

struct RepoConfig {
  int format_major = kFormatMajor;  // kOldestFormatMajor..kFormatMajor
  int format_minor = kFormatMinor;
  Id repo_id;
  TimeNs created = 0;
  chunk::ChunkerParams chunker;
  uint64_t pack_size = 16ull << 20;  // target size of data packs
};

Bytes EncodeRepoConfig(const RepoConfig& c);
// Corruption for malformed content (a missing `aead` included); Unsupported
// for a newer major format, or an `aead`, chunker or chunk ID scheme other
// than cairn's.
Result<RepoConfig> DecodeRepoConfig(ByteView json_text);

}  // namespace cairn::repo
