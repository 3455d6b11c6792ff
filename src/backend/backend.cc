#include "backend/backend.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "backend/azure/azure_backend.h"
#include "backend/azure/connection_string.h"
#include "backend/local/local_backend.h"
#include "backend/retry_backend.h"

namespace cairn::backend {

std::string ContentMd5(ByteView data) {
  uint8_t md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), md, &n, EVP_md5(), nullptr);
  return Base64Encode(ByteView(md, n));
}

std::string_view ObjectTypeDir(ObjectType t) {
  switch (t) {
    case ObjectType::kConfig:
      return "config";
    case ObjectType::kKey:
      return "keys";
    case ObjectType::kPack:
      return "data";
    case ObjectType::kIndex:
      return "index";
    case ObjectType::kVersions:
      return "versions";
    case ObjectType::kLock:
      return "locks";
  }
  return "unknown";
}

std::string ObjectName::Path() const {
  if (type == ObjectType::kConfig) return "config";
  std::string path(ObjectTypeDir(type));
  path += '/';
  if (type == ObjectType::kPack) {
    // Packs are spread over 256 subdirectories by the first two hex digits of
    // their ID so no directory grows past a few thousand entries.
    path += std::string_view(name).substr(0, 2);
    path += '/';
  }
  path += name;
  return path;
}

namespace {

// "scheme://..." with an alphanumeric scheme; a Windows drive ("C:\") or a
// plain path never matches.
std::string_view UrlScheme(std::string_view location) {
  size_t pos = location.find("://");
  if (pos == std::string_view::npos || pos == 0) return {};
  for (char c : location.substr(0, pos)) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') return {};
  }
  return location.substr(0, pos);
}

}  // namespace

BackendOptions BackendOptions::FromEnvironment() {
  BackendOptions options;
  if (const char* cs = std::getenv("AZURE_STORAGE_CONNECTION_STRING")) {
    options.azure_connection_string = cs;
  }
  return options;
}

Result<std::shared_ptr<Backend>> OpenBackend(const std::string& location) {
  return OpenBackend(location, BackendOptions::FromEnvironment());
}

namespace {

Result<std::shared_ptr<Backend>> OpenAzure(const std::string& location,
                                           const BackendOptions& options) {
  CAIRN_ASSIGN_OR_RETURN(auto where, azure::ParseAzureLocation(location));
  if (options.azure_connection_string.empty()) {
    return Status::InvalidArgument(
        location +
        " needs the storage account's connection string: set AZURE_STORAGE_CONNECTION_STRING "
        "(Azure portal, storage account, \"Access keys\")");
  }
  CAIRN_ASSIGN_OR_RETURN(azure::AzureConnection conn,
                         azure::ParseConnectionString(options.azure_connection_string));
  azure::AzureOptions azure_options;
  azure_options.pack_access_tier = options.azure_access_tier;
  if (options.connections > 0) {
    azure_options.block_parallelism = options.connections;
    azure_options.pack_uploads = std::min(options.connections, 4);
    azure_options.http.max_idle_handles = static_cast<size_t>(options.connections) * 2;
  }
  azure_options.http.upload_limit_bytes_per_s = options.limit_upload_kib * 1024;
  azure_options.http.download_limit_bytes_per_s = options.limit_download_kib * 1024;
  if (options.stall_timeout_seconds > 0) {
    azure_options.http.stall_timeout = std::chrono::seconds(options.stall_timeout_seconds);
  }
  CAIRN_ASSIGN_OR_RETURN(std::shared_ptr<azure::AzureBackend> backend,
                         azure::AzureBackend::Open(std::move(conn), std::move(where.first),
                                                   std::move(where.second), azure_options));
  return std::shared_ptr<Backend>(std::make_shared<RetryBackend>(std::move(backend)));
}

}  // namespace

Result<std::shared_ptr<Backend>> OpenBackend(const std::string& location,
                                             const BackendOptions& options) {
  std::string_view loc = location;
  if (loc.empty()) {
    return Status::InvalidArgument("no repository location given: pass a directory path");
  }
  std::string_view scheme = UrlScheme(loc);
  if (scheme == "azure") return OpenAzure(location, options);
  if (!scheme.empty()) {
    return Status::InvalidArgument("unknown repository location scheme \"" + std::string(scheme) +
                                   "://\" in \"" + location +
                                   "\": use a directory path or azure://CONTAINER[/PREFIX]");
  }
  if (loc.starts_with("local:")) loc.remove_prefix(6);
  if (loc.empty()) {
    return Status::InvalidArgument("\"local:\" needs a directory path after it");
  }
  CAIRN_ASSIGN_OR_RETURN(std::shared_ptr<LocalBackend> local, LocalBackend::Open(std::string(loc)));
  return std::shared_ptr<Backend>(std::move(local));
}

}  // namespace cairn::backend
