// Opening a repository location: a registry from a location's scheme to the
// backend that serves it ("azure://container/prefix" -> Azure Blob Storage; a
// plain path or "local:PATH" -> a local folder). Each backend parses its own
// location and reads its own settings; the generic layer knows none of them.
// Thread-safety: a Registry is filled before use and then only read.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"

namespace cairn::backend {

// What opening a location may take besides the location itself.
struct OpenOptions {
  // Understood by every remote backend (a local folder ignores them).
  // Requests in flight per object upload and idle connections kept; 0 = the
  // backend's default.
  int connections = 0;
  // Bandwidth limits over all connections, KiB/s; 0 = unlimited.
  uint64_t limit_upload_kib = 0, limit_download_kib = 0;
  // A transfer that moves no byte for this long is abandoned and retried;
  // 0 = the backend's default.
  int stall_timeout_seconds = 0;
  // Settings of particular backends, named "<scheme>.<key>" (see each
  // backend's factory, e.g. "azure.connection_string", "azure.access_tier").
  // A backend reads only its own keys. Values may be secrets: never shown.
  std::map<std::string, std::string> settings;

  // The setting `name`, or "" when absent.
  std::string Setting(const std::string& name) const;
};

class Registry {
 public:
  using Factory = std::function<Result<std::shared_ptr<Backend>>(const std::string& location,
                                                                 const OpenOptions& options)>;
  // Serves locations "<scheme>://..."; the scheme "" serves plain paths
  // (and "local:PATH"). `form` is shown in errors, e.g. "azure://CONTAINER[/PREFIX]".
  void Add(std::string scheme, std::string form, Factory factory);
  // InvalidArgument for an empty location or an unknown scheme (naming the
  // known forms); else whatever the backend's factory returns.
  Result<std::shared_ptr<Backend>> Open(const std::string& location,
                                        const OpenOptions& options) const;

 private:
  struct Entry {
    std::string form;
    Factory factory;
  };
  std::map<std::string, Entry> by_scheme_;
};

// The backends built into cairn: local folders and Azure Blob Storage.
const Registry& BuiltinBackends();

// BuiltinBackends().Open(location, options).
Result<std::shared_ptr<Backend>> OpenBackend(const std::string& location,
                                             const OpenOptions& options = {});

}  // namespace cairn::backend
