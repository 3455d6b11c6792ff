// Which repository format versions this build of cairn creates and reads
// (docs/design.md; the numbers live in src/repo/repo_config.h). For front
// ends that report them (`cairn --version`). Thread-safe: constants only.
#pragma once

namespace cairn::engine {

struct RepositoryFormat {
  int created = 0;      // the major version new repositories get
  int oldest_read = 0;  // the oldest major version this build opens
  int newest_read = 0;  // the newest one (a newer repository is refused)
};

RepositoryFormat SupportedRepositoryFormat();

}  // namespace cairn::engine
