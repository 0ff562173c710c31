#include "netns_network.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "crosslink/base/status_macros.h"

namespace crosslink::runtime {
namespace {

// Shaping a veth above this is pointless (it does not carry much more) and tbf's burst would
// have to be huge; such links are left unshaped.
constexpr double kUnshapedRateBps = 10e9;
constexpr int kMaxNodes = 250;

std::string LinkDevice(int k) { return absl::StrCat("x", k); }

// Writes `lines` to a temporary file and runs `tool -n ns -batch file` (ip or tc).
absl::Status RunBatch(const std::string& tool, const std::string& ns,
                      const std::vector<std::string>& lines) {
  if (lines.empty()) return absl::OkStatus();
  char path[] = "/tmp/crosslink-netns-batch-XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) return absl::InternalError("netns: cannot create a batch file in /tmp");
  std::string text;
  for (const std::string& line : lines) absl::StrAppend(&text, line, "\n");
  const bool written = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  absl::Status status = written ? RunNetCommand(absl::StrCat(tool, " -n ", ns, " -batch ", path))
                                : absl::InternalError("netns: cannot write a batch file");
  unlink(path);
  return status;
}

}  // namespace

absl::Status RunNetCommand(const std::string& command) {
  const std::string line = absl::StrCat(command, " </dev/null 2>&1");
  FILE* pipe = popen(line.c_str(), "r");
  if (pipe == nullptr) return absl::InternalError(absl::StrCat("netns: cannot run ", command));
  std::string output;
  char buffer[1024];
  size_t n;
  // Bounded: an ip or tc error is a few lines.
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) {
    if (output.size() < 16384) output.append(buffer, n);
  }
  const int status = pclose(pipe);
  if (status == 0) return absl::OkStatus();
  return absl::InternalError(
      absl::StrCat("netns: `", command, "` failed (status ", status, "): ", output));
}

NetnsNetwork::NetnsNetwork(const NetnsTopology& topology)
    : topology_(topology), prefix_(absl::StrCat("xl", getpid())), control_net_(getpid() % 250) {}

absl::Status NetnsNetwork::CheckRoot() {
  if (geteuid() == 0) return absl::OkStatus();
  return absl::PermissionDeniedError(
      "crosslink-run --netns: network namespaces and veth links need root (run as root, or "
      "drop --netns to emulate the links in-process)");
}

absl::StatusOr<std::unique_ptr<NetnsNetwork>> NetnsNetwork::Create(const NetnsTopology& topology) {
  RETURN_IF_ERROR(CheckRoot());
  const int nodes = static_cast<int>(topology.node_satellites.size());
  if (nodes > kMaxNodes) {
    return absl::InvalidArgumentError(
        absl::StrCat("crosslink-run --netns: ", nodes, " namespaces needed, at most ", kMaxNodes));
  }
  RemoveStale();
  std::unique_ptr<NetnsNetwork> network(new NetnsNetwork(topology));
  if (absl::Status s = network->Build(); !s.ok()) {
    network->Destroy();
    return s;
  }
  return network;
}

absl::Status NetnsNetwork::Build() {
  const int nodes = static_cast<int>(topology_.node_satellites.size());
  for (int i = 0; i < nodes; ++i) {
    names_.push_back(absl::StrCat(prefix_, "-n", i));
    RETURN_IF_ERROR(RunNetCommand(absl::StrCat("ip netns add ", names_.back())));
  }
  // The crosslinks: both ends named x<k> inside their namespaces.
  for (size_t k = 0; k < topology_.links.size(); ++k) {
    const NetnsLink& l = topology_.links[k];
    RETURN_IF_ERROR(RunNetCommand(absl::StrCat("ip link add ", LinkDevice(k), " netns ",
                                               names_[l.node_a], " type veth peer name ",
                                               LinkDevice(k), " netns ", names_[l.node_b])));
  }
  for (int i = 0; i < nodes; ++i) {
    // Every node forwards (relays carry other ranks' traffic); reverse-path filtering would drop
    // packets that arrive over a detour.
    RETURN_IF_ERROR(RunNetCommand(
        absl::StrCat("ip netns exec ", names_[i],
                     " sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 "
                     "net.ipv4.conf.default.rp_filter=0")));
    std::vector<std::string> batch = {"link set lo up",
                                      absl::StrCat("addr add ", NodeAddress(i), "/32 dev lo")};
    for (auto [neighbour, k] : topology_.adjacency[i]) {
      batch.push_back(absl::StrCat("link set ", LinkDevice(k), " up"));
    }
    RETURN_IF_ERROR(RunBatch("ip", names_[i], batch));
  }
  // Control links: rank r's namespace to the launcher's, for the coordinator only.
  const std::string control = ControlAddress();
  for (int r = 0; r < topology_.num_ranks; ++r) {
    const std::string root_end = absl::StrCat(prefix_, "c", r);
    const std::string rank_end = absl::StrCat("10.78.", control_net_, ".", r + 2);
    RETURN_IF_ERROR(RunNetCommand(
        absl::StrCat("ip link add ", root_end, " type veth peer name ctl netns ", names_[r])));
    control_links_ = r + 1;
    RETURN_IF_ERROR(RunNetCommand(absl::StrCat(
        "ip addr add ", control, "/32 dev ", root_end, " && ip link set ", root_end,
        " up && ip route replace ", rank_end, "/32 dev ", root_end, " src ", control)));
    RETURN_IF_ERROR(
        RunBatch("ip", names_[r],
                 {absl::StrCat("addr add ", rank_end, "/32 dev ctl"), "link set ctl up",
                  absl::StrCat("route replace ", control, "/32 dev ctl src ", rank_end)}));
  }
  return absl::OkStatus();
}

NetnsNetwork::~NetnsNetwork() { Destroy(); }

void NetnsNetwork::Destroy() {
  if (destroyed_) return;
  destroyed_ = true;
  // The control links' ends in the launcher's namespace first, by name: they would die with
  // their peers' namespaces too, but only once the kernel's asynchronous namespace cleanup has
  // run, and a launcher that has returned must leave no interface behind.
  for (int r = 0; r < control_links_; ++r) {
    (void)RunNetCommand(absl::StrCat("ip link del ", prefix_, "c", r));
  }
  for (const std::string& name : names_) {
    // A namespace's veths die with it.
    if (absl::Status s = RunNetCommand(absl::StrCat("ip netns del ", name)); !s.ok()) {
      std::fprintf(stderr, "crosslink-run --netns: %s\n", std::string(s.message()).c_str());
    }
  }
}

void NetnsNetwork::RemoveStale() {
  FILE* pipe = popen("ip netns list 2>/dev/null", "r");
  if (pipe == nullptr) return;
  std::string listing;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0 && listing.size() < (1 << 20)) {
    listing.append(buffer, n);
  }
  pclose(pipe);
  for (absl::string_view line : absl::StrSplit(listing, '\n', absl::SkipEmpty())) {
    const std::string name(line.substr(0, line.find(' ')));
    if (!absl::StartsWith(name, "xl")) continue;
    const size_t dash = name.find("-n");
    int pid = 0;
    if (dash == std::string::npos || !absl::SimpleAtoi(name.substr(2, dash - 2), &pid) ||
        pid <= 0) {
      continue;
    }
    if (kill(pid, 0) == 0 || errno == EPERM) continue;  // its launcher still runs
    (void)RunNetCommand(absl::StrCat("ip netns del ", name));
  }
}

absl::Status NetnsNetwork::SetLink(int k, bool up, double rate_bps) {
  const NetnsLink& l = topology_.links[k];
  const std::string dev = LinkDevice(k);
  for (int node : {l.node_a, l.node_b}) {
    RETURN_IF_ERROR(
        RunBatch("ip", names_[node], {absl::StrCat("link set ", dev, up ? " up" : " down")}));
    if (!up) continue;
    if (rate_bps > 0 && rate_bps < kUnshapedRateBps) {
      // The bucket holds ~4 ms at the rate (at least 64 KiB, which one TSO burst needs), and
      // packets queue up to 100 ms before tbf drops them, so TCP sees a link of that rate.
      const long long rate = std::llround(rate_bps);
      const long long burst = std::max<long long>(64 * 1024, std::llround(rate_bps / 8 * 0.004));
      RETURN_IF_ERROR(RunBatch("tc", names_[node],
                               {absl::StrCat("qdisc replace dev ", dev, " root tbf rate ", rate,
                                             "bit burst ", burst, " latency 100ms")}));
    } else {
      (void)RunNetCommand(absl::StrCat("tc -n ", names_[node], " qdisc del dev ", dev,
                                       " root 2>/dev/null || true"));
    }
  }
  return absl::OkStatus();
}

absl::Status NetnsNetwork::ApplyRoutes(const std::vector<std::vector<int>>& next_hop) {
  const int nodes = static_cast<int>(names_.size());
  for (int i = 0; i < nodes; ++i) {
    // This node's device toward each neighbour.
    std::map<int, int> device_to;
    for (auto [neighbour, k] : topology_.adjacency[i]) device_to[neighbour] = k;
    std::vector<std::string> batch;
    for (int dest = 0; dest < topology_.num_ranks; ++dest) {
      if (dest == i) continue;
      const int hop = next_hop[i][dest];
      if (hop < 0) {
        batch.push_back(absl::StrCat("route replace unreachable ", NodeAddress(dest), "/32"));
        continue;
      }
      batch.push_back(absl::StrCat("route replace ", NodeAddress(dest), "/32 via ",
                                   NodeAddress(hop), " dev ", LinkDevice(device_to.at(hop)),
                                   " onlink src ", NodeAddress(i)));
    }
    RETURN_IF_ERROR(RunBatch("ip", names_[i], batch));
  }
  return absl::OkStatus();
}

std::string NetnsNetwork::NamespacePath(int node) const {
  return absl::StrCat("/run/netns/", names_[node]);
}

std::string NetnsNetwork::NodeAddress(int node) const { return absl::StrCat("10.77.0.", node + 1); }

std::string NetnsNetwork::ControlAddress() const {
  return absl::StrCat("10.78.", control_net_, ".1");
}

}  // namespace crosslink::runtime
