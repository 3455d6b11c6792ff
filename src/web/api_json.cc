#include "web/api_json.h"

namespace cairn::web {

using nlohmann::json;

json TimeOrNull(TimeNs t) { return t == 0 ? json(nullptr) : json(FormatRfc3339(t)); }

json FileVersionJson(const engine::FileVersion& v) {
  const size_t slash = v.path.find_last_of('/');
  const std::string name =
      v.path == "/" ? "/" : (slash == std::string::npos ? v.path : v.path.substr(slash + 1));
  return {{"id", v.id},
          {"path", v.path},
          {"name", name},
          {"device", v.device},
          {"type", v.type},
          {"deleted", v.deleted},
          {"size", v.size},
          {"mtime", TimeOrNull(v.mtime)},
          {"backup_time", TimeOrNull(v.backup_time)},
          {"sha256", v.sha256},
          {"mode", v.mode},
          {"number", v.number},
          {"link_target", v.link_target}};
}

json RunJson(const engine::RunSummary& r) {
  return {{"id", r.run_id},
          {"device", r.device},
          {"start", TimeOrNull(r.start)},
          {"end", TimeOrNull(r.end)},
          {"complete", r.complete},
          {"roots", r.roots},
          {"files_new", r.files_new},
          {"files_changed", r.files_changed},
          {"files_unchanged", r.files_unchanged},
          {"bytes_read", r.bytes_read},
          {"bytes_stored", r.bytes_stored},
          {"errors", r.errors}};
}

json StatsJson(const engine::RepositoryStats& s) {
  json per = json::array();
  for (const auto& d : s.per_device)
    per.push_back({{"device", d.device},
                   {"files", d.paths},
                   {"versions", d.versions},
                   {"latest_bytes", d.latest_bytes}});
  json space = nullptr;
  if (s.space_error.empty()) {
    space = {{"bytes_live", s.bytes_live},
             {"bytes_unused", s.bytes_unused},
             {"cleanup_would_free", s.cleanup_would_free},
             {"unused_kept_in_packs", s.unused_kept_in_packs},
             {"waiting_for_tier", s.waiting_for_tier},
             {"young_unindexed_packs", s.young_unindexed_packs}};
  }
  return {{"repository", s.location},
          {"repository_id", s.repo_id},
          {"device", s.device},
          {"files", s.paths},
          {"versions", s.versions},
          {"latest_bytes", s.latest_bytes},
          {"stored_bytes", s.stored_bytes},
          {"chunks", s.chunks},
          {"packs", s.packs},
          {"devices", std::move(per)},
          {"last_backup", TimeOrNull(s.last_backup)},
          {"space", std::move(space)},
          {"space_error", s.space_error.empty() ? json(nullptr) : json(s.space_error)}};
}

json SettingsJson(const config::Settings& s) {
  auto secret = [](const std::string& v) { return v.empty() ? json("") : json("(set)"); };
  auto opt_int = [](const std::optional<int>& v) { return v ? json(*v) : json(nullptr); };
  return {{"backup",
           {{"watched_directories", s.watched_directories},
            {"exclude_patterns", s.exclude_patterns},
            {"exclude_caches", s.exclude_caches},
            {"exclude_editor_temporaries", s.exclude_editor_temporaries},
            {"compression", s.compression},
            {"compression_level", opt_int(s.compression_level)},
            {"max_file_size_mb", s.max_file_size_mb},
            {"backup_interval_minutes", s.backup_interval_minutes},
            {"watch_mode", s.watch_mode},
            {"poll_interval_seconds", s.poll_interval_seconds},
            {"stability_seconds", s.stability_seconds},
            {"max_delay_seconds", s.max_delay_seconds},
            {"pack_size_mb", s.pack_size_mb},
            {"threads", s.threads}}},
          {"versioning",
           {{"max_versions_per_file", s.max_versions_per_file},
            {"retention_days", s.retention_days},
            {"keep_last", s.keep_last},
            {"keep_hourly", s.keep_hourly},
            {"keep_daily", s.keep_daily},
            {"keep_weekly", s.keep_weekly},
            {"keep_monthly", s.keep_monthly},
            {"keep_yearly", s.keep_yearly},
            {"keep_within",
             s.keep_within.empty() ? std::string() : FormatCalendarSpan(s.keep_within)}}},
          {"web",
           {{"enabled", s.web_enabled},
            {"host", s.web_host},
            {"port", s.web_port},
            {"token_file", s.web_token_file},
            {"readonly_token_file", s.web_readonly_token_file},
            {"tls_cert", s.web_tls_cert},
            {"tls_key", s.web_tls_key},
            {"allow_insecure_remote", s.web_allow_insecure_remote},
            {"allowed_hosts", s.web_allowed_hosts},
            {"health_max_age_minutes", s.web_health_max_age_minutes}}},
          {"logging",
           {{"level", s.log_level},
            {"file", s.log_file ? json(*s.log_file) : json(nullptr)},
            {"max_file_mb", s.log_max_file_mb},
            {"max_files", s.log_max_files}}},
          {"repository",
           {{"location", s.repository},
            {"device_id", s.device_id},
            {"password_file", s.password_file}}},
          {"azure",
           {{"connection_string", secret(s.azure_connection_string)},
            {"container", s.azure_container},
            {"prefix", s.azure_prefix},
            {"access_tier", s.azure_access_tier},
            {"connections", s.azure_connections},
            {"limit_upload_kib", s.azure_limit_upload_kib},
            {"limit_download_kib", s.azure_limit_download_kib},
            {"stall_timeout_seconds", s.azure_stall_timeout_seconds}}},
          {"alerts",
           {{"command", s.alert_command.empty() ? json("") : json("(set)")},
            {"webhook_url", secret(s.alert_webhook_url)},
            {"stale_after_hours", s.alert_stale_after_hours},
            {"timeout_seconds", s.alert_timeout_seconds}}},
          {"maintenance", {{"restore_sample_files", s.restore_sample_files}}}};
}

json BackupResultJson(const engine::BackupResult& r) {
  return {{"paths", r.paths},
          {"files_new", r.files_new},
          {"files_changed", r.files_changed},
          {"files_unchanged", r.files_unchanged},
          {"deleted", r.deleted},
          {"excluded", r.excluded},
          {"skipped", r.skipped_size + r.skipped_special},
          {"bytes_read", r.bytes_read},
          {"bytes_stored", r.bytes_stored},
          {"errors", r.errors},
          {"warnings", r.warnings},
          {"seconds", r.seconds}};
}

json RestoreResultJson(const engine::RestoreResult& r, const std::string& target) {
  return {{"target", target.empty() ? json(nullptr) : json(target)},
          {"files", r.files},
          {"dirs", r.dirs},
          {"links", r.links},
          {"bytes", r.bytes},
          {"skipped", r.skipped_existing.size()},
          {"skipped_existing", r.skipped_existing},
          {"already_present", r.already_present},
          {"errors", r.errors},
          {"metadata_warnings", r.metadata_warnings},
          {"verified", r.errors.empty()},
          {"seconds", r.seconds},
          {"unreadable_segments", r.unreadable_segments}};
}

json CleanupJson(const engine::Session::CleanupSummary& c) {
  const engine::PruneSummary& p = c.prune;
  return {{"forgot", c.forgot},
          {"dry_run", p.dry_run},
          {"versions", c.forget.versions},
          {"versions_dropped", c.forget.versions_dropped},
          {"paths_touched", c.forget.paths_touched},
          {"packs_deleted", p.packs_deleted},
          {"packs_written", p.packs_written},
          {"bytes_to_free", p.bytes_to_free},
          {"bytes_freed", p.bytes_freed},
          {"bytes_unused", p.bytes_unused},
          {"bytes_waiting_for_tier", p.bytes_waiting_for_tier},
          {"seconds", p.seconds},
          {"exclusive_seconds", p.exclusive_seconds},
          {"warnings", p.warnings}};
}

}  // namespace cairn::web
