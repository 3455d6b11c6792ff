// The CBOR reader (repo/cbor.h) on its own: any bytes, read as a program
// of reads chosen by the input's first byte(s), never crash or read past
// the end; and values written by CborWriter read back the same.
//
// Input: a selector byte, then
//   even: CBOR bytes; the reader skips items (the forward-compatibility
//         path) and, on a second pass, reads them by the types their heads
//         name;
//   odd:  integers, strings and booleans taken from the input, written with
//         CborWriter and read back (round trip).
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>

#include "fuzz/fuzz_util.h"
#include "repo/cbor.h"

using namespace cairn;

namespace {

// Reads one item the way a decoder does, by the type its head names.
Status ReadOne(repo::CborReader& r, uint8_t first) {
  switch (first >> 5) {
    case 0:
      return r.Uint().status();
    case 1:
      return r.Int().status();
    case 2:
      return r.ByteString().status();
    case 3:
      return r.Text().status();
    case 4: {
      CAIRN_ASSIGN_OR_RETURN(uint64_t n, r.Array());
      for (uint64_t i = 0; i < n; ++i) CAIRN_RETURN_IF_ERROR(r.Skip());
      return Status::OK();
    }
    case 5: {
      CAIRN_ASSIGN_OR_RETURN(uint64_t n, r.Map());
      for (uint64_t i = 0; i < 2 * n; ++i) CAIRN_RETURN_IF_ERROR(r.Skip());
      return Status::OK();
    }
    case 7:
      return r.Bool().status();
    default:
      return r.Skip();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  if ((data[0] & 1) == 0) {
    ByteView in(data + 1, size - 1);
    repo::CborReader skipper(in);
    int items = 0;
    while (!skipper.AtEnd() && items++ < 10000)
      if (!skipper.Skip().ok()) break;
    repo::CborReader reader(in);
    if (!in.empty()) (void)ReadOne(reader, in[0]);
    return 0;
  }
  FuzzedDataProvider in(data + 1, size - 1);
  struct Value {
    int kind;
    uint64_t u;
    int64_t i;
    std::string s;
    bool b;
  };
  std::vector<Value> values;
  Bytes out;
  repo::CborWriter w(out);
  while (in.remaining_bytes() > 0 && values.size() < 64) {
    Value v{in.ConsumeIntegralInRange<int>(0, 6), 0, 0, {}, false};
    switch (v.kind) {
      case 0:
        v.u = in.ConsumeIntegral<uint64_t>();
        w.Uint(v.u);
        break;
      case 1:
        v.i = in.ConsumeIntegral<int64_t>();
        w.Int(v.i);
        break;
      case 2:
        v.s = in.ConsumeRandomLengthString(300);
        w.ByteString(v.s);
        break;
      case 3:
        v.s = in.ConsumeRandomLengthString(300);
        w.Text(v.s);
        break;
      case 4:
        v.b = in.ConsumeBool();
        w.Bool(v.b);
        break;
      case 5:
        v.u = in.ConsumeIntegralInRange<uint64_t>(0, 3);
        w.Array(v.u);
        break;
      case 6:
        v.u = in.ConsumeIntegralInRange<uint64_t>(0, 3);
        w.Map(v.u);
        break;
    }
    values.push_back(std::move(v));
  }
  repo::CborReader r(out);
  for (const Value& v : values) {
    switch (v.kind) {
      case 0: {
        Result<uint64_t> got = r.Uint();
        FUZZ_CHECK(got.ok() && *got == v.u);
        break;
      }
      case 1: {
        Result<int64_t> got = r.Int();
        FUZZ_CHECK(got.ok() && *got == v.i);
        break;
      }
      case 2: {
        Result<std::string> got = r.ByteString();
        FUZZ_CHECK(got.ok() && *got == v.s);
        break;
      }
      case 3: {
        Result<std::string> got = r.Text();
        FUZZ_CHECK(got.ok() && *got == v.s);
        break;
      }
      case 4: {
        Result<bool> got = r.Bool();
        FUZZ_CHECK(got.ok() && *got == v.b);
        break;
      }
      case 5:
      case 6: {
        // A count is checked against the bytes left, so only a count the
        // rest of the data can hold reads back.
        Result<uint64_t> got = v.kind == 5 ? r.Array() : r.Map();
        if (got.ok()) FUZZ_CHECK(*got == v.u);
        if (!got.ok()) return 0;
        break;
      }
    }
  }
  FUZZ_CHECK(r.AtEnd());
  return 0;
}
