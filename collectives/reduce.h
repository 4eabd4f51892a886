// Element-wise reduction kernels on host memory, used by every point-to-point algorithm.
//
// bf16 and f16 are converted to f32, combined in f32 and rounded once per call. All functions are
// thread-safe (they touch only their arguments).
#ifndef TANGRAM_COLLECTIVES_REDUCE_H_
#define TANGRAM_COLLECTIVES_REDUCE_H_

#include <cstddef>

#include "collectives/types.h"

namespace tangram::collectives {

// inout[i] = op(inout[i], in[i]) for i < count. kAvg combines as kSum; call FinishAverage after
// the last combine. `inout` and `in` must not overlap.
void ReduceInto(void* inout, const void* in, size_t count, DataType type, ReduceOp op);

// Divides each of the `count` elements by `ranks` when op is kAvg; does nothing otherwise.
void FinishAverage(void* inout, size_t count, DataType type, ReduceOp op, int ranks);

}  // namespace tangram::collectives

#endif  // TANGRAM_COLLECTIVES_REDUCE_H_
