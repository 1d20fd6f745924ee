// Streaming compression for layers: gzip (zlib) or zstd, driven directly so the output
// depends only on the input (no timestamps, no file names, fixed levels and settings).
#pragma once

#include <functional>
#include <memory>
#include <string_view>

#include "base/status.h"

namespace lockstep::artifact {

enum class Compression { kGzip, kZstd };

Result<Compression> ParseCompression(std::string_view name);
std::string_view MediaTypeFor(Compression c);

// Compressed bytes go to the sink as they are produced.
using ByteSink = std::function<Status(std::string_view)>;

class Compressor {
 public:
  static std::unique_ptr<Compressor> Create(Compression c, ByteSink sink);
  virtual ~Compressor() = default;
  virtual Status Write(std::string_view data) = 0;
  // Ends the stream; no Write afterwards.
  virtual Status Finish() = 0;
};

}  // namespace lockstep::artifact
