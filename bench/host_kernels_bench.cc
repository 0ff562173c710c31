// crosslink-host-kernels-bench: the host kernels (host_kernels.h: reductions, kAvg finalisation,
// the int8 and bf16 wire codecs) for every instruction set this CPU runs, against memcpy.
//
// Each kernel's bytes are what it must read plus what it must write (a reduction of n elements
// of size s: 3ns; a finalisation: 2ns; int8 encoding with error feedback: x and e read, q, e and
// the scales written). GB/s = bytes / time / 10^9, from Google Benchmark's bytes_per_second.
// vs_memcpy = the time memcpy takes to move the same bytes (a copy of half as many: its reads
// plus its writes) over the kernel's time, both in CPU time (Google Benchmark's default), the
// copy's the best of 5 rounds measured in this process; 1.0 means the kernel streams as fast as
// the copy (printed as a rate, "0.95/s" reads 0.95). s_per_value is the time per element (2n = 2
// ns). finalize_avg divides by a world size of 3, finalize_avg_by4 by 4 (a power of two, which
// the kernels turn into an exact multiply or a shift); finalize_avg_full_range/int64 divides int64
// dividends spread over the whole range by 3 (the others are gradient-like values, small as
// integers).
//
// Two working sets by default: 256 KiB of the first operand (in L2: what vectorising buys) and
// 64 MiB (memory-bound: what a ring step of a large allreduce sees).
//
// Usage: crosslink-host-kernels-bench [--sizes-kib 256,65536] [Google Benchmark flags, e.g.
//        --benchmark_filter=avx512 --benchmark_min_time=0.2]
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "crosslink/collectives/compression/int8_blockwise.h"
#include "crosslink/collectives/datatype.h"
#include "crosslink/collectives/half.h"
#include "crosslink/collectives/host_kernels.h"

namespace crosslink::collectives {
namespace {

// Page-aligned, touched buffers, so no kernel pays first-touch page faults.
struct Buffer {
  explicit Buffer(size_t bytes) : size(bytes) {
    data = static_cast<std::byte*>(std::aligned_alloc(4096, (bytes + 4095) / 4096 * 4096));
    std::memset(data, 0, bytes);
  }
  ~Buffer() { std::free(data); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  std::byte* data;
  size_t size;
};

// Gradient-like finite values of `type`: normal, magnitudes around 1e-3.
void FillValues(DataType type, std::byte* p, size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1e-3f);
  for (size_t i = 0; i < n; ++i) {
    const float f = normal(rng);
    switch (type) {
      case DataType::kFloat32:
        std::memcpy(p + 4 * i, &f, 4);
        break;
      case DataType::kFloat64: {
        const double d = f;
        std::memcpy(p + 8 * i, &d, 8);
        break;
      }
      case DataType::kFloat16: {
        const uint16_t h = FloatToHalf(f);
        std::memcpy(p + 2 * i, &h, 2);
        break;
      }
      case DataType::kBFloat16: {
        const uint16_t b = FloatToBFloat16(f);
        std::memcpy(p + 2 * i, &b, 2);
        break;
      }
      case DataType::kInt32: {
        const int32_t v = static_cast<int32_t>(f * 1e9f);
        std::memcpy(p + 4 * i, &v, 4);
        break;
      }
      case DataType::kInt64: {
        const int64_t v = static_cast<int64_t>(f * 1e9f);
        std::memcpy(p + 8 * i, &v, 8);
        break;
      }
    }
  }
}

// This thread's CPU seconds: what Google Benchmark's rates use too, and on a shared machine less
// disturbed by other processes than wall time.
double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// CPU seconds per memcpy of `bytes` (best of 5 rounds of repeated copies), cached per size.
double MemcpySeconds(size_t bytes) {
  static std::map<size_t, double> cache;
  if (auto it = cache.find(bytes); it != cache.end()) return it->second;
  Buffer src(bytes), dst(bytes);
  std::memset(src.data, 1, bytes);
  const int reps = static_cast<int>(std::clamp<size_t>((size_t{64} << 20) / bytes, 4, 4096));
  double best = 1e30;
  for (int round = 0; round < 5; ++round) {
    const double start = ThreadCpuSeconds();
    for (int r = 0; r < reps; ++r) {
      std::memcpy(dst.data, src.data, bytes);
      benchmark::ClobberMemory();
    }
    const double s = ThreadCpuSeconds() - start;
    best = std::min(best, s / reps);
  }
  cache[bytes] = best;
  return best;
}

// Reports GB/s (bytes_per_second), vs_memcpy and ns_per_value for a kernel that moves `traffic`
// bytes over `values` elements per iteration.
void Report(benchmark::State& state, double traffic, size_t values) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * traffic));
  const size_t copy_bytes = static_cast<size_t>(traffic / 2) & ~size_t{63};
  const double memcpy_s = MemcpySeconds(std::max<size_t>(copy_bytes, 64));
  state.counters["vs_memcpy"] = benchmark::Counter(
      memcpy_s * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  // Seconds per element, printed with an SI prefix (2n = 2 ns).
  state.counters["s_per_value"] = benchmark::Counter(
      static_cast<double>(values),
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

void BM_Memcpy(benchmark::State& state, size_t bytes) {
  Buffer src(bytes), dst(bytes);
  std::memset(src.data, 1, bytes);
  for (auto _ : state) {
    std::memcpy(dst.data, src.data, bytes);
    benchmark::ClobberMemory();
  }
  Report(state, 2.0 * bytes, bytes / 4);
}

void BM_Reduce(benchmark::State& state, HostIsa isa, DataType type, ReduceOp op, size_t bytes) {
  const size_t n = bytes / DataTypeSize(type);
  Buffer a(bytes), b(bytes);
  FillValues(type, a.data, n, 1);
  FillValues(type, b.data, n, 2);
  const ReduceFn fn = HostKernelsFor(isa).reduce[static_cast<int>(type)][static_cast<int>(op)];
  for (auto _ : state) {
    fn(a.data, b.data, n);
    benchmark::ClobberMemory();
  }
  Report(state, 3.0 * bytes, n);
}

// world_size 3 divides; 4 (a power of two) multiplies by the exact inverse (host_word_kernels.inc).
// full_range (int64 only): dividends over the whole int64 range instead of gradient-like ones,
// which the wide sets' fast path (|a| < 2^51) does not take.
void BM_FinalizeAvg(benchmark::State& state, HostIsa isa, DataType type, int world_size,
                    size_t bytes, bool full_range) {
  const size_t n = bytes / DataTypeSize(type);
  Buffer a(bytes), pristine(bytes);
  FillValues(type, pristine.data, n, 3);
  if (full_range) {
    std::mt19937_64 rng(3);
    for (size_t i = 0; i < n; ++i) {
      const uint64_t v = rng();
      std::memcpy(pristine.data + 8 * i, &v, 8);
    }
  }
  std::memcpy(a.data, pristine.data, bytes);
  const FinalizeFn fn = HostKernelsFor(isa).finalize_avg[static_cast<int>(type)];
  // Divided on every iteration; values drift towards subnormals (full-range ones into the fast
  // path's range within a few divisions), so refresh them now and then outside the timed region.
  const int refresh_every = full_range ? 1 : 16;
  int since_refresh = 0;
  for (auto _ : state) {
    fn(a.data, n, world_size);
    benchmark::ClobberMemory();
    if (++since_refresh == refresh_every) {
      state.PauseTiming();
      std::memcpy(a.data, pristine.data, bytes);
      since_refresh = 0;
      state.ResumeTiming();
    }
  }
  Report(state, 2.0 * bytes, n);
}

void BM_Int8Encode(benchmark::State& state, HostIsa isa, bool feedback, size_t bytes) {
  const size_t n = bytes / 4;
  Buffer x(bytes), e(bytes), q(n), scales(Int8NumBlocks(n) * 4);
  FillValues(DataType::kFloat32, x.data, n, 4);
  const HostKernels& k = HostKernelsFor(isa);
  for (auto _ : state) {
    k.int8_quantize(reinterpret_cast<const float*>(x.data), n,
                    feedback ? reinterpret_cast<float*>(e.data) : nullptr,
                    reinterpret_cast<int8_t*>(q.data), reinterpret_cast<float*>(scales.data));
    benchmark::ClobberMemory();
  }
  Report(state, (feedback ? 2.0 * bytes : 1.0 * bytes) + n + (feedback ? bytes : 0) + scales.size,
         n);
}

void BM_Int8Decode(benchmark::State& state, HostIsa isa, size_t bytes) {
  const size_t n = bytes / 4;
  Buffer x(bytes), out(bytes), q(n), scales(Int8NumBlocks(n) * 4);
  FillValues(DataType::kFloat32, x.data, n, 5);
  HostKernelsFor(HostIsa::kBaseline)
      .int8_quantize(reinterpret_cast<const float*>(x.data), n, nullptr,
                     reinterpret_cast<int8_t*>(q.data), reinterpret_cast<float*>(scales.data));
  const HostKernels& k = HostKernelsFor(isa);
  for (auto _ : state) {
    k.int8_dequantize(reinterpret_cast<const int8_t*>(q.data),
                      reinterpret_cast<const float*>(scales.data), n,
                      reinterpret_cast<float*>(out.data));
    benchmark::ClobberMemory();
  }
  Report(state, n + scales.size + 1.0 * bytes, n);
}

void BM_BFloat16Encode(benchmark::State& state, HostIsa isa, bool feedback, size_t bytes) {
  const size_t n = bytes / 4;
  Buffer x(bytes), e(bytes), w(n * 2);
  FillValues(DataType::kFloat32, x.data, n, 6);
  const HostKernels& k = HostKernelsFor(isa);
  for (auto _ : state) {
    k.bf16_encode(reinterpret_cast<const float*>(x.data), n,
                  feedback ? reinterpret_cast<float*>(e.data) : nullptr,
                  reinterpret_cast<uint16_t*>(w.data));
    benchmark::ClobberMemory();
  }
  Report(state, (feedback ? 3.0 * bytes : 1.0 * bytes) + 2.0 * n, n);
}

void BM_BFloat16Decode(benchmark::State& state, HostIsa isa, size_t bytes) {
  const size_t n = bytes / 4;
  Buffer w(n * 2), out(bytes);
  FillValues(DataType::kBFloat16, w.data, n, 7);
  const HostKernels& k = HostKernelsFor(isa);
  for (auto _ : state) {
    k.bf16_decode(reinterpret_cast<const uint16_t*>(w.data), n, reinterpret_cast<float*>(out.data));
    benchmark::ClobberMemory();
  }
  Report(state, 2.0 * n + 1.0 * bytes, n);
}

std::string SizeName(size_t bytes) {
  return bytes >= (size_t{1} << 20) ? absl::StrCat(bytes >> 20, "MiB")
                                    : absl::StrCat(bytes >> 10, "KiB");
}

void RegisterAll(const std::vector<size_t>& sizes) {
  for (size_t bytes : sizes) {
    const std::string size = SizeName(bytes);
    benchmark::RegisterBenchmark(absl::StrCat("memcpy/", size).c_str(), BM_Memcpy, bytes);
    for (HostIsa isa : kAllHostIsas) {
      if (!HostIsaSupported(isa)) {
        std::printf("# %s: not supported by this CPU, skipped\n", HostIsaName(isa));
        continue;
      }
      const std::string prefix = absl::StrCat(HostIsaName(isa), "/");
      for (DataType type : {DataType::kFloat32, DataType::kFloat64, DataType::kFloat16,
                            DataType::kBFloat16, DataType::kInt32, DataType::kInt64}) {
        for (ReduceOp op : {ReduceOp::kSum, ReduceOp::kMin, ReduceOp::kMax}) {
          benchmark::RegisterBenchmark(
              absl::StrCat(prefix, "reduce_", std::string(ReduceOpName(op)), "/",
                           std::string(DataTypeName(type)), "/", size)
                  .c_str(),
              BM_Reduce, isa, type, op, bytes);
        }
        for (int world_size : {3, 4}) {
          benchmark::RegisterBenchmark(
              absl::StrCat(prefix, "finalize_avg", world_size == 4 ? "_by4/" : "/",
                           std::string(DataTypeName(type)), "/", size)
                  .c_str(),
              BM_FinalizeAvg, isa, type, world_size, bytes, false);
        }
      }
      benchmark::RegisterBenchmark(
          absl::StrCat(prefix, "finalize_avg_full_range/int64/", size).c_str(), BM_FinalizeAvg, isa,
          DataType::kInt64, 3, bytes, true);
      for (bool feedback : {false, true}) {
        const char* ef = feedback ? "_ef" : "";
        benchmark::RegisterBenchmark(absl::StrCat(prefix, "int8_encode", ef, "/", size).c_str(),
                                     BM_Int8Encode, isa, feedback, bytes);
        benchmark::RegisterBenchmark(absl::StrCat(prefix, "bf16_encode", ef, "/", size).c_str(),
                                     BM_BFloat16Encode, isa, feedback, bytes);
      }
      benchmark::RegisterBenchmark(absl::StrCat(prefix, "int8_decode/", size).c_str(),
                                   BM_Int8Decode, isa, bytes);
      benchmark::RegisterBenchmark(absl::StrCat(prefix, "bf16_decode/", size).c_str(),
                                   BM_BFloat16Decode, isa, bytes);
    }
  }
}

}  // namespace
}  // namespace crosslink::collectives

int main(int argc, char** argv) {
  std::vector<size_t> sizes = {size_t{256} << 10, size_t{64} << 20};
  // --sizes-kib is ours; everything else goes to Google Benchmark.
  std::vector<char*> rest = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    std::string value;
    if (arg == "--sizes-kib" && i + 1 < argc) {
      value = argv[++i];
    } else if (arg.rfind("--sizes-kib=", 0) == 0) {
      value = arg.substr(12);
    } else {
      rest.push_back(argv[i]);
      continue;
    }
    sizes.clear();
    for (absl::string_view part : absl::StrSplit(value, ',')) {
      size_t kib = 0;
      if (!absl::SimpleAtoi(part, &kib) || kib == 0) {
        std::fprintf(stderr, "crosslink-host-kernels-bench: --sizes-kib expects KiB, got '%s'\n",
                     value.c_str());
        return 2;
      }
      sizes.push_back(kib << 10);
    }
  }
  int rest_argc = static_cast<int>(rest.size());
  benchmark::Initialize(&rest_argc, rest.data());
  if (benchmark::ReportUnrecognizedArguments(rest_argc, rest.data())) return 2;
  std::printf("# active host kernel set: %s; GB/s = 10^9 B/s of reads + writes\n",
              crosslink::collectives::HostIsaName(crosslink::collectives::ActiveHostIsa()));
  crosslink::collectives::RegisterAll(sizes);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
