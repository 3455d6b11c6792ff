// File helpers for tests: make folders, write, append, patch and read files.
// Test-only.
//
// A failed system call is a set-up error, not a result under test: it is
// reported as a test failure (ADD_FAILURE, with the path and the errno text)
// and the helper returns (ReadFile then returns ""), so that one broken test
// does not take the rest of the binary down with it.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace cairn::testing {

// mkdir -p: every missing folder of `path` is made with `mode` (less umask).
void MakeDirs(const std::string& path, mode_t mode = 0755);
// Creates or truncates `path` (never through a symlink: O_NOFOLLOW), makes
// its missing parent folders (0755), writes `data` and sets exactly `mode`.
void WriteFile(const std::string& path, std::string_view data, mode_t mode = 0644);
// Appends to an existing file.
void AppendFile(const std::string& path, std::string_view data);
// Overwrites bytes at `offset` of an existing file without truncating it.
void PatchFile(const std::string& path, uint64_t offset, std::string_view data);
// The whole content of a file ("" and a test failure when it cannot be read).
std::string ReadFile(const std::string& path);
// lstat succeeds (a dangling symlink exists).
bool Exists(const std::string& path);

// Escapes bytes outside printable ASCII as \xNN, for messages.
std::string Printable(std::string_view s);

}  // namespace cairn::testing
