// FashionCnn: a small convolutional network for 28x28 grey images in 10 classes, sized for a CPU
// core per rank (about 0.2 M parameters, a few M multiply-adds per image): two 5x5 convolutions
// with max-pooling, then two fully connected layers. It reaches about 90 % test accuracy on
// Fashion-MNIST within a few epochs with Adam. Not thread-safe (a torch module).
#ifndef CROSSLINK_EXAMPLES_FASHION_MNIST_FASHION_CNN_H_
#define CROSSLINK_EXAMPLES_FASHION_MNIST_FASHION_CNN_H_

#include <torch/torch.h>

namespace crosslink::examples {

class FashionCnnImpl : public ::torch::nn::Module {
 public:
  FashionCnnImpl()
      : conv1_(register_module(
            "conv1", ::torch::nn::Conv2d(::torch::nn::Conv2dOptions(1, 16, 5).padding(2)))),
        conv2_(register_module(
            "conv2", ::torch::nn::Conv2d(::torch::nn::Conv2dOptions(16, 32, 5).padding(2)))),
        fc1_(register_module("fc1", ::torch::nn::Linear(32 * 7 * 7, 128))),
        fc2_(register_module("fc2", ::torch::nn::Linear(128, 10))) {}

  // [n, 1, 28, 28] -> logits [n, 10].
  ::torch::Tensor forward(::torch::Tensor x) {
    x = ::torch::max_pool2d(::torch::relu(conv1_->forward(x)), 2);  // 16 x 14 x 14
    x = ::torch::max_pool2d(::torch::relu(conv2_->forward(x)), 2);  // 32 x 7 x 7
    x = ::torch::relu(fc1_->forward(x.flatten(1)));
    return fc2_->forward(x);
  }

 private:
  ::torch::nn::Conv2d conv1_;
  ::torch::nn::Conv2d conv2_;
  ::torch::nn::Linear fc1_;
  ::torch::nn::Linear fc2_;
};
// The holder (a shared pointer to the module), as TORCH_MODULE(FashionCnn) would declare it; the
// macro itself names `torch::nn` unqualified, which inside namespace crosslink means
// crosslink::torch.
class FashionCnn : public ::torch::nn::ModuleHolder<FashionCnnImpl> {
 public:
  using ::torch::nn::ModuleHolder<FashionCnnImpl>::ModuleHolder;
};

}  // namespace crosslink::examples

#endif  // CROSSLINK_EXAMPLES_FASHION_MNIST_FASHION_CNN_H_
