#include "backend/azure/blob_list.h"

#include <gtest/gtest.h>

#include <vector>

namespace cairn::backend::azure {
namespace {

TEST(BlobListTest, APageGivesItsBlobsInOrderAndTheNextMarker) {
  std::vector<std::pair<std::string, ObjectInfo>> blobs;
  std::string marker;
  Status st = ParseBlobListPage(
      "<Blobs><Blob><Name>a&amp;b</Name><Properties><Content-Length>12</Content-Length>"
      "<Etag>\"0x1\"</Etag><Last-Modified>Mon, 30 Nov 2026 18:00:00 GMT</Last-Modified>"
      "</Properties></Blob><Blob><Properties/></Blob><Blob><Name>c&#x41;</Name></Blob></Blobs>"
      "<NextMarker>m&lt;</NextMarker>",
      "azure://c",
      [&](const std::string& name, ObjectInfo info) {
        blobs.emplace_back(name, std::move(info));
        return Status::OK();
      },
      &marker);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_EQ(blobs.size(), 2u);
  EXPECT_EQ(blobs[0].first, "a&b");
  EXPECT_EQ(blobs[0].second.size, 12u);
  EXPECT_EQ(blobs[0].second.etag, "0x1");
  EXPECT_EQ(blobs[0].second.mtime, 1'796'061'600'000'000'000);
  EXPECT_EQ(blobs[1].first, "cA");
  EXPECT_EQ(marker, "m<");
}

TEST(BlobListTest, AnAnswerCutInsideABlobIsRetryable) {
  std::string marker;
  Status st = ParseBlobListPage(
      "<Blobs><Blob><Name>a</Name>", "azure://c",
      [](const std::string&, const ObjectInfo&) { return Status::OK(); }, &marker);
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_TRUE(st.retryable());
  EXPECT_NE(st.message().find("azure://c"), std::string::npos);
}

// Issue 15 (fuzz/regressions/azure_list): a Last-Modified after 2262
// overflowed the conversion to nanoseconds; it is unknown (0) instead.
TEST(BlobListTest, ADateBeyondTheNanosecondRangeIsUnknown) {
  EXPECT_EQ(MtimeFromHttpDate("Fri, 31 Dec 9999 23:59:59 GMT"), 0);
  EXPECT_EQ(MtimeFromHttpDate("Mon, 01 Jan 7374 00:00:00 GMT"), 0);
  EXPECT_EQ(MtimeFromHttpDate("not a date"), 0);
  EXPECT_EQ(MtimeFromHttpDate("Thu, 01 Jan 1970 00:00:01 GMT"), 1'000'000'000);
}

}  // namespace
}  // namespace cairn::backend::azure
