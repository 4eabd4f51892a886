#include "tests/collectives/collective_suite.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "collectives/half.h"

namespace tangram::collectives::testing {
namespace {

// Storage type and conversions for each DataType; Accumulate is the type sums are divided in.
template <typename Storage, typename Accumulate>
struct Plain {
  using T = Storage;
  using Acc = Accumulate;
  static T Store(double v) { return static_cast<T>(v); }
  static double Load(T v) { return static_cast<double>(v); }
};
struct Bf16 {
  using T = uint16_t;
  using Acc = float;
  static T Store(double v) { return FloatToBf16(static_cast<float>(v)); }
  static double Load(T v) { return Bf16ToFloat(v); }
};
struct F16 {
  using T = uint16_t;
  using Acc = float;
  static T Store(double v) { return FloatToF16(static_cast<float>(v)); }
  static double Load(T v) { return F16ToFloat(v); }
};

double Tolerance(DataType type) {
  switch (type) {
    case DataType::kBF16:
      return 1.0 / 128;
    case DataType::kF16:
      return 1.0 / 1024;
    case DataType::kI32:
    case DataType::kI64:
      return 0.0;
    default:
      return 1e-6;
  }
}

// Serial reference: for each residue c = 7i mod 5, the op over ranks of ((3r + c) mod 5) - 2.
struct Reference {
  double sum[5], max[5], min[5];
  explicit Reference(int ranks) {
    for (int c = 0; c < 5; ++c) {
      sum[c] = 0;
      max[c] = -1e9;
      min[c] = 1e9;
      for (int r = 0; r < ranks; ++r) {
        const double v = InputValue(r, c * 3 % 5);  // 7 * (3c mod 5) = c (mod 5)
        sum[c] += v;
        max[c] = std::max(max[c], v);
        min[c] = std::min(min[c], v);
      }
    }
  }
};

template <typename Traits>
class TypeSuite {
 public:
  using T = typename Traits::T;
  TypeSuite(Communicator& comm, DataType type, const SuiteOptions& options)
      : comm_(comm),
        type_(type),
        options_(options),
        p_(comm.size()),
        me_(comm.rank()),
        reference_(comm.size()) {}

  absl::Status Run(size_t n) {
    const std::vector<Algorithm>& all = options_.allreduce_algorithms;
    const bool large = n >= options_.large_count;
    if (large) {
      // Large sizes check data movement: each op once with the first algorithm, in place and
      // out of place alternately.
      bool in_place = false;
      for (ReduceOp op : kAllReduceOps) {
        TANGRAM_RETURN_IF_ERROR(AllReduce(n, op, all[0], in_place));
        in_place = !in_place;
      }
    } else {
      for (ReduceOp op : kAllReduceOps) {
        for (Algorithm algorithm : all) {
          for (bool in_place : {false, true}) {
            TANGRAM_RETURN_IF_ERROR(AllReduce(n, op, algorithm, in_place));
          }
        }
      }
    }
    const size_t block = n >= static_cast<size_t>(p_) ? n / p_ : n;
    TANGRAM_RETURN_IF_ERROR(ReduceScatter(block, ReduceOp::kSum));
    if (!large) TANGRAM_RETURN_IF_ERROR(ReduceScatter(block, ReduceOp::kMax));
    TANGRAM_RETURN_IF_ERROR(AllGather(block));
    TANGRAM_RETURN_IF_ERROR(AllGatherV(n));
    TANGRAM_RETURN_IF_ERROR(Broadcast(n, static_cast<int>(n % p_)));
    TANGRAM_RETURN_IF_ERROR(Reduce(n, ReduceOp::kSum, static_cast<int>((n + 1) % p_)));
    if (!large) TANGRAM_RETURN_IF_ERROR(Reduce(n, ReduceOp::kMin, 0));
    TANGRAM_RETURN_IF_ERROR(SendRecvRing(n));
    return Annotate(comm_.Barrier(), What("barrier", n));
  }

 private:
  std::string What(absl::string_view op, size_t n) const {
    return absl::StrCat(op, " ", DataTypeName(type_), " n=", n, " ranks=", p_, " rank=", me_);
  }

  double Want(ReduceOp op, size_t i) const {
    const int c = static_cast<int>(i * 7 % 5);
    switch (op) {
      case ReduceOp::kSum:
        return reference_.sum[c];
      case ReduceOp::kMax:
        return reference_.max[c];
      case ReduceOp::kMin:
        return reference_.min[c];
      case ReduceOp::kAvg:
        return Traits::Load(
            Traits::Store(static_cast<double>(static_cast<typename Traits::Acc>(reference_.sum[c]) /
                                              static_cast<typename Traits::Acc>(p_))));
    }
    return 0;
  }

  template <typename F>
  absl::Status Check(const std::string& what, const T* got, size_t n, F want) const {
    const double tolerance = Tolerance(type_);
    for (size_t i = 0; i < n; ++i) {
      const double expected = want(i);
      const double actual = Traits::Load(got[i]);
      if (!(std::abs(actual - expected) <= tolerance * std::abs(expected))) {
        return absl::InternalError(
            absl::StrCat(what, ": element ", i, " is ", actual, ", expected ", expected));
      }
    }
    return absl::OkStatus();
  }

  void Fill(T* data, size_t n, int rank, size_t first) const {
    for (size_t i = 0; i < n; ++i) data[i] = Traits::Store(InputValue(rank, first + i));
  }

  absl::Status AllReduce(size_t n, ReduceOp op, Algorithm algorithm, bool in_place) {
    std::vector<T> in(n), out(n, Traits::Store(99));
    Fill(in.data(), n, me_, 0);
    const std::string what =
        What(absl::StrCat("allreduce ", ReduceOpName(op), " ", AlgorithmName(algorithm),
                          in_place ? " in-place" : ""),
             n);
    CallOptions call;
    call.algorithm = algorithm;
    T* result = in_place ? in.data() : out.data();
    TANGRAM_RETURN_IF_ERROR(Annotate(comm_.AllReduce(in.data(), result, n, type_, op, call), what));
    return Check(what, result, n, [&](size_t i) { return Want(op, i); });
  }

  absl::Status ReduceScatter(size_t block, ReduceOp op) {
    std::vector<T> in(block * p_), out(block);
    Fill(in.data(), in.size(), me_, 0);
    const std::string what = What(absl::StrCat("reduce_scatter ", ReduceOpName(op)), block * p_);
    TANGRAM_RETURN_IF_ERROR(
        Annotate(comm_.ReduceScatter(in.data(), out.data(), block, type_, op), what));
    return Check(what, out.data(), block, [&](size_t i) { return Want(op, me_ * block + i); });
  }

  absl::Status AllGather(size_t block) {
    std::vector<T> in(block), out(block * p_);
    Fill(in.data(), block, me_, 0);
    const std::string what = What("allgather", block * p_);
    TANGRAM_RETURN_IF_ERROR(Annotate(comm_.AllGather(in.data(), out.data(), block, type_), what));
    return Check(what, out.data(), out.size(),
                 [&](size_t i) { return InputValue(static_cast<int>(i / block), i % block); });
  }

  absl::Status AllGatherV(size_t n) {
    // Uneven shares with zeros: weights 1, 0, 3, 1, 0, 3, ...
    std::vector<size_t> weight(p_), counts(p_), first(p_ + 1, 0);
    size_t total_weight = 0;
    for (int r = 0; r < p_; ++r) total_weight += weight[r] = r % 3 == 1 ? 0 : r % 3 + 1;
    size_t prefix = 0;
    for (int r = 0; r < p_; ++r) {
      prefix += weight[r];
      first[r + 1] = r + 1 == p_ ? n : n * prefix / total_weight;
      counts[r] = first[r + 1] - first[r];
    }
    std::vector<T> in(counts[me_]), out(n);
    Fill(in.data(), in.size(), me_, first[me_]);
    const std::string what = What("allgatherv", n);
    TANGRAM_RETURN_IF_ERROR(Annotate(comm_.AllGatherV(in.data(), out.data(), counts, type_), what));
    int owner = 0;
    return Check(what, out.data(), n, [&](size_t i) {
      while (i >= first[owner + 1]) ++owner;
      return InputValue(owner, i);
    });
  }

  absl::Status Broadcast(size_t n, int root) {
    std::vector<T> data(n, Traits::Store(99));
    if (me_ == root) Fill(data.data(), n, root, 0);
    const std::string what = What(absl::StrCat("broadcast root=", root), n);
    TANGRAM_RETURN_IF_ERROR(Annotate(comm_.Broadcast(data.data(), n, type_, root), what));
    return Check(what, data.data(), n, [&](size_t i) { return InputValue(root, i); });
  }

  absl::Status Reduce(size_t n, ReduceOp op, int root) {
    std::vector<T> in(n), out(me_ == root ? n : 0);
    Fill(in.data(), n, me_, 0);
    const std::string what = What(absl::StrCat("reduce ", ReduceOpName(op), " root=", root), n);
    TANGRAM_RETURN_IF_ERROR(
        Annotate(comm_.Reduce(in.data(), out.data(), n, type_, op, root), what));
    return Check(what, out.data(), out.size(), [&](size_t i) { return Want(op, i); });
  }

  absl::Status SendRecvRing(size_t n) {
    std::vector<T> out(n), in(n);
    Fill(out.data(), n, me_, 0);
    const int next = (me_ + 1) % p_, prev = (me_ + p_ - 1) % p_;
    const std::string what = What("isend/irecv ring", n);
    TANGRAM_ASSIGN_OR_RETURN(auto recv, comm_.IRecv(in.data(), n, type_, prev, 5));
    TANGRAM_ASSIGN_OR_RETURN(auto send, comm_.ISend(out.data(), n, type_, next, 5));
    TANGRAM_RETURN_IF_ERROR(Annotate(send->Wait(), what));
    TANGRAM_RETURN_IF_ERROR(Annotate(recv->Wait(), what));
    return Check(what, in.data(), n, [&](size_t i) { return InputValue(prev, i); });
  }

  Communicator& comm_;
  DataType type_;
  const SuiteOptions& options_;
  int p_;
  int me_;
  Reference reference_;
};

}  // namespace

double InputValue(int rank, size_t index) {
  return static_cast<double>((3 * static_cast<size_t>(rank) + 7 * (index % 5)) % 5) - 2.0;
}

absl::Status RunCollectiveSuite(Communicator& comm, const SuiteOptions& options) {
  for (DataType type : options.types) {
    for (size_t n : options.sizes) {
      absl::Status status;
      switch (type) {
        case DataType::kF32:
          status = TypeSuite<Plain<float, float>>(comm, type, options).Run(n);
          break;
        case DataType::kF64:
          status = TypeSuite<Plain<double, double>>(comm, type, options).Run(n);
          break;
        case DataType::kI32:
          status = TypeSuite<Plain<int32_t, int64_t>>(comm, type, options).Run(n);
          break;
        case DataType::kI64:
          status = TypeSuite<Plain<int64_t, int64_t>>(comm, type, options).Run(n);
          break;
        case DataType::kBF16:
          status = TypeSuite<Bf16>(comm, type, options).Run(n);
          break;
        case DataType::kF16:
          status = TypeSuite<F16>(comm, type, options).Run(n);
          break;
      }
      TANGRAM_RETURN_IF_ERROR(status);
    }
  }
  return absl::OkStatus();
}

}  // namespace tangram::collectives::testing
