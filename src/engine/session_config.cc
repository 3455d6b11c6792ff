#include "engine/session_config.h"

#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace cairn::engine {

namespace {

std::string Get(const GetEnv& env, const char* name) {
  const char* v = env ? env(name) : nullptr;
  return v ? v : "";
}

// An XDG base directory: the variable when it holds an absolute path (a
// relative one is ignored, as the specification requires), else the fallback
// under the home folder.
std::string XdgDir(const GetEnv& env, const std::string& home, const char* var,
                   const char* fallback) {
  std::string v = Get(env, var);
  if (!v.empty() && v[0] == '/') return v;
  return home + "/" + fallback;
}

}  // namespace

GetEnv ProcessEnvironment() {
  return [](const char* name) { return static_cast<const char*>(std::getenv(name)); };
}

Result<std::chrono::milliseconds> ParseEnvSeconds(const char* name, std::string_view value,
                                                  bool allow_fraction) {
  std::string text(value);
  auto bad = [&] {
    return Status::InvalidArgument(
        std::string(name) + "='" + text + "' is not " +
        (allow_fraction ? "a number of seconds (e.g. 30 or 0.5)" : "a whole number of seconds") +
        ": fix or unset it");
  };
  if (text.empty()) return bad();
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (errno != 0 || end == text.c_str() || *end != '\0' || !std::isfinite(v) || v < 0 ||
      v > 365.0 * 24 * 3600)
    return bad();
  if (!allow_fraction && v != std::floor(v)) return bad();
  return std::chrono::milliseconds(static_cast<int64_t>(v * 1000));
}

std::string ResolvedConfig::GeneratedSecretPath() const {
  if (location == default_location) return config_dir + "/password";
  Id h = crypto::Sha256::Digest(AsBytes(location));
  return config_dir + "/password-" + h.Hex().substr(0, 12);
}

std::string ResolvedConfig::KeySlotHintPath() const {
  // Keyed by location: the repository id is only known once a slot opened.
  Id h = crypto::Sha256::Digest(AsBytes(location));
  return cache_dir + "/key-slot-" + h.Hex().substr(0, 16);
}

crypto::KdfParams ResolvedConfig::KdfParamsForNewKey() const {
  return cheap_kdf ? crypto::CheapKdfParams() : crypto::DefaultKdfParams();
}

Result<ResolvedConfig> ResolveConfig(const SessionOptions& o) {
  ResolvedConfig r;
  std::optional<std::string> explicit_config;
  if (!o.config_file.empty()) explicit_config = config::ExpandHome(o.config_file);
  if (!o.no_settings_file) {
    CAIRN_ASSIGN_OR_RETURN(r.settings, config::LoadSettings(explicit_config));
  }
  CAIRN_RETURN_IF_ERROR(config::ApplyEnvironment(r.settings, o.getenv));
  const config::Settings& s = r.settings;

  r.home = Get(o.getenv, "HOME");
  if (r.home.empty()) r.home = "/";
  r.default_location = XdgDir(o.getenv, r.home, "XDG_DATA_HOME", ".local/share") + "/cairn/repo";
  r.cache_dir = XdgDir(o.getenv, r.home, "XDG_CACHE_HOME", ".cache") + "/cairn";
  r.state_dir = XdgDir(o.getenv, r.home, "XDG_STATE_HOME", ".local/state") + "/cairn";
  r.config_dir = XdgDir(o.getenv, r.home, "XDG_CONFIG_HOME", ".config") + "/cairn";

  if (!o.repository.empty()) {
    r.location = o.repository;
  } else if (!s.repository.empty()) {  // CAIRN_REPOSITORY is applied into it
    r.location = s.repository;
  } else if (!s.azure_connection_string.empty()) {
    // With an Azure connection string and no location, the original
    // design's container (AZURE_CONTAINER_NAME, default "backups").
    r.location = "azure://" + s.azure_container +
                 (s.azure_prefix.empty() ? std::string() : "/" + s.azure_prefix);
  } else {
    r.location = r.default_location;
  }

  if (!o.device.empty()) {
    r.device = o.device;
  } else if (!s.device_id.empty()) {
    r.device = s.device_id;
  } else {
    char host[256] = {0};
    r.device =
        gethostname(host, sizeof(host) - 1) == 0 && host[0] ? host : std::string("default-device");
  }
  r.query_device = o.all_devices ? std::string() : r.device;

  backend::OpenOptions& b = r.backend_options;
  b.connections = static_cast<int>(s.azure_connections);
  b.limit_upload_kib = o.limit_upload_kib >= 0 ? static_cast<uint64_t>(o.limit_upload_kib)
                                               : s.azure_limit_upload_kib;
  b.limit_download_kib = o.limit_download_kib >= 0 ? static_cast<uint64_t>(o.limit_download_kib)
                                                   : s.azure_limit_download_kib;
  b.stall_timeout_seconds = static_cast<int>(s.azure_stall_timeout_seconds);
  if (!s.azure_connection_string.empty())
    b.settings["azure.connection_string"] = s.azure_connection_string;
  b.settings["azure.access_tier"] = s.azure_access_tier;

  // Knobs for tests and unusual set-ups; a bad value is an error, not a
  // crash and not a silent default.
  if (std::string v = Get(o.getenv, "CAIRN_LOCK_TTL"); !v.empty()) {
    CAIRN_ASSIGN_OR_RETURN(auto ms, ParseEnvSeconds("CAIRN_LOCK_TTL", v, false));
    if (ms.count() == 0)
      return Status::InvalidArgument("CAIRN_LOCK_TTL must be at least 1 second: fix or unset it");
    r.lock_ttl = std::chrono::duration_cast<std::chrono::seconds>(ms);
  }
  if (std::string v = Get(o.getenv, "CAIRN_LOCK_WAIT"); !v.empty()) {
    CAIRN_ASSIGN_OR_RETURN(auto ms, ParseEnvSeconds("CAIRN_LOCK_WAIT", v, false));
    r.lock_wait_shared = r.lock_wait_exclusive =
        std::chrono::duration_cast<std::chrono::seconds>(ms);
  }
  if (std::string v = Get(o.getenv, "CAIRN_CHECKPOINT_SECONDS"); !v.empty()) {
    CAIRN_ASSIGN_OR_RETURN(r.checkpoint_interval,
                           ParseEnvSeconds("CAIRN_CHECKPOINT_SECONDS", v, true));
  }
  r.cheap_kdf = o.cheap_kdf_for_tests;
  return r;
}

}  // namespace cairn::engine
