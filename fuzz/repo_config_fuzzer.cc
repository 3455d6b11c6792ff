// The repository config (repo/repo_config.h): the JSON body of the
// `config` envelope, the first object every command reads.
//
// Input: a config's JSON; the target seals it with the test key and opens
// it as Repository::Open does, then decodes it.
// Properties: a config that decodes has a format this cairn reads and
// chunker parameters a chunker accepts; it encodes and decodes to the same
// config.
#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_util.h"
#include "repo/repo_config.h"

using namespace cairn;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Bytes body = fuzz::SealAndOpen("config", "config", ByteView(data, size));
  Result<repo::RepoConfig> c = repo::DecodeRepoConfig(body);
  if (!c.ok()) {
    FUZZ_CHECK(c.error().code() == StatusCode::kCorruption ||
               c.error().code() == StatusCode::kUnsupported);
    return 0;
  }
  FUZZ_CHECK(c->format_major >= repo::kOldestFormatMajor && c->format_major <= repo::kFormatMajor);
  FUZZ_CHECK(c->chunker.Validate().ok());
  Result<repo::RepoConfig> again = repo::DecodeRepoConfig(repo::EncodeRepoConfig(*c));
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->format_major == c->format_major && again->format_minor == c->format_minor &&
             again->repo_id == c->repo_id && again->chunker.min_size == c->chunker.min_size &&
             again->chunker.avg_size == c->chunker.avg_size &&
             again->chunker.max_size == c->chunker.max_size &&
             again->chunker.seed == c->chunker.seed && again->pack_size == c->pack_size);
  return 0;
}
