// The repository generation (docs/design.md §11): a counter that every
// operation which deletes packs, index objects or segments (compaction,
// prune) advances *before* it deletes anything. A writer keeps its chunk
// index in memory between runs; each time it takes its lock it compares the
// generation it built that index under with the current one (the lock
// taker's listing of locks/ sees the object, so the check costs no request),
// and reloads the index from scratch when it moved. So no writer ever
// deduplicates against a chunk that a prune deleted while it was not
// holding a lock.
//
// Stored as `locks/generation`: an envelope (kind "generation", name
// "generation", meta key) of JSON {"generation", "device", "operation",
// "time", "nonce"}, rewritten with Backend::Replace (compare-and-swap on its
// etag). Lock takers skip the name (it is not a lock).
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "base/bytes.h"
#include "base/status.h"
#include "base/time_util.h"

namespace cairn::repo {

class Repository;

inline constexpr char kGenerationObjectName[] = "generation";

struct Generation {
  uint64_t number = 0;  // 0: no deleting operation ever ran (no object)
  std::string device, operation;
  TimeNs time = 0;
  Id nonce;  // random per advance: a retried Replace recognises its own write
};

Bytes EncodeGeneration(const Generation& g);
Result<Generation> DecodeGeneration(ByteView json_text);

struct GenerationState {
  Generation generation;
  std::string etag;  // "" when there is no generation object
};

// Reads locks/generation (number 0, etag "" when absent).
Result<GenerationState> LoadGeneration(Repository& repo);

// Advances the generation by one, recording who and why. REQUIRES: the
// caller holds the exclusive repository lock (RepoLock), so no writer runs;
// call it after the replacement objects are written and before the first
// deletion. Safe to retry: a compare-and-swap that failed because an
// earlier attempt of this call landed is recognised by its nonce.
Result<GenerationState> AdvanceGeneration(Repository& repo, const std::string& device,
                                          const std::string& operation);

}  // namespace cairn::repo
