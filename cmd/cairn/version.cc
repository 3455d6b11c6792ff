#include "cmd/cairn/version.h"

#include <archive.h>
#include <curl/curl.h>
#include <gnu/libc-version.h>
#include <httplib.h>
#include <openssl/crypto.h>
#include <sodium.h>
#include <spdlog/version.h>
#include <sqlite3.h>
#include <zlib.h>
#include <zstd.h>
#include <CLI/Version.hpp>

#include <nlohmann/json.hpp>
#include <string_view>

#include "cmd/cairn/build_version.h"
#include "engine/format_info.h"

namespace cairn::cli {

const char* Version() { return CAIRN_VERSION_STRING; }

namespace {
// "libarchive 3.6.2" -> "3.6.2"
std::string AfterPrefix(std::string_view s, std::string_view prefix) {
  if (s.substr(0, prefix.size()) == prefix) s.remove_prefix(prefix.size());
  return std::string(s);
}
std::string Dotted(int major, int minor, int patch) {
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}
}  // namespace

std::vector<LibraryVersion> LibraryVersions() {
  return {
      {"libsodium", sodium_version_string(), true},
      {"OpenSSL", OpenSSL_version(OPENSSL_VERSION_STRING), true},
      {"zstd", ZSTD_versionString(), true},
      {"zlib", zlibVersion(), true},
      {"SQLite", sqlite3_libversion(), true},
      {"libarchive", AfterPrefix(archive_version_string(), "libarchive "), true},
      {"libcurl", curl_version_info(CURLVERSION_NOW)->version, true},
      {"glibc", gnu_get_libc_version(), true},
      {"yaml-cpp", CAIRN_BUILT_YAML_CPP_VERSION, false},
      {"cpp-httplib", CPPHTTPLIB_VERSION, false},
      {"libsystemd", CAIRN_BUILT_LIBSYSTEMD_VERSION, false},
      {"spdlog", Dotted(SPDLOG_VER_MAJOR, SPDLOG_VER_MINOR, SPDLOG_VER_PATCH), false},
      {"nlohmann-json",
       Dotted(NLOHMANN_JSON_VERSION_MAJOR, NLOHMANN_JSON_VERSION_MINOR,
              NLOHMANN_JSON_VERSION_PATCH),
       false},
      {"CLI11", CLI11_VERSION, false},
  };
}

std::string VersionText() {
  const engine::RepositoryFormat f = engine::SupportedRepositoryFormat();
  std::string out = std::string("cairn ") + Version() + "\n";
  out += "repository format " + std::to_string(f.created) + " (reads " +
         std::to_string(f.oldest_read) + " to " + std::to_string(f.newest_read) + ")\n";
  for (const LibraryVersion& l : LibraryVersions()) {
    out += l.name + std::string(l.name.size() < 14 ? 14 - l.name.size() : 1, ' ') + l.version +
           (l.at_run_time ? "" : " (built with)") + "\n";
  }
  out.pop_back();  // CLI11 prints a newline after it
  return out;
}

}  // namespace cairn::cli
