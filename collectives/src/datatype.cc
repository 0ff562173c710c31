#include "crosslink/collectives/datatype.h"

namespace crosslink::collectives {

std::string_view DataTypeName(DataType type) {
  switch (type) {
    case DataType::kFloat32:
      return "float32";
    case DataType::kFloat64:
      return "float64";
    case DataType::kFloat16:
      return "float16";
    case DataType::kBFloat16:
      return "bfloat16";
    case DataType::kInt32:
      return "int32";
    case DataType::kInt64:
      return "int64";
  }
  return "unknown";
}

std::string_view ReduceOpName(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
      return "sum";
    case ReduceOp::kAvg:
      return "avg";
    case ReduceOp::kMin:
      return "min";
    case ReduceOp::kMax:
      return "max";
  }
  return "unknown";
}

bool IsValidDataType(DataType type) { return static_cast<uint8_t>(type) < kNumDataTypes; }

bool IsValidReduceOp(ReduceOp op) { return static_cast<uint8_t>(op) < kNumReduceOps; }

}  // namespace crosslink::collectives
