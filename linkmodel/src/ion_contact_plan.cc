// ION-DTN contact plan writer and reader (format in ion_contact_plan.h).
#include "crosslink/linkmodel/ion_contact_plan.h"

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "crosslink/base/status_macros.h"
#include "crosslink/linkmodel/contact_plan_csv.h"

namespace crosslink::linkmodel {
namespace {

// Seconds are compared after rounding, so a contact computed as 41.999999999 (floating-point
// noise on an exact step boundary) must not become 42 when rounded up: anything within this of
// an integer counts as that integer. A nanosecond is far below the plans' step sizes.
constexpr double kRoundingSlackS = 1e-9;

int64_t CeilSeconds(double t_s) { return static_cast<int64_t>(std::ceil(t_s - kRoundingSlackS)); }
int64_t FloorSeconds(double t_s) { return static_cast<int64_t>(std::floor(t_s + kRoundingSlackS)); }

}  // namespace

IonContactPlan ToIonContactPlan(const ContactPlan& plan) {
  IonContactPlan ion;
  ion.node_names = plan.satellite_names();
  for (const Contact& c : plan.Contacts()) {
    const Link& link = plan.links()[c.link];
    const int64_t t0 = CeilSeconds(c.start_s);
    const int64_t t1 = FloorSeconds(c.end_s);
    if (t1 <= t0) continue;
    const int64_t rate = static_cast<int64_t>(std::floor(c.rate_min_bps / 8.0));
    const int64_t owlt = static_cast<int64_t>(std::ceil(c.owlt_max_s));
    const int a = link.a + 1;
    const int b = link.b + 1;
    ion.contacts.push_back({t0, t1, a, b, rate});
    ion.contacts.push_back({t0, t1, b, a, rate});
    ion.ranges.push_back({t0, t1, a, b, owlt});
    ion.ranges.push_back({t0, t1, b, a, owlt});
  }
  return ion;
}

std::string FormatIonContactPlan(const IonContactPlan& ion) {
  std::string out =
      "# ION-DTN contact plan written by crosslink-linkmodel.\n"
      "# Times in seconds from the scenario epoch; rates in bytes/s; owlt in seconds.\n";
  for (size_t i = 0; i < ion.node_names.size(); ++i) {
    absl::StrAppend(&out, "# node ", i + 1, " ", ion.node_names[i], "\n");
  }
  for (const IonContact& c : ion.contacts) {
    absl::StrAppend(&out, "a contact +", c.start_s, " +", c.end_s, " ", c.from_node, " ", c.to_node,
                    " ", c.rate_bytes_per_s, "\n");
  }
  for (const IonRange& r : ion.ranges) {
    absl::StrAppend(&out, "a range +", r.start_s, " +", r.end_s, " ", r.from_node, " ", r.to_node,
                    " ", r.owlt_s, "\n");
  }
  return out;
}

absl::Status WriteIonContactPlan(const ContactPlan& plan, const std::filesystem::path& path) {
  return WriteTextFile(path, FormatIonContactPlan(ToIonContactPlan(plan)), "ION contact plan");
}

absl::StatusOr<IonContactPlan> ParseIonContactPlan(std::string_view text_std,
                                                   std::string_view source_std) {
  // Debian's Abseil string utilities take absl::string_view, which is not std::string_view.
  const absl::string_view text(text_std.data(), text_std.size());
  const absl::string_view source(source_std.data(), source_std.size());
  IonContactPlan ion;
  int line_number = 0;
  // The highest node number a command uses and the line that first used it: node comments may
  // come after the commands, so the check against them waits for the end of the text.
  int highest_node = 0;
  int highest_node_line = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    auto error = [&](absl::string_view reason) {
      return absl::InvalidArgumentError(absl::StrCat(
          "ION contact plan ", source, " line ", line_number, ": ", reason, ": \"", line, "\""));
    };
    if (line.empty()) continue;
    if (line[0] == '#') {
      // "# node <n> <name>": names may contain spaces (TLE names), so the name is the rest of the
      // line after the number. Other comments are skipped.
      absl::string_view rest = absl::StripLeadingAsciiWhitespace(line.substr(1));
      if (absl::ConsumePrefix(&rest, "node ")) {
        rest = absl::StripLeadingAsciiWhitespace(rest);
        const size_t space = rest.find_first_of(" \t");
        int n = 0;
        if (space == absl::string_view::npos || !absl::SimpleAtoi(rest.substr(0, space), &n) ||
            n != static_cast<int>(ion.node_names.size()) + 1) {
          return error(absl::StrCat("expected '# node ", ion.node_names.size() + 1, " <name>'"));
        }
        ion.node_names.emplace_back(absl::StripLeadingAsciiWhitespace(rest.substr(space)));
      }
      continue;
    }
    std::vector<absl::string_view> words =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (words.size() != 7 || words[0] != "a" || (words[1] != "contact" && words[1] != "range")) {
      return error("expected 'a contact +t0 +t1 from to rate' or 'a range +t0 +t1 from to owlt'");
    }
    int64_t t[2];
    for (int i = 0; i < 2; ++i) {
      absl::string_view word = words[2 + i];
      if (!absl::ConsumePrefix(&word, "+") || !absl::SimpleAtoi(word, &t[i]) || t[i] < 0) {
        return error(absl::StrCat("bad relative time '", words[2 + i], "'"));
      }
    }
    if (t[1] < t[0]) return error("end time before start time");
    int nodes[2];
    for (int i = 0; i < 2; ++i) {
      if (!absl::SimpleAtoi(words[4 + i], &nodes[i]) || nodes[i] < 1 ||
          (!ion.node_names.empty() && nodes[i] > static_cast<int>(ion.node_names.size()))) {
        return error(absl::StrCat("bad node number '", words[4 + i], "'"));
      }
      if (nodes[i] > highest_node) {
        highest_node = nodes[i];
        highest_node_line = line_number;
      }
    }
    int64_t value = 0;
    if (!absl::SimpleAtoi(words[6], &value) || value < 0) {
      return error(
          absl::StrCat("bad ", words[1] == "contact" ? "rate" : "owlt", " '", words[6], "'"));
    }
    if (words[1] == "contact") {
      ion.contacts.push_back({t[0], t[1], nodes[0], nodes[1], value});
    } else {
      ion.ranges.push_back({t[0], t[1], nodes[0], nodes[1], value});
    }
  }
  if (!ion.node_names.empty() && highest_node > static_cast<int>(ion.node_names.size())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ION contact plan ", source, " line ", highest_node_line, ": node ", highest_node,
        " is used but the node comments name only ", ion.node_names.size(), " nodes"));
  }
  return ion;
}

absl::StatusOr<IonContactPlan> ReadIonContactPlan(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("ION contact plan ", path.string(), " cannot be opened"));
  }
  std::stringstream text;
  text << in.rdbuf();
  return ParseIonContactPlan(text.str(), path.string());
}

}  // namespace crosslink::linkmodel
