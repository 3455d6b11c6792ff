#include "daemon/alerts.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "base/errno_status.h"
#include "daemon/log.h"

extern char** environ;

namespace cairn::daemon {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxOutput = 2048;  // of the command's output, for the error message
constexpr std::chrono::milliseconds kKillGrace{2000};

// Not passed to the command: the daemon's secrets, and systemd's variables
// meant for the daemon's own process (a child answering NOTIFY_SOCKET would
// confuse the manager).
constexpr std::string_view kDropped[] = {
    "CAIRN_PASSWORD",
    "BACKUP_ENCRYPTION_KEY",
    "AZURE_STORAGE_CONNECTION_STRING",
    "NOTIFY_SOCKET",
    "WATCHDOG_USEC",
    "WATCHDOG_PID",
    "LISTEN_FDS",
    "LISTEN_PID",
    "LISTEN_FDNAMES",
};

std::string HostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "";
  return name;
}

void CurlGlobalInit() {
  // curl_global_init is not thread-safe; the first Create does it.
  static const bool done = [] {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return true;
  }();
  (void)done;
}

// "host" or "host:port" of a URL, for messages; "" if it does not parse.
std::string UrlHost(const std::string& url) {
  CURLU* u = curl_url();
  if (u == nullptr) return "";
  std::string out;
  char* host = nullptr;
  char* port = nullptr;
  if (curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK &&
      curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
    out = host;
    if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK) out += std::string(":") + port;
  }
  curl_free(host);
  curl_free(port);
  curl_url_cleanup(u);
  return out;
}

std::string LastLines(std::string output) {
  while (!output.empty() && (output.back() == '\n' || output.back() == '\r')) output.pop_back();
  if (output.size() > 300) output = "..." + output.substr(output.size() - 300);
  return output;
}

std::string OneLine(std::string_view text) {
  std::string out(text);
  std::replace(out.begin(), out.end(), '\n', ' ');
  std::replace(out.begin(), out.end(), '\r', ' ');
  return out;
}

class SpawnAttributes {
 public:
  SpawnAttributes() {
    posix_spawn_file_actions_init(&actions_);
    posix_spawnattr_init(&attr_);
  }
  ~SpawnAttributes() {
    posix_spawn_file_actions_destroy(&actions_);
    posix_spawnattr_destroy(&attr_);
  }
  SpawnAttributes(const SpawnAttributes&) = delete;
  SpawnAttributes& operator=(const SpawnAttributes&) = delete;

  posix_spawn_file_actions_t actions_;
  posix_spawnattr_t attr_;
};

struct WebhookReply {
  long http_status = 0;
  std::string body;  // the start of it, for messages
};

size_t KeepBody(char* data, size_t size, size_t n, void* userdata) {
  auto* reply = static_cast<WebhookReply*>(userdata);
  size_t bytes = size * n;
  if (reply->body.size() < 512) {
    reply->body.append(data, std::min(bytes, 512 - reply->body.size()));
  }
  return bytes;
}

int AbortOnStop(void* userdata, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<std::stop_token*>(userdata)->stop_requested() ? 1 : 0;
}

}  // namespace

std::string_view AlertEventName(AlertEvent event) {
  switch (event) {
    case AlertEvent::kBackupFailed:
      return "backup_failed";
    case AlertEvent::kStale:
      return "stale";
    case AlertEvent::kRecovered:
      return "recovered";
    case AlertEvent::kTest:
      return "test";
    case AlertEvent::kRestoreSampleFailed:
      return "restore_sample_failed";
  }
  return "test";
}

std::string AlertJson(const Alert& alert, std::string_view host) {
  nlohmann::json j;
  j["event"] = AlertEventName(alert.event);
  j["message"] = alert.message;
  j["device"] = alert.device;
  j["host"] = host;
  j["repository"] = alert.repository;
  j["time"] = FormatRfc3339(alert.time);
  j["last_success"] =
      alert.last_success ? nlohmann::json(FormatRfc3339(*alert.last_success)) : nlohmann::json();
  std::string who = alert.device.empty() ? std::string(host) : alert.device;
  j["text"] = "cairn (" + who + "): " + std::string(AlertEventName(alert.event)) + ": " +
              OneLine(alert.message);
  // Invalid UTF-8 (a file name) is replaced, not thrown about.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// ---------------------------------------------------------------------------

Result<std::unique_ptr<AlertSink>> AlertSink::Create(AlertOptions options) {
  if (!options.command.empty() && options.command[0].empty()) {
    return Status::InvalidArgument("the alert command is empty");
  }
  if (options.timeout < std::chrono::milliseconds(1)) {
    return Status::InvalidArgument("the alert timeout must be at least 1 ms");
  }
  if (!options.webhook_url.empty()) {
    std::string lower;
    for (char c : options.webhook_url.substr(0, 8)) lower += static_cast<char>(std::tolower(c));
    if (lower.rfind("http://", 0) != 0 && lower.rfind("https://", 0) != 0) {
      return Status::InvalidArgument("the alert webhook must be an http:// or https:// URL");
    }
    CurlGlobalInit();
  }
  if (options.redactor == nullptr) options.redactor = std::make_shared<Redactor>();
  if (!options.webhook_url.empty()) options.redactor->AddSecret(options.webhook_url);
  if (options.host.empty()) options.host = HostName();
  return std::unique_ptr<AlertSink>(new AlertSink(std::move(options)));
}

AlertSink::AlertSink(AlertOptions options) : options_(std::move(options)) {
  if (!options_.webhook_url.empty()) {
    webhook_host_ = UrlHost(options_.webhook_url);
    if (webhook_host_.empty()) webhook_host_ = "(unparsable URL)";
  }
}

AlertSink::~AlertSink() = default;

bool AlertSink::enabled() const {
  return !options_.command.empty() || !options_.webhook_url.empty();
}

Status AlertSink::Fire(const Alert& raw, std::stop_token stop) {
  Alert alert = raw;
  alert.message = options_.redactor->Redact(alert.message);
  alert.repository = options_.redactor->Redact(alert.repository);
  Status first;
  if (!options_.command.empty()) first = RunCommand(alert, stop);
  if (!options_.webhook_url.empty()) {
    Status posted = PostWebhook(AlertJson(alert, options_.host), stop);
    if (first.ok()) first = posted;
  }
  return first;
}

Status AlertSink::RunCommand(const Alert& alert, std::stop_token stop) {
  const std::string what = "alert command '" + options_.command[0] + "'";

  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    std::string_view name = entry.substr(0, entry.find('='));
    bool dropped = name.rfind("CAIRN_ALERT_", 0) == 0 ||
                   std::find(std::begin(kDropped), std::end(kDropped), name) != std::end(kDropped);
    if (!dropped) env.emplace_back(entry);
  }
  auto set = [&](const char* name, const std::string& value) {
    env.push_back(std::string(name) + "=" + value);
  };
  set("CAIRN_ALERT_EVENT", std::string(AlertEventName(alert.event)));
  set("CAIRN_ALERT_MESSAGE", alert.message);
  set("CAIRN_ALERT_DEVICE", alert.device);
  set("CAIRN_ALERT_HOST", options_.host);
  set("CAIRN_ALERT_REPOSITORY", alert.repository);
  set("CAIRN_ALERT_TIME", FormatRfc3339(alert.time));
  set("CAIRN_ALERT_LAST_SUCCESS", alert.last_success ? FormatRfc3339(*alert.last_success) : "");
  for (std::string& e : env) {
    // An environment string ends at its first NUL; keep what follows visible.
    std::replace(e.begin(), e.end(), '\0', ' ');
  }
  std::vector<char*> envp, argv;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = options_.command;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return ErrnoStatus(errno, "create a pipe for", what);
  pid_t pid = -1;
  int spawn_error;
  {
    SpawnAttributes sa;
    posix_spawn_file_actions_addopen(&sa.actions_, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&sa.actions_, pipe_fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&sa.actions_, pipe_fds[1], STDERR_FILENO);
    // Nothing of the daemon's (the repository lock, sockets, the log file)
    // leaks into the command, whatever lacks O_CLOEXEC.
    posix_spawn_file_actions_addclosefrom_np(&sa.actions_, 3);
    // The daemon may block or ignore signals for its own handling; the
    // command starts with the defaults, in a process group of its own so
    // that a timeout kills what it started too.
    sigset_t none, defaults;
    sigemptyset(&none);
    sigemptyset(&defaults);
    for (int sig : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCHLD}) {
      sigaddset(&defaults, sig);
    }
    posix_spawnattr_setsigmask(&sa.attr_, &none);
    posix_spawnattr_setsigdefault(&sa.attr_, &defaults);
    posix_spawnattr_setpgroup(&sa.attr_, 0);
    posix_spawnattr_setflags(
        &sa.attr_, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
    spawn_error = ::posix_spawnp(&pid, argv[0], &sa.actions_, &sa.attr_, argv.data(), envp.data());
  }
  ::close(pipe_fds[1]);
  if (spawn_error != 0) {
    ::close(pipe_fds[0]);
    return ErrnoStatus(spawn_error, "run", what);
  }

  std::string output;
  int out_fd = pipe_fds[0];
  const Clock::time_point deadline = Clock::now() + options_.timeout;
  int wstatus = 0;
  bool exited = false, timed_out = false;
  while (true) {
    pid_t r = ::waitpid(pid, &wstatus, WNOHANG);
    if (r == pid) {
      exited = true;
      break;
    }
    if (r < 0 && errno != EINTR) break;  // ECHILD: SIGCHLD ignored (see REQUIRES)
    if (stop.stop_requested() || Clock::now() >= deadline) {
      timed_out = !stop.stop_requested();
      break;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    int wait_ms = static_cast<int>(std::clamp<int64_t>(left.count(), 1, 50));
    if (out_fd >= 0) {
      pollfd p{out_fd, POLLIN, 0};
      if (::poll(&p, 1, wait_ms) > 0) {
        char buffer[1024];
        ssize_t n = ::read(out_fd, buffer, sizeof buffer);
        if (n > 0) {
          output.append(buffer, static_cast<size_t>(n));
          if (output.size() > 2 * kMaxOutput) output.erase(0, output.size() - kMaxOutput);
        } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
          ::close(out_fd);  // the command closed its output; wait for its exit
          out_fd = -1;
        }
      }
    } else {
      ::usleep(static_cast<useconds_t>(wait_ms) * 1000);
    }
  }
  if (!exited) {
    // Timed out or stopped: the whole group goes, politely first.
    ::kill(-pid, SIGTERM);
    const Clock::time_point grace = Clock::now() + kKillGrace;
    while (::waitpid(pid, &wstatus, WNOHANG) == 0 && Clock::now() < grace) ::usleep(20000);
    ::kill(-pid, SIGKILL);
    while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
    }
  }
  if (out_fd >= 0) {
    // What is left in the pipe, without waiting for a lingering grandchild.
    ::fcntl(out_fd, F_SETFL, O_NONBLOCK);
    char buffer[1024];
    ssize_t n;
    while ((n = ::read(out_fd, buffer, sizeof buffer)) > 0 && output.size() < 2 * kMaxOutput) {
      output.append(buffer, static_cast<size_t>(n));
    }
    ::close(out_fd);
  }
  std::string tail = options_.redactor->Redact(LastLines(std::move(output)));
  std::string said = tail.empty() ? "" : ": " + tail;
  if (!exited && !timed_out) return Status::Cancelled(what + " stopped: the daemon is stopping");
  if (timed_out) {
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%g",
                  static_cast<double>(options_.timeout.count()) / 1000.0);
    return Status::Unavailable(what + " did not finish within " + seconds + " s and was killed" +
                               said);
  }
  if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) return Status::OK();
  if (WIFEXITED(wstatus)) {
    return Status::IOError(what + " exited with status " + std::to_string(WEXITSTATUS(wstatus)) +
                           said);
  }
  return Status::IOError(what + " was killed by signal " +
                         std::to_string(WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : 0) + said);
}

Status AlertSink::PostWebhook(const std::string& body, std::stop_token stop) {
  const std::string what = "alert webhook at " + webhook_host_;
  Status last;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (attempt > 0 && !SleepUnlessStopped(stop, options_.retry_delay)) break;
    CURL* h = curl_easy_init();
    if (h == nullptr) return Status::IOError(what + ": cannot start a request (out of memory?)");
    WebhookReply reply;
    char error[CURL_ERROR_SIZE] = {};
    curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
    headers = curl_slist_append(headers, "User-Agent: cairn");
    curl_easy_setopt(h, CURLOPT_URL, options_.webhook_url.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.timeout.count()));
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(std::min<int64_t>(options_.timeout.count(), 10000)));
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);  // a multi-threaded process
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, KeepBody);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &reply);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, AbortOnStop);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &stop);
    CURLcode rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &reply.http_status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);

    if (rc == CURLE_ABORTED_BY_CALLBACK) break;
    if (rc != CURLE_OK) {
      std::string reason = error[0] != '\0' ? error : curl_easy_strerror(rc);
      last = Status::Unavailable(what + ": " + options_.redactor->Redact(reason));
      continue;
    }
    if (reply.http_status >= 200 && reply.http_status < 300) return Status::OK();
    std::string answer = OneLine(options_.redactor->Redact(reply.body));
    if (answer.size() > 200) answer = answer.substr(0, 200) + "...";
    last = Status(StatusCode::kIOError,
                  what + " answered HTTP " + std::to_string(reply.http_status) +
                      (answer.empty() ? "" : ": " + answer),
                  reply.http_status == 429 || reply.http_status >= 500);
    if (!last.retryable()) return last;  // the same request would be refused again
  }
  if (stop.stop_requested()) return Status::Cancelled(what + ": the daemon is stopping");
  return last;
}

// ---------------------------------------------------------------------------

bool FailureWatch::RecordFailure(TimeNs now) {
  int64_t repeat_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(repeat_after_).count();
  if (last_alert_ && now - *last_alert_ < repeat_ns && now >= *last_alert_) return false;
  last_alert_ = now;
  return true;
}

bool FailureWatch::RecordSuccess() {
  bool fired = last_alert_.has_value();
  last_alert_.reset();
  return fired;
}

StaleWatch::StaleWatch(std::chrono::seconds stale_after, std::optional<TimeNs> last_success,
                       TimeNs started)
    : period_ns_(std::chrono::duration_cast<std::chrono::nanoseconds>(stale_after).count()),
      last_success_(last_success),
      started_(started) {}

bool StaleWatch::RecordSuccess(TimeNs when) {
  if (last_success_ && when <= *last_success_) return false;
  bool fired = periods_fired_ > 0;
  last_success_ = when;
  periods_fired_ = 0;
  return fired;
}

bool StaleWatch::Check(TimeNs now) {
  if (period_ns_ <= 0) return false;
  int64_t elapsed = now - Reference();
  if (elapsed < period_ns_) return false;  // also a clock set back
  int64_t periods = elapsed / period_ns_;
  if (periods <= periods_fired_) return false;
  periods_fired_ = periods;
  return true;
}

std::optional<TimeNs> StaleWatch::NextDue() const {
  if (period_ns_ <= 0) return std::nullopt;
  return Reference() + (periods_fired_ + 1) * period_ns_;
}

std::string StaleWatch::Message(TimeNs now) const {
  int64_t hours = std::max<int64_t>(0, (now - Reference()) / 3600'000'000'000);
  std::string span = std::to_string(hours) + (hours == 1 ? " hour" : " hours");
  std::string text;
  if (last_success_) {
    text = "no backup has succeeded for " + span +
           " (the last one: " + FormatLocal(*last_success_) + ")";
  } else {
    text = "no backup has succeeded in the " + span + " since watching started (" +
           FormatLocal(started_) + ")";
  }
  return text + "; see `cairn status` and the daemon's log";
}

}  // namespace cairn::daemon
