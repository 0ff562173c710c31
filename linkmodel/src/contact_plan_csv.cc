// CSV exports of a contact plan. Numbers use "%.17g" so that a reader gets back the exact double
// the plan holds (round-trip precision), and the C locale's '.' whatever the user's locale is.
#include "crosslink/linkmodel/contact_plan_csv.h"

#include <fstream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"

namespace crosslink::linkmodel {
namespace {

std::string CsvField(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  return absl::StrCat("\"", absl::StrReplaceAll(text, {{"\"", "\"\""}}), "\"");
}

// Debian's Abseil has its own string_view; this adapts the std one the APIs use.
absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

std::string Num(double value) { return absl::StrFormat("%.17g", value); }

}  // namespace

std::string ContactPlanCsv(const ContactPlan& plan) {
  std::string out = absl::StrCat(kContactCsvHeader, "\n");
  const auto& names = plan.satellite_names();
  for (const Contact& c : plan.Contacts()) {
    const Link& link = plan.links()[c.link];
    absl::StrAppend(&out, CsvField(names[link.a]), ",", CsvField(names[link.b]), ",",
                    Num(c.start_s), ",", Num(c.end_s), ",", Num(c.owlt_min_s), ",",
                    Num(c.owlt_max_s), ",", Num(c.rate_min_bps), ",", Num(c.rate_max_bps), ",",
                    link.cross_plane ? 1 : 0, "\n");
  }
  return out;
}

std::string OutageCsv(const ContactPlan& plan) {
  std::string out = absl::StrCat(kOutageCsvHeader, "\n");
  const auto& names = plan.satellite_names();
  for (const Link& link : plan.links()) {
    for (const Segment& s : link.segments) {
      if (s.state == LinkState::kUp) continue;
      absl::StrAppend(&out, CsvField(names[link.a]), ",", CsvField(names[link.b]), ",",
                      Num(s.start_s), ",", Num(s.end_s), ",", Sv(LinkStateName(s.state)), "\n");
    }
  }
  return out;
}

absl::Status WriteTextFile(const std::filesystem::path& path, const std::string& text,
                           std::string_view what) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot open ", path.string(), " to write the ", Sv(what)));
  }
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.close();
  if (!out) {
    return absl::InvalidArgumentError(
        absl::StrCat("writing the ", Sv(what), " to ", path.string(), " failed"));
  }
  return absl::OkStatus();
}

absl::Status WriteContactPlanCsv(const ContactPlan& plan, const std::filesystem::path& path) {
  return WriteTextFile(path, ContactPlanCsv(plan), "contact CSV");
}

absl::Status WriteOutageCsv(const ContactPlan& plan, const std::filesystem::path& path) {
  return WriteTextFile(path, OutageCsv(plan), "outage CSV");
}

}  // namespace crosslink::linkmodel
