#!/usr/bin/env bash
# The generated completions (cmd/cairn/cli_docs.h) in the real shells: bash's
# completion function called as bash-completion calls it (COMP_WORDS,
# COMP_CWORD), then fish's `complete -C` and zsh's parser where those shells
# are installed (scripts/lib.sh installs them for the test run).
#
# usage: completions_test.sh DIR   (DIR holds cairn.bash, _cairn, cairn.fish)
set -u
dir=$1
failed=0
fail() { echo "FAIL: $*" >&2; failed=1; }

# complete WORD... : what _cairn offers for the last word.
complete_bash() {
  bash -c '
    source "$1"; shift
    COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
    _cairn
    ((${#COMPREPLY[@]} == 0)) || printf "%s\n" "${COMPREPLY[@]}"' bash "$dir/cairn.bash" "$@"
}
expect_bash() {  # expect_bash "WANTED..." WORD...
  local want=$1
  shift
  local got
  got=$(complete_bash "$@" | sort | tr '\n' ' ')
  [[ "$got" == "$want" ]] || fail "bash: cairn ${*:2}: got '$got', want '$want'"
}

bash -n "$dir/cairn.bash" || fail "bash: syntax"
bash -c 'source "$1"; complete -p cairn' bash "$dir/cairn.bash" | grep -q -- '-F _cairn cairn' ||
  fail "bash: no complete -F _cairn cairn"
expect_bash "backup " cairn ba
expect_bash "add list passwd remove " cairn key ""
expect_bash "remove " cairn key re
expect_bash "--overwrite " cairn restore --ov
# Global options after the command, and their values skipped.
expect_bash "--password-file " cairn backup --passw
expect_bash "backup " cairn -r /tmp/repo ba
# (A value that is also a command's name is not taken for the command.)
expect_bash "backup " cairn --device key ba
# A subcommand's own options.
expect_bash "--label " cairn key add --la
# An option's value and a command's arguments: file names (complete -o default).
expect_bash "" cairn --config ""
expect_bash "" cairn backup ""
# Hidden commands are not offered.
expect_bash "" cairn complet

if command -v fish >/dev/null; then
  fish_complete() { fish --no-config -c "source '$dir/cairn.fish'; complete -C '$1'" | cut -f1 | sort | tr '\n' ' '; }
  fish --no-execute "$dir/cairn.fish" || fail "fish: syntax"
  [[ "$(fish_complete 'cairn ba')" == "backup " ]] || fail "fish: cairn ba: $(fish_complete 'cairn ba')"
  [[ "$(fish_complete 'cairn key ')" == "add list passwd remove " ]] ||
    fail "fish: cairn key: $(fish_complete 'cairn key ')"
  [[ "$(fish_complete 'cairn -r /tmp/x restore --ov')" == "--overwrite " ]] ||
    fail "fish: restore --ov: $(fish_complete 'cairn -r /tmp/x restore --ov')"
else
  echo "fish not installed: its completions not run"
fi

if command -v zsh >/dev/null; then
  zsh -n "$dir/_cairn" || fail "zsh: syntax"
  # Loaded by compinit from a folder in fpath, as vendor-completions is. -D: no
  # dump file (`-d /dev/null` made zsh replace /dev/null with a regular file).
  zsh -f -c "fpath=('$dir' \$fpath); autoload -Uz compinit; compinit -u -D;
    [[ \${_comps[cairn]} == _cairn ]]" || fail "zsh: compinit does not register _cairn for cairn"
else
  echo "zsh not installed: its completions not run"
fi

[[ $failed -eq 0 ]] && echo "completions OK"
exit $failed
