#include "crosslink/runtime/slurm_nodelist.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "crosslink/base/status_macros.h"

namespace crosslink::runtime {
namespace {

// "a,,b" -> a, "", b; "" -> "". (Debian's Abseil has absl::string_view apart from std's, so
// absl::StrSplit does not take a std::string_view.)
std::vector<std::string_view> SplitCommas(std::string_view text) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) break;
    parts.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  parts.push_back(text.substr(start));
  return parts;
}

absl::Status BadList(std::string_view nodelist, std::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("Slurm node list '", std::string(nodelist), "': ", std::string(what)));
}

absl::Status ParseRangeBound(std::string_view text, std::string_view nodelist, long long* value) {
  bool digits = !text.empty();
  for (char c : text) digits = digits && absl::ascii_isdigit(static_cast<unsigned char>(c));
  if (!digits) {
    return BadList(nodelist, absl::StrCat("'", std::string(text), "' is not a node number"));
  }
  if (!absl::SimpleAtoi(std::string(text), value)) {
    return BadList(nodelist, absl::StrCat("'", std::string(text),
                                          "' is too large a node number (64 bits at most)"));
  }
  return absl::OkStatus();
}

// The numbers one bracket group stands for, formatted: "01-03,7" -> 01 02 03 7. `room` is how
// many numbers the group may name, checked before any is formatted.
absl::Status ExpandGroup(std::string_view group, std::string_view nodelist, size_t room,
                         std::vector<std::string>* out) {
  for (const std::string_view range : SplitCommas(group)) {
    const size_t dash = range.find('-');
    const std::string_view lo_text = range.substr(0, dash);
    const std::string_view hi_text =
        dash == std::string_view::npos ? lo_text : range.substr(dash + 1);
    long long lo = 0, hi = 0;
    RETURN_IF_ERROR(ParseRangeBound(lo_text, nodelist, &lo));
    RETURN_IF_ERROR(ParseRangeBound(hi_text, nodelist, &hi));
    if (hi < lo) return BadList(nodelist, absl::StrCat("range ", std::string(range), " descends"));
    if (lo_text.size() > kMaxSlurmHostNameLength) {
      return BadList(nodelist, absl::StrCat("'", std::string(lo_text), "' is longer than a host ",
                                            "name may be (", kMaxSlurmHostNameLength, ")"));
    }
    // hi - lo cannot overflow (0 <= lo <= hi); compare before adding 1.
    const unsigned long long span = static_cast<unsigned long long>(hi - lo);
    if (span >= room - out->size()) {  // out->size() + span + 1 > room
      return BadList(nodelist, absl::StrCat("more than ", kMaxSlurmHosts, " hosts (at [",
                                            std::string(range), "])"));
    }
    const int width = static_cast<int>(lo_text.size());
    for (unsigned long long k = 0; k <= span; ++k) {
      out->push_back(absl::StrFormat("%0*d", width, lo + static_cast<long long>(k)));
    }
  }
  return absl::OkStatus();
}

// Appends the names one comma-free host expression stands for to *out: the product of its bracket
// groups, the first varying slowest. No name longer than kMaxSlurmHostNameLength and no more names
// than fit within kMaxSlurmHosts are ever built.
absl::Status ExpandHost(std::string_view host, std::string_view nodelist,
                        std::vector<std::string>* out) {
  const auto too_long = [&] {
    return BadList(nodelist, absl::StrCat("'", std::string(host), "' makes host names longer than ",
                                          kMaxSlurmHostNameLength, " characters"));
  };
  std::vector<std::string> names = {""};
  std::string_view rest = host;
  while (true) {
    const size_t open = rest.find('[');
    const std::string_view text = rest.substr(0, open);
    if (text.find(']') != std::string_view::npos) return BadList(nodelist, "']' without '['");
    for (std::string& name : names) {
      if (name.size() + text.size() > kMaxSlurmHostNameLength) return too_long();
      name.append(text);
    }
    if (open == std::string_view::npos) break;
    const size_t close = rest.find(']', open);
    if (close == std::string_view::npos) return BadList(nodelist, "'[' without ']'");
    // Every name so far combines with every number of the group: the group may name at most as
    // many numbers as keep the whole list within kMaxSlurmHosts.
    const size_t room = (kMaxSlurmHosts - out->size()) / names.size();
    std::vector<std::string> numbers;
    RETURN_IF_ERROR(ExpandGroup(rest.substr(open + 1, close - open - 1), nodelist, room, &numbers));
    std::vector<std::string> product;
    product.reserve(names.size() * numbers.size());
    for (const std::string& name : names) {
      for (const std::string& number : numbers) {
        if (name.size() + number.size() > kMaxSlurmHostNameLength) return too_long();
        product.push_back(absl::StrCat(name, number));
      }
    }
    names = std::move(product);
    rest = rest.substr(close + 1);
  }
  if (names.size() > kMaxSlurmHosts - out->size()) {
    return BadList(nodelist, absl::StrCat("more than ", kMaxSlurmHosts, " hosts (at '",
                                          std::string(host), "')"));
  }
  for (std::string& name : names) out->push_back(std::move(name));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ExpandSlurmNodelist(std::string_view nodelist) {
  std::vector<std::string> hosts;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i <= nodelist.size(); ++i) {
    const char c = i < nodelist.size() ? nodelist[i] : ',';
    if (c == '[') {
      if (++depth > 1) return BadList(nodelist, "nested '['");
    } else if (c == ']') {
      if (--depth < 0) return BadList(nodelist, "']' without '['");
    } else if (c == ',' && depth == 0) {
      const std::string_view host = nodelist.substr(start, i - start);
      if (host.empty() || host.front() == '[') return BadList(nodelist, "empty host name");
      RETURN_IF_ERROR(ExpandHost(host, nodelist, &hosts));
      start = i + 1;
    }
  }
  if (depth != 0) return BadList(nodelist, "'[' without ']'");
  return hosts;
}

absl::StatusOr<std::vector<int>> ExpandSlurmTasksPerNode(std::string_view tasks_per_node) {
  std::vector<int> counts;
  const auto bad = [&](std::string_view part, std::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("SLURM_TASKS_PER_NODE='",
                                                   std::string(tasks_per_node), "': '",
                                                   std::string(part), "' ", std::string(why)));
  };
  for (const std::string_view part : SplitCommas(tasks_per_node)) {
    const size_t paren = part.find("(x");
    int count = 0, repeat = 1;
    if (!absl::SimpleAtoi(std::string(part.substr(0, paren)), &count) || count < 0) {
      return bad(part, "is not N or N(xM)");
    }
    if (paren != std::string_view::npos) {
      if (part.back() != ')' ||
          !absl::SimpleAtoi(std::string(part.substr(paren + 2, part.size() - paren - 3)),
                            &repeat) ||
          repeat < 1) {
        return bad(part, "is not N or N(xM)");
      }
    }
    if (static_cast<size_t>(repeat) > kMaxSlurmHosts - counts.size()) {
      return bad(part, absl::StrCat("makes more than ", kMaxSlurmHosts, " nodes"));
    }
    counts.insert(counts.end(), repeat, count);
  }
  return counts;
}

}  // namespace crosslink::runtime
