// A version's stable id: what URLs, the API and `cairn restore --id` name a
// version by. Version numbers (1 = oldest) are positions for people and
// shift when retention drops old versions; the id never changes.
//
// It is derived, not stored: the first 12 bytes of SHA-256 over the record's
// device, path, backup time, deletion flag and content hash, so every machine
// computes the same id from the same record, a rebuilt catalog keeps them,
// and compaction (which copies records unchanged) keeps them. (device, path,
// backup_time) already names a version uniquely (the clock of §10 never
// gives one path two versions the same time on one device); the content hash
// makes a forged id for other content impossible to confuse with it.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"
#include "repo/version_record.h"

namespace cairn::repo {

using VersionId = std::array<uint8_t, 12>;

VersionId VersionIdOf(const VersionRecord& r);
std::string VersionIdHex(const VersionId& id);  // 24 lower-case hex digits
// InvalidArgument unless `hex` is 24 hex digits.
Result<VersionId> ParseVersionId(std::string_view hex);

}  // namespace cairn::repo
