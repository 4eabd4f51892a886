// Collectives for Python: `_tangram.Communicator` runs every call of one rank on a worker thread
// that owns the C++ Communicator (which is used by one thread at a time), in submission order, so
// every call is asynchronous and returns a `Work` to wait on; tangram.torch wraps that into sync
// and async forms. Buffers are raw addresses (a torch tensor's data_ptr()): no copies, and the
// caller keeps the tensor alive until the Work completes (the Python wrapper holds it).
//
// Point-to-point: send/recv start a non-blocking request on the worker; the Work completes when
// its wait() has run on the worker (so a rank can post a receive and a send before waiting).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "collectives/communicator.h"
#include "collectives/sim/sim_world.h"
#include "orchestrator/probe/link_probe.h"
#include "partitioner/measurements.h"
#include "python/src/errors.h"
#include "python/src/registry.h"

namespace py = pybind11;

namespace tangram::python {
namespace {

using collectives::CallOptions;
using collectives::Communicator;
using collectives::DataType;
using collectives::ReduceOp;

// One submitted call. Thread-safe.
class Work {
 public:
  void Finish(absl::Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = std::move(status);
    done_ = true;
    cv_.notify_all();
  }
  bool Done() {
    std::lock_guard<std::mutex> lock(mu_);
    return done_;
  }
  absl::Status Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return done_; });
    return status_;
  }
  // Point-to-point: the request the worker started, completed by a later wait task.
  std::unique_ptr<collectives::Request> request;
  bool wait_submitted = false;  // guarded by the Python GIL (only Python calls touch it)

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  absl::Status status_;
};

class PyCommunicator {
 public:
  using Task = std::function<void(Communicator&)>;

  explicit PyCommunicator(std::unique_ptr<Communicator> comm)
      : comm_(std::move(comm)), worker_([this] { Loop(); }) {}
  ~PyCommunicator() { Shutdown(); }

  int rank() const { return comm_->rank(); }
  int size() const { return comm_->size(); }
  std::string transport() const { return std::string(comm_->transport_name()); }

  // Runs `fn` on the worker; the returned Work completes with its status.
  std::shared_ptr<Work> Submit(std::function<absl::Status(Communicator&)> fn) {
    auto work = std::make_shared<Work>();
    Enqueue([work, fn = std::move(fn)](Communicator& c) { work->Finish(fn(c)); }, work);
    return work;
  }

  // Starts a point-to-point request on the worker; the Work completes once WaitP2P's task ran.
  std::shared_ptr<Work> SubmitP2P(
      std::function<absl::StatusOr<std::unique_ptr<collectives::Request>>(Communicator&)> start) {
    auto work = std::make_shared<Work>();
    Enqueue(
        [work, start = std::move(start)](Communicator& c) {
          auto request = start(c);
          if (!request.ok()) {
            work->Finish(request.status());
          } else {
            work->request = *std::move(request);
          }
        },
        work);
    return work;
  }

  // Completes a Work: for point-to-point, queues the request's wait first.
  absl::Status Wait(const std::shared_ptr<Work>& work, bool p2p) {
    if (p2p && !work->wait_submitted) {
      work->wait_submitted = true;
      Enqueue(
          [work](Communicator&) {
            if (work->Done()) return;  // the start failed
            work->Finish(work->request->Wait());
            work->request.reset();
          },
          work);
    }
    py::gil_scoped_release release;
    return work->Wait();
  }

  void Abort(const std::string& reason) {
    Submit([reason](Communicator& c) {
      c.Abort(absl::AbortedError(reason));
      return absl::OkStatus();
    });
  }

  // Finishes the queued calls, stops the worker and destroys the communicator. Idempotent.
  void Shutdown() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
      stopping_ = true;
      cv_.notify_all();
    }
    py::gil_scoped_release release;
    if (worker_.joinable()) worker_.join();
    comm_.reset();
  }

 private:
  void Enqueue(Task task, const std::shared_ptr<Work>& work) {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      work->Finish(absl::FailedPreconditionError("the communicator was shut down"));
      return;
    }
    queue_.push_back(std::move(task));
    cv_.notify_all();
  }

  void Loop() {
    for (;;) {
      Task task;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, and everything queued ran
        task = std::move(queue_.front());
        queue_.pop_front();
      }
      task(*comm_);
    }
  }

  std::unique_ptr<Communicator> comm_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Task> queue_;
  bool stopping_ = false;
  std::thread worker_;  // last: starts after the members it uses
};

DataType ParseType(const std::string& name) {
  return ValueOrThrow(collectives::ParseDataType(name));
}
ReduceOp ParseOp(const std::string& name) { return ValueOrThrow(collectives::ParseReduceOp(name)); }

CallOptions Options(double timeout_s) {
  CallOptions options;
  if (timeout_s > 0) options.timeout = absl::Seconds(timeout_s);
  return options;
}

const void* Ptr(uintptr_t p) { return reinterpret_cast<const void*>(p); }
void* MutPtr(uintptr_t p) { return reinterpret_cast<void*>(p); }

collectives::CommunicatorOptions CommOptions(double timeout_s, int cuda_device) {
  collectives::CommunicatorOptions options;
  if (timeout_s > 0) options.timeout = absl::Seconds(timeout_s);
  options.cuda_device = cuda_device;
  return options;
}

using PyCommunicatorClass = py::class_<PyCommunicator, std::shared_ptr<PyCommunicator>>;

// Communicator.create and what a communicator says about itself, and wait.
void BindCommunicatorBasics(PyCommunicatorClass& cls) {
  cls.def_static(
         "create",
         [](const std::string& transport, double timeout_s, int cuda_device) {
           std::unique_ptr<Communicator> comm;
           {
             py::gil_scoped_release release;
             comm = ValueOrThrow(
                 collectives::CreateCommunicator(transport, CommOptions(timeout_s, cuda_device)));
           }
           return std::make_shared<PyCommunicator>(std::move(comm));
         },
         py::arg("transport"), py::arg("timeout_s") = 0.0, py::arg("cuda_device") = -1,
         "This process's communicator over MPI_COMM_WORLD (\"mpi\", \"nccl\").")
      .def_property_readonly("rank", &PyCommunicator::rank)
      .def_property_readonly("size", &PyCommunicator::size)
      .def_property_readonly("transport", &PyCommunicator::transport)
      .def(
          "wait",
          [](PyCommunicator& self, const std::shared_ptr<Work>& work, bool p2p) {
            ThrowIfError(self.Wait(work, p2p));
          },
          py::arg("work"), py::arg("p2p") = false);
}

// The collectives: each submits to the communicator's worker and returns a Work.
void BindCollectiveCalls(PyCommunicatorClass& cls) {
  cls.def("allreduce",
          [](PyCommunicator& self, uintptr_t send, uintptr_t recv, size_t count,
             const std::string& dtype, const std::string& op, double timeout_s) {
            DataType t = ParseType(dtype);
            ReduceOp o = ParseOp(op);
            return self.Submit([=](Communicator& c) {
              return c.AllReduce(Ptr(send), MutPtr(recv), count, t, o, Options(timeout_s));
            });
          })
      .def("reduce_scatter",
           [](PyCommunicator& self, uintptr_t send, uintptr_t recv, size_t recv_count,
              const std::string& dtype, const std::string& op, double timeout_s) {
             DataType t = ParseType(dtype);
             ReduceOp o = ParseOp(op);
             return self.Submit([=](Communicator& c) {
               return c.ReduceScatter(Ptr(send), MutPtr(recv), recv_count, t, o,
                                      Options(timeout_s));
             });
           })
      .def("allgather",
           [](PyCommunicator& self, uintptr_t send, uintptr_t recv, size_t send_count,
              const std::string& dtype, double timeout_s) {
             DataType t = ParseType(dtype);
             return self.Submit([=](Communicator& c) {
               return c.AllGather(Ptr(send), MutPtr(recv), send_count, t, Options(timeout_s));
             });
           })
      .def("allgatherv",
           [](PyCommunicator& self, uintptr_t send, uintptr_t recv, std::vector<size_t> counts,
              const std::string& dtype, double timeout_s) {
             DataType t = ParseType(dtype);
             return self.Submit([=](Communicator& c) {
               return c.AllGatherV(Ptr(send), MutPtr(recv), counts, t, Options(timeout_s));
             });
           })
      .def("broadcast",
           [](PyCommunicator& self, uintptr_t buffer, size_t count, const std::string& dtype,
              int root, double timeout_s) {
             DataType t = ParseType(dtype);
             return self.Submit([=](Communicator& c) {
               return c.Broadcast(MutPtr(buffer), count, t, root, Options(timeout_s));
             });
           })
      .def("barrier", [](PyCommunicator& self, double timeout_s) {
        return self.Submit([=](Communicator& c) { return c.Barrier(Options(timeout_s)); });
      });
}

void BindPointToPoint(PyCommunicatorClass& cls) {
  cls.def("send",
          [](PyCommunicator& self, uintptr_t buffer, size_t count, const std::string& dtype,
             int peer, int tag, double timeout_s) {
            DataType t = ParseType(dtype);
            return self.SubmitP2P([=](Communicator& c) {
              return c.ISend(Ptr(buffer), count, t, peer, tag, Options(timeout_s));
            });
          })
      .def("recv", [](PyCommunicator& self, uintptr_t buffer, size_t count,
                      const std::string& dtype, int peer, int tag, double timeout_s) {
        DataType t = ParseType(dtype);
        return self.SubmitP2P([=](Communicator& c) {
          return c.IRecv(MutPtr(buffer), count, t, peer, tag, Options(timeout_s));
        });
      });
}

// The link probe `tangram train` runs at its start (orchestrator/probe/link_probe.h), over this
// communicator: collective, blocking. `hosts` and `islands` give every rank's place; the result
// is what plan_measured applies to the measured fleet (links, NIC sharing, pairs of hosts).
void BindLinkProbe(PyCommunicatorClass& cls, py::module_& m) {
  py::class_<partitioner::Measurements, std::shared_ptr<partitioner::Measurements>>(
      m, "LinkMeasurements")
      .def_property_readonly("lines",
                             [](const partitioner::Measurements& l) {
                               return orchestrator::DescribeLinks(l.links, l.nic, l.host_links,
                                                                  l.fanout);
                             })
      .def_property_readonly("hosts", [](const partitioner::Measurements& l) { return l.hosts; });
  cls.def(
      "probe_links",
      [](PyCommunicator& self, const std::vector<std::string>& hosts,
         const std::vector<int>& islands, size_t gradient_bytes) {
        if (static_cast<int>(hosts.size()) != self.size() ||
            static_cast<int>(islands.size()) != self.size()) {
          throw StatusError(absl::InvalidArgumentError(
              absl::StrCat("probe_links: ", hosts.size(), " hosts and ", islands.size(),
                           " islands given for ", self.size(), " ranks (one of each per rank)")));
        }
        std::vector<orchestrator::RankPlace> places;
        for (size_t r = 0; r < hosts.size(); ++r) places.push_back({hosts[r], islands[r]});
        orchestrator::LinkProbeOptions options;
        options.gradient_bytes = gradient_bytes;
        auto out = std::make_shared<partitioner::Measurements>();
        auto work = self.Submit([&](Communicator& c) -> absl::Status {
          absl::StatusOr<orchestrator::LinkProbeResult> r =
              orchestrator::ProbeLinks(c, places, options);
          if (!r.ok()) return r.status();
          out->links = r->links;
          out->nic = r->nic;
          out->host_links = r->host_links;
          out->fanout = r->fanout;
          return absl::OkStatus();
        });
        ThrowIfError(self.Wait(work, false));
        for (const std::string& h : hosts) {
          if (std::find(out->hosts.begin(), out->hosts.end(), h) == out->hosts.end()) {
            out->hosts.push_back(h);
          }
        }
        out->ranks = self.size();
        return out;
      },
      py::arg("hosts"), py::arg("islands"), py::arg("gradient_bytes") = 0,
      "Measures the links between this communicator's ranks (collective); gradient_bytes: the "
      "allreduce training runs (0: the probe's largest size).");
}

// Ranks as threads of this process (tests): one SimWorld, one communicator per rank.
void BindSimWorld(py::module_& m) {
  py::class_<collectives::SimWorld, std::shared_ptr<collectives::SimWorld>>(m, "SimWorld")
      .def(py::init([](int ranks, double timeout_s) {
             collectives::SimOptions options;
             options.ranks = ranks;
             if (timeout_s > 0) options.timeout = absl::Seconds(timeout_s);
             return std::shared_ptr<collectives::SimWorld>(
                 ValueOrThrow(collectives::SimWorld::Create(options)));
           }),
           py::arg("ranks"), py::arg("timeout_s") = 0.0)
      .def_property_readonly("size", &collectives::SimWorld::size)
      .def(
          "communicator",
          [](collectives::SimWorld& world, int rank, double timeout_s) {
            collectives::CommunicatorOptions options = CommOptions(timeout_s, -1);
            if (timeout_s <= 0) options.timeout = world.options().timeout;
            return std::make_shared<PyCommunicator>(
                ValueOrThrow(world.CreateCommunicator(rank, options)));
          },
          py::arg("rank"), py::arg("timeout_s") = 0.0, py::keep_alive<0, 1>(),
          "Rank `rank`'s communicator; call once per rank.");
}

void Bind(py::module_& m) {
  py::class_<Work, std::shared_ptr<Work>>(m, "Work").def("done", &Work::Done);

  PyCommunicatorClass cls(m, "Communicator");
  BindCommunicatorBasics(cls);
  BindCollectiveCalls(cls);
  BindPointToPoint(cls);
  BindLinkProbe(cls, m);
  cls.def("abort", &PyCommunicator::Abort, py::arg("reason"))
      .def("shutdown", &PyCommunicator::Shutdown);

  BindSimWorld(m);

  m.def("data_types", [] {
    std::vector<std::string> names;
    for (DataType t : collectives::kAllDataTypes) {
      names.emplace_back(collectives::DataTypeName(t));
    }
    return names;
  });
}

}  // namespace

TANGRAM_PY_BINDINGS(10, collectives, Bind);

}  // namespace tangram::python
