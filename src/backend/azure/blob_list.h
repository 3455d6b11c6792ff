// The answers of the blob service's List Blobs, as text: one page of the XML
// listing into (blob name, ObjectInfo) pairs and the marker of the next
// page. Kept apart from the client so that the parser of these untrusted
// bytes is tested and fuzzed alone (fuzz/azure_list_fuzzer.cc).
// Thread-safety: pure functions.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "backend/backend.h"

namespace cairn::backend::azure {

// XML's five entities and numeric character references (&#65; &#x41;,
// taken as one byte); anything else is kept as it is.
std::string XmlUnescape(std::string_view s);

// The text of the first <tag>...</tag> in `xml`, or nullopt.
std::optional<std::string_view> XmlElement(std::string_view xml, std::string_view tag);

// Etags travel quoted in headers and unquoted in listings; stored unquoted.
std::string Unquote(std::string etag);

// Last-Modified as ObjectInfo::mtime; 0 (unknown) when it does not parse.
int64_t MtimeFromHttpDate(std::string_view text);

// Calls fn(blob name, info: size, etag, MD5, Last-Modified, access tier;
// info.name left empty) for each <Blob> of one page of a List Blobs answer
// that has a <Name>, in order, and sets *next_marker to the page's
// NextMarker ("" on the last page). Stops at fn's first error and returns
// it; Unavailable (retryable: the answer was cut) naming `location` when a
// <Blob> is not closed.
Status ParseBlobListPage(std::string_view xml, std::string_view location,
                         const std::function<Status(const std::string&, ObjectInfo)>& fn,
                         std::string* next_marker);

}  // namespace cairn::backend::azure
