// PerHostIsaTest: a test fixture run once per host instruction set (baseline, AVX2, AVX-512,
// AVX-512 with AVX512_BF16 and VBMI, AVX-512 with AVX512_FP16),
// skipped where the CPU lacks it, so every dispatch level of the host kernels is checked on
// whatever machine runs the suite.
#pragma once

#include "crosslink/collectives/host_kernels.h"
#include "gtest/gtest.h"

namespace crosslink::collectives {

class PerHostIsaTest : public ::testing::TestWithParam<HostIsa> {
 protected:
  void SetUp() override {
    if (!HostIsaSupported(GetParam())) {
      GTEST_SKIP() << "this CPU does not run " << HostIsaName(GetParam());
    }
  }
  const HostKernels& kernels() const { return HostKernelsFor(GetParam()); }
};

}  // namespace crosslink::collectives
