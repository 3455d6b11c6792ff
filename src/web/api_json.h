// The API's JSON forms of the engine's values (docs/api.md, "Values").
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "base/calendar_span.h"
#include "base/time_util.h"
#include "config/settings.h"
#include "engine/session.h"
#include "engine/views.h"

namespace cairn::web {

// RFC 3339 in UTC, or null for 0.
nlohmann::json TimeOrNull(TimeNs t);
nlohmann::json FileVersionJson(const engine::FileVersion& v);
nlohmann::json RunJson(const engine::RunSummary& r);
nlohmann::json StatsJson(const engine::RepositoryStats& s);
// The settings by section and key as in the settings file; secrets
// (azure.connection_string, alerts.webhook_url) as "(set)".
nlohmann::json SettingsJson(const config::Settings& s);
nlohmann::json BackupResultJson(const engine::BackupResult& r);
nlohmann::json RestoreResultJson(const engine::RestoreResult& r, const std::string& target);
nlohmann::json CleanupJson(const engine::Session::CleanupSummary& c);

}  // namespace cairn::web
