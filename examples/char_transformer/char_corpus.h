// CharCorpus: a text file as a character-level language-modelling data set. Characters are the
// file's bytes; the vocabulary is the distinct bytes that occur, in byte order, so every rank that
// reads the same file gets the same ids. The first 90 % of the text is for training, the rest for
// validation (the split nanoGPT's shakespeare_char uses).
//
// LoadCharCorpus blocks while it reads the file. Errors: kNotFound (no such file), kUnavailable
// (it cannot be read), kInvalidArgument (too short for one training and one validation window
// of `block` + 1 characters), each naming the file. The result owns its tensors.
#ifndef CROSSLINK_EXAMPLES_CHAR_TRANSFORMER_CHAR_CORPUS_H_
#define CROSSLINK_EXAMPLES_CHAR_TRANSFORMER_CHAR_CORPUS_H_

#include <torch/torch.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace crosslink::examples {

struct CharCorpus {
  std::string vocabulary;  // id -> byte
  ::torch::Tensor train;   // [n] int64 ids
  ::torch::Tensor val;     // [m] int64 ids
  int64_t vocab_size() const { return static_cast<int64_t>(vocabulary.size()); }
};

absl::StatusOr<CharCorpus> LoadCharCorpus(const std::string& path, int64_t block);

// `count` windows of `block` + 1 characters starting at `starts` (int64 [count]) of `ids`:
// inputs [count, block] and next-character targets [count, block].
std::pair<::torch::Tensor, ::torch::Tensor> Windows(const ::torch::Tensor& ids,
                                                    const ::torch::Tensor& starts, int64_t block);

}  // namespace crosslink::examples

#endif  // CROSSLINK_EXAMPLES_CHAR_TRANSFORMER_CHAR_CORPUS_H_
