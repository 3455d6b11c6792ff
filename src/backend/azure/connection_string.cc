#include "backend/azure/connection_string.h"

#include <algorithm>
#include <cctype>
#include <map>

namespace cairn::backend::azure {

namespace {

// True for "http://host..." / "https://host..." with a non-empty host.
bool IsHttpUrl(std::string_view url) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (url.size() > scheme.size() && AsciiLower(url.substr(0, scheme.size())) == scheme &&
        url[scheme.size()] != '/')
      return true;
  }
  return false;
}

// Account names: 3-24 lower-case letters and digits (the emulator's too).
bool ValidAccountName(std::string_view name) {
  if (name.size() < 3 || name.size() > 24) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); });
}

}  // namespace

Result<AzureConnection> ParseConnectionString(std::string_view text) {
  const std::string where = "Azure connection string: ";
  std::map<std::string, std::string> fields;  // lower-cased key -> value
  size_t part = 0;
  while (!text.empty()) {
    size_t semi = text.find(';');
    std::string_view item = TrimSpace(text.substr(0, semi));
    text = semi == std::string_view::npos ? std::string_view() : text.substr(semi + 1);
    ++part;
    if (item.empty()) continue;  // a trailing or doubled ';'
    size_t eq = item.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return Status::InvalidArgument(where + "part " + std::to_string(part) +
                                     " is not NAME=VALUE (parts are separated by ';')");
    }
    std::string key = AsciiLower(TrimSpace(item.substr(0, eq)));
    std::string value(TrimSpace(item.substr(eq + 1)));  // keys end in '=': split at the first one
    if (fields.count(key) != 0) {
      return Status::InvalidArgument(where + std::string(TrimSpace(item.substr(0, eq))) +
                                     " is given twice");
    }
    fields[key] = std::move(value);
  }
  auto get = [&](const char* key) -> std::string {
    auto it = fields.find(key);
    return it == fields.end() ? std::string() : it->second;
  };

  AzureConnection conn;
  std::string protocol = AsciiLower(get("defaultendpointsprotocol"));
  std::string dev = AsciiLower(get("usedevelopmentstorage"));
  if (!dev.empty() && dev != "true" && dev != "false") {
    return Status::InvalidArgument(where + "UseDevelopmentStorage must be true or false");
  }
  if (dev == "true") {
    // The emulator's published account, on its default port; a different
    // port needs an explicit BlobEndpoint.
    conn.account_name = std::string(kDevStoreAccount);
    conn.blob_endpoint = "http://127.0.0.1:10000/" + std::string(kDevStoreAccount);
    conn.account_key = *Base64Decode(kDevStoreKey);
  }
  if (!protocol.empty() && protocol != "https" && protocol != "http") {
    return Status::InvalidArgument(where + "DefaultEndpointsProtocol must be https or http");
  }
  if (std::string name = get("accountname"); !name.empty()) conn.account_name = name;
  if (!conn.account_name.empty() && !ValidAccountName(conn.account_name)) {
    return Status::InvalidArgument(where + "AccountName \"" + conn.account_name +
                                   "\" is not 3-24 lower-case letters and digits");
  }
  if (std::string key = get("accountkey"); !key.empty()) {
    Result<Bytes> decoded = Base64Decode(key);
    if (!decoded.ok() || decoded->empty()) {
      return Status::InvalidArgument(where +
                                     "AccountKey is not valid base64 (copy it again from "
                                     "the portal's \"Access keys\" page)");
    }
    conn.account_key = std::move(*decoded);
  }
  if (std::string sas = get("sharedaccesssignature"); !sas.empty()) {
    if (sas.front() == '?') sas.erase(0, 1);
    if (sas.find("sig=") == std::string::npos) {
      return Status::InvalidArgument(where + "SharedAccessSignature has no sig= parameter");
    }
    conn.sas = std::move(sas);
    conn.account_key.clear();  // a SAS wins over a key: it is the narrower grant
  }

  if (std::string endpoint = get("blobendpoint"); !endpoint.empty()) {
    if (endpoint.find('?') != std::string::npos) {
      // A query here could be a SAS pasted into the wrong field: not echoed.
      return Status::InvalidArgument(
          where + "BlobEndpoint must not contain '?': put a SAS in SharedAccessSignature");
    }
    if (!IsHttpUrl(endpoint)) {
      return Status::InvalidArgument(where + "BlobEndpoint \"" + endpoint +
                                     "\" is not an http:// or https:// URL");
    }
    while (endpoint.back() == '/') endpoint.pop_back();
    conn.blob_endpoint = std::move(endpoint);
  } else if (conn.blob_endpoint.empty()) {
    if (conn.account_name.empty()) {
      return Status::InvalidArgument(where + "needs AccountName (or BlobEndpoint)");
    }
    std::string suffix = get("endpointsuffix");
    if (suffix.empty()) suffix = "core.windows.net";
    while (!suffix.empty() && suffix.front() == '.') suffix.erase(0, 1);
    while (!suffix.empty() && suffix.back() == '/') suffix.pop_back();
    if (suffix.find_first_of("/?#@ \t") != std::string::npos) {
      return Status::InvalidArgument(where +
                                     "EndpointSuffix must be a host name suffix such as "
                                     "core.windows.net (no '/', '?', '#', '@' or spaces)");
    }
    if (suffix.empty()) suffix = "core.windows.net";
    conn.blob_endpoint =
        (protocol.empty() ? "https" : protocol) + "://" + conn.account_name + ".blob." + suffix;
  }

  if (!conn.UsesSas()) {
    if (conn.account_key.empty()) {
      return Status::InvalidArgument(where +
                                     "needs AccountKey or SharedAccessSignature for authorization");
    }
    if (conn.account_name.empty()) {
      return Status::InvalidArgument(where + "AccountKey needs AccountName beside it");
    }
  }
  return conn;
}

}  // namespace cairn::backend::azure
