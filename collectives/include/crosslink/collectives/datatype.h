// Element types and reduction operators of the collectives, as plain enums with their sizes and
// names. Every collective entry point and every plan carries one DataType and one ReduceOp; ranks
// that disagree on them are detected by the executor (see executor.h).
//
// Thread-safety: everything here is pure and thread-safe.
#ifndef CROSSLINK_COLLECTIVES_DATATYPE_H_
#define CROSSLINK_COLLECTIVES_DATATYPE_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace crosslink::collectives {

// Element type of a collective's buffer. kFloat16 is IEEE binary16, kBFloat16 is bfloat16 (the
// top half of a binary32); both travel as 2-byte words and reduce through float32 (see half.h).
enum class DataType : uint8_t {
  kFloat32 = 0,
  kFloat64 = 1,
  kFloat16 = 2,
  kBFloat16 = 3,
  kInt32 = 4,
  kInt64 = 5,
};
inline constexpr int kNumDataTypes = 6;

// Reduction applied element-wise. kAvg is kSum followed by one division by the plan's world size
// (the contributing ranks, for a collective that runs among fewer than all ranks), done once per
// element by the rank that owns the element's chunk (integer types: C++ integer division, which
// truncates toward zero, so the average of {1, 2} is 1 and of {-1, -2} is -1).
enum class ReduceOp : uint8_t {
  kSum = 0,
  kAvg = 1,
  kMin = 2,
  kMax = 3,
};
inline constexpr int kNumReduceOps = 4;

// Bytes per element: 4, 8, 2, 2, 4, 8.
constexpr size_t DataTypeSize(DataType type) {
  switch (type) {
    case DataType::kFloat32:
    case DataType::kInt32:
      return 4;
    case DataType::kFloat64:
    case DataType::kInt64:
      return 8;
    case DataType::kFloat16:
    case DataType::kBFloat16:
      return 2;
  }
  return 0;
}

// "float32", "float64", "float16", "bfloat16", "int32", "int64" ("unknown" for a bad value).
std::string_view DataTypeName(DataType type);
// "sum", "avg", "min", "max".
std::string_view ReduceOpName(ReduceOp op);

// Is `type` one of the enumerators (a value read off the wire or cast from an int may not be)?
bool IsValidDataType(DataType type);
bool IsValidReduceOp(ReduceOp op);

}  // namespace crosslink::collectives

#endif  // CROSSLINK_COLLECTIVES_DATATYPE_H_
