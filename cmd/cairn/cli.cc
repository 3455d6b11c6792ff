#include "cmd/cairn/cli.h"

#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <mutex>

namespace cairn::cli {

namespace {

std::string Prompt(const std::string& text) {
  std::cerr << text << std::flush;
  struct termios old;
  bool tty = tcgetattr(STDIN_FILENO, &old) == 0;
  if (tty) {
    struct termios t = old;
    t.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &t);
  }
  std::string line;
  std::getline(std::cin, line);
  if (tty) tcsetattr(STDIN_FILENO, TCSANOW, &old);
  std::cerr << "\n";
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  return line;
}

Result<std::string> AskSecret(const engine::SecretRequest& r) {
  if (!r.for_new_repository) return Prompt("Password for " + r.location + ": ");
  std::string pw = Prompt("Choose a password for the new repository: ");
  if (pw.empty()) return Status::InvalidArgument("an empty password is not allowed");
  if (Prompt("Repeat the password: ") != pw)
    return Status::InvalidArgument("the passwords differ; nothing was created");
  return pw;
}

std::string Eta(const engine::Progress& p) {
  if (!p.eta_seconds) return "";
  int left = static_cast<int>(*p.eta_seconds);
  return ", ETA " + std::to_string(left / 60) + "m" + std::to_string(left % 60) + "s";
}

std::string ProgressText(const engine::Progress& p) {
  char buf[256];
  if (p.operation == "backup") {
    snprintf(buf, sizeof(buf), "%s%llu files (%llu unchanged), %s of %s read, %s/s%s",
             p.phase == "scanning" ? "scanning: " : "",
             static_cast<unsigned long long>(p.files_done),
             static_cast<unsigned long long>(p.files_unchanged), HumanBytes(p.bytes_done).c_str(),
             HumanBytes(p.bytes_total).c_str(),
             HumanBytes(static_cast<uint64_t>(p.bytes_per_second)).c_str(), Eta(p).c_str());
    return buf;
  }
  if (p.operation == "restore") {
    snprintf(buf, sizeof(buf), "restoring: %llu/%llu files, %s of %s, %s/s%s",
             static_cast<unsigned long long>(p.files_done),
             static_cast<unsigned long long>(p.files_total), HumanBytes(p.bytes_done).c_str(),
             HumanBytes(p.bytes_total).c_str(),
             HumanBytes(static_cast<uint64_t>(p.bytes_per_second)).c_str(), Eta(p).c_str());
    return buf;
  }
  if (p.operation == "check")
    return "reading data: " + std::to_string(p.units_done) + "/" + std::to_string(p.units_total) +
           " packs";
  if (p.operation == "sync" && p.units_total > 20)
    return "reading version history: " + std::to_string(p.units_done) + "/" +
           std::to_string(p.units_total);
  return "";
}

}  // namespace

// Progress on one rewritten line of a terminal; notices as warnings. Per-path
// problems are printed by each command from its result, after the run.
class Context::TerminalSink : public engine::EventSink {
 public:
  TerminalSink(const Context& ctx, bool progress) : ctx_(ctx), progress_(progress) {}
  void OnProgress(const engine::Progress& p) override {
    if (!progress_) return;
    std::string text = ProgressText(p);
    std::lock_guard lock(mu_);
    if (!text.empty()) ProgressLine(text);
    // The catalog is synchronised before a command's own output starts.
    if (p.operation == "sync" && p.units_done == p.units_total) ProgressDone();
  }
  void OnNotice(const std::string& text) override {
    std::lock_guard lock(mu_);
    if (progress_) ProgressDone();
    ctx_.Warn(text);
  }

 private:
  const Context& ctx_;
  const bool progress_;
  std::mutex mu_;
};

namespace {
std::mutex hangup_mu;
std::function<void()>* hangup_handler = nullptr;  // guarded by hangup_mu
}  // namespace

void SetHangupHandler(std::function<void()> fn) {
  std::lock_guard lock(hangup_mu);
  delete hangup_handler;
  hangup_handler = fn ? new std::function<void()>(std::move(fn)) : nullptr;
}

bool RunHangupHandler() {
  std::lock_guard lock(hangup_mu);
  if (hangup_handler == nullptr) return false;
  (*hangup_handler)();
  return true;
}

int ExitCodeFor(const Status& st) {
  switch (st.code()) {
    case StatusCode::kOk:
      return kExitOk;
    case StatusCode::kNoRepository:
      return kExitNoRepository;
    case StatusCode::kLocked:
      return kExitLocked;
    case StatusCode::kWrongPassword:
      return kExitWrongPassword;
    case StatusCode::kCancelled:
      return kExitInterrupted;
    default:
      return kExitFailed;
  }
}

Context::Context(GlobalOptions g, std::stop_token stop) : g_(std::move(g)), stop_(stop) {}
Context::~Context() = default;

Status Context::Init() {
  CAIRN_ASSIGN_OR_RETURN(session_, engine::Session::Create(MakeSessionOptions()));
  sink_ = std::make_unique<TerminalSink>(*this, ShowProgress());
  return Status::OK();
}

engine::SessionOptions Context::MakeSessionOptions() const {
  engine::SessionOptions o;
  o.repository = g_.repo;
  o.password_file = g_.password_file;
  o.config_file = g_.config_file;
  o.device = g_.device;
  o.all_devices = g_.all_devices;
  o.limit_upload_kib = g_.limit_upload_kib;
  o.limit_download_kib = g_.limit_download_kib;
  o.cheap_kdf_for_tests = g_.cheap_kdf_for_tests;
  if (isatty(STDIN_FILENO)) o.ask_secret = AskSecret;
  o.notice = [this](const std::string& text) { Warn(text); };
  return o;
}

engine::JobContext Context::Job() {
  engine::JobContext job;
  job.events = sink_.get();
  job.stop = stop_;
  return job;
}

bool Context::ShowProgress() const {
  return !g_.json && !g_.quiet && !g_.no_progress && isatty(STDERR_FILENO);
}

void Context::Info(const std::string& line) const {
  if (!g_.json && !g_.quiet) std::cout << line << "\n";
}

void Context::Warn(const std::string& line) const { std::cerr << "warning: " << line << "\n"; }

int Context::Fail(const Status& st) const {
  ProgressDone();
  if (g_.json) {
    nlohmann::json j = {{"error", st.message()},
                        {"code", std::string(StatusCodeName(st.code()))},
                        {"exit_code", ExitCodeFor(st)}};
    std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  }
  std::cerr << "cairn: " << st.message() << "\n";
  return ExitCodeFor(st);
}

void Context::PrintJson(const nlohmann::json& j) const {
  std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

int ReportUnreadable(const Context& ctx, const std::vector<std::string>& segments) {
  if (segments.empty()) return kExitOk;
  std::string ids;
  for (const auto& id : segments) ids += (ids.empty() ? "" : ", ") + id.substr(0, 16);
  ctx.Warn(std::to_string(segments.size()) +
           " version segment(s) of the repository could not be read (" + ids +
           "): this answer may miss the versions they hold, or show older ones instead. "
           "`cairn check` names the damage.");
  return kExitPartial;
}

std::string HumanBytes(uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0)
    snprintf(buf, sizeof(buf), "%llu B", static_cast<unsigned long long>(n));
  else
    snprintf(buf, sizeof(buf), "%.1f %s", v, units[u]);
  return buf;
}

std::string ShowPath(const std::string& path) {
  std::string out;
  for (unsigned char c : path) {
    if (c < 0x20 || c == 0x7f) {
      char buf[8];
      snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string AbsolutePath(const std::string& path) {
  std::filesystem::path p(path);
  if (!p.is_absolute()) p = std::filesystem::current_path() / p;
  std::string s = p.lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

void ProgressLine(const std::string& text) {
  std::string t = text.size() > 110 ? text.substr(0, 107) + "..." : text;
  std::cerr << "\r\033[K" << t << std::flush;
}

void ProgressDone() {
  if (isatty(STDERR_FILENO)) std::cerr << "\r\033[K" << std::flush;
}

}  // namespace cairn::cli
