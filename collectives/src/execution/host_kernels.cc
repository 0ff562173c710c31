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
}  // namespace host_kernels_internal

namespace {

HostIsa ChooseHostIsa() {
  HostIsa best = HostIsa::kBaseline;
  for (HostIsa isa : {HostIsa::kAvx2, HostIsa::kAvx512}) {
    if (HostIsaSupported(isa)) best = isa;
  }
  // An unknown value is ignored rather than fatal: the variable only ever narrows the choice.
  if (const char* cap = std::getenv("CROSSLINK_HOST_ISA"); cap != nullptr) {
    for (HostIsa isa : kAllHostIsas) {
      if (std::strcmp(cap, HostIsaName(isa)) == 0 && isa < best) best = isa;
    }
  }
  return best;
}

}  // namespace

const char* HostIsaName(HostIsa isa) {
  switch (isa) {
    case HostIsa::kBaseline:
      return "baseline";
    case HostIsa::kAvx2:
      return "avx2";
    case HostIsa::kAvx512:
      return "avx512";
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
