// Opening "azure://CONTAINER[/PREFIX]" from the registry: the Azure backend's
// own settings, read from OpenOptions.
#include <algorithm>

#include "backend/azure/azure_backend.h"
#include "backend/azure/connection_string.h"
#include "backend/registry.h"
#include "backend/retry_backend.h"

namespace cairn::backend::azure {

Result<std::shared_ptr<Backend>> OpenAzureLocation(const std::string& location,
                                                   const OpenOptions& options) {
  CAIRN_ASSIGN_OR_RETURN(auto where, ParseAzureLocation(location));
  std::string connection_string = options.Setting("azure.connection_string");
  if (connection_string.empty()) {
    return Status::InvalidArgument(
        location +
        " needs the storage account's connection string: set AZURE_STORAGE_CONNECTION_STRING "
        "(Azure portal, storage account, \"Access keys\")");
  }
  CAIRN_ASSIGN_OR_RETURN(AzureConnection conn, ParseConnectionString(connection_string));
  AzureOptions azure_options;
  azure_options.pack_access_tier = options.Setting("azure.access_tier");
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
  CAIRN_ASSIGN_OR_RETURN(std::shared_ptr<AzureBackend> backend,
                         AzureBackend::Open(std::move(conn), std::move(where.first),
                                            std::move(where.second), azure_options));
  return std::shared_ptr<Backend>(std::make_shared<RetryBackend>(std::move(backend)));
}

}  // namespace cairn::backend::azure
