// The JSON endpoints of docs/api.md. Each handler runs after the rules of
// server.cc's pre-routing handler (Host, Origin, credentials, scope, CSRF)
// and calls the engine through the current session only.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <fstream>
#include <map>

#include "config/settings_edit.h"
#include "engine/session.h"
#include "web/api_json.h"
#include "web/assets.h"
#include "web/server_impl.h"

namespace cairn::web {

using nlohmann::json;

namespace {

constexpr size_t kDefaultLimit = 200;
constexpr size_t kMaxLimit = 1000;

// ?limit=N within 1..kMaxLimit (default `def`); false after a 400.
bool LimitParam(const httplib::Request& req, httplib::Response& res, size_t def, size_t* out) {
  *out = def;
  if (!req.has_param("limit")) return true;
  const std::string v = req.get_param_value("limit");
  size_t n = 0;
  bool ok = !v.empty() && v.size() <= 6 && std::all_of(v.begin(), v.end(), ::isdigit);
  if (ok) n = std::stoul(v);
  if (!ok || n < 1 || n > kMaxLimit) {
    SendError(res, 400, "invalid argument",
              "limit must be a whole number from 1 to " + std::to_string(kMaxLimit));
    return false;
  }
  *out = n;
  return true;
}

// ?path= : an absolute path (default `def`); false after a 400.
bool PathParam(const httplib::Request& req, httplib::Response& res, const char* def,
               std::string* out) {
  *out = req.has_param("path") ? req.get_param_value("path") : std::string(def ? def : "");
  if (out->empty() || (*out)[0] != '/') {
    SendError(res, 400, "invalid argument",
              out->empty() ? "give the path (?path=/home/...)"
                           : "the path must be absolute (start with /): " + *out);
    return false;
  }
  if (out->find('\0') != std::string::npos) {
    SendError(res, 400, "invalid argument", "the path holds a NUL byte");
    return false;
  }
  return true;
}

// ?device= : nullopt = this device; "*" = every device ("").
std::optional<std::string> DeviceParam(const httplib::Request& req) {
  if (!req.has_param("device")) return std::nullopt;
  std::string d = req.get_param_value("device");
  if (d.empty()) return std::nullopt;
  if (d == "*") return std::string();
  return d;
}

// A version id from the URL: 24 hex digits; false after a 400.
bool IdParam(const httplib::Request& req, httplib::Response& res, std::string* out) {
  *out = req.matches.size() > 1 ? std::string(req.matches[1]) : std::string();
  const bool hex = out->size() == 24 && std::all_of(out->begin(), out->end(), [](char c) {
                     return std::isxdigit(static_cast<unsigned char>(c)) != 0;
                   });
  if (!hex) {
    SendError(res, 400, "invalid argument",
              "a version id is 24 hex digits (the `id` of a version from /api/versions or "
              "/api/files)");
    return false;
  }
  std::transform(out->begin(), out->end(), out->begin(), ::tolower);
  return true;
}

// The JSON body of a POST: an object, or {} when empty; false after a 400.
bool BodyParam(const httplib::Request& req, httplib::Response& res, json* out) {
  if (req.body.empty()) {
    *out = json::object();
    return true;
  }
  *out = json::parse(req.body, nullptr, false);
  if (out->is_discarded() || !out->is_object()) {
    SendError(res, 400, "invalid argument", "the request body must be a JSON object");
    return false;
  }
  return true;
}

std::string BaseName(const std::string& path) {
  if (path == "/") return "/";
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Content-Disposition for `name`: an ASCII fallback and RFC 5987's UTF-8 form.
std::string Disposition(const std::string& name) {
  std::string ascii, pct;
  for (unsigned char c : name) {
    ascii +=
        (c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '%') ? static_cast<char>(c) : '_';
    if (std::isalnum(c) || c == '.' || c == '-' || c == '_' || c == '~') {
      pct += static_cast<char>(c);
    } else {
      static const char* kHex = "0123456789ABCDEF";
      pct += '%';
      pct += kHex[c >> 4];
      pct += kHex[c & 15];
    }
  }
  if (ascii.empty()) ascii = "download";
  return "attachment; filename=\"" + ascii + "\"; filename*=UTF-8''" + pct;
}

// The bytes of a download, into httplib's sink; a client that went away
// ends the stream (and the engine's reading) with an error.
class HttpByteSink : public engine::ByteSink {
 public:
  explicit HttpByteSink(httplib::DataSink& sink) : sink_(sink) {}
  Status Write(ByteView data) override {
    if (data.empty()) return Status::OK();
    if (!sink_.is_writable() ||
        !sink_.write(reinterpret_cast<const char*>(data.data()), data.size()))
      return Status::IOError("the client stopped reading the download");
    return Status::OK();
  }

 private:
  httplib::DataSink& sink_;
};

// `at` of a query or a body: RFC 3339 or a date; nullopt when absent;
// false after a 400.
bool AtValue(const std::string& text, httplib::Response& res, std::optional<TimeNs>* out) {
  out->reset();
  if (text.empty()) return true;
  auto at = ParseTime(text);
  if (!at.ok()) {
    SendError(res, 400, "invalid argument", "at: " + at.error().message());
    return false;
  }
  *out = *at;
  return true;
}

std::string PeopleAge(int64_t seconds) {
  if (seconds < 60) return "less than a minute ago";
  auto unit = [](int64_t n, const char* one) {
    return std::to_string(n) + " " + one + (n == 1 ? "" : "s") + " ago";
  };
  if (seconds < 3600) return unit(seconds / 60, "minute");
  if (seconds < 86400 * 2) return unit(seconds / 3600, "hour");
  return unit(seconds / 86400, "day");
}

std::string LocalDay(TimeNs t) {
  std::time_t secs = static_cast<std::time_t>(t / 1'000'000'000);
  std::tm tm{};
  localtime_r(&secs, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

// A folder's id names the folder: restored as it was at `at` (default: its
// newest state), what the listing the person chose it from showed. A file's
// id names that exact version. (RestoreRequest has no device: another
// device's folder is restored as of its version's time.)
void FolderAsOf(const engine::FileVersion& v, const engine::Session& session,
                const std::optional<TimeNs>& at, engine::RestoreRequest* rr) {
  if (!v.is_dir() || v.device != session.device()) return;
  rr->id.clear();
  rr->path = v.path;
  rr->at = at;
}

}  // namespace

// ---- status, health, metrics -------------------------------------------------------

Result<engine::RepositoryStats> Server::Impl::CachedStats() {
  std::lock_guard lock(stats_mu);
  const TimeNs now = NowNs();
  if (stats_cache) {
    if (now - stats_at >= std::chrono::nanoseconds(o.stats_max_age).count() && !stats_refresh) {
      stats_refresh = true;
      stats_cv.notify_one();
    }
    return *stats_cache;
  }
  auto st = CurrentSession()->Stats(engine::JobContext{}, false);
  if (!st.ok()) return st.error();
  stats_cache = *st;
  stats_at = now;
  return *st;
}

void Server::Impl::RefreshStats(std::stop_token stop) {
  std::unique_lock lock(stats_mu);
  while (stats_cv.wait(lock, stop, [this] { return stats_refresh; })) {
    lock.unlock();
    const TimeNs started = NowNs();
    auto st = CurrentSession()->Stats(engine::JobContext{}, false);
    lock.lock();
    stats_refresh = false;
    // A failure keeps the last good figures (the status reports the
    // repository's state itself); the next request after 5 s tries again.
    if (stats_cache) stats_at = started;
    if (st.ok() && stats_cache) stats_cache = *st;
  }
}

json Server::Impl::StatusJson(bool with_stats) {
  std::shared_ptr<engine::Session> session = CurrentSession();
  const config::Settings& s = session->settings();
  const TimeNs now = NowNs();
  json j;
  j["version"] = o.version;
  j["device"] = session->device();
  j["repository"] = session->location();
  j["mode"] = o.service != nullptr ? "run" : "serve";
  TimeNs last = 0;
  json errors = json::array(), warnings = json::array();
  bool paused = false;
  if (o.service != nullptr) {
    json d = o.service->Snapshot();
    j["watching"] = d.value("watching", false);
    j["starting"] = d.value("starting", false);
    j["folders"] = d.value("folders", json::array());
    j["queued"] = d.value("queued", 0);
    j["running"] = d.contains("running") && d["running"].is_string() ? d["running"] : json("");
    paused = d.value("paused", false);
    j["paused_until"] = d.contains("paused_until") ? d["paused_until"] : json(nullptr);
    if (d.contains("recent_errors")) errors = d["recent_errors"];
    if (d.contains("warnings")) warnings = d["warnings"];
    if (d.contains("last_success") && d["last_success"].is_string()) {
      if (auto t = ParseTime(d["last_success"].get<std::string>()); t.ok()) last = *t;
    }
    j["last_run"] = d.contains("last_run") ? d["last_run"] : json(nullptr);
    j["daemon"] = std::move(d);
  } else {
    j["watching"] = false;
    j["starting"] = false;
    std::vector<std::string> folders = s.watched_directories;
    if (folders.empty()) folders = session->DefaultBackupPaths();
    j["folders"] = folders;
    j["queued"] = 0;
    j["running"] = "";
    j["paused_until"] = nullptr;
    j["last_run"] = nullptr;
  }
  j["paused"] = paused;
  json stats = nullptr;
  if (auto st = CachedStats(); st.ok()) {
    last = std::max(last, st->last_backup);
    if (with_stats) {
      stats = {{"files", st->paths},
               {"versions", st->versions},
               {"latest_bytes", st->latest_bytes},
               {"stored_bytes", st->stored_bytes},
               {"packs", st->packs},
               {"chunks", st->chunks},
               {"devices", st->per_device.size()}};
    }
  } else {
    errors.push_back("the repository cannot be read: " + st.error().message());
  }
  j["last_backup"] = TimeOrNull(last);
  const int64_t age = last > 0 ? std::max<int64_t>(0, (now - last) / 1'000'000'000) : -1;
  j["last_backup_age_seconds"] = last > 0 ? json(age) : json(nullptr);
  const int64_t max_age = int64_t{s.web_health_max_age_minutes} * 60;
  std::string summary;
  bool ok = false;
  if (!errors.empty()) {
    summary = "Attention needed: " + errors.back().get<std::string>();
  } else if (last == 0) {
    summary = o.service != nullptr ? "Not backed up yet: the first backup is running or waiting."
                                   : "Nothing backed up yet from this device.";
  } else if (age > max_age) {
    summary = "Attention needed: the last backup was " + PeopleAge(age) + ".";
  } else if (paused) {
    summary = "Paused: changes are noted and backed up when protection resumes. Last backup " +
              PeopleAge(age) + ".";
  } else {
    ok = true;
    summary = "Protected: last backup " + PeopleAge(age) + ".";
  }
  if (ok && o.service == nullptr) summary += " (Not watching: this is `cairn serve`.)";
  j["protected"] = ok;
  j["summary"] = summary;
  j["errors"] = errors;
  j["warnings"] = warnings;
  if (with_stats) j["stats"] = stats;
  j["jobs"] = jobs.Running();
  return j;
}

json Server::Impl::HealthJson(int* http_status) {
  std::shared_ptr<engine::Session> session = CurrentSession();
  const int64_t max_age_min = session->settings().web_health_max_age_minutes;
  const TimeNs now = NowNs();
  json j;
  j["max_age_minutes"] = max_age_min;
  Status open = session->Open();
  j["repository_reachable"] = open.ok();
  TimeNs last = 0;
  if (o.service != nullptr) {
    json d = o.service->Snapshot();
    if (d.contains("last_success") && d["last_success"].is_string()) {
      if (auto t = ParseTime(d["last_success"].get<std::string>()); t.ok()) last = *t;
    }
  }
  if (open.ok()) {
    if (auto st = CachedStats(); st.ok()) last = std::max(last, st->last_backup);
  }
  j["last_backup"] = TimeOrNull(last);
  j["last_backup_age_seconds"] =
      last > 0 ? json(std::max<int64_t>(0, (now - last) / 1'000'000'000)) : json(nullptr);
  const int64_t limit_ns = max_age_min * 60 * 1'000'000'000LL;
  if (!open.ok()) {
    j["status"] = "unreachable";
    j["reason"] = "the repository cannot be opened: " + open.message();
    *http_status = 503;
  } else if (last > 0 ? now - last > limit_ns : now - started_ns > limit_ns) {
    j["status"] = "stale";
    j["reason"] =
        last > 0 ? "no backup succeeded for more than " + std::to_string(max_age_min) + " minutes"
                 : "no backup succeeded since the start, more than " + std::to_string(max_age_min) +
                       " minutes ago";
    *http_status = 503;
  } else {
    j["status"] = "ok";
    j["reason"] = "";
    *http_status = 200;
  }
  return j;
}

std::string Server::Impl::MetricsText() {
  std::string out;
  auto metric = [&out](const std::string& name, const std::string& type, const std::string& help,
                       const std::string& samples) {
    out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + samples;
  };
  auto num = [](double v) {
    char buf[64];
    if (std::floor(v) == v && std::fabs(v) < 1e15) {
      std::snprintf(buf, sizeof buf, "%.0f", v);
    } else {
      std::snprintf(buf, sizeof buf, "%.6g", v);
    }
    return std::string(buf);
  };
  const json status = StatusJson(true);
  const TimeNs now = NowNs();
  double last = 0;
  if (status["last_backup"].is_string()) {
    if (auto t = ParseTime(status["last_backup"].get<std::string>()); t.ok())
      last = static_cast<double>(*t) / 1e9;
  }
  metric("cairn_up", "gauge", "1 when the repository can be read.",
         "cairn_up " + std::string(status["stats"].is_null() ? "0" : "1") + "\n");
  metric("cairn_last_success_timestamp_seconds", "gauge",
         "When the last backup of this device succeeded (Unix time; 0: never).",
         "cairn_last_success_timestamp_seconds " + num(last) + "\n");
  metric("cairn_last_backup_age_seconds", "gauge", "Seconds since the last successful backup.",
         "cairn_last_backup_age_seconds " +
             num(last > 0 ? static_cast<double>(now) / 1e9 - last : -1) + "\n");
  const json& st = status["stats"];
  auto stat = [&](const char* key) { return st.is_object() ? num(st.value(key, 0.0)) : "0"; };
  metric("cairn_files", "gauge", "Files of this device that exist now.",
         "cairn_files " + stat("files") + "\n");
  metric("cairn_versions", "gauge", "File versions of this device.",
         "cairn_versions " + stat("versions") + "\n");
  metric("cairn_latest_bytes", "gauge", "Size of the newest versions of this device's files.",
         "cairn_latest_bytes " + stat("latest_bytes") + "\n");
  metric("cairn_stored_bytes", "gauge", "Bytes the repository stores (compressed, encrypted).",
         "cairn_stored_bytes " + stat("stored_bytes") + "\n");
  metric("cairn_queue_length", "gauge", "Changed paths waiting to be backed up.",
         "cairn_queue_length " + num(status.value("queued", 0.0)) + "\n");
  metric("cairn_errors", "gauge", "Errors that need attention.",
         "cairn_errors " + num(static_cast<double>(status["errors"].size())) + "\n");
  metric("cairn_paused", "gauge", "1 while protection is paused.",
         std::string("cairn_paused ") + (status.value("paused", false) ? "1" : "0") + "\n");
  metric("cairn_jobs_running", "gauge", "Jobs of the web API running now.",
         "cairn_jobs_running " + num(static_cast<double>(status["jobs"].size())) + "\n");
  std::string durations;
  for (const auto& [kind, seconds] : jobs.LastDurations())
    durations += "cairn_job_duration_seconds{kind=\"" + kind + "\"} " + num(seconds) + "\n";
  metric("cairn_job_duration_seconds", "gauge", "How long the last job of each kind took.",
         durations);
  if (status.contains("daemon") && status["daemon"].contains("last_run") &&
      status["daemon"]["last_run"].is_object()) {
    const json& r = status["daemon"]["last_run"];
    metric("cairn_last_run_duration_seconds", "gauge", "How long the daemon's last run took.",
           "cairn_last_run_duration_seconds " + num(r.value("seconds", 0.0)) + "\n");
    metric("cairn_last_run_ok", "gauge", "1 when the daemon's last run succeeded.",
           std::string("cairn_last_run_ok ") + (r.value("ok", false) ? "1" : "0") + "\n");
  }
  std::string codes;
  {
    std::lock_guard lock(metrics_mu);
    for (const auto& [code, n] : responses_by_code)
      codes += "cairn_http_requests_total{code=\"" + std::to_string(code) + "\"} " +
               num(static_cast<double>(n)) + "\n";
  }
  metric("cairn_http_requests_total", "counter", "Requests answered, by HTTP status.", codes);
  return out;
}

// ---- the routes ---------------------------------------------------------------------

void Server::Impl::RegisterApi() {
  using Req = httplib::Request;
  using Res = httplib::Response;

  http->Get("/health", [this](const Req&, Res& res) {
    int code = 200;
    json j = HealthJson(&code);
    SendJson(res, code, j);
  });
  http->Get("/api/status", [this](const Req&, Res& res) { SendJson(res, 200, StatusJson(true)); });
  http->Get("/metrics", [this](const Req&, Res& res) {
    res.set_content(MetricsText(), "text/plain; version=0.0.4; charset=utf-8");
  });
  http->Get("/api/openapi.json", [](const Req&, Res& res) {
    const Asset* a = FindAsset("/openapi.json");
    if (a == nullptr) return SendError(res, 500, "internal", "the API description is missing");
    res.set_content(a->data.data(), a->data.size(), "application/json");
  });

  // ---- browsing ----
  http->Get("/api/files", [this](const Req& req, Res& res) {
    std::string path;
    size_t limit = 0;
    if (!PathParam(req, res, "/", &path) || !LimitParam(req, res, kDefaultLimit, &limit)) return;
    engine::ListRequest lr;
    lr.path = path;
    if (req.has_param("at") && !req.get_param_value("at").empty()) {
      auto at = ParseTime(req.get_param_value("at"));
      if (!at.ok()) return SendError(res, 400, "invalid argument", "at: " + at.error().message());
      lr.at = *at;
    }
    lr.device = DeviceParam(req);
    lr.after = req.get_param_value("cursor");
    lr.limit = limit;
    json entries = json::array();
    auto session = CurrentSession();
    auto r = session->List(lr, [&](const engine::FileVersion& v) {
      entries.push_back(FileVersionJson(v));
      return Status::OK();
    });
    if (!r.ok()) return SendStatus(res, r.error());
    json j = {{"path", path},
              {"at", lr.at ? json(FormatRfc3339(*lr.at)) : json(nullptr)},
              {"device", lr.device ? json(lr.device->empty() ? "*" : *lr.device)
                                   : json(session->query_device())},
              {"entries", std::move(entries)},
              {"next_cursor", r->next_after.empty() ? json(nullptr) : json(r->next_after)},
              {"unreadable_segments", r->unreadable_segments}};
    SendJson(res, 200, j);
  });
  http->Get("/api/versions", [this](const Req& req, Res& res) {
    std::string path;
    if (!PathParam(req, res, nullptr, &path)) return;
    auto session = CurrentSession();
    const std::optional<std::string> device = DeviceParam(req);
    auto r = session->Versions(engine::VersionsRequest{path, device});
    if (!r.ok()) return SendStatus(res, r.error());
    json versions = json::array();
    for (const engine::FileVersion& v : r->versions) versions.push_back(FileVersionJson(v));
    SendJson(
        res, 200,
        {{"path", path},
         {"device", device ? json(device->empty() ? "*" : *device) : json(session->query_device())},
         {"versions", std::move(versions)},
         {"unreadable_segments", r->unreadable_segments}});
  });
  http->Get(R"(/api/version/([^/]*))", [this](const Req& req, Res& res) {
    std::string id;
    if (!IdParam(req, res, &id)) return;
    auto v = CurrentSession()->VersionById(id);
    if (!v.ok()) return SendStatus(res, v.error());
    SendJson(res, 200, FileVersionJson(*v));
  });
  http->Get("/api/search", [this](const Req& req, Res& res) {
    size_t limit = 0;
    if (!LimitParam(req, res, kDefaultLimit, &limit)) return;
    const std::string q = req.get_param_value("q");
    if (q.empty() || q.size() > 1000)
      return SendError(res, 400, "invalid argument",
                       q.empty() ? "give something to search for (?q=report)"
                                 : "the search text is longer than 1000 characters");
    engine::FindRequest fr;
    fr.pattern = q;
    fr.include_deleted = req.get_param_value("deleted") != "false";
    fr.device = DeviceParam(req);
    fr.limit = limit;
    json existing = json::array(), deleted = json::array();
    auto r = CurrentSession()->Find(fr, [&](const engine::FileVersion& v) {
      (v.deleted ? deleted : existing).push_back(FileVersionJson(v));
      return Status::OK();
    });
    if (!r.ok()) return SendStatus(res, r.error());
    for (json& d : deleted) existing.push_back(std::move(d));
    SendJson(res, 200,
             {{"query", q},
              {"results", std::move(existing)},
              {"truncated", r->truncated},
              {"unreadable_segments", r->unreadable_segments}});
  });
  http->Get("/api/devices", [this](const Req&, Res& res) {
    auto session = CurrentSession();
    auto st = CachedStats();
    if (!st.ok()) return SendStatus(res, st.error());
    json devices = json::array();
    for (const auto& d : st->per_device)
      devices.push_back({{"name", d.device},
                         {"files", d.paths},
                         {"versions", d.versions},
                         {"latest_bytes", d.latest_bytes},
                         {"current", d.device == session->device()}});
    SendJson(res, 200, {{"devices", std::move(devices)}, {"current", session->device()}});
  });
  http->Get("/api/runs", [this](const Req& req, Res& res) {
    size_t limit = 0;
    if (!LimitParam(req, res, 50, &limit)) return;
    auto runs = CurrentSession()->Runs(limit);
    if (!runs.ok()) return SendStatus(res, runs.error());
    json out = json::array();
    for (const engine::RunSummary& r : *runs) out.push_back(RunJson(r));
    SendJson(res, 200, {{"runs", std::move(out)}});
  });
  http->Get("/api/stats", [this](const Req&, Res& res) {
    auto st = CurrentSession()->Stats(engine::JobContext{}, true);
    if (!st.ok()) return SendStatus(res, st.error());
    SendJson(res, 200, StatsJson(*st));
  });
  http->Get("/api/stats/history", [this](const Req& req, Res& res) {
    int64_t days = 90;
    if (req.has_param("days")) {
      const std::string v = req.get_param_value("days");
      if (v.empty() || v.size() > 4 || !std::all_of(v.begin(), v.end(), ::isdigit) ||
          std::stol(v) < 1)
        return SendError(res, 400, "invalid argument",
                         "days must be a whole number from 1 to 9999");
      days = std::stol(v);
    }
    // Every device's runs, oldest first: the sum of what they stored.
    auto runs = CurrentSession()->Runs(100'000);
    if (!runs.ok()) return SendStatus(res, runs.error());
    std::vector<engine::RunSummary> rs = std::move(*runs);
    std::reverse(rs.begin(), rs.end());
    const TimeNs since = NowNs() - days * 86400 * 1'000'000'000LL;
    json points = json::array();
    std::map<std::string, std::pair<uint64_t, uint64_t>> per_day;  // day -> (count, bytes)
    uint64_t stored = 0, files = 0;
    for (const engine::RunSummary& r : rs) {
      stored += r.bytes_stored;
      files += r.files_new;
      if (r.end < since && r.start < since) continue;
      const TimeNs t = r.end != 0 ? r.end : r.start;
      points.push_back({{"time", FormatRfc3339(t)}, {"stored_bytes", stored}, {"files", files}});
      auto& d = per_day[LocalDay(t)];
      ++d.first;
      d.second += r.bytes_stored;
    }
    // At most 500 points: every n-th, and always the last.
    if (points.size() > 500) {
      json thin = json::array();
      const size_t step = (points.size() + 499) / 500;
      for (size_t i = 0; i < points.size(); i += step) thin.push_back(points[i]);
      if (thin.back() != points.back()) thin.push_back(points.back());
      points = std::move(thin);
    }
    json per = json::array();
    for (const auto& [day, v] : per_day)
      per.push_back({{"day", day}, {"count", v.first}, {"bytes_stored", v.second}});
    SendJson(res, 200, {{"points", std::move(points)}, {"backups_per_day", std::move(per)}});
  });
  http->Get("/api/log", [this](const Req& req, Res& res) {
    size_t lines = 0;
    if (!LimitParam(req, res, 200, &lines)) return;
    if (req.has_param("lines")) {
      const std::string v = req.get_param_value("lines");
      if (v.empty() || v.size() > 4 || !std::all_of(v.begin(), v.end(), ::isdigit) ||
          std::stoul(v) < 1 || std::stoul(v) > kMaxLimit)
        return SendError(res, 400, "invalid argument",
                         "lines must be a whole number from 1 to 1000");
      lines = std::stoul(v);
    }
    json out = json::array();
    if (o.service != nullptr)
      for (std::string& l : o.service->LogTail(lines)) out.push_back(std::move(l));
    SendJson(res, 200, {{"lines", std::move(out)}});
  });
  http->Get("/api/settings", [this](const Req&, Res& res) {
    auto session = CurrentSession();
    SendJson(res, 200,
             {{"file", session->settings().source.empty() ? json(nullptr)
                                                          : json(session->settings().source)},
              {"settings", SettingsJson(session->settings())}});
  });

  http->Put("/api/settings", [this](const Req& req, Res& res) {
    json body;
    if (!BodyParam(req, res, &body)) return;
    if (!body.contains("settings") || !body["settings"].is_object())
      return SendError(res, 400, "invalid argument",
                       "send {\"settings\": {\"section\": {\"key\": value}}}, as GET gives it");
    std::vector<config::SettingChange> changes;
    for (const auto& [section, keys] : body["settings"].items()) {
      if (!keys.is_object())
        return SendError(res, 400, "invalid argument",
                         "settings." + section + " must be an object of keys");
      for (const auto& [key, value] : keys.items()) {
        config::SettingChange c;
        c.key = section + "." + key;
        if (value.is_null()) {
          // Removed: back to the default.
        } else if (value.is_boolean()) {
          c.value = value.get<bool>();
        } else if (value.is_number_integer()) {
          c.value = value.get<int64_t>();
        } else if (value.is_string()) {
          // A secret is shown as "(set)": sent back unchanged, it stays.
          if (value.get<std::string>() == "(set)") continue;
          c.value = value.get<std::string>();
        } else if (value.is_array()) {
          std::vector<std::string> items;
          for (const json& item : value) {
            if (!item.is_string())
              return SendError(res, 400, "invalid argument", c.key + ": expected a list of text");
            items.push_back(item.get<std::string>());
          }
          c.value = std::move(items);
        } else {
          return SendError(res, 400, "invalid argument",
                           c.key + ": expected true/false, a whole number, text or a list of text");
        }
        changes.push_back(std::move(c));
      }
    }
    if (changes.empty()) return SendError(res, 400, "invalid argument", "no setting to change");
    auto session = CurrentSession();
    const std::string path = session->settings().source.empty()
                                 ? session->config().config_dir + "/settings.yaml"
                                 : session->settings().source;
    std::string keys;
    for (const auto& c : changes) keys += (keys.empty() ? "" : ", ") + c.key;
    Result<config::Settings> updated = [&] {
      std::lock_guard lock(settings_mu);
      return config::UpdateSettingsFile(path, changes);
    }();
    if (!updated.ok()) return SendStatus(res, updated.error());
    Audit(req, "settings change in " + path + ": " + keys);
    Status applied =
        o.reload_settings ? o.reload_settings() : Status::Unsupported("applied at the next start");
    {
      std::lock_guard lock(stats_mu);
      stats_cache.reset();
    }
    SendJson(res, 200,
             {{"file", path},
              {"settings", SettingsJson(*updated)},
              {"changed", keys},
              {"applied", applied.ok()},
              {"message", applied.ok() ? "saved and applied"
                                       : "saved; not applied yet: " + applied.message()}});
  });

  // ---- jobs ----
  auto who = [this](const Req& req) {
    auto caller = Authenticate(req);
    return caller ? caller->who : std::string("?");
  };
  auto started = [](Res& res, const Result<json>& job) {
    if (!job.ok()) return SendError(res, 503, "unavailable", job.error().message());
    res.set_header("Location", "/api/jobs/" + (*job)["id"].get<std::string>());
    SendJson(res, 202, *job);
  };
  http->Post("/api/backup/process", [this, who, started](const Req& req, Res& res) {
    json body;
    if (!BodyParam(req, res, &body)) return;
    engine::BackupRequest br;
    if (body.contains("paths")) {
      if (!body["paths"].is_array())
        return SendError(res, 400, "invalid argument", "paths must be a list of absolute paths");
      for (const json& p : body["paths"]) {
        if (!p.is_string() || p.get<std::string>().empty() || p.get<std::string>()[0] != '/')
          return SendError(res, 400, "invalid argument",
                           "every path must be absolute (start with /): " + p.dump());
        br.paths.push_back(p.get<std::string>());
      }
      if (br.paths.size() > 10'000)
        return SendError(res, 400, "invalid argument", "at most 10000 paths at once");
    }
    auto session = CurrentSession();
    const std::string what =
        br.paths.empty()
            ? std::string("the watched folders")
            : (br.paths.size() == 1 ? br.paths[0] : std::to_string(br.paths.size()) + " paths");
    if (br.paths.empty() && o.service != nullptr) {
      json d = o.service->Snapshot();
      if (d.contains("folders") && d["folders"].is_array())
        for (const json& f : d["folders"]) br.paths.push_back(f.get<std::string>());
    }
    // Changes in a folder that vanished meanwhile are deletions, not errors.
    br.missing_ok = true;
    started(res, jobs.Start("backup", "back up " + what, who(req),
                            [session, br](const engine::JobContext& ctx) -> Result<json> {
                              CAIRN_ASSIGN_OR_RETURN(engine::BackupResult r,
                                                     session->Backup(br, ctx));
                              return BackupResultJson(r);
                            }));
  });
  http->Post(R"(/api/restore/([^/]*))", [this, who, started](const Req& req, Res& res) {
    std::string id;
    json body;
    if (!IdParam(req, res, &id) || !BodyParam(req, res, &body)) return;
    engine::RestoreRequest rr;
    rr.id = id;
    if (body.contains("target") && !body["target"].is_null()) {
      if (!body["target"].is_string() || body["target"].get<std::string>().empty() ||
          body["target"].get<std::string>()[0] != '/')
        return SendError(res, 400, "invalid argument",
                         "target must be an absolute path (start with /)");
      rr.target = body["target"].get<std::string>();
    }
    if (body.contains("overwrite")) {
      if (!body["overwrite"].is_boolean())
        return SendError(res, 400, "invalid argument", "overwrite must be true or false");
      rr.overwrite = body["overwrite"].get<bool>();
    }
    std::optional<TimeNs> at;
    if (body.contains("at") && !body["at"].is_null()) {
      if (!body["at"].is_string())
        return SendError(res, 400, "invalid argument", "at must be a time");
      if (!AtValue(body["at"].get<std::string>(), res, &at)) return;
    }
    auto session = CurrentSession();
    auto v = session->VersionById(id);
    if (!v.ok()) return SendStatus(res, v.error());
    FolderAsOf(*v, *session, at, &rr);
    const std::string what = "restore " + v->path + " (version " + id + ") to " +
                             (rr.target.empty() ? std::string("its place") : rr.target) +
                             (rr.overwrite ? ", overwriting" : "");
    Audit(req, what);
    started(res, jobs.Start("restore", what, who(req),
                            [session, rr](const engine::JobContext& ctx) -> Result<json> {
                              CAIRN_ASSIGN_OR_RETURN(engine::RestoreResult r,
                                                     session->Restore(rr, ctx));
                              return RestoreResultJson(r, rr.target);
                            }));
  });
  http->Post(R"(/api/restore/([^/]*)/preview)", [this](const Req& req, Res& res) {
    std::string id;
    json body;
    if (!IdParam(req, res, &id) || !BodyParam(req, res, &body)) return;
    engine::RestoreRequest rr;
    rr.id = id;
    if (body.contains("target") && body["target"].is_string()) {
      rr.target = body["target"].get<std::string>();
      if (rr.target.empty() || rr.target[0] != '/')
        return SendError(res, 400, "invalid argument",
                         "target must be an absolute path (start with /)");
    }
    std::optional<TimeNs> at;
    if (body.contains("at") && body["at"].is_string() &&
        !AtValue(body["at"].get<std::string>(), res, &at))
      return;
    auto session = CurrentSession();
    auto v = session->VersionById(id);
    if (!v.ok()) return SendStatus(res, v.error());
    FolderAsOf(*v, *session, at, &rr);
    auto p = session->PreviewRestore(rr);
    if (!p.ok()) return SendStatus(res, p.error());
    SendJson(res, 200,
             {{"target", p->target},
              {"files", p->files},
              {"bytes", p->bytes},
              {"would_overwrite", p->would_overwrite},
              {"would_overwrite_count", p->would_overwrite_count}});
  });
  http->Post("/api/cleanup", [this, who, started](const Req& req, Res& res) {
    json body;
    if (!BodyParam(req, res, &body)) return;
    engine::PruneRequest pr;
    if (body.contains("dry_run")) {
      if (!body["dry_run"].is_boolean())
        return SendError(res, 400, "invalid argument", "dry_run must be true or false");
      pr.dry_run = body["dry_run"].get<bool>();
    }
    auto session = CurrentSession();
    const std::string what = pr.dry_run ? "cleanup (dry run)" : "cleanup";
    Audit(req, what);
    started(res, jobs.Start("cleanup", what, who(req),
                            [session, pr](const engine::JobContext& ctx) -> Result<json> {
                              CAIRN_ASSIGN_OR_RETURN(engine::Session::CleanupSummary r,
                                                     session->Cleanup(pr, ctx));
                              return CleanupJson(r);
                            }));
  });
  http->Get("/api/jobs", [this](const Req&, Res& res) {
    SendJson(res, 200, {{"jobs", jobs.List()}});
  });
  http->Get(R"(/api/jobs/([^/]+))", [this](const Req& req, Res& res) {
    auto j = jobs.Get(req.matches[1]);
    if (!j) return SendError(res, 404, "not found", "no job " + std::string(req.matches[1]));
    SendJson(res, 200, *j);
  });
  http->Post(R"(/api/jobs/([^/]+)/cancel)", [this](const Req& req, Res& res) {
    const std::string id = req.matches[1];
    if (!jobs.Get(id)) return SendError(res, 404, "not found", "no job " + id);
    if (!jobs.Cancel(id)) return SendError(res, 409, "locked", "job " + id + " is not running");
    Audit(req, "cancel job " + id);
    SendJson(res, 202, *jobs.Get(id));
  });

  // ---- download ----
  http->Get(R"(/api/download/([^/]*))", [this](const Req& req, Res& res) {
    std::string id;
    if (!IdParam(req, res, &id)) return;
    auto session = CurrentSession();
    auto v = session->VersionById(id);
    if (!v.ok()) return SendStatus(res, v.error());
    if (v->deleted)
      return SendError(res, 404, "not found",
                       v->path + " was deleted in this version; download a version before it");
    Audit(req, "download " + v->path + " (version " + id + ")");
    const bool file = v->type == "file" || v->type == "hardlink";
    res.set_header("Content-Disposition",
                   Disposition(file ? BaseName(v->path) : BaseName(v->path) + ".tar"));
    res.set_header("X-Content-SHA256", v->sha256);
    if (file && v->type == "file") {
      if (v->size == 0) return res.set_content("", "application/octet-stream");
      res.set_content_provider(
          v->size, "application/octet-stream",
          [session, id](size_t offset, size_t length, httplib::DataSink& sink) {
            engine::StreamRequest sr;
            sr.id = id;
            sr.range = engine::ByteRange{offset, length};
            HttpByteSink out(sink);
            return session->RestoreToStream(sr, out).ok();  // false cuts the connection
          });
      return;
    }
    std::optional<TimeNs> at;
    if (!AtValue(req.get_param_value("at"), res, &at)) return;
    engine::StreamRequest folder;
    folder.path = v->path;
    folder.device = v->device;
    folder.at = at;
    res.set_chunked_content_provider("application/x-tar",
                                     [session, folder](size_t, httplib::DataSink& sink) {
                                       HttpByteSink out(sink);
                                       if (!session->RestoreToStream(folder, out).ok())
                                         return false;
                                       sink.done();
                                       return true;
                                     });
  });

  // ---- the daemon ----
  http->Post("/api/pause", [this](const Req& req, Res& res) {
    if (o.service == nullptr)
      return SendError(res, 409, "locked",
                       "nothing to pause: this is `cairn serve`, which does not watch");
    json body;
    if (!BodyParam(req, res, &body)) return;
    std::optional<std::chrono::seconds> how_long;
    if (body.contains("seconds") && !body["seconds"].is_null()) {
      if (!body["seconds"].is_number_unsigned())
        return SendError(res, 400, "invalid argument", "seconds must be a whole number >= 0");
      how_long = std::chrono::seconds(body["seconds"].get<uint64_t>());
    }
    Audit(req, how_long ? "pause for " + std::to_string(how_long->count()) + " s" : "pause");
    o.service->Pause(how_long);
    SendJson(res, 200, StatusJson(false));
  });
  http->Post("/api/resume", [this](const Req& req, Res& res) {
    if (o.service == nullptr)
      return SendError(res, 409, "locked",
                       "nothing to resume: this is `cairn serve`, which does not watch");
    Audit(req, "resume");
    o.service->Resume();
    SendJson(res, 200, StatusJson(false));
  });
}

}  // namespace cairn::web
