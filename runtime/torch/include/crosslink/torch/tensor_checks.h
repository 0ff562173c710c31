// How torch tensors map onto the Communicator's buffers: the element type, and the checks a tensor
// must pass before a collective may borrow its storage.
//
// Thread-safety: pure functions. Status codes: kInvalidArgument only, with a message that names
// the argument (`what`), the offending dtype, layout, device or size.
#ifndef CROSSLINK_TORCH_TENSOR_CHECKS_H_
#define CROSSLINK_TORCH_TENSOR_CHECKS_H_

#include <ATen/core/Tensor.h>

#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "crosslink/collectives/datatype.h"

namespace crosslink::torch {

// float32, float64, float16, bfloat16, int32, int64 map to the collectives' DataType; any other
// dtype (bool, uint8, complex, ...) is kInvalidArgument naming it.
absl::StatusOr<collectives::DataType> DataTypeOf(c10::ScalarType scalar_type,
                                                 std::string_view what);

// A tensor a collective can use: defined, strided, contiguous (a view such as a transpose is
// refused rather than silently copied, because the caller expects the result in its storage), on
// the CPU or a CUDA device, of a supported dtype. Returns that dtype.
absl::StatusOr<collectives::DataType> CheckCollectiveTensor(const at::Tensor& tensor,
                                                            std::string_view what);

// An input and an output tensor of one collective: each as CheckCollectiveTensor ("<collective>
// input", "<collective> output"), and of the same dtype, which it returns.
absl::StatusOr<collectives::DataType> CheckCollectiveTensorPair(const at::Tensor& input,
                                                                const at::Tensor& output,
                                                                std::string_view collective);

// `tensor` has exactly `count` elements: "output has 12 elements, expected 16
// (world size 4 x 4)".
absl::Status CheckElementCount(const at::Tensor& tensor, std::string_view what, int64_t count,
                               std::string_view why);

}  // namespace crosslink::torch

#endif  // CROSSLINK_TORCH_TENSOR_CHECKS_H_
