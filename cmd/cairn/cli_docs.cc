#include "cmd/cairn/cli_docs.h"

#include <set>
#include <sstream>
#include <string_view>

namespace cairn::cli {

namespace {

void Collect(const CLI::App& app, std::vector<std::string>& path, std::vector<CommandEntry>& out) {
  for (const CLI::App* sub : app.get_subcommands({})) {
    if (sub->get_group().empty() || sub->get_disabled()) continue;
    path.push_back(sub->get_name());
    out.push_back(CommandEntry{path, sub});
    Collect(*sub, path, out);
    path.pop_back();
  }
}

bool TakesValue(const CLI::Option* o) { return o->get_items_expected_max() > 0; }

// "INT:INT in [0 - 9]" -> "INT"; a flag's is "".
std::string ValueName(const CLI::Option* o) {
  if (!TakesValue(o)) return "";
  std::string t = o->get_type_name();
  t = t.substr(0, t.find(':'));
  return t.empty() ? "VALUE" : t;
}

// Every name of a named option: {"-r", "--repo"}.
std::vector<std::string> Names(const CLI::Option* o) {
  std::vector<std::string> n;
  for (const std::string& s : o->get_snames()) n.push_back("-" + s);
  for (const std::string& l : o->get_lnames()) n.push_back("--" + l);
  return n;
}

std::string Join(const std::vector<std::string>& v, std::string_view sep) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : std::string(sep)) + s;
  return out;
}

// The words after "cairn": "key add".
std::string PathText(const CommandEntry& e) { return Join(e.path, " "); }

// ---- roff -------------------------------------------------------------

// Text for a roff line: backslashes and minus signs escaped, `code` in
// bold, and a leading dot or quote neutralised.
std::string Roff(std::string_view text) {
  std::string out;
  bool bold = false;
  for (char c : text) {
    if (c == '\\') {
      out += "\\e";
    } else if (c == '-') {
      out += "\\-";
    } else if (c == '`') {
      out += bold ? "\\fR" : "\\fB";
      bold = !bold;
    } else {
      out += c;
    }
  }
  if (bold) out += "\\fR";
  if (!out.empty() && (out[0] == '.' || out[0] == '\'')) out = "\\&" + out;
  return out;
}

// "\fB\-r\fR, \fB\-\-repo\fR \fITEXT\fR" or "\fIpaths\fR ..."
std::string RoffOptionTerm(const CLI::Option* o) {
  if (!o->nonpositional()) {
    std::string name = o->get_name(true, false);
    std::string out = "\\fI" + Roff(name) + "\\fR";
    if (o->get_items_expected_max() > 1) out += " ...";
    return out;
  }
  std::vector<std::string> names;
  for (const std::string& n : Names(o)) names.push_back("\\fB" + Roff(n) + "\\fR");
  std::string out = Join(names, ", ");
  if (TakesValue(o)) {
    out += " \\fI" + ValueName(o) + "\\fR";
    if (o->get_expected_min() == 0) out = out.insert(out.rfind(" \\fI") + 1, "[") + "]";
  }
  return out;
}

// "[--label TEXT] [paths ...]" for a synopsis.
std::string Usage(const CLI::App& app) {
  std::string out;
  for (const CLI::Option* o : VisibleOptions(app)) {
    if (!o->nonpositional()) continue;
    std::string n = Names(o).back();
    if (TakesValue(o)) n += " " + ValueName(o);
    out += " [" + n + "]";
  }
  bool has_subs = false;
  for (const CLI::App* sub : app.get_subcommands({}))
    if (!sub->get_group().empty()) has_subs = true;
  if (has_subs) out += " COMMAND";
  for (const CLI::Option* o : VisibleOptions(app)) {
    if (o->nonpositional()) continue;
    std::string n = o->get_name(true, false);
    if (o->get_items_expected_max() > 1) n += "...";
    out += o->get_required() ? " " + n : " [" + n + "]";
  }
  return out;
}

void RoffOptions(std::ostream& out, const CLI::App& app) {
  for (const CLI::Option* o : VisibleOptions(app)) {
    out << ".TP\n" << RoffOptionTerm(o) << "\n" << Roff(o->get_description()) << "\n";
  }
}

// ---- shells ------------------------------------------------------------

// A word for a shell's single quotes: 'it'\''s'.
std::string ShellQuote(std::string_view s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Descriptions are one line in completion menus: the first clause.
std::string Short(std::string_view s) {
  std::string out(s.substr(0, s.find_first_of(";(")));
  while (!out.empty() && (out.back() == ' ' || out.back() == ',')) out.pop_back();
  return out;
}

// Every command the completions know, the root ("cairn") first.
std::vector<CommandEntry> AllWithRoot(const CLI::App& app) {
  std::vector<CommandEntry> all{CommandEntry{{}, &app}};
  for (CommandEntry& e : VisibleCommands(app)) all.push_back(std::move(e));
  return all;
}

std::vector<std::string> SubcommandNames(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands({}))
    if (!sub->get_group().empty() && !sub->get_disabled()) names.push_back(sub->get_name());
  return names;
}

bool HasPositional(const CLI::App& app) {
  for (const CLI::Option* o : VisibleOptions(app))
    if (!o->nonpositional()) return true;
  return false;
}

// Every option name that takes a value, in any command (to skip values
// when finding the command typed so far).
std::vector<std::string> ValuedNames(const CLI::App& app) {
  std::set<std::string> names;
  for (const CommandEntry& e : AllWithRoot(app))
    for (const CLI::Option* o : VisibleOptions(*e.app))
      if (o->nonpositional() && TakesValue(o))
        for (const std::string& n : Names(o)) names.insert(n);
  return {names.begin(), names.end()};
}

std::string ZshFunctionName(const CommandEntry& e) {
  std::string name = "_cairn";
  for (const std::string& p : e.path) name += "_" + p;
  for (char& c : name)
    if (c == '-') c = '_';
  return name;
}

// An _arguments spec: '--label[a label for the first key]:TEXT:'.
std::string ZshSpec(const std::string& name, const CLI::Option* o) {
  std::string desc;
  for (char c : Short(o->get_description())) {
    if (c == '[' || c == ']' || c == '\\') desc += '\\';
    desc += c;
  }
  std::string spec = name + "[" + desc + "]";
  if (TakesValue(o)) spec += (o->get_expected_min() == 0 ? "::" : ":") + ValueName(o) + ":_files";
  return ShellQuote(spec);
}

}  // namespace

std::vector<CommandEntry> VisibleCommands(const CLI::App& app) {
  std::vector<CommandEntry> out;
  std::vector<std::string> path;
  Collect(app, path, out);
  return out;
}

std::vector<const CLI::Option*> VisibleOptions(const CLI::App& app) {
  const CLI::Option* help = app.get_help_ptr();
  return app.get_options(
      [help](const CLI::Option* o) { return o != help && !o->get_group().empty(); });
}

std::string ManPage(const CLI::App& app, const std::string& version) {
  std::ostringstream out;
  std::string summary = app.get_description();
  if (summary.rfind("cairn: ", 0) == 0) summary = summary.substr(7);
  out << ".\\\" cairn(1), generated by `cairn man` from the command line's own definitions.\n"
      << ".TH CAIRN 1 \"\" \"cairn " << Roff(version) << "\" \"User Commands\"\n"
      << ".SH NAME\ncairn \\- " << Roff(summary) << "\n"
      << ".SH SYNOPSIS\n.B cairn\n[\\fIGLOBAL OPTIONS\\fR] \\fICOMMAND\\fR [\\fIOPTIONS\\fR] "
         "[\\fIARGUMENTS\\fR]\n.br\n.B cairn \\-\\-version\n"
      << ".SH DESCRIPTION\n"
      << "cairn keeps every version of every file, compressed, deduplicated and encrypted, in a "
         "repository on a local disk or in Azure Blob Storage, and restores any of them.\n"
      << ".B cairn run\nprotects folders continuously and serves the dashboard;\n"
      << ".B cairn backup\nand\n.B cairn restore\ndo one job and exit.\n"
      << "Global options are accepted before or after the command.\n"
      << ".SH GLOBAL OPTIONS\n";
  RoffOptions(out, app);
  out << ".SH COMMANDS\n";
  for (const CommandEntry& e : VisibleCommands(app)) {
    out << ".SS \"cairn " << Roff(PathText(e)) << Roff(Usage(*e.app)) << "\"\n"
        << Roff(e.app->get_description()) << "\n";
    RoffOptions(out, *e.app);
  }
  out << ".SH EXIT STATUS\n"
         ".TP\n0\nsuccess\n"
         ".TP\n1\nfailed (bad arguments, repository damaged, disk full, ...)\n"
         ".TP\n3\npartial: some files could not be read (backup) or restored (restore), or a "
         "version segment could not be read and an answer may miss versions\n"
         ".TP\n4\n\\fBstatus\\fR, \\fBpause\\fR, \\fBresume\\fR: no \\fBcairn run\\fR answered\n"
         ".TP\n10\nno repository at the location\n"
         ".TP\n11\nthe repository is locked by another process\n"
         ".TP\n12\nwrong password\n"
         ".TP\n130\ninterrupted (Ctrl\\-C, SIGTERM) at a safe point; what was done is kept\n"
         ".SH ENVIRONMENT\n"
         "CAIRN_REPOSITORY, CAIRN_PASSWORD, BACKUP_ENCRYPTION_KEY, DEVICE_ID, BACKUP_LOG_LEVEL, "
         "AZURE_STORAGE_CONNECTION_STRING, AZURE_CONTAINER_NAME, XDG_DATA_HOME, XDG_CONFIG_HOME, "
         "XDG_CACHE_HOME, XDG_STATE_HOME, XDG_RUNTIME_DIR.\n"
         ".SH FILES\n"
         ".TP\n~/.config/cairn/settings.yaml\nthe settings (an example: "
         "/usr/share/doc/cairn/examples/settings.yaml)\n"
         ".TP\n~/.config/cairn/password\nthe secret generated by an unattended \\fBcairn init\\fR "
         "(mode 0600): keep a copy elsewhere, nothing can be restored without it\n"
         ".TP\n~/.local/share/cairn/repo\nthe default repository\n"
         ".TP\n~/.local/state/cairn/\nthe queue and log of \\fBcairn run\\fR\n"
         ".TP\n/usr/lib/systemd/user/cairn.service\nthe systemd user unit: \\fBsystemctl "
         "\\-\\-user enable \\-\\-now cairn\\fR\n"
         ".SH SEE ALSO\n"
         "/usr/share/doc/cairn/ (the command line in full: cli.md; the REST API: api.md; the "
         "repository format: design.md)\n";
  return out.str();
}

std::string CompletionScript(const CLI::App& app, const std::string& shell) {
  if (shell == "bash") return BashCompletion(app);
  if (shell == "zsh") return ZshCompletion(app);
  if (shell == "fish") return FishCompletion(app);
  return "";
}

std::string BashCompletion(const CLI::App& app) {
  std::ostringstream subs, opts;
  for (const CommandEntry& e : AllWithRoot(app)) {
    const std::string key = Join(e.path, " ").empty() ? "cairn" : "cairn " + Join(e.path, " ");
    if (std::vector<std::string> s = SubcommandNames(*e.app); !s.empty())
      subs << "    [" << ShellQuote(key) << "]=" << ShellQuote(Join(s, " ")) << "\n";
    std::vector<std::string> names;
    for (const CLI::Option* o : VisibleOptions(*e.app))
      if (o->nonpositional())
        for (const std::string& n : Names(o)) names.push_back(n);
    if (e.app == &app) names.push_back("--help");
    opts << "    [" << ShellQuote(key) << "]=" << ShellQuote(Join(names, " ")) << "\n";
  }
  std::ostringstream out;
  out << "# bash completion for cairn: generated by `cairn completion bash` from the command\n"
         "# line's own definitions; do not edit.\n"
         "_cairn() {\n"
         "  local cur=${COMP_WORDS[COMP_CWORD]} prev=\n"
         "  ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}\n"
         "  local -A subs=(\n"
      << subs.str()
      << "  )\n"
         "  local -A opts=(\n"
      << opts.str()
      << "  )\n"
         "  local valued="
      << ShellQuote(" " + Join(ValuedNames(app), " ") + " ")
      << "\n"
         "  # The command typed so far: global options and their values skipped.\n"
         "  local cmd=cairn w i\n"
         "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
         "    w=${COMP_WORDS[i]}\n"
         "    if [[ $w == -* ]]; then\n"
         "      [[ $valued == *\" $w \"* ]] && ((i++))\n"
         "    elif [[ \" ${subs[$cmd]} \" == *\" $w \"* ]]; then\n"
         "      cmd+=\" $w\"\n"
         "    fi\n"
         "  done\n"
         "  COMPREPLY=()\n"
         "  # An option's value: file names (complete -o default).\n"
         "  [[ $prev == -* && $valued == *\" $prev \"* ]] && return 0\n"
         "  if [[ $cur == -* ]]; then\n"
         "    local words=\"${opts[$cmd]}\"\n"
         "    [[ $cmd != cairn ]] && words+=\" ${opts[cairn]}\"\n"
         "    mapfile -t COMPREPLY < <(compgen -W \"$words\" -- \"$cur\")\n"
         "  elif [[ -n ${subs[$cmd]} ]]; then\n"
         "    mapfile -t COMPREPLY < <(compgen -W \"${subs[$cmd]}\" -- \"$cur\")\n"
         "  fi\n"
         "  return 0\n"
         "}\n"
         "complete -o default -F _cairn cairn\n";
  return out.str();
}

std::string ZshCompletion(const CLI::App& app) {
  std::ostringstream out;
  out << "#compdef cairn\n"
         "# zsh completion for cairn: generated by `cairn completion zsh` from the command\n"
         "# line's own definitions; do not edit.\n\n";
  // The global options, accepted after any command too.
  out << "_cairn_global=(\n";
  for (const CLI::Option* o : VisibleOptions(app))
    for (const std::string& n : Names(o)) out << "  " << ZshSpec(n, o) << "\n";
  out << "  '--help[print help]'\n)\n\n";
  std::vector<CommandEntry> all = AllWithRoot(app);
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    const CommandEntry& e = *it;
    out << ZshFunctionName(e) << "() {\n";
    std::vector<std::string> specs;
    if (!e.path.empty())
      for (const CLI::Option* o : VisibleOptions(*e.app))
        if (o->nonpositional())
          for (const std::string& n : Names(o)) specs.push_back(ZshSpec(n, o));
    std::vector<std::string> subs = SubcommandNames(*e.app);
    if (subs.empty()) {
      if (HasPositional(*e.app)) specs.push_back("'*:argument:_files'");
      out << "  _arguments -s \"${_cairn_global[@]}\"";
      for (const std::string& s : specs) out << " \\\n    " << s;
      out << "\n}\n\n";
      continue;
    }
    out << "  local curcontext=$curcontext state line ret=1\n"
           "  _arguments -C \"${_cairn_global[@]}\"";
    for (const std::string& s : specs) out << " \\\n    " << s;
    out << " \\\n    '1:command:->command' '*::argument:->argument' && ret=0\n"
           "  case $state in\n"
           "    command)\n"
           "      local -a commands=(\n";
    for (const CLI::App* sub : e.app->get_subcommands({})) {
      if (sub->get_group().empty() || sub->get_disabled()) continue;
      out << "        " << ShellQuote(sub->get_name() + ":" + Short(sub->get_description()))
          << "\n";
    }
    out << "      )\n"
           "      _describe -t commands command commands && ret=0\n"
           "      ;;\n"
           "    argument)\n"
           "      case $words[1] in\n";
    for (const std::string& s : subs) {
      CommandEntry child{e.path, nullptr};
      child.path.push_back(s);
      out << "        " << s << ") " << ZshFunctionName(child) << " && ret=0 ;;\n";
    }
    out << "      esac\n"
           "      ;;\n"
           "  esac\n"
           "  return ret\n"
           "}\n\n";
  }
  out << "_cairn \"$@\"\n";
  return out.str();
}

std::string FishCompletion(const CLI::App& app) {
  std::ostringstream out;
  out << "# fish completion for cairn: generated by `cairn completion fish` from the command\n"
         "# line's own definitions; do not edit.\n\n"
         "# The command typed so far (\"cairn\", \"cairn key\"): options and their values "
         "skipped.\n"
         "function __cairn_path\n"
         "    set -l valued";
  for (const std::string& n : ValuedNames(app)) out << " -- " << ShellQuote(n);
  out << "\n"
         "    set -l path cairn\n"
         "    set -l skip 0\n"
         "    for t in (commandline -opc)[2..-1]\n"
         "        if test $skip = 1\n"
         "            set skip 0\n"
         "        else if string match -q -- '-*' $t\n"
         "            contains -- $t $valued; and set skip 1\n"
         "        else if contains -- $t (__cairn_subcommands $path)\n"
         "            set path \"$path $t\"\n"
         "        end\n"
         "    end\n"
         "    echo $path\n"
         "end\n\n"
         "function __cairn_subcommands\n"
         "    switch $argv[1]\n";
  std::vector<CommandEntry> all = AllWithRoot(app);
  for (const CommandEntry& e : all) {
    std::vector<std::string> subs = SubcommandNames(*e.app);
    if (subs.empty()) continue;
    std::string key = e.path.empty() ? "cairn" : "cairn " + Join(e.path, " ");
    out << "        case " << ShellQuote(key) << "\n            printf '%s\\n'";
    for (const std::string& s : subs) out << " " << s;
    out << "\n";
  }
  out << "    end\n"
         "end\n\n"
         "function __cairn_at\n"
         "    test (__cairn_path) = \"$argv[1]\"\n"
         "end\n\n";
  for (const CommandEntry& e : all) {
    std::string key = e.path.empty() ? "cairn" : "cairn " + Join(e.path, " ");
    std::string cond = "-n \"__cairn_at '" + key + "'\"";
    for (const CLI::App* sub : e.app->get_subcommands({})) {
      if (sub->get_group().empty() || sub->get_disabled()) continue;
      out << "complete -c cairn " << cond << " -f -a " << sub->get_name() << " -d "
          << ShellQuote(Short(sub->get_description())) << "\n";
    }
    for (const CLI::Option* o : VisibleOptions(*e.app)) {
      if (!o->nonpositional()) continue;
      // The global options apply after any command.
      out << "complete -c cairn" << (e.path.empty() ? std::string() : " " + cond);
      for (const std::string& s : o->get_snames()) out << " -s " << s;
      for (const std::string& l : o->get_lnames()) out << " -l " << l;
      if (TakesValue(o)) out << " -r";
      out << " -d " << ShellQuote(Short(o->get_description())) << "\n";
    }
  }
  return out.str();
}

}  // namespace cairn::cli
