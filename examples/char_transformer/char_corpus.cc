#include "char_corpus.h"

#include <array>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace crosslink::examples {

absl::StatusOr<CharCorpus> LoadCharCorpus(const std::string& path, int64_t block) {
  if (!std::filesystem::exists(path)) {
    return absl::NotFoundError(absl::StrCat("text file ", path, " does not exist"));
  }
  std::ifstream in(path, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) {
    return absl::UnavailableError(absl::StrCat("cannot read text file ", path));
  }
  const int64_t n = static_cast<int64_t>(text.size());
  const int64_t train_size = n * 9 / 10;
  if (train_size < block + 1 || n - train_size < block + 1) {
    return absl::InvalidArgumentError(absl::StrCat("text file ", path, " has ", n,
                                                   " characters: too few for windows of ",
                                                   block + 1, " in both 90 % and 10 % of it"));
  }
  std::array<int64_t, 256> id;
  id.fill(-1);
  for (unsigned char c : text) id[c] = 0;
  CharCorpus corpus;
  for (int c = 0; c < 256; ++c) {
    if (id[c] < 0) continue;
    id[c] = static_cast<int64_t>(corpus.vocabulary.size());
    corpus.vocabulary.push_back(static_cast<char>(c));
  }
  ::torch::Tensor ids = ::torch::empty({n}, ::torch::kLong);
  auto* out = ids.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) out[i] = id[static_cast<unsigned char>(text[i])];
  corpus.train = ids.slice(0, 0, train_size).clone();
  corpus.val = ids.slice(0, train_size, n).clone();
  return corpus;
}

std::pair<::torch::Tensor, ::torch::Tensor> Windows(const ::torch::Tensor& ids,
                                                    const ::torch::Tensor& starts, int64_t block) {
  // [count, block + 1] indices: start + 0 .. start + block.
  const auto index = starts.unsqueeze(1) + ::torch::arange(block + 1, ::torch::kLong).unsqueeze(0);
  const auto window = ids.index_select(0, index.flatten()).view({starts.size(0), block + 1});
  return {window.slice(1, 0, block), window.slice(1, 1, block + 1)};
}

}  // namespace crosslink::examples
