// The checker: verifies a repository's structure and, optionally, its data.
//
// Structure: every index object, version segment and pack header opens and
// parses; every pack an index lists exists and its header agrees with the
// index; every chunk a version references is indexed. With read_data, every
// selected pack is read whole and every blob is decrypted and its keyed ID
// recomputed. Each problem names the object and the files it affects.
#pragma once

#include <functional>
#include <optional>
#include <stop_token>
#include <string>
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

struct CheckReport {
  uint64_t index_objects = 0, packs = 0, blobs = 0, segments = 0, records = 0;
  uint64_t packs_read = 0, bytes_read = 0;
  std::vector<std::string> errors;          // problems: the repository is damaged
  std::vector<std::string> warnings;        // harmless (e.g. unindexed packs)
  std::vector<std::string> affected_files;  // "device:path (version time)"
  bool ok() const { return errors.empty(); }
};

// Parses "n/m" or "p%"; InvalidArgument otherwise.
Status ValidateSubset(const std::string& subset);

Result<CheckReport> RunCheck(repo::Repository& repo, const CheckOptions& options);

}  // namespace cairn::checker
