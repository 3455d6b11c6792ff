// What `cairn run` and `cairn serve` print about the dashboard.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <string>

#include "web/server.h"

namespace cairn::cli {

// The dashboard's address and, on a terminal, the login link (it holds the
// access token, as Jupyter's does). Not on a log or journal: a secret
// never goes there; the token file is named instead.
inline void PrintLoginLink(const web::Server& server, const char* who) {
  if (::isatty(STDERR_FILENO)) {
    std::fprintf(stderr,
                 "%s: the dashboard is at %s\n  open this link to log in: %s\n"
                 "  (the access token is in %s; Ctrl-C stops)\n",
                 who, server.url().c_str(), server.login_url().c_str(),
                 server.token_file().c_str());
  } else {
    std::fprintf(stderr, "%s: the dashboard is at %s; log in with the access token in %s\n", who,
                 server.url().c_str(), server.token_file().c_str());
  }
}

}  // namespace cairn::cli
