// Reading gzip'd IDX files with zlib's gzread, which inflates as it reads.
#include "idx_dataset.h"

#include <zlib.h>

#include <filesystem>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "crosslink/base/status_macros.h"

namespace crosslink::examples {
namespace {

// Fashion-MNIST's training-set mean and standard deviation of the pixel values in [0, 1]; the
// test set is normalised with the same figures, as a model must not peek at its test data.
constexpr float kPixelMean = 0.2860f;
constexpr float kPixelStd = 0.3530f;

struct GzCloser {
  void operator()(gzFile_s* file) const { gzclose(file); }
};
using GzFile = std::unique_ptr<gzFile_s, GzCloser>;

absl::Status ReadExactly(gzFile file, void* data, size_t bytes, const std::string& path) {
  auto* out = static_cast<unsigned char*>(data);
  size_t done = 0;
  while (done < bytes) {
    // gzread takes an unsigned count; read in chunks well below its limit.
    const unsigned chunk = static_cast<unsigned>(std::min<size_t>(bytes - done, 1u << 30));
    const int got = gzread(file, out + done, chunk);
    if (got <= 0) {
      int errnum = 0;
      const char* message = gzerror(file, &errnum);
      return absl::DataLossError(absl::StrCat(path, ": truncated after ", done, " of ", bytes,
                                              " bytes (", errnum == Z_OK ? "end of file" : message,
                                              ")"));
    }
    done += static_cast<size_t>(got);
  }
  return absl::OkStatus();
}

absl::StatusOr<uint32_t> ReadBigEndian32(gzFile file, const std::string& path) {
  unsigned char bytes[4];
  RETURN_IF_ERROR(ReadExactly(file, bytes, sizeof(bytes), path));
  return (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) | (uint32_t{bytes[2]} << 8) |
         uint32_t{bytes[3]};
}

absl::StatusOr<GzFile> Open(const std::string& path) {
  if (!std::filesystem::exists(path)) {
    return absl::NotFoundError(absl::StrCat(
        path, " does not exist (install Debian's dataset-fashion-mnist, or pass --data DIR)"));
  }
  GzFile file(gzopen(path.c_str(), "rb"));
  if (file == nullptr) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  return file;
}

// Reads the header after checking the magic; returns the dimensions.
absl::StatusOr<std::vector<int64_t>> ReadHeader(gzFile file, const std::string& path,
                                                uint32_t expected_magic) {
  ASSIGN_OR_RETURN(const uint32_t magic, ReadBigEndian32(file, path));
  if (magic != expected_magic) {
    return absl::DataLossError(absl::StrCat(path, ": IDX magic number is 0x", absl::Hex(magic),
                                            ", expected 0x", absl::Hex(expected_magic)));
  }
  std::vector<int64_t> dims(magic & 0xff);
  for (int64_t& dim : dims) {
    ASSIGN_OR_RETURN(const uint32_t value, ReadBigEndian32(file, path));
    dim = value;
  }
  return dims;
}

}  // namespace

absl::StatusOr<IdxDataset> LoadIdxDataset(const std::string& dir, const std::string& prefix,
                                          int64_t limit) {
  const std::string images_path = absl::StrCat(dir, "/", prefix, "-images-idx3-ubyte.gz");
  const std::string labels_path = absl::StrCat(dir, "/", prefix, "-labels-idx1-ubyte.gz");
  ASSIGN_OR_RETURN(GzFile images_file, Open(images_path));
  ASSIGN_OR_RETURN(GzFile labels_file, Open(labels_path));
  ASSIGN_OR_RETURN(const std::vector<int64_t> image_dims,
                   ReadHeader(images_file.get(), images_path, 0x00000803));
  ASSIGN_OR_RETURN(const std::vector<int64_t> label_dims,
                   ReadHeader(labels_file.get(), labels_path, 0x00000801));
  if (image_dims[0] != label_dims[0]) {
    return absl::InvalidArgumentError(absl::StrCat(images_path, " holds ", image_dims[0],
                                                   " images but ", labels_path, " holds ",
                                                   label_dims[0], " labels"));
  }
  const int64_t n = limit > 0 ? std::min(limit, image_dims[0]) : image_dims[0];
  const int64_t rows = image_dims[1];
  const int64_t cols = image_dims[2];

  auto pixels = ::torch::empty({n, 1, rows, cols}, ::torch::kUInt8);
  RETURN_IF_ERROR(ReadExactly(images_file.get(), pixels.data_ptr<uint8_t>(),
                              static_cast<size_t>(n * rows * cols), images_path));
  auto labels = ::torch::empty({n}, ::torch::kUInt8);
  RETURN_IF_ERROR(ReadExactly(labels_file.get(), labels.data_ptr<uint8_t>(), static_cast<size_t>(n),
                              labels_path));
  if (labels.max().item<int>() > 9) {
    return absl::DataLossError(absl::StrCat(labels_path, ": a label above 9"));
  }
  IdxDataset data;
  data.images = (pixels.to(::torch::kFloat32) / 255.0f - kPixelMean) / kPixelStd;
  data.labels = labels.to(::torch::kInt64);
  return data;
}

}  // namespace crosslink::examples
