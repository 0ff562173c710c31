#include "step_dependencies.h"

#include <algorithm>
#include <cstddef>
#include <map>
#include <utility>

namespace crosslink::collectives::internal {
namespace {

// One region of the buffer with the last step that wrote it and the steps that read it since.
struct Region {
  size_t end = 0;
  int writer = -1;
  std::vector<int> readers;
};

bool Writes(StepOp op) { return op != StepOp::kSend; }

}  // namespace

std::vector<std::vector<int>> ComputeStepDependencies(const std::vector<Step>& steps) {
  std::vector<std::vector<int>> deps(steps.size());
  std::map<size_t, Region> regions;  // keyed by start; disjoint
  auto split = [&](size_t x) {
    auto it = regions.upper_bound(x);
    if (it == regions.begin()) return;
    --it;
    if (it->first < x && x < it->second.end) {
      Region right = it->second;
      it->second.end = x;
      regions.emplace(x, std::move(right));
    }
  };
  std::map<int, int> last_recv;  // peer -> its latest receive step so far
  for (size_t i = 0; i < steps.size(); ++i) {
    const Step& s = steps[i];
    if (s.op == StepOp::kRecv || s.op == StepOp::kRecvReduce)
      last_recv[s.peer] = static_cast<int>(i);
    // It reads only the input, which no step writes, so it waits for nothing, and nothing
    // waits for it: the executor keeps the input borrowed until the send completes anyway.
    if (s.op == StepOp::kSendInput) continue;
    if (s.count == 0) {
      // An empty message carries no data, only order (a barrier round, an empty block): it
      // leaves after every receive listed before it (receives per peer complete in order).
      if (s.op == StepOp::kSend) {
        for (const auto& [peer, r] : last_recv) deps[i].push_back(r);
      }
      continue;
    }
    const size_t a = s.offset, b = s.offset + s.count;
    split(a);
    split(b);
    // Fill gaps in [a, b) with fresh regions.
    size_t cursor = a;
    for (auto it = regions.lower_bound(a); cursor < b;) {
      if (it == regions.end() || it->first > cursor) {
        const size_t gap_end = it == regions.end() ? b : std::min(b, it->first);
        it = regions.emplace_hint(it, cursor, Region{gap_end, -1, {}});
      }
      cursor = it->second.end;
      ++it;
    }
    std::vector<int>& d = deps[i];
    for (auto it = regions.lower_bound(a); it != regions.end() && it->first < b; ++it) {
      Region& r = it->second;
      if (r.writer >= 0) d.push_back(r.writer);
      if (Writes(s.op)) {
        d.insert(d.end(), r.readers.begin(), r.readers.end());
        r.writer = static_cast<int>(i);
        r.readers.clear();
      } else {
        r.readers.push_back(static_cast<int>(i));
      }
    }
    std::sort(d.begin(), d.end());
    d.erase(std::unique(d.begin(), d.end()), d.end());
  }
  return deps;
}

}  // namespace crosslink::collectives::internal
