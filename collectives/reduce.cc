#include "collectives/reduce.h"

#include <algorithm>
#include <cstdint>

#include "collectives/half.h"

namespace tangram::collectives {
namespace {

template <typename T>
void Combine(T* inout, const T* in, size_t count, ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
    case ReduceOp::kAvg:
      for (size_t i = 0; i < count; ++i) inout[i] += in[i];
      break;
    case ReduceOp::kMax:
      for (size_t i = 0; i < count; ++i) inout[i] = std::max(inout[i], in[i]);
      break;
    case ReduceOp::kMin:
      for (size_t i = 0; i < count; ++i) inout[i] = std::min(inout[i], in[i]);
      break;
  }
}

// 16-bit floats: widen to f32, combine, round once.
template <float (*ToFloat)(uint16_t), uint16_t (*FromFloat)(float)>
void CombineHalf(uint16_t* inout, const uint16_t* in, size_t count, ReduceOp op) {
  for (size_t i = 0; i < count; ++i) {
    const float a = ToFloat(inout[i]);
    const float b = ToFloat(in[i]);
    float r;
    switch (op) {
      case ReduceOp::kMax:
        r = std::max(a, b);
        break;
      case ReduceOp::kMin:
        r = std::min(a, b);
        break;
      default:
        r = a + b;
    }
    inout[i] = FromFloat(r);
  }
}

template <typename T>
void Divide(T* inout, size_t count, int ranks) {
  for (size_t i = 0; i < count; ++i) inout[i] = static_cast<T>(inout[i] / static_cast<T>(ranks));
}

template <float (*ToFloat)(uint16_t), uint16_t (*FromFloat)(float)>
void DivideHalf(uint16_t* inout, size_t count, int ranks) {
  const float divisor = static_cast<float>(ranks);
  for (size_t i = 0; i < count; ++i) inout[i] = FromFloat(ToFloat(inout[i]) / divisor);
}

}  // namespace

void ReduceInto(void* inout, const void* in, size_t count, DataType type, ReduceOp op) {
  if (count == 0) return;
  switch (type) {
    case DataType::kF32:
      return Combine(static_cast<float*>(inout), static_cast<const float*>(in), count, op);
    case DataType::kF64:
      return Combine(static_cast<double*>(inout), static_cast<const double*>(in), count, op);
    case DataType::kI32:
      return Combine(static_cast<int32_t*>(inout), static_cast<const int32_t*>(in), count, op);
    case DataType::kI64:
      return Combine(static_cast<int64_t*>(inout), static_cast<const int64_t*>(in), count, op);
    case DataType::kBF16:
      return CombineHalf<Bf16ToFloat, FloatToBf16>(static_cast<uint16_t*>(inout),
                                                   static_cast<const uint16_t*>(in), count, op);
    case DataType::kF16:
      return CombineHalf<F16ToFloat, FloatToF16>(static_cast<uint16_t*>(inout),
                                                 static_cast<const uint16_t*>(in), count, op);
  }
}

void FinishAverage(void* inout, size_t count, DataType type, ReduceOp op, int ranks) {
  if (op != ReduceOp::kAvg || ranks <= 1) return;
  switch (type) {
    case DataType::kF32:
      return Divide(static_cast<float*>(inout), count, ranks);
    case DataType::kF64:
      return Divide(static_cast<double*>(inout), count, ranks);
    case DataType::kI32:
      return Divide(static_cast<int32_t*>(inout), count, ranks);
    case DataType::kI64:
      return Divide(static_cast<int64_t*>(inout), count, ranks);
    case DataType::kBF16:
      return DivideHalf<Bf16ToFloat, FloatToBf16>(static_cast<uint16_t*>(inout), count, ranks);
    case DataType::kF16:
      return DivideHalf<F16ToFloat, FloatToF16>(static_cast<uint16_t*>(inout), count, ranks);
  }
}

}  // namespace tangram::collectives
