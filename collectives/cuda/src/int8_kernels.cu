// The int8 codec kernels behind int8_codec.h. Quantisation gives one warp to each block of
// kInt8BlockSize (256) values: every lane holds 8 values in registers (two 16-byte loads when the
// buffers are aligned and the block is full), the block's max |v| is a warp shuffle reduction
// (max is exact and order-free, so it equals the host's sequential max), and the per-value steps
// are the host's, one correctly rounded intrinsic each (device_arith.cuh explains why).
#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "crosslink/collectives/compression/int8_blockwise.h"
#include "crosslink/collectives/cuda/cuda_status.h"
#include "crosslink/collectives/cuda/int8_codec.h"
#include "device_arith.cuh"

namespace crosslink::collectives::cuda {
namespace {

constexpr int kWarp = 32;
constexpr int kPerLane = static_cast<int>(kInt8BlockSize) / kWarp;  // 8
static_assert(kInt8BlockSize == 256, "the vector layout below assumes 256-value blocks");

// Where lane `lane`'s k-th value sits in its block: a full aligned block is read as float4s
// (lane*4 .. lane*4+3, then 128 + lane*4 ..), any other block value by value, lane-strided.
__device__ __forceinline__ int Slot(bool vector_layout, int lane, int k) {
  return vector_layout ? (k < 4 ? lane * 4 + k : 128 + lane * 4 + (k - 4)) : lane + kWarp * k;
}

__device__ __forceinline__ float MaxPropagatingNaN(float a, float b) {
  return (b > a || b != b) ? b : a;
}

__global__ void QuantizeKernel(const float* __restrict__ x, size_t count,
                               float* __restrict__ error_feedback, int8_t* __restrict__ q,
                               float* __restrict__ scales, bool aligned) {
  const int lane = threadIdx.x % kWarp;
  const size_t warps_per_cta = blockDim.x / kWarp;
  const size_t num_blocks = (count + kInt8BlockSize - 1) / kInt8BlockSize;
  for (size_t b = blockIdx.x * warps_per_cta + threadIdx.x / kWarp; b < num_blocks;
       b += static_cast<size_t>(gridDim.x) * warps_per_cta) {
    const size_t begin = b * kInt8BlockSize;
    const size_t n = count - begin < kInt8BlockSize ? count - begin : kInt8BlockSize;
    const bool vector_layout = aligned && n == kInt8BlockSize;
    float v[kPerLane];
    if (vector_layout) {
      const float4* x4 = reinterpret_cast<const float4*>(x + begin);
      const float4 lo = x4[lane], hi = x4[32 + lane];
      v[0] = lo.x, v[1] = lo.y, v[2] = lo.z, v[3] = lo.w;
      v[4] = hi.x, v[5] = hi.y, v[6] = hi.z, v[7] = hi.w;
      if (error_feedback != nullptr) {
        const float4* e4 = reinterpret_cast<const float4*>(error_feedback + begin);
        const float4 elo = e4[lane], ehi = e4[32 + lane];
        const float e[kPerLane] = {elo.x, elo.y, elo.z, elo.w, ehi.x, ehi.y, ehi.z, ehi.w};
#pragma unroll
        for (int k = 0; k < kPerLane; ++k) v[k] = __fadd_rn(v[k], e[k]);
      }
    } else {
#pragma unroll
      for (int k = 0; k < kPerLane; ++k) {
        const int s = Slot(false, lane, k);
        v[k] = 0.0f;
        if (s < n) {
          v[k] = x[begin + s];
          if (error_feedback != nullptr) v[k] = __fadd_rn(v[k], error_feedback[begin + s]);
        }
      }
    }
    float amax = 0.0f;
#pragma unroll
    for (int k = 0; k < kPerLane; ++k) {
      if (Slot(vector_layout, lane, k) < n) amax = MaxPropagatingNaN(amax, fabsf(v[k]));
    }
#pragma unroll
    for (int offset = kWarp / 2; offset > 0; offset /= 2) {
      amax = MaxPropagatingNaN(amax, __shfl_xor_sync(0xFFFFFFFFu, amax, offset));
    }
    const bool finite = amax <= 3.402823466e+38f;
    const float scale = finite ? __fdiv_rn(amax, 127.0f) : __uint_as_float(0x7FC00000u);
    if (lane == 0) scales[b] = scale;
    int8_t qv[kPerLane];
    float ev[kPerLane];
#pragma unroll
    for (int k = 0; k < kPerLane; ++k) {
      float r = 0.0f;
      if (finite && scale > 0.0f) {
        r = rintf(__fdiv_rn(v[k], scale));
        r = fminf(fmaxf(r, -127.0f), 127.0f);
      }
      qv[k] = static_cast<int8_t>(static_cast<int>(r));
      ev[k] = finite ? __fsub_rn(v[k], __fmul_rn(r, scale)) : 0.0f;
    }
    if (vector_layout) {
      char4* q4 = reinterpret_cast<char4*>(q + begin);
      q4[lane] = make_char4(qv[0], qv[1], qv[2], qv[3]);
      q4[32 + lane] = make_char4(qv[4], qv[5], qv[6], qv[7]);
      if (error_feedback != nullptr) {
        float4* e4 = reinterpret_cast<float4*>(error_feedback + begin);
        e4[lane] = make_float4(ev[0], ev[1], ev[2], ev[3]);
        e4[32 + lane] = make_float4(ev[4], ev[5], ev[6], ev[7]);
      }
    } else {
#pragma unroll
      for (int k = 0; k < kPerLane; ++k) {
        const int s = Slot(false, lane, k);
        if (s < n) {
          q[begin + s] = qv[k];
          if (error_feedback != nullptr) error_feedback[begin + s] = ev[k];
        }
      }
    }
  }
}

// q * scale with the host's NaN bits: a NaN scale (a non-finite block) comes out as that NaN.
__device__ __forceinline__ float Dequant(int8_t q, float scale) {
  const float qf = static_cast<float>(q);
  const float r = __fmul_rn(qf, scale);
  return r != r ? internal::HostNaN(qf, scale) : r;
}

// Four values per item (4 bytes of q in, one float4 out; 256 is a multiple of 4, so an item's
// values share a scale), eight items in flight per thread: with one item per thread the 4-byte
// loads left too few requests in flight to stream at the copy's bandwidth.
constexpr int kDequantUnroll = 8;

__global__ void DequantizeKernel(const int8_t* __restrict__ q, const float* __restrict__ scales,
                                 size_t count, float* __restrict__ out, bool aligned) {
  const size_t quads = aligned ? count / 4 : 0;
  const char4* __restrict__ q4 = reinterpret_cast<const char4*>(q);
  float4* __restrict__ out4 = reinterpret_cast<float4*>(out);
  struct Item {
    char4 c;
    float s;
  };
  internal::StreamItems<kDequantUnroll, Item>(
      quads,
      [&](size_t i) {
        return Item{q4[i], scales[(i * 4) / kInt8BlockSize]};
      },
      [&](size_t i, const Item& it) {
        out4[i] = make_float4(Dequant(it.c.x, it.s), Dequant(it.c.y, it.s), Dequant(it.c.z, it.s),
                              Dequant(it.c.w, it.s));
      });
  internal::StreamTail(quads * 4, count,
                       [&](size_t i) { out[i] = Dequant(q[i], scales[i / kInt8BlockSize]); });
}

}  // namespace

absl::Status DeviceInt8Quantize(const float* x, size_t count, float* error_feedback, int8_t* q,
                                float* scales, cudaStream_t stream) {
  const std::string what = absl::StrFormat("DeviceInt8Quantize(%u values)", count);
  if (count == 0) return absl::OkStatus();
  if (x == nullptr || q == nullptr || scales == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": null buffer"));
  }
  const bool aligned = internal::AlignedTo(x, 16) && internal::AlignedTo(q, 4) &&
                       (error_feedback == nullptr || internal::AlignedTo(error_feedback, 16));
  // One warp per 256-value block: GridBlocks counts threads, so ask for 32 per block.
  const unsigned grid = internal::GridBlocks(Int8NumBlocks(count) * kWarp);
  QuantizeKernel<<<grid, internal::kThreads, 0, stream>>>(x, count, error_feedback, q, scales,
                                                          aligned);
  return CudaStatus(cudaGetLastError(), absl::StrCat(what, ": kernel launch"));
}

absl::Status DeviceInt8Dequantize(const int8_t* q, const float* scales, size_t count, float* out,
                                  cudaStream_t stream) {
  const std::string what = absl::StrFormat("DeviceInt8Dequantize(%u values)", count);
  if (count == 0) return absl::OkStatus();
  if (q == nullptr || scales == nullptr || out == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": null buffer"));
  }
  const bool aligned = internal::AlignedTo(q, 4) && internal::AlignedTo(out, 16);
  const unsigned grid =
      aligned ? internal::GridBlocks(count / 4, kDequantUnroll) : internal::GridBlocks(count);
  DequantizeKernel<<<grid, internal::kThreads, 0, stream>>>(q, scales, count, out, aligned);
  return CudaStatus(cudaGetLastError(), absl::StrCat(what, ": kernel launch"));
}

}  // namespace crosslink::collectives::cuda
