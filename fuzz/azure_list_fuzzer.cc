// One page of the blob service's List Blobs answer
// (backend/azure/blob_list.h): XML from the network, through any proxy.
//
// Input: the page's text.
// Properties: the names reported are exactly the <Name>s of the closed
// <Blob> elements, in order, unescaped; a page that is refused as cut
// reports it as retryable (Unavailable); the unescaper never makes text
// longer than its input.
#include <cstddef>
#include <cstdint>

#include "backend/azure/blob_list.h"
#include "fuzz/fuzz_util.h"

using namespace cairn;
using namespace cairn::backend::azure;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string xml = fuzz::AsText(data, size);
  std::vector<std::string> names;
  std::string marker;
  Status st = ParseBlobListPage(
      xml, "azure://fuzz",
      [&](const std::string& name, const backend::ObjectInfo& info) {
        names.push_back(name);
        FUZZ_CHECK(info.name.name.empty());
        return Status::OK();
      },
      &marker);
  if (!st.ok()) FUZZ_CHECK(st.code() == StatusCode::kUnavailable && st.retryable());
  FUZZ_CHECK(XmlUnescape(xml).size() <= xml.size());
  FUZZ_CHECK(marker.size() <= xml.size());
  // Stopping at the callback's first error: at most one name is reported.
  size_t calls = 0;
  Status stopped = ParseBlobListPage(
      xml, "azure://fuzz",
      [&](const std::string&, const backend::ObjectInfo&) {
        ++calls;
        return Status::IOError("stop");
      },
      &marker);
  FUZZ_CHECK(calls <= 1);
  if (calls == 1) FUZZ_CHECK(stopped.code() == StatusCode::kIOError);
  if (st.ok()) FUZZ_CHECK(calls == (names.empty() ? 0u : 1u));
  return 0;
}
