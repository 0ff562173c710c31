// TLE parsing: fixed columns, as Vallado's twoline2rv reads them (see tle.h for the contract).
#include "crosslink/linkmodel/tle.h"

#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "crosslink/base/status_macros.h"

namespace crosslink::linkmodel {
namespace {

constexpr size_t kTleLineColumns = 69;

// Debian's Abseil string utilities take absl::string_view, which is not std::string_view.
absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// A line under parse, with the prefix every error about it starts with ("f.txt:12: line 1").
struct LineRef {
  std::string_view text;
  std::string where;

  // Columns first..last, 1-based and inclusive, as TLE documentation numbers them.
  std::string_view Columns(int first, int last) const {
    return text.substr(static_cast<size_t>(first - 1), static_cast<size_t>(last - first + 1));
  }
  absl::Status Error(std::string_view field, int first, int last, std::string_view reason) const {
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", Sv(field), " (columns ", first, "-",
                                                   last, ", '", Sv(Columns(first, last)),
                                                   "'): ", Sv(reason)));
  }
};

absl::StatusOr<double> ParseDouble(const LineRef& line, std::string_view field, int first,
                                   int last) {
  std::string_view s = Trim(line.Columns(first, last));
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  double value = 0.0;
  if (s.empty()) return line.Error(field, first, last, "is blank");
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(value)) {
    return line.Error(field, first, last, "is not a number");
  }
  return value;
}

// An unsigned integer field; blank counts as 0 where `blank_ok` (element set number, revolution
// number and ephemeris type are blank in some analyst sets, e.g. Vallado's case 11801).
absl::StatusOr<int64_t> ParseUnsigned(const LineRef& line, std::string_view field, int first,
                                      int last, bool blank_ok) {
  std::string_view s = Trim(line.Columns(first, last));
  if (s.empty()) {
    if (blank_ok) return 0;
    return line.Error(field, first, last, "is blank");
  }
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size() || value < 0) {
    return line.Error(field, first, last, "is not an unsigned integer");
  }
  return value;
}

// Catalogue number, columns 3-7, with Alpha-5 decoding of a leading letter.
absl::StatusOr<int64_t> ParseSatelliteNumber(const LineRef& line) {
  std::string_view s = line.Columns(3, 7);
  const char lead = s[0];
  if (lead >= 'A' && lead <= 'Z' && lead != 'I' && lead != 'O') {
    int lead_value = lead - 'A' + 10;
    if (lead > 'I') --lead_value;
    if (lead > 'O') --lead_value;
    ASSIGN_OR_RETURN(const int64_t tail, ParseUnsigned(line, "satellite number", 4, 7, false));
    if (Trim(line.Columns(4, 7)).size() != 4) {
      return line.Error("satellite number", 3, 7, "Alpha-5 number needs four digits");
    }
    return lead_value * 10000 + tail;
  }
  return ParseUnsigned(line, "satellite number", 3, 7, false);
}

// The "mantissa-exponent" fields (second derivative, columns 45-52; B*, columns 54-61): a sign,
// five digits with an implied leading decimal point, and a signed one-digit power of ten. Computed
// as Vallado does, strtod(".ddddd") * pow(10, exponent), so the value is bit for bit his.
absl::StatusOr<double> ParseExponentField(const LineRef& line, std::string_view field, int first) {
  const int last = first + 7;
  std::string_view s = line.Columns(first, last);
  const char sign = s[0];
  if (sign != ' ' && sign != '+' && sign != '-') {
    return line.Error(field, first, last, "sign must be ' ', '+' or '-'");
  }
  std::string mantissa = (sign == '-') ? "-0." : "0.";
  for (int i = 1; i <= 5; ++i) {
    const char c = s[static_cast<size_t>(i)];
    if (c == ' ') {
      mantissa.push_back('0');  // Vallado fills blanks with zeros
    } else if (absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      mantissa.push_back(c);
    } else {
      return line.Error(field, first, last, "mantissa must be five digits");
    }
  }
  const char exp_sign = s[6];
  const char exp_digit = s[7] == ' ' ? '0' : s[7];
  if ((exp_sign != '+' && exp_sign != '-' && exp_sign != ' ') ||
      !absl::ascii_isdigit(static_cast<unsigned char>(exp_digit))) {
    return line.Error(field, first, last, "exponent must be a sign and one digit");
  }
  double value = 0.0;
  std::from_chars(mantissa.data(), mantissa.data() + mantissa.size(), value);
  const int exponent = (exp_sign == '-' ? -1 : 1) * (exp_digit - '0');
  return value * std::pow(10.0, exponent);
}

absl::StatusOr<double> ParseAngle(const LineRef& line, std::string_view field, int first, int last,
                                  double max_deg) {
  ASSIGN_OR_RETURN(const double value, ParseDouble(line, field, first, last));
  if (value < 0.0 || value > max_deg) {
    return line.Error(field, first, last, absl::StrCat("must lie in [0, ", max_deg, "] degrees"));
  }
  return value;
}

absl::Status CheckLineShape(const LineRef& line, char number, const TleOptions& options) {
  if (line.text.size() < kTleLineColumns) {
    return absl::InvalidArgumentError(absl::StrCat(line.where, ": has ", line.text.size(),
                                                   " columns, a TLE line needs ", kTleLineColumns));
  }
  if (line.text[0] != number || line.text[1] != ' ') {
    return line.Error("line number", 1, 2, absl::StrCat("must be '", std::string(1, number), " '"));
  }
  const char check = line.text[68];
  if (!absl::ascii_isdigit(static_cast<unsigned char>(check))) {
    return line.Error("checksum", 69, 69, "is not a digit");
  }
  if (options.verify_checksums && TleChecksum(line.text) != check - '0') {
    return line.Error("checksum", 69, 69,
                      absl::StrCat("does not match, the line sums to ", TleChecksum(line.text)));
  }
  return absl::OkStatus();
}

// Vallado's days2mdhms and jday: the Julian date split into the midnight before the epoch and the
// fraction of the day, computed exactly as the reference implementation does.
void EpochJulianDate(int year, double days, double& jd_whole, double& jd_fraction) {
  const int month_days[12] = {31, (year % 4 == 0) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
                              31};
  const int day_of_year = static_cast<int>(std::floor(days));
  int month = 1;
  int days_before = 0;
  while (day_of_year > days_before + month_days[month - 1] && month < 12) {
    days_before += month_days[month - 1];
    ++month;
  }
  const int day = day_of_year - days_before;
  double temp = (days - day_of_year) * 24.0;
  const int hour = static_cast<int>(std::floor(temp));
  temp = (temp - hour) * 60.0;
  const int minute = static_cast<int>(std::floor(temp));
  const double second = (temp - minute) * 60.0;

  jd_whole = 367.0 * year - std::floor((7 * (year + std::floor((month + 9) / 12.0))) * 0.25) +
             std::floor(275 * month / 9.0) + day + 1721013.5;
  jd_fraction = (second + minute * 60.0 + hour * 3600.0) / 86400.0;
  if (std::fabs(jd_fraction) > 1.0) {
    const double whole_days = std::floor(jd_fraction);
    jd_whole += whole_days;
    jd_fraction -= whole_days;
  }
}

absl::StatusOr<Tle> ParseLines(const LineRef& l1, const LineRef& l2, std::string_view name,
                               const TleOptions& options) {
  RETURN_IF_ERROR(CheckLineShape(l1, '1', options));
  RETURN_IF_ERROR(CheckLineShape(l2, '2', options));

  Tle tle;
  name = Trim(name);
  if (name.size() >= 2 && name[0] == '0' && name[1] == ' ') name = Trim(name.substr(2));
  tle.name = std::string(name);

  // ---- line 1 ----
  ASSIGN_OR_RETURN(tle.norad_id, ParseSatelliteNumber(l1));
  tle.classification = l1.text[7] == ' ' ? 'U' : l1.text[7];
  tle.international_designator = std::string(Trim(l1.Columns(10, 17)));
  ASSIGN_OR_RETURN(const int64_t yy, ParseUnsigned(l1, "epoch year", 19, 20, false));
  ASSIGN_OR_RETURN(tle.epoch_day_of_year, ParseDouble(l1, "epoch day", 21, 32));
  const int year = static_cast<int>(yy < 57 ? 2000 + yy : 1900 + yy);
  const double days_in_year = (year % 4 == 0) ? 366.0 : 365.0;
  if (tle.epoch_day_of_year < 1.0 || tle.epoch_day_of_year >= days_in_year + 1.0) {
    return l1.Error("epoch day", 21, 32, absl::StrCat("must lie in [1, ", days_in_year + 1, ")"));
  }
  tle.epoch_year = year;
  {
    const double whole_day = std::floor(tle.epoch_day_of_year);
    const double fraction = tle.epoch_day_of_year - whole_day;  // exact (Sterbenz)
    tle.epoch = absl::FromCivil(absl::CivilDay(year, 1, 1), absl::UTCTimeZone()) +
                absl::Hours(24 * (static_cast<int64_t>(whole_day) - 1)) +
                absl::Nanoseconds(std::llround(fraction * 86400e9));
  }
  EpochJulianDate(year, tle.epoch_day_of_year, tle.epoch_jd_whole, tle.epoch_jd_fraction);
  ASSIGN_OR_RETURN(tle.ndot_rev_per_day2, ParseDouble(l1, "mean motion derivative", 34, 43));
  ASSIGN_OR_RETURN(tle.nddot_rev_per_day3,
                   ParseExponentField(l1, "mean motion second derivative", 45));
  ASSIGN_OR_RETURN(tle.bstar_per_earth_radius, ParseExponentField(l1, "bstar", 54));
  ASSIGN_OR_RETURN(const int64_t ephemeris, ParseUnsigned(l1, "ephemeris type", 63, 63, true));
  tle.ephemeris_type = static_cast<int>(ephemeris);
  ASSIGN_OR_RETURN(const int64_t set_number, ParseUnsigned(l1, "element set number", 65, 68, true));
  tle.element_set_number = static_cast<int>(set_number);

  // ---- line 2 ----
  ASSIGN_OR_RETURN(const int64_t norad2, ParseSatelliteNumber(l2));
  if (norad2 != tle.norad_id) {
    return l2.Error("satellite number", 3, 7, absl::StrCat("differs from line 1's ", tle.norad_id));
  }
  ASSIGN_OR_RETURN(tle.inclination_deg, ParseAngle(l2, "inclination", 9, 16, 180.0));
  ASSIGN_OR_RETURN(tle.raan_deg, ParseAngle(l2, "right ascension of the node", 18, 25, 360.0));
  {
    // Seven digits with an implied leading decimal point; Vallado fills blanks with zeros.
    std::string digits = "0.";
    for (const char c : l2.Columns(27, 33)) {
      if (c == ' ') {
        digits.push_back('0');
      } else if (absl::ascii_isdigit(static_cast<unsigned char>(c))) {
        digits.push_back(c);
      } else {
        return l2.Error("eccentricity", 27, 33, "must be seven digits (implied decimal point)");
      }
    }
    std::from_chars(digits.data(), digits.data() + digits.size(), tle.eccentricity);
  }
  ASSIGN_OR_RETURN(tle.arg_perigee_deg, ParseAngle(l2, "argument of perigee", 35, 42, 360.0));
  ASSIGN_OR_RETURN(tle.mean_anomaly_deg, ParseAngle(l2, "mean anomaly", 44, 51, 360.0));
  ASSIGN_OR_RETURN(tle.mean_motion_rev_per_day, ParseDouble(l2, "mean motion", 53, 63));
  if (tle.mean_motion_rev_per_day <= 0.0) {
    return l2.Error("mean motion", 53, 63, "must be positive (revolutions per day)");
  }
  ASSIGN_OR_RETURN(tle.revolution_number, ParseUnsigned(l2, "revolution number", 64, 68, true));
  return tle;
}

// A text split into numbered lines, without the ones a TLE file may carry as comments.
struct NumberedLine {
  int number;  // 1-based
  std::string_view text;
};

std::vector<NumberedLine> ContentLines(std::string_view text) {
  std::vector<NumberedLine> lines;
  int number = 0;
  for (absl::string_view absl_line : absl::StrSplit(Sv(text), '\n')) {
    std::string_view line(absl_line.data(), absl_line.size());
    ++number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const std::string_view trimmed = Trim(line);
    if (trimmed.empty() || trimmed.front() == '#') continue;
    lines.push_back({number, line});
  }
  return lines;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// Walks the lines of a 2-line / 3-line file and calls `on_set(line1, line2, name)` per set.
template <typename OnSet>
absl::Status ForEachSet(std::string_view text, std::string_view source, OnSet on_set) {
  const std::vector<NumberedLine> lines = ContentLines(text);
  auto where = [&](int number, std::string_view what) {
    return absl::StrCat(Sv(source), ":", number, ": ", Sv(what));
  };
  size_t i = 0;
  while (i < lines.size()) {
    std::string_view name;
    // A name line is anything that is not a line 1 / line 2; a line starting "1 " followed by
    // another "1 " line is taken as a name, so that names beginning with "1 " still load.
    const bool is_line1 = StartsWith(lines[i].text, "1 ") &&
                          !(i + 1 < lines.size() && StartsWith(lines[i + 1].text, "1 "));
    if (StartsWith(lines[i].text, "2 ")) {
      return absl::InvalidArgumentError(
          where(lines[i].number, "line 2 of an element set without a preceding line 1"));
    }
    if (!is_line1) {
      name = lines[i].text;
      ++i;
      if (i >= lines.size() || !StartsWith(lines[i].text, "1 ")) {
        return absl::InvalidArgumentError(
            where(lines[i - 1].number, absl::StrCat("name line '", Sv(Trim(name)),
                                                    "' is not followed by a line 1 ('1 ...')")));
      }
    }
    if (i + 1 >= lines.size() || !StartsWith(lines[i + 1].text, "2 ")) {
      return absl::InvalidArgumentError(
          where(lines[i].number, "line 1 is not followed by a line 2 ('2 ...')"));
    }
    const LineRef l1{lines[i].text, where(lines[i].number, "line 1")};
    const LineRef l2{lines[i + 1].text, where(lines[i + 1].number, "line 2")};
    RETURN_IF_ERROR(on_set(l1, l2, name));
    i += 2;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot open TLE file ", path.string()));
  }
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) return absl::NotFoundError(absl::StrCat("cannot read TLE file ", path.string()));
  return std::move(content).str();
}

}  // namespace

int TleChecksum(std::string_view line) {
  int sum = 0;
  for (const char c : line.substr(0, 68)) {
    if (c >= '0' && c <= '9') sum += c - '0';
    if (c == '-') sum += 1;
  }
  return sum % 10;
}

absl::StatusOr<Tle> ParseTle(std::string_view line1, std::string_view line2, std::string_view name,
                             const TleOptions& options) {
  return ParseLines(LineRef{line1, "TLE line 1"}, LineRef{line2, "TLE line 2"}, name, options);
}

absl::StatusOr<std::vector<Tle>> ParseTleText(std::string_view text, std::string_view source_name,
                                              const TleOptions& options) {
  std::vector<Tle> sets;
  RETURN_IF_ERROR(ForEachSet(text, source_name,
                             [&](const LineRef& l1, const LineRef& l2, std::string_view name) {
                               ASSIGN_OR_RETURN(Tle tle, ParseLines(l1, l2, name, options));
                               sets.push_back(std::move(tle));
                               return absl::OkStatus();
                             }));
  return sets;
}

absl::StatusOr<std::vector<Tle>> LoadTleFile(const std::filesystem::path& path,
                                             const TleOptions& options) {
  ASSIGN_OR_RETURN(const std::string text, ReadFile(path));
  return ParseTleText(text, path.string(), options);
}

absl::StatusOr<std::vector<VerificationTle>> ParseVerificationTleText(std::string_view text,
                                                                      std::string_view source_name,
                                                                      const TleOptions& options) {
  std::vector<VerificationTle> cases;
  RETURN_IF_ERROR(ForEachSet(
      text, source_name, [&](const LineRef& l1, const LineRef& l2, std::string_view name) {
        VerificationTle c;
        ASSIGN_OR_RETURN(c.tle, ParseLines(l1, l2, name, options));
        std::vector<absl::string_view> words = absl::StrSplit(
            Sv(l2.text.substr(kTleLineColumns)), absl::ByAnyChar(" \t"), absl::SkipEmpty());
        double values[3];
        if (words.size() != 3) {
          return absl::InvalidArgumentError(
              absl::StrCat(l2.where, ": start, stop and step after column 69: found ", words.size(),
                           " numbers, expected 3"));
        }
        for (int k = 0; k < 3; ++k) {
          const absl::string_view w = words[static_cast<size_t>(k)];
          const auto [end, ec] = std::from_chars(w.data(), w.data() + w.size(), values[k]);
          if (ec != std::errc() || end != w.data() + w.size()) {
            return absl::InvalidArgumentError(absl::StrCat(
                l2.where, ": start, stop and step after column 69: '", w, "' is not a number"));
          }
        }
        c.start_min = values[0];
        c.stop_min = values[1];
        c.step_min = values[2];
        cases.push_back(std::move(c));
        return absl::OkStatus();
      }));
  return cases;
}

absl::StatusOr<std::vector<VerificationTle>> LoadVerificationTleFile(
    const std::filesystem::path& path, const TleOptions& options) {
  ASSIGN_OR_RETURN(const std::string text, ReadFile(path));
  return ParseVerificationTleText(text, path.string(), options);
}

}  // namespace crosslink::linkmodel
