// The command line of cairn: every subcommand, option and description as
// one CLI11 App, built without running anything. main() parses argv with
// it; the help, `cairn man` and `cairn completion` (cli_docs.h) walk the
// same App, so they cannot drift apart, and cli_docs_test.cc holds
// docs/cli.md against it.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <stop_token>

#include "cmd/cairn/cli.h"

namespace cairn::cli {

// Builds the App and calls `use` with it and the exit code that the chosen
// subcommand's callback sets once parsed; returns what `use` returns. The
// App and everything its options write into live until `use` returns. `g`
// holds what is set before parsing (the test build's hooks); every command
// gets `stop`.
int WithCli(GlobalOptions g, std::stop_token stop,
            const std::function<int(CLI::App& app, const int& exit_code)>& use);

// Parses argv with `app` (of WithCli) and runs the chosen subcommand;
// returns its exit code. A mistyped command is named, with the nearest one.
int ParseAndRun(CLI::App& app, const int& exit_code, int argc, char** argv);

}  // namespace cairn::cli
