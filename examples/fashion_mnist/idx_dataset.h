// IdxDataset: an image-classification data set read from the gzip'd IDX files of (Fashion-)MNIST
// (the format of http://yann.lecun.com/exdb/mnist/: a big-endian magic 0x00000803 for images,
// 0x00000801 for labels, then the dimensions, then unsigned bytes). Debian's
// dataset-fashion-mnist installs them in /usr/share/datasets/fashion-mnist.
//
// LoadIdxDataset blocks while it reads and inflates the files (zlib). Errors: kNotFound (a file
// is missing), kDataLoss (a truncated file or a wrong magic number, naming the file and what was
// found), kInvalidArgument (image and label counts disagree). The result owns its tensors.
#ifndef CROSSLINK_EXAMPLES_FASHION_MNIST_IDX_DATASET_H_
#define CROSSLINK_EXAMPLES_FASHION_MNIST_IDX_DATASET_H_

#include <torch/torch.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace crosslink::examples {

struct IdxDataset {
  ::torch::Tensor images;  // [n, 1, 28, 28] float32, normalised to zero mean and unit variance
  ::torch::Tensor labels;  // [n] int64 in 0..9
  int64_t size() const { return labels.size(0); }
};

// Reads `<dir>/<prefix>-images-idx3-ubyte.gz` and `<dir>/<prefix>-labels-idx1-ubyte.gz`
// (prefix "train" or "t10k"), keeping at most `limit` examples (0: all of them).
absl::StatusOr<IdxDataset> LoadIdxDataset(const std::string& dir, const std::string& prefix,
                                          int64_t limit = 0);

}  // namespace crosslink::examples

#endif  // CROSSLINK_EXAMPLES_FASHION_MNIST_IDX_DATASET_H_
