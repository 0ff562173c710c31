#include "bench/lib/cpu_cost.h"

#include <sys/resource.h>

#include <algorithm>

namespace crosslink::bench {
namespace {

double Seconds(const timeval& tv) {
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) * 1e-6;
}

}  // namespace

CpuSample SampleProcessCpu() {
  rusage usage{};
  if (::getrusage(RUSAGE_SELF, &usage) != 0) return CpuSample{};
  return CpuSample{Seconds(usage.ru_utime), Seconds(usage.ru_stime)};
}

double CpuSecondsBetween(const CpuSample& before, const CpuSample& after) {
  return std::max(0.0, (after.user_s - before.user_s) + (after.system_s - before.system_s));
}

double CpuSecondsPerGb(double cpu_seconds, int64_t buffer_bytes, int64_t iterations) {
  if (buffer_bytes <= 0 || iterations <= 0) return 0;
  const double gb = static_cast<double>(buffer_bytes) * static_cast<double>(iterations) / 1e9;
  return cpu_seconds / gb;
}

}  // namespace crosslink::bench
