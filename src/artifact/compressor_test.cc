#include "artifact/compressor.h"

#include <gtest/gtest.h>

#include "core/digest.h"

namespace lockstep::artifact {
namespace {

// 4 MiB of varied, deterministic text: large enough for zstd to split it into jobs.
std::string Input() {
  std::string out;
  uint64_t x = 88172645463325252ull;
  while (out.size() < (4u << 20)) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    out += "line " + std::to_string(x % 100000) + " of the layer\n";
  }
  return out;
}

Digest Compress(Compression c, const std::string& input) {
  std::string out;
  std::unique_ptr<Compressor> z = Compressor::Create(c, [&](std::string_view bytes) {
    out.append(bytes);
    return Status::Ok();
  });
  // In uneven pieces: the output may not depend on how the input arrives.
  for (size_t at = 0; at < input.size(); at += 777777) {
    EXPECT_TRUE(z->Write(std::string_view(input).substr(at, 777777)).ok());
  }
  EXPECT_TRUE(z->Finish().ok());
  return DigestOf(out);
}

// The bytes of a layer are its digest, which every machine must agree on: these are the
// digests Debian 12's zlib and libzstd give. A library that frames differently (zstd
// without worker threads does) changes them, and this test says so before a pack would.
TEST(CompressorTest, OutputIsPinnedToTheSameDigestEverywhere) {
  std::string input = Input();
  EXPECT_EQ(Compress(Compression::kGzip, input).str(),
            "sha256:61ec489b89e4354096694c5cc59d8f209caa02d856ec393d35b1fa90f382c2c7");
  EXPECT_EQ(Compress(Compression::kZstd, input).str(),
            "sha256:1b4b950bd831ca10ff64161c899ee228a1cec718f975e93c1e1fd12102b7e713");
}

}  // namespace
}  // namespace lockstep::artifact
