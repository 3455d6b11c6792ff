// cairn: the command-line interface. Exit codes are listed in docs/cli.md.
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <stop_token>
#include <string>
#include <thread>

#include "cmd/cairn/cli_app.h"
#include "cmd/cairn/version.h"

// Ctrl-C or SIGTERM (systemd, docker stop) asks the running job to stop at
// its next safe point, so it checkpoints what it finished and releases its
// repository lock before cairn exits; a second one exits at once. SIGHUP
// reloads the settings of `cairn run` (SetHangupHandler) and otherwise stops
// like SIGTERM. Signals are blocked in every thread and taken by one thread
// with sigwait, because requesting a stop is not async-signal-safe.
void StopOnSignals(std::stop_source stop) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([set, stop]() mutable {
    bool stopping = false;
    int sig = 0;
    while (sigwait(&set, &sig) == 0) {
      if (sig == SIGHUP && cairn::cli::RunHangupHandler()) continue;
      if (stopping) _exit(128 + sig);
      stopping = true;
      // Ctrl-C at a terminal is answered with how to quit at once; a
      // SIGTERM from systemd or kill needs no such advice.
      const char tty_msg[] =
          "\ncairn: stopping (saving what is done; press Ctrl-C again to quit now)\n";
      const char msg[] = "cairn: stopping (saving what is done)\n";
      if (sig == SIGINT && isatty(STDIN_FILENO))
        (void)!write(STDERR_FILENO, tty_msg, sizeof(tty_msg) - 1);
      else
        (void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
      stop.request_stop();
    }
  }).detach();
}

int main(int argc, char** argv) {
  using namespace cairn::cli;
  // Pack and read buffers are megabytes each: keep them out of the heap so
  // freeing them returns memory (glibc would otherwise raise its mmap
  // threshold and keep freed buffers as resident heap).
  mallopt(M_MMAP_THRESHOLD, 1 << 20);  // NOLINT(concurrency-mt-unsafe): no other thread yet
  cairn::engine::InitProcess();
  std::stop_source stop;
  StopOnSignals(stop);
  GlobalOptions g;
  g.version = Version();
#ifdef CAIRN_TEST_HOOKS
  // Only in cairn_for_tests (cmd/cairn/CMakeLists.txt): end-to-end tests
  // create many repositories and keys, and Argon2id at full cost would
  // dominate their run time. The shipped cairn has no such switch: no
  // environment can make it write weak key slots.
  if (const char* v = std::getenv("CAIRN_TEST_CHEAP_KDF"); v && std::string(v) == "1")
    g.cheap_kdf_for_tests = true;
  if (const char* v = std::getenv("CAIRN_TEST_SETUP_PAUSE"); v) g.setup_pause_for_tests = v;
  if (const char* v = std::getenv("CAIRN_TEST_SYSTEMD_ROOT"); v) g.systemd_root_for_tests = v;
#endif
  return WithCli(g, stop.get_token(), [&](CLI::App& app, const int& code) {
    return ParseAndRun(app, code, argc, argv);
  });
}
