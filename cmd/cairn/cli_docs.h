// The man page and the shell completions of cairn, generated from its CLI11
// App (cli_app.h): every visible subcommand, option, positional argument and
// description, so they say what `cairn --help` says. `cairn man` and `cairn
// completion SHELL` print them; the build writes them into the build folder
// and `cmake --install` installs them (cmd/cairn/CMakeLists.txt).
// Thread-safe: pure functions of the App.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace cairn::cli {

// A subcommand and where it sits: path {"key", "add"} for `cairn key add`.
struct CommandEntry {
  std::vector<std::string> path;
  const CLI::App* app = nullptr;
};

// Every visible subcommand below `app`, depth first, in the order they were
// defined. Hidden ones (in the empty group, such as `completion` and `man`)
// are left out, with what is below them.
std::vector<CommandEntry> VisibleCommands(const CLI::App& app);

// The options of one command that users see: named options and positional
// arguments, but not the help flag.
std::vector<const CLI::Option*> VisibleOptions(const CLI::App& app);

// cairn(1) in roff (man(7) macros). `version` goes into the title line.
std::string ManPage(const CLI::App& app, const std::string& version);

// The completion script for "bash", "zsh" or "fish"; "" for another shell.
std::string CompletionScript(const CLI::App& app, const std::string& shell);
std::string BashCompletion(const CLI::App& app);
std::string ZshCompletion(const CLI::App& app);
std::string FishCompletion(const CLI::App& app);

}  // namespace cairn::cli
