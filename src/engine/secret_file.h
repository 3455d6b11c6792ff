// The repository secret kept in a file (`cairn init` unattended, `cairn
// setup`): how a random one is made and how the file is created.
// Thread-safety: free functions; CreateSecretFile is safe against a
// concurrent creator of the same path (one wins, the other gets
// AlreadyExists).
#pragma once

#include <string>

#include "base/status.h"

namespace cairn::engine {

// A fresh random secret: 32 random bytes in base64 (what an unattended
// `cairn init` generates).
std::string NewRandomSecret();

// Creates `path` holding `secret` and a newline, mode 0600, its folder made
// (0700) when missing. Never replaces a file: AlreadyExists when `path`
// exists. Atomic: the text goes to a temporary file in the same folder,
// fsynced, which is then hard-linked to `path` (so no reader ever sees a
// partial secret) and removed; the folder is fsynced.
Status CreateSecretFile(const std::string& path, const std::string& secret);

}  // namespace cairn::engine
