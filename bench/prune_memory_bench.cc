// Prune's memory per chunk (issue 12: "memory bounded by the number of
// chunks, not the bytes stored: say the bytes per chunk and measure it").
//
//   prune_memory_bench [CHUNKS...]      (default: 100000 1000000)
//
// For each count, a repository in a temporary folder gets that many chunks
// in index objects (1,000 per pack; the packs are stand-ins of a few bytes,
// which prune never reads when it has nothing to repack), then a Pruner
// runs Snapshot and Plan with half of the chunks live. The heap in use
// (glibc's mallinfo2) is measured after each step; the live set is built
// the way Session::Prune builds it (a hash set of chunk ids). Prints one
// line per step and count: bytes in use and bytes per chunk.
#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <unordered_set>
#include <vector>

#include "backend/local/local_backend.h"
#include "crypto/crypto.h"
#include "repo/pack_copier.h"
#include "repo/prune.h"
#include "repo/repo_lock.h"
#include "repo/repository.h"

namespace {

using namespace cairn;

size_t HeapInUse() {
  struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

int Run(size_t chunks) {
  char tmpl[] = "/tmp/cairn-prune-mem-XXXXXX";
  if (!mkdtemp(tmpl)) return 1;
  const std::string dir = tmpl;
  auto be = backend::LocalBackend::Open(dir + "/repo");
  if (!be.ok()) return 1;
  repo::InitOptions io;
  io.kdf = crypto::CheapKdfParams();
  auto repo = repo::Repository::Init(*be, "pw", io);
  if (!repo.ok()) {
    std::fprintf(stderr, "%s\n", repo.status().ToString().c_str());
    return 1;
  }
  constexpr size_t kPerPack = 1000;
  std::vector<repo::IndexedPack> packs;
  std::vector<Id> ids;
  ids.reserve(chunks);
  for (size_t done = 0; done < chunks;) {
    repo::IndexedPack p{crypto::RandomId(), {}};
    for (size_t i = 0; i < kPerPack && done < chunks; ++i, ++done) {
      repo::PackEntry e;
      e.id = crypto::RandomId();
      e.offset = static_cast<uint32_t>(i * 4096);
      e.length = 4096;
      e.raw_length = 8192;
      p.entries.push_back(e);
      ids.push_back(e.id);
    }
    const Bytes stand_in(16, 0);
    if (!(*repo)->backend().Save({backend::ObjectType::kPack, p.pack_id.Hex()}, stand_in).ok())
      return 1;
    packs.push_back(std::move(p));
  }
  if (!repo::SaveIndexObjects(**repo, std::move(packs)).ok()) return 1;

  repo::LockOptions lo;
  lo.device = "bench";
  lo.operation = "prune";
  auto lock = repo::RepoLock::Acquire(**repo, lo);
  if (!lock.ok()) return 1;
  malloc_trim(0);
  const size_t base = HeapInUse();
  auto report = [&](const char* step) {
    const size_t now = HeapInUse();
    std::printf("%-34s chunks %8zu  heap %8.1f MiB  %6.1f bytes/chunk\n", step, chunks,
                (now - base) / 1048576.0, static_cast<double>(now - base) / chunks);
  };
  repo::PruneOptions po;
  po.device = "bench";
  repo::Pruner pruner(**repo, po);
  if (!pruner.Snapshot(**lock).ok()) return 1;
  report("after Snapshot (index read)");
  std::unordered_set<Id, IdHash> live;
  for (size_t i = 0; i < ids.size(); i += 2) live.insert(ids[i]);
  report("+ live set (half live)");
  if (!pruner.Plan(std::move(live)).ok()) return 1;
  report("after Plan (live set consumed)");
  std::printf("  plan: %llu packs to repack, %llu to delete\n",
              static_cast<unsigned long long>(pruner.stats().packs_to_repack),
              static_cast<unsigned long long>(pruner.stats().packs_to_delete));
  lock->reset();
  std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  cairn::crypto::Init();
  std::vector<size_t> counts;
  for (int i = 1; i < argc; ++i) counts.push_back(std::strtoull(argv[i], nullptr, 10));
  if (counts.empty()) counts = {100000, 1000000};
  for (size_t n : counts)
    if (int rc = Run(n)) return rc;
  return 0;
}
