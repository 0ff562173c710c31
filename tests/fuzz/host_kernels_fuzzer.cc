// Fuzzes the host kernels (collectives/host_kernels.h) differentially: every instruction set this
// CPU runs must compute the baseline's bits for whatever bit patterns arrive, because ranks on
// different CPUs reduce the same data and must agree bit for bit (a diverging rank is silent
// corruption, not an error). The vector paths are full of proofs with edges -- near-tie guards,
// underflow guards, table ranges, NaN rules, the int64 fast path's range -- that sampled tests
// reach only where their authors looked; the fuzzer's coverage feedback finds the rest. In the
// fuzz preset every kernel also runs under ASan and UBSan.
//
// Input: back bytes choose the kernel (a reduction of a type and op, a kAvg finalisation, the int8
// or bf16 codec with or without error feedback), the world size and a start offset (0-63 bytes,
// so vectors meet every alignment); the front bytes are the operands' bits, cut to whole elements
// (a reduction's two operands are the two halves).
//
// Property checked: each supported set's output (and, for the encoders, their scales and
// residuals) equals the baseline's byte for byte.
#include <cstring>
#include <iterator>
#include <vector>

#include "crosslink/collectives/compression/int8_blockwise.h"
#include "crosslink/collectives/datatype.h"
#include "crosslink/collectives/host_kernels.h"
#include "fuzz_input.h"

namespace {

namespace cl = crosslink::collectives;

constexpr cl::DataType kTypes[] = {cl::DataType::kFloat32, cl::DataType::kFloat64,
                                   cl::DataType::kFloat16, cl::DataType::kBFloat16,
                                   cl::DataType::kInt32,   cl::DataType::kInt64};
constexpr size_t kMaxBytes = 1 << 16;  // a few vectors past every kernel's table threshold
// World sizes at the kAvg proofs' edges (host_float_division.inc, host_integer_division.inc):
// fp16's native Markstein limit (16384; 16385 and 19680 past it), float32's (2^24 +- 1), sizes
// where bf16's a * (1 / n) rounds differently from a / n for some a (31335, 49195, 88183), the
// largest powers of two and the largest int.
constexpr int kEdgeWorldSizes[] = {16384, 16385, 19680, (1 << 24) - 1, 1 << 24,       (1 << 24) + 1,
                                   31335, 49195, 88183, 1 << 30,       (1 << 30) + 1, 2147483647};

// A buffer whose data starts `offset` bytes past a 64-byte boundary.
class OffsetBuffer {
 public:
  OffsetBuffer(size_t bytes, size_t offset) : storage_(bytes + offset + 64), offset_(offset) {}
  std::byte* data() {
    const auto base = reinterpret_cast<uintptr_t>(storage_.data());
    return storage_.data() + ((64 - base % 64) % 64) + offset_;
  }

 private:
  std::vector<std::byte> storage_;
  size_t offset_;
};

// Runs `kernel` once per supported set on a fresh copy of `input` (its outputs are whatever
// `kernel` writes into the buffers it is given) and checks each against the baseline's.
template <typename Kernel>
void CheckEverySet(const std::vector<std::byte>& input, size_t output_bytes, size_t offset,
                   const Kernel& kernel) {
  std::vector<std::byte> reference;
  for (cl::HostIsa isa : cl::kAllHostIsas) {
    if (!cl::HostIsaSupported(isa)) continue;
    OffsetBuffer in(input.size(), offset), out(output_bytes, offset);
    if (!input.empty()) std::memcpy(in.data(), input.data(), input.size());
    std::memset(out.data(), 0, output_bytes);
    kernel(cl::HostKernelsFor(isa), in.data(), out.data());
    std::vector<std::byte> result(in.data(), in.data() + input.size());
    result.insert(result.end(), out.data(), out.data() + output_bytes);
    if (isa == cl::HostIsa::kBaseline) {
      reference = std::move(result);
    } else {
      CROSSLINK_FUZZ_CHECK(result == reference);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  crosslink::fuzz::FuzzInput in(data, size);
  const uint8_t kind = in.Choice();
  const cl::DataType type = kTypes[in.Choice() % 6];
  const auto op = static_cast<cl::ReduceOp>(in.Choice() % cl::kNumReduceOps);
  const size_t offset_choice = in.Choice() % 64;
  // World sizes: mostly small (where jobs are), now and then one at a proof's edge or anything up
  // to 2^31 - 1.
  int world_size = static_cast<int>(1 + in.ChoiceUpTo(300));
  const uint8_t world_choice = in.Choice() % 8;
  if (world_choice == 0) {
    const size_t big = in.ChoiceUpTo(0xFFFF) << 15 | in.ChoiceUpTo(0x7FFF);  // < 2^31
    world_size = big == 0 ? 1 : static_cast<int>(big);
  } else if (world_choice == 1) {
    world_size = kEdgeWorldSizes[in.Choice() % std::size(kEdgeWorldSizes)];
  }
  size_t got = 0;
  const uint8_t* front =
      in.TakeFront(kMaxBytes < in.remaining() ? kMaxBytes : in.remaining(), &got);
  std::vector<std::byte> bytes(reinterpret_cast<const std::byte*>(front),
                               reinterpret_cast<const std::byte*>(front) + got);

  // Buffers start at a multiple of their element's size, as tensors do, but not necessarily of a
  // vector's.
  const size_t element = kind % 4 < 2 ? cl::DataTypeSize(type) : 4;
  const size_t offset = offset_choice - offset_choice % element;
  switch (kind % 4) {
    case 0: {  // reduction: out (first half) op= in (second half)
      const size_t n = got / 2 / cl::DataTypeSize(type);
      const size_t half = n * cl::DataTypeSize(type);
      bytes.resize(2 * half);
      CheckEverySet(bytes, 0, offset, [&](const cl::HostKernels& k, std::byte* p, std::byte*) {
        k.reduce[static_cast<int>(type)][static_cast<int>(op)](p, p + half, n);
      });
      break;
    }
    case 1: {  // kAvg finalisation
      const size_t n = got / cl::DataTypeSize(type);
      bytes.resize(n * cl::DataTypeSize(type));
      CheckEverySet(bytes, 0, offset, [&](const cl::HostKernels& k, std::byte* p, std::byte*) {
        k.finalize_avg[static_cast<int>(type)](p, n, world_size);
      });
      break;
    }
    case 2: {  // int8 codec: quantise x (+ e), then dequantise
      const bool feedback = kind & 4;
      const size_t n = got / (feedback ? 8 : 4);
      bytes.resize(n * (feedback ? 8 : 4));
      const size_t blocks = cl::Int8NumBlocks(n);
      CheckEverySet(bytes, 4 * blocks + 4 * n + n, offset,
                    [&](const cl::HostKernels& k, std::byte* p, std::byte* out) {
                      auto* x = reinterpret_cast<float*>(p);
                      auto* scales = reinterpret_cast<float*>(out);
                      auto* decoded = reinterpret_cast<float*>(out + 4 * blocks);
                      auto* q = reinterpret_cast<int8_t*>(out + 4 * blocks + 4 * n);
                      k.int8_quantize(x, n, feedback ? x + n : nullptr, q, scales);
                      k.int8_dequantize(q, scales, n, decoded);
                    });
      break;
    }
    default: {  // bf16 codec: encode x (+ e), and decode the input's bits as words
      const bool feedback = kind & 4;
      const size_t n = got / (feedback ? 8 : 4);
      bytes.resize(n * (feedback ? 8 : 4));
      CheckEverySet(bytes, 4 * (2 * n) + 2 * n, offset,
                    [&](const cl::HostKernels& k, std::byte* p, std::byte* out) {
                      auto* x = reinterpret_cast<float*>(p);
                      auto* decoded = reinterpret_cast<float*>(out);
                      auto* words = reinterpret_cast<uint16_t*>(out + 4 * (2 * n));
                      k.bf16_encode(x, n, feedback ? x + n : nullptr, words);
                      k.bf16_decode(reinterpret_cast<const uint16_t*>(p), 2 * n, decoded);
                    });
      break;
    }
  }
  return 0;
}
