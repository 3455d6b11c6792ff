// The service's environment file (~/.config/cairn/cairn.env): the original
// design's `.env`, read by systemd's EnvironmentFile= (and by a shell with
// `set -a; . FILE`). One NAME=value per line; lines starting with '#' or ';'
// and blank lines are comments. It holds secrets (an Azure connection
// string), so it is always written 0600, atomically.
//
// Values are written plain when they hold only characters no reader treats
// specially, else in single quotes (systemd and sh both take the text
// between them literally); a value holding a single quote, a newline or a
// control character is refused.
//
// Thread-safety: pure functions, except WriteEnvFile (one file per caller).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "config/private_file.h"

namespace cairn::config {

// NAME -> value of the assignments in `text` (quotes removed; a later line
// wins). Lines that are not assignments are skipped.
std::map<std::string, std::string> ParseEnvFileText(std::string_view text);

// `value` as written after "NAME=": plain or single-quoted.
// InvalidArgument for a value that cannot be written safely.
Result<std::string> QuoteEnvValue(std::string_view value);

// One variable's new value; nullopt removes it.
using EnvChange = std::pair<std::string, std::optional<std::string>>;

// `text` with `changes` applied: an assignment of a changed name is replaced
// in place (later duplicates removed), a new one appended at the end; every
// other line (comments, other variables) is kept byte for byte.
// InvalidArgument for a name that is not [A-Za-z_][A-Za-z0-9_]* or a value
// QuoteEnvValue refuses.
Result<std::string> EditEnvFileText(std::string_view text, const std::vector<EnvChange>& changes);

// WritePrivateFile (the service's environment file is one): config/private_file.h.

}  // namespace cairn::config
