// Which host kernel set runs: the widest this CPU supports, chosen once (host_kernels.h).
#include "crosslink/collectives/host_kernels.h"

#include <cstdlib>
#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace crosslink::collectives {
namespace host_kernels_internal {
namespace baseline {
const HostKernels& Kernels();
}
namespace avx2 {
const HostKernels& Kernels();
}
namespace avx512 {
const HostKernels& Kernels();
}
namespace avx512bf16 {
const HostKernels& Kernels();
}
namespace avx512fp16 {
const HostKernels& Kernels();
}
}  // namespace host_kernels_internal

namespace {

HostIsa ChooseHostIsa() {
  HostIsa cap = HostIsa::kAvx512Fp16;
  // An unknown value is ignored rather than fatal: the variable only ever narrows the choice.
  if (const char* name = std::getenv("CROSSLINK_HOST_ISA"); name != nullptr) {
    ParseHostIsa(name, &cap);
  }
  return WidestSupportedHostIsa(cap);
}

// avx512fp16's table: the fp16 kernels from its own translation unit (compiled with AVX512_FP16
// only), everything else from avx512bf16's where the CPU has that level (AVX512_BF16 and VBMI),
// else from AVX-512's.
HostKernels MakeAvx512Fp16Kernels() {
  HostKernels k = HostIsaSupported(HostIsa::kAvx512Bf16)
                      ? host_kernels_internal::avx512bf16::Kernels()
                      : host_kernels_internal::avx512::Kernels();
  const HostKernels& fp16 = host_kernels_internal::avx512fp16::Kernels();
  constexpr int kHalf = static_cast<int>(DataType::kFloat16);
  for (int op = 0; op < 4; ++op) k.reduce[kHalf][op] = fp16.reduce[kHalf][op];
  k.finalize_avg[kHalf] = fp16.finalize_avg[kHalf];
  return k;
}

}  // namespace

bool ParseHostIsa(const char* name, HostIsa* isa) {
  for (HostIsa candidate : kAllHostIsas) {
    if (std::strcmp(name, HostIsaName(candidate)) == 0) {
      *isa = candidate;
      return true;
    }
  }
  return false;
}

HostIsa WidestSupportedHostIsa(HostIsa cap) {
  HostIsa best = HostIsa::kBaseline;
  for (HostIsa isa : kAllHostIsas) {
    if (isa <= cap && HostIsaSupported(isa)) best = isa;
  }
  return best;
}

const char* HostIsaName(HostIsa isa) {
  switch (isa) {
    case HostIsa::kBaseline:
      return "baseline";
    case HostIsa::kAvx2:
      return "avx2";
    case HostIsa::kAvx512:
      return "avx512";
    case HostIsa::kAvx512Bf16:
      return "avx512bf16";
    case HostIsa::kAvx512Fp16:
      return "avx512fp16";
  }
  return "unknown";
}

#if defined(__x86_64__)
// F16C and BMI2 from CPUID directly: clang 14's __builtin_cpu_supports does not know them (the
// fuzz and sanitizer presets build with clang), and the bits are architectural.
static bool CpuHasF16cAndBmi2() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return false;
  const bool f16c = (ecx & (1u << 29)) != 0;
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
  const bool bmi2 = (ebx & (1u << 8)) != 0;
  return f16c && bmi2;
}

// AVX512_BF16 (CPUID.(EAX=7,ECX=1):EAX[5]) with AVX512_VBMI (CPUID.(EAX=7,ECX=0):ECX[1]), and
// AVX512_FP16 (CPUID.(EAX=7,ECX=0):EDX[23]), also from CPUID: neither compiler's
// __builtin_cpu_supports knows them all. The register state they use is AVX-512's, which
// HostIsaSupported checks first (with the OS's XCR0).
static bool CpuHasAvx512Bf16AndVbmi() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) || eax < 1) return false;
  const bool vbmi = (ecx & (1u << 1)) != 0;
  if (!__get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx)) return false;
  return vbmi && (eax & (1u << 5)) != 0;
}
static bool CpuHasAvx512Fp16() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
  return (edx & (1u << 23)) != 0;
}
#endif

bool HostIsaSupported(HostIsa isa) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  switch (isa) {
    case HostIsa::kBaseline:
      return true;
    case HostIsa::kAvx2:
      // __builtin_cpu_supports also checks that the OS saves the wide registers (XSAVE/XCR0).
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
             CpuHasF16cAndBmi2() && __builtin_cpu_supports("popcnt") &&
             __builtin_cpu_supports("sse4.2");
    case HostIsa::kAvx512:
      return HostIsaSupported(HostIsa::kAvx2) && __builtin_cpu_supports("avx512f") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("avx512vl");
    case HostIsa::kAvx512Bf16:
      return HostIsaSupported(HostIsa::kAvx512) && CpuHasAvx512Bf16AndVbmi();
    case HostIsa::kAvx512Fp16:
      return HostIsaSupported(HostIsa::kAvx512) && CpuHasAvx512Fp16();
  }
  return false;
#else
  return isa == HostIsa::kBaseline;
#endif
}

HostIsa ActiveHostIsa() {
  static const HostIsa isa = ChooseHostIsa();
  return isa;
}

const HostKernels& HostKernelsFor(HostIsa isa) {
  switch (isa) {
    case HostIsa::kAvx2:
      return host_kernels_internal::avx2::Kernels();
    case HostIsa::kAvx512:
      return host_kernels_internal::avx512::Kernels();
    case HostIsa::kAvx512Bf16:
      return host_kernels_internal::avx512bf16::Kernels();
    case HostIsa::kAvx512Fp16: {
      static const HostKernels kernels = MakeAvx512Fp16Kernels();
      return kernels;
    }
    case HostIsa::kBaseline:
      break;
  }
  return host_kernels_internal::baseline::Kernels();
}

const HostKernels& ActiveHostKernels() {
  static const HostKernels& kernels = HostKernelsFor(ActiveHostIsa());
  return kernels;
}

}  // namespace crosslink::collectives
