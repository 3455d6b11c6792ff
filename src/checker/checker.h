// The checker: verifies a repository's structure and, optionally, its data.
//
// Structure: every index object, version segment and pack header opens and
// parses; every pack an index lists exists and its header agrees with the
// index; every chunk a version references is indexed. With read_data, every
// selected pack is read whole and every blob is decrypted and its keyed ID
// recomputed. Each problem is a typed Finding naming the object and the
// files it affects.
#pragma once

#include <functional>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "repo/repository.h"

namespace cairn::checker {

struct CheckOptions {
  bool read_data = false;
  // Subset of packs to read: "n/m" (the n-th of m groups), "p%" (random), or
  // "" for all.
  std::string subset;
  std::function<void(uint64_t done, uint64_t total)> progress;
  // A stop request ends the check before the next pack; it returns Cancelled.
  std::stop_token stop;
};

// One problem the checker found.
struct Finding {
  enum class Severity {
    kError,    // the repository is damaged: some versions may not restore
    kWarning,  // harmless; nothing is lost
  };
  enum class Kind {
    // Structure (always checked).
    kUnreadableIndex,       // an index object does not load, decrypt or parse
    kMissingPack,           // a pack an index lists is not in the backend
    kUnreadablePackHeader,  // a present pack's header does not load, decrypt or parse
    kPackHeaderMismatch,    // a pack's header lists other chunks than its index entry
    kUnindexedPack,         // (warning) a pack no readable index lists (an interrupted backup,
                            // a damaged index object); read by its header
    kUnreadableSegment,     // a version segment does not load, decrypt or parse
    kMissingChunk,          // file versions reference chunks that no index lists
    // Data (with CheckOptions::read_data).
    kUnreadablePack,   // a pack does not load
    kTruncatedPack,    // a pack is shorter than its index says
    kCorruptChunk,     // a chunk does not decrypt or decompress
    kChunkIdMismatch,  // a chunk's content does not hash to its ID
  };
  Severity severity = Severity::kError;
  Kind kind = Kind::kUnreadableIndex;
  // The damaged object as "<type> <full hex id>": "index …", "pack …",
  // "segment …". Empty for kMissingChunk, which is about no single object.
  std::string object;
  // For people: what went wrong (names the object).
  std::string message;
  // File versions that cannot be restored because of this finding, sorted:
  // "device:path (version of <local time>, data missing|damaged)". Empty when
  // they cannot be known (an unreadable segment hides which files it held).
  std::vector<std::string> affected_files;
};

// A stable snake_case name for JSON and dashboards ("missing_pack", ...).
std::string_view KindName(Finding::Kind kind);
std::string_view SeverityName(Finding::Severity severity);

struct CheckReport {
  uint64_t index_objects = 0, packs = 0, blobs = 0, segments = 0, records = 0;
  // Of `records`, those retention forgot (a forget segment names them): not
  // versions any more, and their chunks may be gone (freed by prune).
  uint64_t forgotten = 0;
  uint64_t packs_read = 0, bytes_read = 0;
  // Everything found, in check order: index objects, packs, data (sorted by
  // pack), segments and references.
  std::vector<Finding> findings;

  // Flat views of `findings`, filled by RunCheck for callers that want plain
  // text: the messages of errors and of warnings in order, and the sorted
  // union of all affected files.
  std::vector<std::string> errors;
  std::vector<std::string> warnings;
  std::vector<std::string> affected_files;

  bool ok() const;  // no finding of severity kError
};

// Parses "n/m" or "p%"; InvalidArgument otherwise.
Status ValidateSubset(const std::string& subset);

// Checks the repository. Damage is reported in the CheckReport; a non-OK
// result means the check itself could not run (e.g. listing objects failed).
Result<CheckReport> RunCheck(repo::Repository& repo, const CheckOptions& options);

}  // namespace cairn::checker
