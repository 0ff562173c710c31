// crosslink._crosslink: the pybind11 skin over crosslink::torch that the Python package
// (python/crosslink/torch.py) builds on. It joins a job (from crosslink-run's environment, or from
// a coordinator address and token that the ranks exchanged through torch's c10d store), hands
// torch a ProcessGroupCrosslink (a c10d::ProcessGroup in torch 1.x, a c10d::Backend in torch 2.x),
// and exposes the group's CollectiveOptions, the last collective's statistics and DiLoCo.
//
// Errors: a Crosslink status with kInvalidArgument becomes ValueError, every other one
// RuntimeError carrying the status text (which names the rank and link); this holds for the
// CollectiveError that the process group throws from inside torch's own bindings too, because
// the translator registered here is global to the pybind11 internals torch shares.
// Threads: every blocking call releases the GIL.
#include <pybind11/stl.h>
#include <torch/csrc/utils/pybind.h>  // c10::intrusive_ptr holders, at::Tensor casters
#include <torch/version.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "crosslink/runtime/communicator.h"
#include "crosslink/runtime/coordinator_client.h"
#include "crosslink/runtime/coordinator_server.h"
#include "crosslink/torch/collective_error.h"
#include "crosslink/torch/diloco.h"
#include "crosslink/torch/process_group_crosslink.h"
#include "crosslink/torch/tensor_collectives.h"

namespace py = pybind11;

namespace crosslink::python {
namespace {

using ::crosslink::torch::CollectiveError;
using ::crosslink::torch::ProcessGroupCrosslink;
using ::crosslink::torch::TensorCollectives;

[[noreturn]] void Throw(const absl::Status& status) {
  if (status.code() == absl::StatusCode::kInvalidArgument) {
    throw py::value_error(status.ToString());
  }
  throw CollectiveError(status);
}

void ThrowIfError(const absl::Status& status) {
  if (!status.ok()) Throw(status);
}

template <typename T>
T ValueOrThrow(absl::StatusOr<T> value) {
  if (!value.ok()) Throw(value.status());
  return *std::move(value);
}

absl::Duration Seconds(double seconds, const char* what) {
  if (!(seconds > 0)) {
    throw py::value_error(
        absl::StrCat(what, " must be a positive number of seconds, got ", seconds));
  }
  return absl::Seconds(seconds);
}

// The coordinator that rank 0 starts when torch's store, not crosslink-run, brought the ranks
// together (torchrun, mp.spawn, any init_method). It lives as long as rank 0's communicator.
struct Coordinator {
  std::shared_ptr<runtime::CoordinatorServer> server;
  std::string token;
};

Coordinator StartCoordinator(int world_size, const std::string& bind_address,
                             const std::string& scenario_path, const std::string& token,
                             double rendezvous_timeout_s) {
  runtime::CoordinatorOptions options;
  options.world_size = world_size;
  options.job_token = token;
  options.bind_address = bind_address;
  options.port = 0;
  options.job_id = absl::StrCat("python-", token.substr(0, 8));
  options.rendezvous_timeout = Seconds(rendezvous_timeout_s, "rendezvous timeout");
  if (!scenario_path.empty()) {
    std::ifstream in(scenario_path);
    if (!in) {
      Throw(absl::NotFoundError(absl::StrCat("cannot read the scenario file \"", scenario_path,
                                             "\" (CROSSLINK_SCENARIO)")));
    }
    std::stringstream text;
    text << in.rdbuf();
    options.scenario_text = text.str();
  }
  py::gil_scoped_release release;
  auto server = ValueOrThrow(runtime::CoordinatorServer::Start(std::move(options)));
  return Coordinator{std::shared_ptr<runtime::CoordinatorServer>(std::move(server)), token};
}

// The communicator is destroyed before the coordinator it may host: rank 0's coordinator must
// outlive rank 0's own heartbeats and connections.
c10::intrusive_ptr<ProcessGroupCrosslink> MakeGroup(
    std::unique_ptr<runtime::Communicator> communicator,
    std::shared_ptr<runtime::CoordinatorServer> server, absl::Duration timeout) {
  std::shared_ptr<runtime::Communicator> shared(
      communicator.release(), [server = std::move(server)](runtime::Communicator* c) { delete c; });
  auto collectives = std::make_shared<TensorCollectives>(std::move(shared));
  return c10::make_intrusive<ProcessGroupCrosslink>(std::move(collectives), timeout);
}

c10::intrusive_ptr<ProcessGroupCrosslink> CreateGroup(
    int rank, int world_size, const std::string& coordinator_address, const std::string& token,
    const std::string& scenario_path, double timeout_s, const Coordinator* coordinator) {
  runtime::CommunicatorOptions options;
  options.rank = rank;
  options.world_size = world_size;
  options.coordinator_address = coordinator_address;
  options.job_token = token;
  options.scenario_path = scenario_path;
  options.setup_timeout = Seconds(timeout_s, "timeout");
  ThrowIfError(runtime::ApplyEnvironmentTuning(options));
  std::unique_ptr<runtime::Communicator> communicator;
  {
    py::gil_scoped_release release;
    communicator = ValueOrThrow(runtime::Communicator::Create(std::move(options)));
  }
  return MakeGroup(std::move(communicator), coordinator ? coordinator->server : nullptr,
                   absl::Seconds(timeout_s));
}

c10::intrusive_ptr<ProcessGroupCrosslink> GroupFromEnvironment(double timeout_s) {
  const absl::Duration timeout = Seconds(timeout_s, "timeout");
  std::unique_ptr<runtime::Communicator> communicator;
  {
    py::gil_scoped_release release;
    communicator = ValueOrThrow(runtime::Communicator::CreateFromEnvironment(timeout));
  }
  return MakeGroup(std::move(communicator), nullptr, timeout);
}

// The coordinator's key-value store, for the rendezvous of torch's own store under crosslink-run
// (whose coordinator holds MASTER_PORT). A client that is no rank (-1), so it never heartbeats.
std::unique_ptr<runtime::CoordinatorClient> KvClient(const std::string& address,
                                                     const std::string& token) {
  runtime::CoordinatorClientOptions options;
  options.address = address;
  options.job_token = token;
  options.rank = -1;
  return ValueOrThrow(runtime::CoordinatorClient::Create(std::move(options)));
}

void KvSet(const std::string& address, const std::string& token, const std::string& key,
           const std::string& value, double timeout_s) {
  const absl::Time deadline = absl::Now() + Seconds(timeout_s, "timeout");
  py::gil_scoped_release release;
  ThrowIfError(KvClient(address, token)->KvSet(key, value, deadline));
}

std::string KvGet(const std::string& address, const std::string& token, const std::string& key,
                  double timeout_s) {
  const absl::Time deadline = absl::Now() + Seconds(timeout_s, "timeout");
  py::gil_scoped_release release;
  return ValueOrThrow(KvClient(address, token)->KvGet(key, deadline));
}

collectives::WireCompression ParseCompression(const std::string& name) {
  if (name == "none") return collectives::WireCompression::kNone;
  if (name == "bf16") return collectives::WireCompression::kBf16;
  if (name == "int8") return collectives::WireCompression::kInt8;
  throw py::value_error(
      absl::StrCat("compression must be \"none\", \"bf16\" or \"int8\", got \"", name, "\""));
}

const char* CompressionName(collectives::WireCompression compression) {
  switch (compression) {
    case collectives::WireCompression::kBf16:
      return "bf16";
    case collectives::WireCompression::kInt8:
      return "int8";
    default:
      return "none";
  }
}

void SetOptions(ProcessGroupCrosslink& group, double timeout_s, bool contact_aware,
                const std::string& compression, int min_participants) {
  runtime::CollectiveOptions options = group.options();
  options.timeout = Seconds(timeout_s, "deadline");
  options.contact_aware = contact_aware;
  options.compression = ParseCompression(compression);
  options.min_participants = min_participants;
  ThrowIfError(group.set_options(options));
}

py::dict GetOptions(const ProcessGroupCrosslink& group) {
  const runtime::CollectiveOptions options = group.options();
  py::dict out;
  out["deadline"] = absl::ToDoubleSeconds(options.timeout);
  out["contact_aware"] = options.contact_aware;
  out["compression"] = CompressionName(options.compression);
  out["min_participants"] = options.min_participants;
  return out;
}

py::dict LastStats(ProcessGroupCrosslink& group) {
  runtime::Communicator& comm = group.collectives().communicator();
  const runtime::CollectiveStats stats = comm.last_stats();
  std::vector<int> contributors;
  for (size_t r = 0; r < stats.contributors.size(); ++r) {
    if (stats.contributors[r]) contributors.push_back(static_cast<int>(r));
  }
  py::dict out;
  out["sequence"] = stats.sequence;
  out["algorithm"] = stats.algorithm;
  out["contributors"] = contributors;
  out["participants"] = stats.participants;
  out["outages"] = stats.outages_met;
  out["resent"] = stats.chunks_resent;
  out["elapsed_s"] = absl::ToDoubleSeconds(stats.elapsed);
  out["outages_total"] = comm.outages_met();
  return out;
}

// DiLoCo over a group's collectives (diloco.h); Python calls after_inner_step after each inner
// optimiser step.
class PyDiLoCo {
 public:
  PyDiLoCo(ProcessGroupCrosslink& group, std::vector<at::Tensor> parameters, int64_t inner_steps,
           const std::string& wire, double outer_lr, double outer_momentum, int64_t max_shift_steps,
           bool contact_aware, double sync_timeout_s) {
    torch::DiLoCoOptions options;
    options.inner_steps = inner_steps;
    if (wire == "bf16") {
      options.wire_dtype = torch::DiLoCoWireDtype::kBFloat16;
    } else if (wire == "fp32") {
      options.wire_dtype = torch::DiLoCoWireDtype::kFloat32;
    } else {
      throw py::value_error(absl::StrCat("wire must be \"fp32\" or \"bf16\", got \"", wire, "\""));
    }
    options.outer_lr = outer_lr;
    options.outer_momentum = outer_momentum;
    options.max_shift_steps = max_shift_steps;
    options.contact_aware = contact_aware;
    options.sync_timeout = Seconds(sync_timeout_s, "sync_timeout");
    diloco_ = ValueOrThrow(
        torch::DiLoCo::Create(group.shared_collectives(), std::move(parameters), options));
  }

  bool AfterInnerStep(int64_t step) {
    py::gil_scoped_release release;
    return ValueOrThrow(diloco_->AfterInnerStep(step));
  }

  py::dict Stats() const {
    const torch::DiLoCoStats& stats = diloco_->stats();
    py::dict out;
    out["syncs"] = stats.syncs;
    out["sync_steps"] = stats.sync_steps;
    out["syncs_moved"] = stats.syncs_moved;
    out["syncs_in_window"] = stats.syncs_in_window;
    out["allreduce_payload_bytes"] = stats.allreduce_payload_bytes;
    out["sync_wall_s"] = absl::ToDoubleSeconds(stats.sync_wall_time);
    return out;
  }

 private:
  std::unique_ptr<torch::DiLoCo> diloco_;
};

}  // namespace
}  // namespace crosslink::python

PYBIND11_MODULE(_crosslink, m) {
  using namespace crosslink::python;
  m.doc() = "Crosslink's torch.distributed backend (see crosslink.torch)";
  // The base class (c10d::ProcessGroup or c10d::Backend) is registered by torch's own module.
  py::module_::import("torch.distributed");

  py::register_exception_translator([](std::exception_ptr error) {
    try {
      if (error) std::rethrow_exception(error);
    } catch (const CollectiveError& e) {
      if (e.code() == absl::StatusCode::kInvalidArgument) {
        PyErr_SetString(PyExc_ValueError, e.what());
      } else {
        PyErr_SetString(PyExc_RuntimeError, e.what());
      }
    }
  });

  m.attr("TORCH_VERSION") = TORCH_VERSION;

  py::class_<ProcessGroupCrosslink, CROSSLINK_C10D_BASE, c10::intrusive_ptr<ProcessGroupCrosslink>>(
      m, "ProcessGroupCrosslink")
      .def("set_options", &SetOptions, py::arg("deadline_s"), py::arg("contact_aware"),
           py::arg("compression"), py::arg("min_participants"))
      .def("options", &GetOptions)
      .def("last_stats", &LastStats)
      .def("crosslink_rank", [](ProcessGroupCrosslink& g) { return g.collectives().rank(); })
      .def("crosslink_world_size",
           [](ProcessGroupCrosslink& g) { return g.collectives().world_size(); });

  py::class_<Coordinator>(m, "Coordinator")
      .def_property_readonly("port", [](const Coordinator& c) { return c.server->port(); })
      .def_property_readonly("token", [](const Coordinator& c) { return c.token; });

  m.def("start_coordinator", &StartCoordinator, py::arg("world_size"), py::arg("bind_address"),
        py::arg("scenario_path"), py::arg("token"), py::arg("rendezvous_timeout_s"));
  m.def("create_process_group", &CreateGroup, py::arg("rank"), py::arg("world_size"),
        py::arg("coordinator_address"), py::arg("token"), py::arg("scenario_path"),
        py::arg("timeout_s"), py::arg("coordinator") = nullptr);
  m.def("process_group_from_environment", &GroupFromEnvironment, py::arg("timeout_s"));
  m.def("kv_set", &KvSet, py::arg("address"), py::arg("token"), py::arg("key"), py::arg("value"),
        py::arg("timeout_s"));
  m.def("kv_get", &KvGet, py::arg("address"), py::arg("token"), py::arg("key"),
        py::arg("timeout_s"));

  py::class_<PyDiLoCo>(m, "DiLoCoCore")
      .def(py::init<ProcessGroupCrosslink&, std::vector<at::Tensor>, int64_t, const std::string&,
                    double, double, int64_t, bool, double>(),
           py::arg("group"), py::arg("parameters"), py::arg("inner_steps"), py::arg("wire"),
           py::arg("outer_lr"), py::arg("outer_momentum"), py::arg("max_shift_steps"),
           py::arg("contact_aware"), py::arg("sync_timeout_s"))
      .def("after_inner_step", &PyDiLoCo::AfterInnerStep, py::arg("step"))
      .def("stats", &PyDiLoCo::Stats);
}
