// cairn's version and what `cairn --version` prints: the version (one
// source: project(VERSION) in CMakeLists.txt, through a generated header),
// the repository format and the libraries cairn runs with. Thread-safe.
#pragma once

#include <string>
#include <vector>

namespace cairn::cli {

// "0.1.0" (or with CAIRN_VERSION_SUFFIX, e.g. "0.1.0+1").
const char* Version();

struct LibraryVersion {
  std::string name;     // "libsodium"
  std::string version;  // "1.0.18"
  bool at_run_time;     // asked of the loaded library (else: the one built against)
};
// Every library cairn links or compiles in, in a fixed order.
std::vector<LibraryVersion> LibraryVersions();

// The text of `cairn --version`: "cairn VERSION", the repository format, then
// one line per library.
std::string VersionText();

}  // namespace cairn::cli
