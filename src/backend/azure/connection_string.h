// Parsing of Azure Storage connection strings, as the Azure portal gives
// them ("DefaultEndpointsProtocol=https;AccountName=...;AccountKey=...;
// EndpointSuffix=core.windows.net"), into what the blob client needs.
//
// Recognised keys (case-insensitive; others, such as QueueEndpoint, are
// ignored): DefaultEndpointsProtocol, AccountName, AccountKey,
// EndpointSuffix, BlobEndpoint, SharedAccessSignature,
// UseDevelopmentStorage. Error messages never repeat the AccountKey or the
// SharedAccessSignature (nor any part that failed to parse, which could be
// a piece of one).
// Thread-safety: values and a pure function.
#pragma once

#include <string>
#include <string_view>

#include "base/bytes.h"

namespace cairn::backend::azure {

// The well-known development storage account (Azurite, the emulator).
inline constexpr std::string_view kDevStoreAccount = "devstoreaccount1";
inline constexpr std::string_view kDevStoreKey =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

struct AzureConnection {
  // "https://ACCOUNT.blob.core.windows.net" or, path style,
  // "http://127.0.0.1:10000/devstoreaccount1"; no trailing '/'.
  std::string blob_endpoint;
  std::string account_name;  // may be empty with a SAS and a BlobEndpoint
  Bytes account_key;         // decoded; empty when a SAS is used
  std::string sas;           // the token without a leading '?'; empty for Shared Key

  bool UsesSas() const { return !sas.empty(); }
};

// InvalidArgument (naming the key at fault, never a secret value) when the
// string is malformed or incomplete: Shared Key needs AccountName and
// AccountKey; a SAS needs BlobEndpoint or AccountName; when both a key and a
// SAS are given, the SAS is used.
Result<AzureConnection> ParseConnectionString(std::string_view text);

}  // namespace cairn::backend::azure
