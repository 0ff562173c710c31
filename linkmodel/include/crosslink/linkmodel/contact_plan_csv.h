// CSV exports of a ContactPlan, for spreadsheets, pandas and the plots in bench/. Deterministic:
// the same plan always gives the same bytes (fixed column order, links in plan order, numbers
// printed with enough digits to read back the exact double), so two runs of one scenario and seed
// can be compared with cmp. Thread-safe (reads the plan only); the writers block on the file.
#ifndef CROSSLINK_LINKMODEL_CONTACT_PLAN_CSV_H_
#define CROSSLINK_LINKMODEL_CONTACT_PLAN_CSV_H_

#include <filesystem>
#include <string>

#include "absl/status/status.h"
#include "crosslink/linkmodel/contact_plan.h"

namespace crosslink::linkmodel {

// Header of the contact CSV: one row per up-interval (ContactPlan::Contacts()).
inline constexpr char kContactCsvHeader[] =
    "sat_a,sat_b,start_s,end_s,owlt_min_s,owlt_max_s,rate_min_bps,rate_max_bps,cross_plane";
// Header of the outage CSV: one row per down segment; cause is LinkStateName() of its state.
inline constexpr char kOutageCsvHeader[] = "sat_a,sat_b,start_s,end_s,cause";

// The contact CSV as text (header line, then rows; every line ends in '\n'). Satellite names are
// quoted when they contain a comma or a quote (TLE names may). cross_plane is 0 or 1.
std::string ContactPlanCsv(const ContactPlan& plan);
// The outage CSV as text: every segment whose state is not kUp, ordered by link then time.
std::string OutageCsv(const ContactPlan& plan);

// Write the texts above to `path` (replacing it). kInvalidArgument naming the path when it cannot
// be written (missing folder, no permission).
absl::Status WriteContactPlanCsv(const ContactPlan& plan, const std::filesystem::path& path);
absl::Status WriteOutageCsv(const ContactPlan& plan, const std::filesystem::path& path);

// Shared by the exporters: writes `text` to `path`, naming `what` and the path on failure.
absl::Status WriteTextFile(const std::filesystem::path& path, const std::string& text,
                           std::string_view what);

}  // namespace crosslink::linkmodel

#endif  // CROSSLINK_LINKMODEL_CONTACT_PLAN_CSV_H_
