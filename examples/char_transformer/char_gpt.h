// CharGpt: a small decoder-only transformer over characters (bytes), in the spirit of Karpathy's
// nanoGPT: token and learned position embeddings, N pre-LayerNorm blocks of causal multi-head
// self-attention and a 4x GELU MLP, a final LayerNorm, and a head that shares the token
// embedding's weights (weight tying: fewer parameters, and the one matrix learns from both ends).
// No dropout: the runs are short and the text small enough that it would only slow learning.
// Not thread-safe (a torch module).
#ifndef CROSSLINK_EXAMPLES_CHAR_TRANSFORMER_CHAR_GPT_H_
#define CROSSLINK_EXAMPLES_CHAR_TRANSFORMER_CHAR_GPT_H_

#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

namespace crosslink::examples {

struct CharGptConfig {
  int64_t vocab = 256;
  int64_t block = 64;  // context length in characters
  int64_t layers = 2;
  int64_t heads = 4;
  int64_t embd = 64;  // a multiple of heads
};

class CausalSelfAttentionImpl : public ::torch::nn::Module {
 public:
  explicit CausalSelfAttentionImpl(const CharGptConfig& config)
      : heads_(config.heads),
        qkv_(register_module("qkv", ::torch::nn::Linear(config.embd, 3 * config.embd))),
        proj_(register_module("proj", ::torch::nn::Linear(config.embd, config.embd))) {
    // Position i attends to positions <= i only.
    mask_ = register_buffer("mask",
                            ::torch::ones({config.block, config.block}).tril().to(::torch::kBool));
  }

  // [B, T, C] -> [B, T, C].
  ::torch::Tensor forward(const ::torch::Tensor& x) {
    const int64_t b = x.size(0), t = x.size(1), c = x.size(2), hd = c / heads_;
    // [3, B, heads, T, hd]
    const auto qkv = qkv_->forward(x).view({b, t, 3, heads_, hd}).permute({2, 0, 3, 1, 4});
    const auto q = qkv[0], k = qkv[1], v = qkv[2];
    auto att = q.matmul(k.transpose(-2, -1)) / std::sqrt(static_cast<double>(hd));
    att = att.masked_fill(mask_.slice(0, 0, t).slice(1, 0, t).logical_not(),
                          -std::numeric_limits<float>::infinity());
    const auto y = att.softmax(-1).matmul(v).transpose(1, 2).contiguous().view({b, t, c});
    return proj_->forward(y);
  }

 private:
  int64_t heads_;
  ::torch::nn::Linear qkv_;
  ::torch::nn::Linear proj_;
  ::torch::Tensor mask_;
};

class BlockImpl : public ::torch::nn::Module {
 public:
  explicit BlockImpl(const CharGptConfig& config)
      : ln1_(register_module("ln1",
                             ::torch::nn::LayerNorm(::torch::nn::LayerNormOptions({config.embd})))),
        attention_(register_module("attention", std::make_shared<CausalSelfAttentionImpl>(config))),
        ln2_(register_module("ln2",
                             ::torch::nn::LayerNorm(::torch::nn::LayerNormOptions({config.embd})))),
        fc_(register_module("fc", ::torch::nn::Linear(config.embd, 4 * config.embd))),
        out_(register_module("out", ::torch::nn::Linear(4 * config.embd, config.embd))) {}

  ::torch::Tensor forward(::torch::Tensor x) {
    x = x + attention_->forward(ln1_->forward(x));
    return x + out_->forward(::torch::gelu(fc_->forward(ln2_->forward(x))));
  }

 private:
  ::torch::nn::LayerNorm ln1_;
  std::shared_ptr<CausalSelfAttentionImpl> attention_;
  ::torch::nn::LayerNorm ln2_;
  ::torch::nn::Linear fc_;
  ::torch::nn::Linear out_;
};

class CharGptImpl : public ::torch::nn::Module {
 public:
  explicit CharGptImpl(const CharGptConfig& config)
      : config_(config),
        token_(register_module("token", ::torch::nn::Embedding(config.vocab, config.embd))),
        position_(register_module("position", ::torch::nn::Embedding(config.block, config.embd))),
        ln_f_(register_module(
            "ln_f", ::torch::nn::LayerNorm(::torch::nn::LayerNormOptions({config.embd})))) {
    for (int64_t i = 0; i < config.layers; ++i) {
      blocks_.push_back(
          register_module("block" + std::to_string(i), std::make_shared<BlockImpl>(config)));
    }
    // GPT-2's initialisation: N(0, 0.02) weights and zero biases, so the first logits are near
    // uniform (the loss starts at about ln(vocab)).
    ::torch::NoGradGuard no_grad;
    for (auto& parameter : named_parameters()) {
      if (parameter.key().find("ln") != std::string::npos) continue;
      if (parameter.key().size() >= 4 &&
          parameter.key().compare(parameter.key().size() - 4, 4, "bias") == 0) {
        parameter.value().zero_();
      } else {
        parameter.value().normal_(0.0, 0.02);
      }
    }
  }

  // Character ids [B, T] (T <= block) -> next-character logits [B, T, vocab].
  ::torch::Tensor forward(const ::torch::Tensor& ids) {
    const int64_t t = ids.size(1);
    auto x = token_->forward(ids) +
             position_->forward(::torch::arange(t, ::torch::TensorOptions(::torch::kLong)));
    for (auto& block : blocks_) x = block->forward(x);
    // The head is the token embedding, transposed (weight tying).
    return ln_f_->forward(x).matmul(token_->weight.t());
  }

  const CharGptConfig& config() const { return config_; }

 private:
  CharGptConfig config_;
  ::torch::nn::Embedding token_;
  ::torch::nn::Embedding position_;
  std::vector<std::shared_ptr<BlockImpl>> blocks_;
  ::torch::nn::LayerNorm ln_f_;
};
// The holder, as TORCH_MODULE(CharGpt) would declare it (the macro names `torch::nn`
// unqualified, which inside namespace crosslink means crosslink::torch).
class CharGpt : public ::torch::nn::ModuleHolder<CharGptImpl> {
 public:
  using ::torch::nn::ModuleHolder<CharGptImpl>::ModuleHolder;
};

}  // namespace crosslink::examples

#endif  // CROSSLINK_EXAMPLES_CHAR_TRANSFORMER_CHAR_GPT_H_
