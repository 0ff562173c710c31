// GetReduceFn and GetFinalizeFn hand out the active host kernel set's loops (host_kernels.h):
// the same source vectorised for the baseline, AVX2 or AVX-512, chosen once per process.
#include "crosslink/collectives/reduce.h"

#include "crosslink/collectives/host_kernels.h"

namespace crosslink::collectives {

ReduceFn GetReduceFn(DataType type, ReduceOp op) {
  if (!IsValidDataType(type) || !IsValidReduceOp(op)) return nullptr;
  return ActiveHostKernels().reduce[static_cast<int>(type)][static_cast<int>(op)];
}

FinalizeFn GetFinalizeFn(DataType type, ReduceOp op) {
  if (op != ReduceOp::kAvg || !IsValidDataType(type)) return nullptr;
  return ActiveHostKernels().finalize_avg[static_cast<int>(type)];
}

}  // namespace crosslink::collectives
