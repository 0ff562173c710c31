// ElasticState: the training state an elastic job hands to a rank that rejoins (a restarted
// process), as the host StateBuffers of Communicator::SyncState (communicator.h). It is what every
// live rank holds identically in a data-parallel job: the model's parameters and buffers, the
// optimiser's state, counters (step, epoch: the data position), a shared random generator.
//
// Layout: the entries in registration order, each a fixed number of bytes that depends only on
// the shapes and dtypes registered (and the optimiser's type and options), never on the values or
// on whether the optimiser has taken a step yet: a rejoined process builds the same model and
// optimiser and so the same layout, which SyncState requires. An optimiser's lazily created
// per-parameter state (Adam's moments, SGD's momentum buffer) gets a fixed slot with a "present"
// flag, so a fresh optimiser and a trained one pack to the same size.
//
// Pack() copies the registered values into host buffers (Buffers() then points at them);
// Unpack() writes those buffers back (tensors copied in place, on their devices; the optimiser's
// state created or erased per the flags; counters and generators set). SyncState receives into the
// buffers, so the sequence is Pack, SyncState, Unpack (ElasticTrainer does it).
//
// Serialize()/Deserialize() give the packed state as one byte string with a layout header (entry
// count, then each entry's size), so a state from another layout is refused with a message that
// names the first entry that differs; they serve tests and programs that keep a state elsewhere.
//
// Supported optimisers: torch::optim::Adam, AdamW, SGD (others: kInvalidArgument from
// AddOptimizer; register their state tensors with AddTensor). Tensors: dense, any dtype, CPU or
// CUDA (staged through host memory).
//
// Thread-safety: none; the training thread owns it. Ownership: holds references to the tensors,
// the optimiser, the counters and generators it was given; they must outlive it.
#ifndef CROSSLINK_TORCH_ELASTIC_STATE_H_
#define CROSSLINK_TORCH_ELASTIC_STATE_H_

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "crosslink/runtime/communicator.h"

namespace torch::optim {
class Optimizer;
}  // namespace torch::optim

namespace crosslink::torch {

class ElasticState {
 public:
  ElasticState() = default;
  ElasticState(const ElasticState&) = delete;
  ElasticState& operator=(const ElasticState&) = delete;

  // A tensor whose values every rank holds alike (a parameter, a buffer). kInvalidArgument for an
  // undefined or sparse tensor.
  absl::Status AddTensor(std::string name, at::Tensor tensor);
  // Every parameter and buffer of a module as "<prefix><name>" (torch::nn::Module's named_
  // parameters / named_buffers, recursively). Pass model.ptr() for a ModuleHolder.
  absl::Status AddNamedTensors(const std::string& prefix,
                               const std::vector<std::pair<std::string, at::Tensor>>& tensors);
  // The per-parameter state of `optimizer` (its param_groups' parameters, in order).
  // kInvalidArgument for an optimiser other than Adam, AdamW or SGD.
  absl::Status AddOptimizer(std::string name, ::torch::optim::Optimizer& optimizer);
  // An int64 counter (a step, an epoch, a data offset).
  void AddCounter(std::string name, int64_t* counter);
  // Any trivially copyable value (a double figure, a start time), as its bytes.
  template <typename T>
  void AddValue(std::string name, T* value) {
    static_assert(std::is_trivially_copyable_v<T>, "AddValue takes trivially copyable values");
    AddBytes(std::move(name), value, sizeof(T));
  }
  void AddBytes(std::string name, void* data, size_t bytes);
  // A CPU random generator's state (the Mersenne Twister's, a fixed size): a generator every rank
  // draws alike (data order, dropout in a data-parallel model). kInvalidArgument for another
  // device's generator.
  absl::Status AddGenerator(std::string name, at::Generator generator);

  // Copies the current values into the host buffers.
  absl::Status Pack();
  // The host buffers of the last Pack (SyncState's argument), one per entry.
  std::vector<runtime::StateBuffer> Buffers();
  // Writes the host buffers back into the registered objects. kInvalidArgument when a buffer
  // holds an impossible value (a present flag other than 0/1, a generator state torch refuses).
  absl::Status Unpack();

  // Total bytes of the state, and a description of the layout for messages
  // ("12 entries, 1683928 bytes: model.conv1.weight 1152, ...", the first entries).
  size_t bytes() const;
  std::string DescribeLayout() const;

  // Pack() and the buffers as one string: a header (entry count, each entry's size, as int64)
  // then the entries. Deserialize() checks the header against this layout first
  // (kInvalidArgument naming the first entry that differs, the counts or the sizes) and only
  // then unpacks; on an error nothing registered is changed.
  absl::StatusOr<std::vector<std::byte>> Serialize();
  absl::Status Deserialize(std::span<const std::byte> bytes);

 private:
  struct Entry {
    std::string name;
    size_t bytes = 0;
    std::function<void(std::byte*)> pack;
    std::function<absl::Status(const std::byte*)> unpack;
    std::vector<std::byte> host;
  };
  void Add(Entry entry);

  std::vector<Entry> entries_;
};

}  // namespace crosslink::torch

#endif  // CROSSLINK_TORCH_ELASTIC_STATE_H_
