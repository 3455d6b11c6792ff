#include "base/bytes.h"

#include <gtest/gtest.h>

namespace cairn {
namespace {

TEST(BytesTest, HexRoundTrip) {
  Bytes b = {0x00, 0x01, 0xab, 0xff};
  EXPECT_EQ(HexEncode(b), "0001abff");
  auto back = HexDecode("0001ABff");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, b);
  EXPECT_FALSE(HexDecode("abc").ok());
  EXPECT_FALSE(HexDecode("zz").ok());
}

TEST(BytesTest, Base64RoundTripAllLengths) {
  for (size_t n = 0; n < 20; ++n) {
    Bytes b;
    for (size_t i = 0; i < n; ++i) b.push_back(static_cast<uint8_t>(i * 37 + 5));
    auto back = Base64Decode(Base64Encode(b));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, b) << n;
  }
  EXPECT_EQ(Base64Encode(AsBytes("foobar")), "Zm9vYmFy");
  EXPECT_EQ(Base64Encode(AsBytes("fo")), "Zm8=");
}

TEST(BytesTest, LittleEndian) {
  Bytes out;
  PutU32(out, 0x01020304);
  PutU64(out, 0x1122334455667788ULL);
  EXPECT_EQ(out[0], 0x04);
  EXPECT_EQ(GetU32(out.data()), 0x01020304u);
  EXPECT_EQ(GetU64(out.data() + 4), 0x1122334455667788ULL);
}

TEST(BytesTest, IdHex) {
  Id id;
  id.bytes[0] = 0xde;
  id.bytes[31] = 0x01;
  auto back = Id::FromHex(id.Hex());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, id);
  EXPECT_FALSE(Id::FromHex("00").ok());
  EXPECT_FALSE(id.IsZero());
  EXPECT_TRUE(Id{}.IsZero());
}

}  // namespace
}  // namespace cairn
