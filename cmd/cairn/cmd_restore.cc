#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>

#include "base/errno_status.h"
#include "cmd/cairn/commands.h"

namespace cairn::cli {

namespace {

// The stream goes straight to file descriptor 1 with write(2): no stdio
// buffer to flush or to mix with, and every message of cairn goes to stderr.
class StdoutSink : public engine::ByteSink {
 public:
  Status Write(ByteView data) override {
    size_t pos = 0;
    while (pos < data.size()) {
      ssize_t n = ::write(STDOUT_FILENO, data.data() + pos, data.size() - pos);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EPIPE)
        return Status::IOError("the program reading cairn's output stopped reading (broken pipe)");
      if (n < 0) return Status::IOError(std::string("cannot write to stdout: ") + ErrnoText(errno));
      pos += static_cast<size_t>(n);
      written_ += static_cast<uint64_t>(n);
    }
    return Status::OK();
  }
  uint64_t written() const { return written_; }

 private:
  uint64_t written_ = 0;
};

// Human output of --stdout: stderr only (stdout carries the data).
void Note(const Context& ctx, const std::string& line) {
  if (!ctx.global().quiet) std::fprintf(stderr, "%s\n", line.c_str());
}

// `restore --stdout`: the engine's RestoreToStream with stdout as the sink.
// Exit codes as restore's: 3 when entries were left out of a tar or a
// version segment could not be read.
int RestoreToStdout(Context& ctx, const RestoreArgs& o, const engine::StreamRequest& req) {
  if (!o.to.empty() || o.overwrite)
    return ctx.Fail(
        Status::InvalidArgument("--stdout writes nothing to disk: leave out --to and --overwrite"));
  if (ctx.json())
    return ctx.Fail(Status::InvalidArgument(
        "--json and --stdout both need stdout: leave out --json (messages go to stderr)"));
  if (isatty(STDOUT_FILENO))
    return ctx.Fail(Status::InvalidArgument(
        "--stdout would write the file's bytes (or a tar of the folder) to the terminal: "
        "redirect it to a file (> FILE) or pipe it to a program (| tar x)"));
  // A reader that goes away (`| head -c 100`) must not kill cairn with
  // SIGPIPE while it holds its repository lock: the write fails with EPIPE
  // instead, and the job ends cleanly.
  std::signal(SIGPIPE, SIG_IGN);
  StdoutSink sink;
  auto result = ctx.session().RestoreToStream(req, sink, ctx.Job());
  ProgressDone();
  if (!result.ok()) {
    int code = ctx.Fail(result.error());
    if (sink.written() > 0)
      std::fprintf(stderr,
                   "cairn: the %s written to stdout are incomplete or not verified: discard "
                   "them\n",
                   HumanBytes(sink.written()).c_str());
    return code;
  }
  const engine::StreamResult& r = *result;
  for (const auto& left : r.info.left_out)
    std::fprintf(stderr, "left out of the archive: %s\n", ShowPath(left).c_str());
  char secs[32];
  snprintf(secs, sizeof(secs), "%.2f s", r.seconds);
  if (r.info.kind == engine::StreamInfo::Kind::kFile) {
    const bool whole = r.info.length == r.info.size;
    Note(ctx, "wrote " + ShowPath(r.info.path) + " (" + HumanBytes(r.content_bytes) +
                  (whole ? std::string()
                         : ", bytes " + std::to_string(r.info.offset) + " to " +
                               std::to_string(r.info.offset + r.info.length) + " of " +
                               std::to_string(r.info.size)) +
                  ") to stdout in " + secs + "; verified against its SHA-256");
  } else {
    Note(ctx, "wrote a tar of " + ShowPath(r.info.path) + " (" + std::to_string(r.files) +
                  " files, " + std::to_string(r.dirs) + " folders, " + std::to_string(r.links) +
                  " links; " + HumanBytes(r.stream_bytes) + ") to stdout in " + secs +
                  "; every file verified against its SHA-256");
  }
  if (ReportUnreadable(ctx, r.unreadable_segments) != kExitOk) return kExitPartial;
  return r.info.left_out.empty() ? kExitOk : kExitPartial;
}

}  // namespace

int RestoreCommand(Context& ctx, const RestoreArgs& o) {
  engine::RestoreRequest req;
  if (o.id.empty() == o.path.empty())
    return ctx.Fail(Status::InvalidArgument(
        o.id.empty() ? "restore needs the PATH of a file or folder, or --id ID of one version"
                     : "give either a PATH or --id, not both"));
  req.id = o.id;
  if (!o.path.empty()) req.path = AbsolutePath(o.path);
  if (!o.at.empty()) {
    auto t = ParseTime(o.at);
    if (!t.ok()) return ctx.Fail(t.error());
    req.at = *t;
  }
  req.version = o.version;
  if (o.to_stdout) {
    engine::StreamRequest stream;
    stream.id = req.id;
    stream.path = req.path;
    stream.at = req.at;
    stream.version = req.version;
    return RestoreToStdout(ctx, o, stream);
  }
  if (!o.to.empty()) req.target = AbsolutePath(o.to);
  req.overwrite = o.overwrite;
  auto summary = ctx.session().Restore(req, ctx.Job());
  ProgressDone();
  if (!summary.ok()) return ctx.Fail(summary.error());
  const auto& s = *summary;
  bool partial = !s.errors.empty() || !s.skipped_existing.empty() || !s.unreadable_segments.empty();
  if (ctx.json()) {
    ctx.PrintJson({{"files", s.files},
                   {"dirs", s.dirs},
                   {"links", s.links},
                   {"bytes", s.bytes},
                   {"errors", s.errors},
                   {"skipped_existing", s.skipped_existing},
                   {"already_present", s.already_present},
                   {"metadata_warnings", s.metadata_warnings},
                   {"seconds", s.seconds},
                   {"unreadable_segments", s.unreadable_segments},
                   {"partial", partial}});
  } else {
    for (const auto& e : s.errors) std::fprintf(stderr, "error: %s\n", ShowPath(e).c_str());
    for (const auto& e : s.skipped_existing)
      std::fprintf(stderr, "not overwritten (use --overwrite): %s\n", ShowPath(e).c_str());
    for (const auto& w : s.metadata_warnings) ctx.Warn("metadata not restored: " + ShowPath(w));
    char secs[32];
    snprintf(secs, sizeof(secs), "%.2f s", s.seconds);
    ctx.Info("restored " + std::to_string(s.files) + " files (" + HumanBytes(s.bytes) + "), " +
             std::to_string(s.dirs) + " folders, " + std::to_string(s.links) + " links" +
             (s.already_present ? " (" + std::to_string(s.already_present) +
                                      " files were already there, identical)"
                                : std::string()) +
             " to " + (req.target.empty() ? std::string("their original place") : req.target) +
             " in " + secs + "; every file verified against its SHA-256");
  }
  if (ReportUnreadable(ctx, s.unreadable_segments) != kExitOk) return kExitPartial;
  return partial ? kExitPartial : kExitOk;
}

}  // namespace cairn::cli
