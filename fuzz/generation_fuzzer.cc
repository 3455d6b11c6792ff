// The repository generation (repo/generation.h, docs/design.md §11): the
// JSON body of the `generation` envelope that lock takers read.
//
// Input: its JSON; sealed with the test key and opened first.
// Property: a generation that decodes encodes and decodes to the same one.
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_util.h"
#include "repo/generation.h"

using namespace cairn;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Bytes body = fuzz::SealAndOpen("generation", "generation", ByteView(data, size));
  Result<repo::Generation> g = repo::DecodeGeneration(body);
  if (!g.ok()) {
    FUZZ_CHECK(g.error().code() == StatusCode::kCorruption);
    return 0;
  }
  Result<repo::Generation> again = repo::DecodeGeneration(repo::EncodeGeneration(*g));
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->number == g->number && again->device == g->device &&
             again->operation == g->operation && again->nonce == g->nonce);
  return 0;
}
