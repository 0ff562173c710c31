#include "crosslink/torch/elastic_state.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <c10/util/string_utils.h>
#include <torch/optim/adam.h>
#include <torch/optim/adamw.h>
#include <torch/optim/optimizer.h>
#include <torch/optim/sgd.h>

#include <cstring>
#include <memory>
#include <mutex>
#include <utility>

#include "absl/strings/str_cat.h"
#include "crosslink/base/status_macros.h"

namespace crosslink::torch {
namespace {

size_t TensorBytes(const at::Tensor& t) {
  return static_cast<size_t>(t.numel()) * static_cast<size_t>(t.element_size());
}

// Host bytes of `t` (any device, any strides) into `out` (TensorBytes(t) bytes).
void CopyOut(const at::Tensor& t, std::byte* out) {
  const at::Tensor host = t.detach().to(at::kCPU).contiguous();
  if (host.numel() > 0) std::memcpy(out, host.data_ptr(), TensorBytes(host));
}

// `like`'s shape and dtype, on the CPU, over `in` (borrowed: clone before keeping it).
at::Tensor HostView(const at::Tensor& like, const std::byte* in) {
  return at::from_blob(const_cast<std::byte*>(in), like.sizes(),
                       at::TensorOptions().dtype(like.scalar_type()).device(at::kCPU));
}

void CopyIn(const at::Tensor& t, const std::byte* in) {
  at::NoGradGuard no_grad;
  t.detach().copy_(HostView(t, in));
}

int64_t ReadInt64(const std::byte* in) {
  int64_t v;
  std::memcpy(&v, in, sizeof(v));
  return v;
}
void WriteInt64(std::byte* out, int64_t v) { std::memcpy(out, &v, sizeof(v)); }

absl::Status CheckFlag(int64_t flag, const std::string& what) {
  if (flag == 0 || flag == 1) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("elastic state: ", what, " has present flag ", flag, " (not 0 or 1)"));
}

std::string StateKey(const at::Tensor& parameter) {
  // The key torch's optimisers file a parameter's state under.
  return c10::guts::to_string(parameter.unsafeGetTensorImpl());
}

// One parameter's Adam/AdamW state: present flag, step, exp_avg, exp_avg_sq[, max_exp_avg_sq]
// (the moments in the parameter's dtype, as torch creates them).
template <typename ParamState>
void AddAdamSlot(::torch::optim::Optimizer& optimizer, const at::Tensor& p, bool amsgrad,
                 size_t* bytes, std::function<void(std::byte*)>* pack,
                 std::function<absl::Status(const std::byte*)>* unpack, const std::string& what) {
  const size_t moment = TensorBytes(p);
  const int moments = amsgrad ? 3 : 2;
  *bytes = 16 + moments * moment;
  *pack = [&optimizer, p, moment, amsgrad](std::byte* out) {
    std::memset(out, 0, 16 + (amsgrad ? 3 : 2) * moment);
    auto it = optimizer.state().find(StateKey(p));
    if (it == optimizer.state().end()) return;
    auto& s = static_cast<ParamState&>(*it->second);
    WriteInt64(out, 1);
    WriteInt64(out + 8, s.step());
    CopyOut(s.exp_avg(), out + 16);
    CopyOut(s.exp_avg_sq(), out + 16 + moment);
    if (amsgrad && s.max_exp_avg_sq().defined()) CopyOut(s.max_exp_avg_sq(), out + 16 + 2 * moment);
  };
  *unpack = [&optimizer, p, moment, amsgrad, what](const std::byte* in) -> absl::Status {
    const int64_t present = ReadInt64(in);
    RETURN_IF_ERROR(CheckFlag(present, what));
    const std::string key = StateKey(p);
    if (present == 0) {
      optimizer.state().erase(key);
      return absl::OkStatus();
    }
    auto s = std::make_unique<ParamState>();
    s->step(ReadInt64(in + 8));
    s->exp_avg(HostView(p, in + 16).to(p.device(), /*non_blocking=*/false, /*copy=*/true));
    s->exp_avg_sq(HostView(p, in + 16 + moment).to(p.device(), false, true));
    if (amsgrad) s->max_exp_avg_sq(HostView(p, in + 16 + 2 * moment).to(p.device(), false, true));
    optimizer.state()[key] = std::move(s);
    return absl::OkStatus();
  };
}

}  // namespace

void ElasticState::Add(Entry entry) {
  entry.host.assign(entry.bytes, std::byte{0});
  entries_.push_back(std::move(entry));
}

absl::Status ElasticState::AddTensor(std::string name, at::Tensor tensor) {
  if (!tensor.defined() || tensor.layout() != c10::kStrided) {
    return absl::InvalidArgumentError(
        absl::StrCat("elastic state: tensor '", name, "' is undefined or not dense"));
  }
  Entry entry;
  entry.name = std::move(name);
  entry.bytes = TensorBytes(tensor);
  entry.pack = [tensor](std::byte* out) { CopyOut(tensor, out); };
  entry.unpack = [tensor](const std::byte* in) {
    CopyIn(tensor, in);
    return absl::OkStatus();
  };
  Add(std::move(entry));
  return absl::OkStatus();
}

absl::Status ElasticState::AddNamedTensors(
    const std::string& prefix, const std::vector<std::pair<std::string, at::Tensor>>& tensors) {
  for (const auto& [name, tensor] : tensors) {
    RETURN_IF_ERROR(AddTensor(absl::StrCat(prefix, name), tensor));
  }
  return absl::OkStatus();
}

absl::Status ElasticState::AddOptimizer(std::string name, ::torch::optim::Optimizer& optimizer) {
  enum class Kind { kAdam, kAdamW, kSgd };
  Kind kind;
  if (dynamic_cast<::torch::optim::AdamW*>(&optimizer) != nullptr) {
    kind = Kind::kAdamW;
  } else if (dynamic_cast<::torch::optim::Adam*>(&optimizer) != nullptr) {
    kind = Kind::kAdam;
  } else if (dynamic_cast<::torch::optim::SGD*>(&optimizer) != nullptr) {
    kind = Kind::kSgd;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "elastic state: optimiser '", name,
        "' is not Adam, AdamW or SGD; register its per-parameter state with AddTensor"));
  }
  const auto& groups = optimizer.param_groups();
  for (size_t g = 0; g < groups.size(); ++g) {
    const auto& params = groups[g].params();
    for (size_t k = 0; k < params.size(); ++k) {
      const at::Tensor& p = params[k];
      Entry entry;
      entry.name = absl::StrCat(name, ".group", g, ".param", k);
      switch (kind) {
        case Kind::kAdam: {
          const bool amsgrad =
              static_cast<const ::torch::optim::AdamOptions&>(groups[g].options()).amsgrad();
          AddAdamSlot<::torch::optim::AdamParamState>(optimizer, p, amsgrad, &entry.bytes,
                                                      &entry.pack, &entry.unpack, entry.name);
          break;
        }
        case Kind::kAdamW: {
          const bool amsgrad =
              static_cast<const ::torch::optim::AdamWOptions&>(groups[g].options()).amsgrad();
          AddAdamSlot<::torch::optim::AdamWParamState>(optimizer, p, amsgrad, &entry.bytes,
                                                       &entry.pack, &entry.unpack, entry.name);
          break;
        }
        case Kind::kSgd: {
          // Without momentum SGD keeps no state at all.
          if (static_cast<const ::torch::optim::SGDOptions&>(groups[g].options()).momentum() == 0) {
            continue;
          }
          const size_t buffer = TensorBytes(p);
          entry.bytes = 8 + buffer;
          entry.pack = [&optimizer, p, buffer](std::byte* out) {
            std::memset(out, 0, 8 + buffer);
            auto it = optimizer.state().find(StateKey(p));
            if (it == optimizer.state().end()) return;
            auto& s = static_cast<::torch::optim::SGDParamState&>(*it->second);
            if (!s.momentum_buffer().defined()) return;
            WriteInt64(out, 1);
            CopyOut(s.momentum_buffer(), out + 8);
          };
          entry.unpack = [&optimizer, p, what = entry.name](const std::byte* in) -> absl::Status {
            const int64_t present = ReadInt64(in);
            RETURN_IF_ERROR(CheckFlag(present, what));
            const std::string key = StateKey(p);
            if (present == 0) {
              optimizer.state().erase(key);
              return absl::OkStatus();
            }
            auto s = std::make_unique<::torch::optim::SGDParamState>();
            s->momentum_buffer(HostView(p, in + 8).to(p.device(), false, true));
            optimizer.state()[key] = std::move(s);
            return absl::OkStatus();
          };
          break;
        }
      }
      Add(std::move(entry));
    }
  }
  return absl::OkStatus();
}

void ElasticState::AddCounter(std::string name, int64_t* counter) {
  Entry entry;
  entry.name = std::move(name);
  entry.bytes = sizeof(int64_t);
  entry.pack = [counter](std::byte* out) { WriteInt64(out, *counter); };
  entry.unpack = [counter](const std::byte* in) {
    *counter = ReadInt64(in);
    return absl::OkStatus();
  };
  Add(std::move(entry));
}

void ElasticState::AddBytes(std::string name, void* data, size_t bytes) {
  Entry entry;
  entry.name = std::move(name);
  entry.bytes = bytes;
  entry.pack = [data, bytes](std::byte* out) { std::memcpy(out, data, bytes); };
  entry.unpack = [data, bytes](const std::byte* in) {
    std::memcpy(data, in, bytes);
    return absl::OkStatus();
  };
  Add(std::move(entry));
}

absl::Status ElasticState::AddGenerator(std::string name, at::Generator generator) {
  if (!generator.defined() || generator.device().type() != c10::DeviceType::CPU) {
    return absl::InvalidArgumentError(
        absl::StrCat("elastic state: generator '", name, "' is not a CPU generator"));
  }
  size_t bytes;
  {
    std::lock_guard<std::mutex> lock(generator.mutex());
    bytes = TensorBytes(generator.get_state());
  }
  Entry entry;
  entry.name = std::move(name);
  entry.bytes = bytes;
  entry.pack = [generator](std::byte* out) mutable {
    std::lock_guard<std::mutex> lock(generator.mutex());
    CopyOut(generator.get_state(), out);
  };
  entry.unpack = [generator, bytes, what = entry.name](const std::byte* in) mutable {
    at::Tensor state = at::empty({static_cast<int64_t>(bytes)}, at::kByte);
    std::memcpy(state.data_ptr(), in, bytes);
    try {
      std::lock_guard<std::mutex> lock(generator.mutex());
      generator.set_state(state);
    } catch (const std::exception& e) {
      return absl::InvalidArgumentError(
          absl::StrCat("elastic state: generator '", what, "' refused its state: ", e.what()));
    }
    return absl::OkStatus();
  };
  Add(std::move(entry));
  return absl::OkStatus();
}

absl::Status ElasticState::Pack() {
  try {
    for (Entry& entry : entries_) entry.pack(entry.host.data());
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("elastic state: packing failed: ", e.what()));
  }
  return absl::OkStatus();
}

std::vector<runtime::StateBuffer> ElasticState::Buffers() {
  std::vector<runtime::StateBuffer> buffers;
  buffers.reserve(entries_.size());
  for (Entry& entry : entries_) {
    buffers.push_back({.name = entry.name, .data = entry.host.data(), .bytes = entry.bytes});
  }
  return buffers;
}

absl::Status ElasticState::Unpack() {
  try {
    for (Entry& entry : entries_) RETURN_IF_ERROR(entry.unpack(entry.host.data()));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("elastic state: unpacking failed: ", e.what()));
  }
  return absl::OkStatus();
}

size_t ElasticState::bytes() const {
  size_t total = 0;
  for (const Entry& entry : entries_) total += entry.bytes;
  return total;
}

std::string ElasticState::DescribeLayout() const {
  std::string text = absl::StrCat(entries_.size(), " entries, ", bytes(), " bytes");
  constexpr size_t kShown = 8;
  for (size_t i = 0; i < entries_.size() && i < kShown; ++i) {
    absl::StrAppend(&text, i == 0 ? ": " : ", ", entries_[i].name, " ", entries_[i].bytes);
  }
  if (entries_.size() > kShown) absl::StrAppend(&text, ", ...");
  return text;
}

absl::StatusOr<std::vector<std::byte>> ElasticState::Serialize() {
  RETURN_IF_ERROR(Pack());
  std::vector<std::byte> out((1 + entries_.size()) * 8);
  WriteInt64(out.data(), static_cast<int64_t>(entries_.size()));
  for (size_t i = 0; i < entries_.size(); ++i) {
    WriteInt64(out.data() + 8 * (i + 1), static_cast<int64_t>(entries_[i].bytes));
  }
  for (const Entry& entry : entries_) out.insert(out.end(), entry.host.begin(), entry.host.end());
  return out;
}

absl::Status ElasticState::Deserialize(std::span<const std::byte> bytes) {
  const auto refuse = [&](const std::string& why) {
    return absl::InvalidArgumentError(
        absl::StrCat("elastic state: a serialized state of ", bytes.size(),
                     " bytes does not fit this layout (", DescribeLayout(), "): ", why));
  };
  if (bytes.size() < 8) return refuse("shorter than its header");
  const int64_t count = ReadInt64(bytes.data());
  if (count < 0 || static_cast<uint64_t>(count) > (bytes.size() - 8) / 8) {
    return refuse(absl::StrCat("its header claims ", count, " entries"));
  }
  if (static_cast<size_t>(count) != entries_.size()) {
    return refuse(absl::StrCat("it holds ", count, " entries, this layout ", entries_.size()));
  }
  size_t total = 0;
  for (size_t i = 0; i < entries_.size(); ++i) {
    const int64_t size = ReadInt64(bytes.data() + 8 * (i + 1));
    if (size < 0 || static_cast<size_t>(size) != entries_[i].bytes) {
      return refuse(absl::StrCat("entry ", i, " ('", entries_[i].name, "') holds ", size,
                                 " bytes there, ", entries_[i].bytes, " here"));
    }
    total += entries_[i].bytes;
  }
  const size_t header = (1 + entries_.size()) * 8;
  if (bytes.size() != header + total) {
    return refuse(
        absl::StrCat("its body has ", bytes.size() - header, " bytes, the layout ", total));
  }
  // The current values, to restore when an entry refuses its bytes half-way.
  RETURN_IF_ERROR(Pack());
  std::vector<std::vector<std::byte>> previous;
  previous.reserve(entries_.size());
  size_t offset = header;
  for (Entry& entry : entries_) {
    previous.push_back(entry.host);
    std::memcpy(entry.host.data(), bytes.data() + offset, entry.bytes);
    offset += entry.bytes;
  }
  absl::Status status = Unpack();
  if (!status.ok()) {
    for (size_t i = 0; i < entries_.size(); ++i) entries_[i].host = std::move(previous[i]);
    Unpack().IgnoreError();
  }
  return status;
}

}  // namespace crosslink::torch
