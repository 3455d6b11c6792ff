#include "engine/format_info.h"

#include "repo/repo_config.h"

namespace cairn::engine {

RepositoryFormat SupportedRepositoryFormat() {
  return RepositoryFormat{.created = repo::kFormatMajor,
                          .oldest_read = repo::kOldestFormatMajor,
                          .newest_read = repo::kFormatMajor};
}

}  // namespace cairn::engine
