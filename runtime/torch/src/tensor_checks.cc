#include "crosslink/torch/tensor_checks.h"

#include <c10/core/ScalarType.h>

#include <sstream>

#include "absl/strings/str_cat.h"

namespace crosslink::torch {
namespace {

std::string SizesText(const at::Tensor& tensor) {
  std::ostringstream out;
  out << tensor.sizes() << " with strides " << tensor.strides();
  return out.str();
}

}  // namespace

absl::StatusOr<collectives::DataType> DataTypeOf(c10::ScalarType scalar_type,
                                                 std::string_view what) {
  switch (scalar_type) {
    case c10::ScalarType::Float:
      return collectives::DataType::kFloat32;
    case c10::ScalarType::Double:
      return collectives::DataType::kFloat64;
    case c10::ScalarType::Half:
      return collectives::DataType::kFloat16;
    case c10::ScalarType::BFloat16:
      return collectives::DataType::kBFloat16;
    case c10::ScalarType::Int:
      return collectives::DataType::kInt32;
    case c10::ScalarType::Long:
      return collectives::DataType::kInt64;
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          std::string(what), " has dtype ", c10::toString(scalar_type),
          ", which crosslink collectives do not support (they take Float, Double, Half, "
          "BFloat16, Int and Long)"));
  }
}

absl::StatusOr<collectives::DataType> CheckCollectiveTensor(const at::Tensor& tensor,
                                                            std::string_view what) {
  if (!tensor.defined())
    return absl::InvalidArgumentError(absl::StrCat(std::string(what), " is undefined"));
  if (tensor.layout() != c10::kStrided) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(what),
                     " is not a dense (strided) tensor; crosslink collectives take dense "
                     "tensors"));
  }
  if (!tensor.is_cpu() && !tensor.is_cuda()) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(what), " is on device ",
                                                   tensor.device().str(),
                                                   "; crosslink collectives take CPU or CUDA "
                                                   "tensors"));
  }
  if (!tensor.is_contiguous()) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(what), " is not contiguous (sizes ",
                                                   SizesText(tensor),
                                                   "); call .contiguous() and use that tensor"));
  }
  return DataTypeOf(tensor.scalar_type(), what);
}

absl::StatusOr<collectives::DataType> CheckCollectiveTensorPair(const at::Tensor& input,
                                                                const at::Tensor& output,
                                                                std::string_view collective) {
  const std::string name(collective);
  absl::StatusOr<collectives::DataType> type = CheckCollectiveTensor(input, name + " input");
  if (!type.ok()) return type.status();
  absl::StatusOr<collectives::DataType> output_type =
      CheckCollectiveTensor(output, name + " output");
  if (!output_type.ok()) return output_type.status();
  if (*output_type != *type) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " output has dtype ", c10::toString(output.scalar_type()),
                     ", input has ", c10::toString(input.scalar_type())));
  }
  return type;
}

absl::Status CheckElementCount(const at::Tensor& tensor, std::string_view what, int64_t count,
                               std::string_view why) {
  if (tensor.numel() == count) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(std::string(what), " has ", tensor.numel(),
                                                 " elements, expected ", count, " (",
                                                 std::string(why), ")"));
}

}  // namespace crosslink::torch
