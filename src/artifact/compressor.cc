#include "artifact/compressor.h"

#include <zlib.h>
#include <zstd.h>

#include <string>
#include <tuple>

#include "image/media_types.h"

namespace lockstep::artifact {

namespace {

constexpr size_t kOutChunk = 256 * 1024;

// gzip at zlib's default level. The gzip header zlib writes carries no name and a zero
// mtime, so equal input gives equal output.
class GzipCompressor final : public Compressor {
 public:
  explicit GzipCompressor(ByteSink sink) : sink_(std::move(sink)), out_(kOutChunk, '\0') {
    ok_ = deflateInit2(&z_, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) ==
          Z_OK;
  }
  ~GzipCompressor() override { deflateEnd(&z_); }

  Status Write(std::string_view data) override { return Run(data, Z_NO_FLUSH); }
  Status Finish() override { return Run({}, Z_FINISH); }

 private:
  Status Run(std::string_view data, int flush) {
    if (!ok_) return Internal("zlib could not be initialised");
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    z_.avail_in = static_cast<uInt>(data.size());
    while (true) {
      z_.next_out = reinterpret_cast<Bytef*>(out_.data());
      z_.avail_out = static_cast<uInt>(out_.size());
      int rc = deflate(&z_, flush);
      if (rc == Z_STREAM_ERROR) return Internal("zlib deflate failed");
      size_t produced = out_.size() - z_.avail_out;
      if (produced > 0) LS_RETURN_IF_ERROR(sink_(std::string_view(out_.data(), produced)));
      if (flush == Z_FINISH ? rc == Z_STREAM_END : z_.avail_in == 0 && z_.avail_out != 0) break;
    }
    return Status::Ok();
  }

  ByteSink sink_;
  std::string out_;
  z_stream z_{};
  bool ok_ = false;
};

// zstd level 3 with a checksum, compressed by two worker threads. zstd's multi-threaded
// output depends on the job size (set by the level), not on how many workers run it, so
// the digest is the same on any machine; the worker count is fixed all the same, since
// single-threaded mode (0 workers) would frame the output differently.
class ZstdCompressor final : public Compressor {
 public:
  explicit ZstdCompressor(ByteSink sink)
      : sink_(std::move(sink)), out_(ZSTD_CStreamOutSize(), '\0'), ctx_(ZSTD_createCCtx()) {
    if (ctx_ == nullptr) {
      setup_ = Internal("zstd: cannot create a compression context (out of memory)");
      return;
    }
    // Each setting is part of the digest: one the library refuses (a libzstd built without
    // threads refuses workers) would silently frame the layer differently from every other
    // machine, so it fails the pack instead.
    for (auto [param, value, name] : {std::tuple{ZSTD_c_compressionLevel, 3, "level 3"},
                                      std::tuple{ZSTD_c_checksumFlag, 1, "checksums"},
                                      std::tuple{ZSTD_c_nbWorkers, 2, "2 worker threads"}}) {
      size_t rc = ZSTD_CCtx_setParameter(ctx_, param, value);
      if (ZSTD_isError(rc)) {
        setup_ = FailedPrecondition(
            std::string("this libzstd refuses ") + name + " (" + ZSTD_getErrorName(rc) +
                "), so its layers would not match other machines' digests",
            "install a libzstd built with multithreading (Debian's libzstd1), or pack with "
            "--compression gzip");
        return;
      }
    }
  }
  ~ZstdCompressor() override { ZSTD_freeCCtx(ctx_); }

  Status Write(std::string_view data) override { return Run(data, ZSTD_e_continue); }
  Status Finish() override { return Run({}, ZSTD_e_end); }

 private:
  Status Run(std::string_view data, ZSTD_EndDirective mode) {
    LS_RETURN_IF_ERROR(setup_);
    ZSTD_inBuffer in{data.data(), data.size(), 0};
    while (true) {
      ZSTD_outBuffer out{out_.data(), out_.size(), 0};
      size_t left = ZSTD_compressStream2(ctx_, &out, &in, mode);
      if (ZSTD_isError(left)) return Internal(std::string("zstd: ") + ZSTD_getErrorName(left));
      if (out.pos > 0) LS_RETURN_IF_ERROR(sink_(std::string_view(out_.data(), out.pos)));
      if (mode == ZSTD_e_end ? left == 0 : in.pos == in.size) break;
    }
    return Status::Ok();
  }

  ByteSink sink_;
  std::string out_;
  ZSTD_CCtx* ctx_;
  Status setup_;
};

}  // namespace

Result<Compression> ParseCompression(std::string_view name) {
  if (name == "gzip") return Compression::kGzip;
  if (name == "zstd") return Compression::kZstd;
  return InvalidArgument("compression '" + std::string(name) +
                         "' is not supported (use gzip or zstd)");
}

std::string_view MediaTypeFor(Compression c) {
  return c == Compression::kGzip ? image::media::kOciLayerGzip : image::media::kOciLayerZstd;
}

std::unique_ptr<Compressor> Compressor::Create(Compression c, ByteSink sink) {
  if (c == Compression::kGzip) return std::make_unique<GzipCompressor>(std::move(sink));
  return std::make_unique<ZstdCompressor>(std::move(sink));
}

}  // namespace lockstep::artifact
