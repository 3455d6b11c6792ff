// The command line against what is generated from it (the man page, the
// completions) and against docs/cli.md, walking the App with CLI11's own
// accessors, so a generator that skips something is caught too; and the
// version text.
#include "cmd/cairn/cli_docs.h"

#include <curl/curl.h>
#include <gtest/gtest.h>
#include <sodium.h>
#include <sqlite3.h>
#include <zlib.h>
#include <zstd.h>

#include <cctype>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <stop_token>

#include "cmd/cairn/cli_app.h"
#include "cmd/cairn/version.h"

namespace cairn::cli {
namespace {

struct Command {
  std::vector<std::string> path;  // {"key", "add"}
  const CLI::App* app;
};

// Every subcommand, hidden ones included when `hidden`.
void Walk(const CLI::App& app, const std::vector<std::string>& path, bool hidden,
          std::vector<Command>& out) {
  for (const CLI::App* sub : app.get_subcommands({})) {
    if (!hidden && sub->get_group().empty()) continue;
    std::vector<std::string> p = path;
    p.push_back(sub->get_name());
    out.push_back(Command{p, sub});
    Walk(*sub, p, hidden, out);
  }
}

std::string Spaced(const std::vector<std::string>& path) {
  std::string s;
  for (const auto& p : path) s += (s.empty() ? "" : " ") + p;
  return s;
}

// Every name users may type for the options of `app`: "--label", "-R", and
// a positional's name.
std::vector<std::string> OptionNames(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::Option* o : app.get_options()) {
    if (o == app.get_help_ptr() || o->get_group().empty()) continue;
    if (!o->nonpositional()) names.push_back(o->get_name(true, false));
    for (const auto& s : o->get_snames()) names.push_back("-" + s);
    for (const auto& l : o->get_lnames()) names.push_back("--" + l);
  }
  return names;
}

// Runs `check` on the App as main() builds it.
void WithApp(const std::function<void(CLI::App&)>& check) {
  std::stop_source stop;
  (void)WithCli(GlobalOptions{}, stop.get_token(), [&](CLI::App& app, const int&) {
    check(app);
    return 0;
  });
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The part of `text` from `start` to the next line starting with one of
// `ends` (or the end).
std::string Section(const std::string& text, size_t start, const std::vector<std::string>& ends) {
  size_t end = std::string::npos;
  for (const std::string& e : ends) end = std::min(end, text.find("\n" + e, start + 1));
  return text.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

// Roff escapes and fonts undone, for searching: "\-\-label" -> "--label".
std::string Unroff(std::string s) {
  for (size_t p; (p = s.find("\\-")) != std::string::npos;) s.erase(p, 1);
  for (const char* font : {"\\fB", "\\fR", "\\fI"})
    for (size_t p; (p = s.find(font)) != std::string::npos;) s.erase(p, 3);
  return s;
}

std::string WithoutBackticks(std::string s) {
  std::erase(s, '`');
  return s;
}

// `name` in `text` as a word of its own (not the start of a longer option).
bool HasWord(const std::string& text, const std::string& name) {
  for (size_t at = text.find(name); at != std::string::npos; at = text.find(name, at + 1)) {
    const char before = at > 0 ? text[at - 1] : ' ';
    const char after = at + name.size() < text.size() ? text[at + name.size()] : ' ';
    if (!std::isalnum(static_cast<unsigned char>(before)) && before != '-' &&
        !std::isalnum(static_cast<unsigned char>(after)) && after != '-')
      return true;
  }
  return false;
}

TEST(CliDocsTest, TheAppHasTheCommandsOfTheDocs) {
  // A sanity check of the walk itself, so the tests below cannot pass on an
  // empty App.
  WithApp([](CLI::App& app) {
    std::vector<Command> all;
    Walk(app, {}, false, all);
    std::set<std::string> names;
    for (const Command& c : all) names.insert(Spaced(c.path));
    for (const char* n : {"init", "backup", "restore", "run", "key", "key add", "key passwd"})
      EXPECT_TRUE(names.count(n)) << n;
    EXPECT_GE(all.size(), 20u);
    std::vector<Command> hidden;
    Walk(app, {}, true, hidden);
    EXPECT_EQ(hidden.size(), all.size() + 2) << "completion and man are the hidden ones";
  });
}

TEST(CliDocsTest, ManPageHasEveryCommandAndOption) {
  WithApp([](CLI::App& app) {
    const std::string man = ManPage(app, "9.9.9");
    EXPECT_NE(man.find(".TH CAIRN 1 \"\" \"cairn 9.9.9\""), std::string::npos);
    // Global options, in their section.
    size_t global = man.find(".SH GLOBAL OPTIONS");
    ASSERT_NE(global, std::string::npos);
    const std::string global_text = Unroff(Section(man, global, {".SH", ".SS"}));
    for (const std::string& n : OptionNames(app))
      EXPECT_NE(global_text.find(n), std::string::npos) << "global option " << n;
    std::vector<Command> all;
    Walk(app, {}, false, all);
    for (const Command& c : all) {
      const std::string heading = ".SS \"cairn " + Spaced(c.path);
      size_t at = man.find(heading + " ");
      if (at == std::string::npos) at = man.find(heading + "\"");
      ASSERT_NE(at, std::string::npos) << "no section for cairn " << Spaced(c.path);
      const std::string text = Unroff(Section(man, at, {".SH", ".SS"}));
      EXPECT_NE(text.find(WithoutBackticks(c.app->get_description()).substr(0, 20)),
                std::string::npos)
          << Spaced(c.path);
      for (const std::string& n : OptionNames(*c.app))
        EXPECT_NE(text.find(n), std::string::npos) << "cairn " << Spaced(c.path) << " " << n;
    }
    // Hidden commands stay out of it.
    EXPECT_EQ(man.find(".SS \"cairn completion"), std::string::npos);
  });
}

TEST(CliDocsTest, ManPageIsValidRoff) {
  WithApp([](CLI::App& app) {
    const std::string man = ManPage(app, "1.0");
    std::istringstream lines(man);
    for (std::string line; std::getline(lines, line);) {
      // A text line starting with a dot or a quote would be read as a request.
      if (!line.empty() && (line[0] == '.' || line[0] == '\'')) {
        EXPECT_TRUE(line.rfind(".TH ", 0) == 0 || line.rfind(".SH ", 0) == 0 ||
                    line.rfind(".SS ", 0) == 0 || line == ".TP" || line == ".B cairn" ||
                    line.rfind(".B ", 0) == 0 || line == ".br" || line.rfind(".\\\"", 0) == 0)
            << line;
      }
      // Every minus sign escaped.
      for (size_t i = 0; i < line.size(); ++i) {
        if (line[i] == '-') {
          EXPECT_TRUE(i > 0 && line[i - 1] == '\\') << line;
        }
      }
    }
  });
}

TEST(CliDocsTest, CompletionsHaveEveryCommandAndOption) {
  WithApp([](CLI::App& app) {
    const std::string bash = BashCompletion(app), zsh = ZshCompletion(app),
                      fish = FishCompletion(app);
    EXPECT_EQ(CompletionScript(app, "bash"), bash);
    EXPECT_EQ(CompletionScript(app, "tcsh"), "");
    std::vector<Command> all;
    Walk(app, {}, false, all);
    all.insert(all.begin(), Command{{}, &app});
    for (const Command& c : all) {
      const std::string where = "cairn " + Spaced(c.path);
      const std::string key = c.path.empty() ? "cairn" : "cairn " + Spaced(c.path);
      // bash: the command's line in the options table, its subcommands in
      // the subcommand table.
      const std::regex opts_line("\\['" + key + "'\\]='([^']*)'\\n");
      std::vector<std::string> lines;
      for (std::sregex_iterator it(bash.begin(), bash.end(), opts_line), end; it != end; ++it)
        lines.push_back(" " + (*it)[1].str() + " ");
      ASSERT_FALSE(lines.empty()) << where;
      // zsh: the command's function; fish: its lines.
      std::string fn = "_cairn";
      for (const auto& p : c.path) fn += "_" + p;
      size_t at = zsh.find("\n" + fn + "() {");
      ASSERT_NE(at, std::string::npos) << where;
      const std::string zsh_fn = zsh.substr(at, zsh.find("\n}\n", at) - at);
      std::string fish_lines;
      std::istringstream fl(fish);
      for (std::string line; std::getline(fl, line);)
        if (line.find("__cairn_at '" + key + "'\"") != std::string::npos ||
            (c.path.empty() && line.rfind("complete -c cairn -", 0) == 0 &&
             line.find("__cairn_at") == std::string::npos))
          fish_lines += line + "\n";
      for (const CLI::Option* o : c.app->get_options()) {
        if (o == c.app->get_help_ptr() || o->get_group().empty() || !o->nonpositional()) continue;
        for (const auto& l : o->get_lnames()) {
          bool in_bash = false;
          for (const auto& line : lines) in_bash |= line.find(" --" + l + " ") != std::string::npos;
          EXPECT_TRUE(in_bash) << where << " --" << l;
          EXPECT_NE((c.path.empty() ? zsh : zsh_fn).find("'--" + l + "["), std::string::npos)
              << where << " --" << l;
          EXPECT_NE(fish_lines.find(" -l " + l + " "), std::string::npos) << where << " --" << l;
        }
        for (const auto& s : o->get_snames()) {
          EXPECT_NE((c.path.empty() ? zsh : zsh_fn).find("'-" + s + "["), std::string::npos)
              << where << " -" << s;
          EXPECT_NE(fish_lines.find(" -s " + s + " "), std::string::npos) << where << " -" << s;
        }
      }
      for (const CLI::App* sub : c.app->get_subcommands({})) {
        if (sub->get_group().empty()) continue;
        const std::regex subs_line("\\['" + key + "'\\]='([^']*)'\\n");
        bool in_bash = false;
        for (std::sregex_iterator it(bash.begin(), bash.end(), subs_line), end; it != end; ++it)
          in_bash |=
              (" " + (*it)[1].str() + " ").find(" " + sub->get_name() + " ") != std::string::npos;
        EXPECT_TRUE(in_bash) << where << " " << sub->get_name();
        EXPECT_NE(zsh_fn.find("'" + sub->get_name() + ":"), std::string::npos)
            << where << " " << sub->get_name();
        EXPECT_NE(fish_lines.find(" -a " + sub->get_name() + " "), std::string::npos)
            << where << " " << sub->get_name();
      }
    }
  });
}

// docs/cli.md's command list: every subcommand (hidden ones too) has its
// entry, each entry names a real subcommand, and each option of a command
// is in its entry (or in the global options' table for cairn's own).
TEST(CliDocsTest, DocsCliMdMatchesTheCommands) {
  const std::string md = ReadFile(CAIRN_CLI_MD);
  ASSERT_FALSE(md.empty()) << CAIRN_CLI_MD;
  const size_t commands_at = md.find("\n## Commands");
  const size_t global_at = md.find("\n## Global options");
  ASSERT_NE(commands_at, std::string::npos);
  ASSERT_NE(global_at, std::string::npos);
  const std::string commands = Section(md, commands_at, {"## "});
  const std::string global = Section(md, global_at, {"## "});
  // The entries: "- `cairn ...` — ..." up to the next entry.
  std::vector<std::string> entries;
  std::istringstream in(commands);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("- ", 0) == 0)
      entries.push_back(line);
    else if (!entries.empty())
      entries.back() += "\n" + line;
  }
  ASSERT_GE(entries.size(), 20u);
  WithApp([&](CLI::App& app) {
    for (const std::string& n : OptionNames(app))
      EXPECT_TRUE(HasWord(global, n)) << "global option " << n;
    std::vector<Command> all;
    Walk(app, {}, true, all);
    // The entry of a command: the one whose usage (before the dash that
    // starts its text) names it, `cairn key add ...`, or `key list` in its
    // parent's; the one starting with it first.
    auto entry_of = [&](const std::vector<std::string>& path) -> std::string {
      const std::string full = "`cairn " + Spaced(path), short_form = "`" + Spaced(path);
      auto names = [&](const std::string& usage, const std::string& form) {
        for (size_t at = usage.find(form); at != std::string::npos; at = usage.find(form, at + 1)) {
          const char next = at + form.size() < usage.size() ? usage[at + form.size()] : ' ';
          if (next == ' ' || next == '`' || next == '\n') return true;
        }
        return false;
      };
      for (const std::string& e : entries)
        if (names(e.substr(0, full.size() + 3), full)) return e;
      for (const std::string& e : entries) {
        const std::string usage = e.substr(0, e.find(" — "));
        if (names(usage, full) || names(usage, short_form)) return e;
      }
      return "";
    };
    for (const Command& c : all) {
      const std::string entry = entry_of(c.path);
      ASSERT_FALSE(entry.empty()) << "cairn " << Spaced(c.path) << " is not in docs/cli.md";
      // "[prune's flags]": the options are in that command's entry.
      std::string where = entry;
      std::smatch m;
      if (std::regex_search(entry, m, std::regex("\\[(\\w+)'s flags\\]")))
        where += entry_of({m[1].str()});
      for (const CLI::Option* o : c.app->get_options()) {
        if (o == c.app->get_help_ptr() || o->get_group().empty() || !o->nonpositional()) continue;
        // Any of its names: `-R` documents --recursive.
        bool documented = false;
        for (const auto& l : o->get_lnames()) documented |= HasWord(where, "--" + l);
        for (const auto& n : o->get_snames()) documented |= HasWord(where, "-" + n);
        EXPECT_TRUE(documented) << "cairn " << Spaced(c.path) << " " << o->get_name()
                                << " is not in its docs/cli.md entry";
      }
    }
    // Vice versa: every `cairn WORD` of the entries is a command.
    const std::regex mention("`cairn ([a-z][a-z-]*)( [a-z][a-z-]*)?");
    for (std::sregex_iterator it(commands.begin(), commands.end(), mention), end; it != end; ++it) {
      const std::string first = (*it)[1].str();
      const CLI::App* sub = nullptr;
      try {
        sub = app.get_subcommand(first);
      } catch (const CLI::OptionNotFound&) {
      }
      ASSERT_NE(sub, nullptr) << "docs/cli.md documents `cairn " << first
                              << "`, which is no command";
      const std::string second = (*it)[2].matched ? (*it)[2].str().substr(1) : "";
      if (!second.empty() && !sub->get_subcommands({}).empty()) {
        bool found = false;
        for (const CLI::App* s : sub->get_subcommands({})) found |= s->get_name() == second;
        EXPECT_TRUE(found) << "docs/cli.md documents `cairn " << first << " " << second << "`";
      }
    }
  });
}

TEST(CliDocsTest, VersionTextNamesTheVersionFormatAndLibraries) {
  const std::string text = VersionText();
  EXPECT_EQ(text.rfind(std::string("cairn ") + CAIRN_EXPECTED_VERSION + "\n", 0), 0u) << text;
  EXPECT_EQ(std::string(Version()), CAIRN_EXPECTED_VERSION);
  EXPECT_NE(text.find("\nrepository format 3 (reads 2 to 3)\n"), std::string::npos) << text;
  std::map<std::string, std::string> libs;
  for (const LibraryVersion& l : LibraryVersions()) {
    EXPECT_TRUE(std::regex_match(l.version, std::regex("[0-9]+(\\.[0-9]+)*[a-z]?")))
        << l.name << " " << l.version;
    libs[l.name] = l.version;
    EXPECT_NE(text.find("\n" + l.name + " "), std::string::npos) << l.name;
  }
  for (const char* n : {"libsodium", "OpenSSL", "zstd", "zlib", "SQLite", "libarchive", "libcurl",
                        "yaml-cpp", "cpp-httplib", "CLI11", "nlohmann-json"})
    EXPECT_TRUE(libs.count(n)) << n;
  // Those asked at run time agree with the headers built against (Debian
  // keeps them in step).
  EXPECT_EQ(libs["libsodium"], SODIUM_VERSION_STRING);
  EXPECT_EQ(libs["zstd"], ZSTD_VERSION_STRING);
  EXPECT_EQ(libs["zlib"], ZLIB_VERSION);
  EXPECT_EQ(libs["SQLite"], SQLITE_VERSION);
  EXPECT_EQ(libs["libcurl"], LIBCURL_VERSION);
}

}  // namespace
}  // namespace cairn::cli
