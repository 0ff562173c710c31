// Scenario loading: TOML text -> validated Scenario. Every key is optional (scenario.h holds the
// defaults); every key present is checked for type and range, and every key the format does not
// know is an error, because a misspelt key silently falling back to its default is the worst kind
// of scenario bug (the run "works" with the wrong physics).
#include "crosslink/linkmodel/scenario.h"

#include <toml++/toml.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "crosslink/base/status_macros.h"

namespace crosslink::linkmodel {
namespace {

// Debian's Abseil has its own string_view; this adapts the std one the APIs use.
absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

std::string LineOf(const toml::node& node) {
  const toml::source_position& begin = node.source().begin;
  if (begin.line == 0) return "";
  return absl::StrCat(" (line ", begin.line, ", column ", begin.column, ")");
}

// Reads the keys of one TOML table, remembering which ones it consumed so that Finish() can reject
// the rest. `where` is the table's dotted path for messages ("links", "constellation.cluster[1]").
class TableReader {
 public:
  TableReader(const toml::table* table, std::string file, std::string where)
      : table_(table), file_(std::move(file)), where_(std::move(where)) {}

  absl::Status Error(std::string_view key, std::string_view reason,
                     const toml::node* node = nullptr) const {
    return absl::InvalidArgumentError(absl::StrCat("scenario ", file_, ": key ", Path(key), ": ",
                                                   Sv(reason), node ? LineOf(*node) : ""));
  }

  std::string Path(std::string_view key) const {
    return where_.empty() ? std::string(key) : absl::StrCat(where_, ".", Sv(key));
  }

  const toml::node* Get(std::string_view key) {
    used_.insert(std::string(key));
    if (table_ == nullptr) return nullptr;
    return table_->get(key);
  }

  // A floating-point key; integers are accepted too (TOML users write `duration_s = 600`).
  absl::Status Double(std::string_view key, double& out, std::optional<double> min = std::nullopt,
                      bool min_exclusive = false, std::optional<double> max = std::nullopt) {
    const toml::node* node = Get(key);
    if (node == nullptr) return absl::OkStatus();
    double value;
    if (const auto* f = node->as_floating_point()) {
      value = f->get();
    } else if (const auto* i = node->as_integer()) {
      value = static_cast<double>(i->get());
    } else {
      return Error(key, absl::StrCat("expected a number, got ", TypeName(*node)), node);
    }
    if (!std::isfinite(value)) return Error(key, "must be finite", node);
    if (min.has_value() && (min_exclusive ? value <= *min : value < *min)) {
      return Error(
          key, absl::StrCat("must be ", min_exclusive ? "> " : ">= ", *min, ", got ", value), node);
    }
    if (max.has_value() && value > *max) {
      return Error(key, absl::StrCat("must be <= ", *max, ", got ", value), node);
    }
    out = value;
    return absl::OkStatus();
  }

  absl::Status Int(std::string_view key, int64_t& out, int64_t min, int64_t max) {
    const toml::node* node = Get(key);
    if (node == nullptr) return absl::OkStatus();
    const auto* i = node->as_integer();
    if (i == nullptr) {
      return Error(key, absl::StrCat("expected an integer, got ", TypeName(*node)), node);
    }
    const int64_t value = i->get();
    if (value < min || value > max) {
      return Error(key, absl::StrCat("must be in [", min, ", ", max, "], got ", value), node);
    }
    out = value;
    return absl::OkStatus();
  }

  absl::Status Int(std::string_view key, int& out, int min, int max) {
    int64_t value = out;
    RETURN_IF_ERROR(Int(key, value, min, max));
    out = static_cast<int>(value);
    return absl::OkStatus();
  }

  absl::Status String(std::string_view key, std::string& out) {
    const toml::node* node = Get(key);
    if (node == nullptr) return absl::OkStatus();
    const auto* s = node->as_string();
    if (s == nullptr) {
      return Error(key, absl::StrCat("expected a string, got ", TypeName(*node)), node);
    }
    out = s->get();
    return absl::OkStatus();
  }

  // Rejects every key of the table that no reader asked for.
  absl::Status Finish() const {
    if (table_ == nullptr) return absl::OkStatus();
    for (const auto& [key, node] : *table_) {
      if (!used_.contains(std::string(key.str()))) {
        return Error(key.str(), "unknown key", &node);
      }
    }
    return absl::OkStatus();
  }

  static std::string TypeName(const toml::node& node) {
    switch (node.type()) {
      case toml::node_type::table:
        return "a table";
      case toml::node_type::array:
        return "an array";
      case toml::node_type::string:
        return "a string";
      case toml::node_type::integer:
        return "an integer";
      case toml::node_type::floating_point:
        return "a float";
      case toml::node_type::boolean:
        return "a boolean";
      case toml::node_type::date:
        return "a date";
      case toml::node_type::time:
        return "a time";
      case toml::node_type::date_time:
        return "a date-time";
      default:
        return "nothing";
    }
  }

  const toml::table* table() const { return table_; }
  const std::string& file() const { return file_; }

 private:
  const toml::table* table_;
  std::string file_;
  std::string where_;
  std::set<std::string> used_;
};

absl::Status ParseTime(TableReader& r, TimeConfig& time) {
  if (const toml::node* node = r.Get("start_utc")) {
    if (const auto* s = node->as_string()) {
      std::string err;
      if (!absl::ParseTime(absl::RFC3339_full, s->get(), &time.start, &err)) {
        return r.Error("start_utc", absl::StrCat("not an RFC 3339 time (", err, ")"), node);
      }
    } else if (const auto* dt = node->as_date_time()) {
      const toml::date_time& v = dt->get();
      const absl::CivilSecond civil(v.date.year, v.date.month, v.date.day, v.time.hour,
                                    v.time.minute, v.time.second);
      // A local date-time (no offset) is taken as UTC: orbit epochs are always UTC.
      const int offset_min = v.offset.has_value() ? v.offset->minutes : 0;
      time.start = absl::FromCivil(civil, absl::UTCTimeZone()) - absl::Minutes(offset_min) +
                   absl::Nanoseconds(v.time.nanosecond);
    } else {
      return r.Error("start_utc",
                     absl::StrCat("expected an RFC 3339 string or a TOML date-time, got ",
                                  TableReader::TypeName(*node)),
                     node);
    }
  }
  RETURN_IF_ERROR(r.Double("duration_s", time.duration_s, 0.0, /*min_exclusive=*/true));
  RETURN_IF_ERROR(r.Double("step_s", time.step_s, 0.0, /*min_exclusive=*/true));
  RETURN_IF_ERROR(r.Double("time_scale", time.time_scale, 0.0, /*min_exclusive=*/true));
  if (time.step_s > time.duration_s) {
    return r.Error("step_s", absl::StrCat("must not exceed duration_s (", time.duration_s,
                                          "), got ", time.step_s));
  }
  return r.Finish();
}

absl::Status ParseWalker(TableReader& r, WalkerConfig& w) {
  RETURN_IF_ERROR(r.Int("planes", w.planes, 1, 100000));
  RETURN_IF_ERROR(r.Int("sats_per_plane", w.sats_per_plane, 1, 100000));
  RETURN_IF_ERROR(r.Int("phasing", w.phasing, 0, 100000));
  if (w.phasing >= w.planes) {
    return r.Error("phasing", absl::StrCat("must be < planes (", w.planes, "), got ", w.phasing));
  }
  RETURN_IF_ERROR(r.Double("altitude_km", w.altitude_km, 0.0, true, 1e6));
  RETURN_IF_ERROR(r.Double("inclination_deg", w.inclination_deg, 0.0, false, 180.0));
  RETURN_IF_ERROR(r.Double("raan_spread_deg", w.raan_spread_deg, 0.0, true, 360.0));
  RETURN_IF_ERROR(r.Double("raan_offset_deg", w.raan_offset_deg, -360.0, false, 360.0));
  return absl::OkStatus();
}

absl::Status ParseFormation(TableReader& r, FormationConfig& f) {
  RETURN_IF_ERROR(r.Int("count", f.count, 1, 100000));
  RETURN_IF_ERROR(r.Double("radius_km", f.radius_km, 0.0, false, 1e5));
  RETURN_IF_ERROR(r.Double("altitude_km", f.altitude_km, 0.0, true, 1e6));
  RETURN_IF_ERROR(r.Double("inclination_deg", f.inclination_deg, 0.0, false, 180.0));
  RETURN_IF_ERROR(r.Double("raan_deg", f.raan_deg, -360.0, false, 360.0));
  RETURN_IF_ERROR(r.Double("raan_offset_deg", f.raan_offset_deg, -360.0, false, 360.0));
  RETURN_IF_ERROR(r.Double("mean_anomaly_deg", f.mean_anomaly_deg, -360.0, false, 360.0));
  return absl::OkStatus();
}

// A list of strings or integers (TLE satellites by name or NORAD id, cluster ranks by name).
absl::Status StringList(TableReader& r, std::string_view key, bool allow_integers,
                        std::vector<std::string>& out) {
  const toml::node* node = r.Get(key);
  if (node == nullptr) return absl::OkStatus();
  const auto* array = node->as_array();
  if (array == nullptr) {
    return r.Error(key, absl::StrCat("expected an array, got ", TableReader::TypeName(*node)),
                   node);
  }
  out.clear();
  for (size_t i = 0; i < array->size(); ++i) {
    const toml::node& item = *array->get(i);
    if (const auto* s = item.as_string()) {
      out.push_back(s->get());
    } else if (const auto* n = item.as_integer(); n != nullptr && allow_integers) {
      out.push_back(absl::StrCat(n->get()));
    } else {
      return r.Error(
          key,
          absl::StrCat("element ", i, ": expected a string", allow_integers ? " or an integer" : "",
                       ", got ", TableReader::TypeName(item)),
          &item);
    }
  }
  return absl::OkStatus();
}

absl::Status ParseConstellation(TableReader& r, const std::filesystem::path& source_dir,
                                ConstellationConfig& c) {
  std::string type = "walker-delta";
  RETURN_IF_ERROR(r.String("type", type));
  if (type == "walker-delta") {
    c.type = ConstellationConfig::Type::kWalkerDelta;
  } else if (type == "tle") {
    c.type = ConstellationConfig::Type::kTle;
  } else if (type == "formation") {
    c.type = ConstellationConfig::Type::kFormation;
  } else {
    return r.Error(
        "type",
        absl::StrCat("must be \"walker-delta\", \"tle\" or \"formation\", got \"", type, "\""));
  }
  // Only the keys of the chosen type are accepted: a Walker key in a TLE scenario is a mistake.
  switch (c.type) {
    case ConstellationConfig::Type::kWalkerDelta:
      RETURN_IF_ERROR(ParseWalker(r, c.walker));
      break;
    case ConstellationConfig::Type::kTle: {
      std::string file;
      RETURN_IF_ERROR(r.String("file", file));
      if (file.empty()) return r.Error("file", "required for type = \"tle\"");
      c.tle.file = std::filesystem::path(file).is_absolute() ? std::filesystem::path(file)
                                                             : source_dir / file;
      RETURN_IF_ERROR(StringList(r, "satellites", /*allow_integers=*/true, c.tle.satellites));
      RETURN_IF_ERROR(r.Double("inclination_min_deg", c.tle.inclination_min_deg, 0.0, false, 180));
      RETURN_IF_ERROR(r.Double("inclination_max_deg", c.tle.inclination_max_deg, 0.0, false, 180));
      if (c.tle.inclination_max_deg < c.tle.inclination_min_deg) {
        return r.Error("inclination_max_deg", "must be >= inclination_min_deg");
      }
      RETURN_IF_ERROR(r.Int("first_n", c.tle.first_n, 0, 1000000));
      break;
    }
    case ConstellationConfig::Type::kFormation: {
      c.formations.clear();
      const toml::node* clusters = r.Get("cluster");
      if (clusters == nullptr) {
        FormationConfig f;
        RETURN_IF_ERROR(ParseFormation(r, f));
        c.formations.push_back(f);
        break;
      }
      const auto* array = clusters->as_array();
      if (array == nullptr || array->empty() || !array->is_array_of_tables()) {
        return r.Error("cluster", "expected a non-empty array of tables [[constellation.cluster]]",
                       clusters);
      }
      for (size_t i = 0; i < array->size(); ++i) {
        TableReader cr(array->get(i)->as_table(), r.file(),
                       absl::StrCat("constellation.cluster[", i, "]"));
        FormationConfig f;
        RETURN_IF_ERROR(ParseFormation(cr, f));
        RETURN_IF_ERROR(cr.Finish());
        c.formations.push_back(f);
      }
      break;
    }
  }
  return r.Finish();
}

absl::Status ParseLinks(TableReader& r, LinkPhysics& l) {
  std::string topology;
  RETURN_IF_ERROR(r.String("topology", topology));
  if (topology == "plus-grid") {
    l.topology = Topology::kPlusGrid;
  } else if (topology == "in-range") {
    l.topology = Topology::kInRange;
  } else if (topology == "nearest-k") {
    l.topology = Topology::kNearestK;
  } else if (!topology.empty()) {
    return r.Error("topology",
                   absl::StrCat("must be \"plus-grid\", \"in-range\" or \"nearest-k\", got \"",
                                topology, "\""));
  }
  RETURN_IF_ERROR(r.Int("terminals", l.terminals, 0, 1000));
  RETURN_IF_ERROR(r.Double("grazing_altitude_km", l.grazing_altitude_km, 0.0, false, 1e5));
  RETURN_IF_ERROR(r.Double("max_range_km", l.max_range_km, 0.0, false, 1e6));
  RETURN_IF_ERROR(r.Double("polar_cutoff_deg", l.polar_cutoff_deg, 0.0, false, 90.0));
  RETURN_IF_ERROR(r.Double("sun_exclusion_deg", l.sun_exclusion_deg, 0.0, false, 180.0));
  RETURN_IF_ERROR(r.Double("acquisition_s", l.acquisition_s, 0.0));
  RETURN_IF_ERROR(r.Double("rate_bps", l.rate_bps, 0.0, /*min_exclusive=*/true));
  RETURN_IF_ERROR(r.Double("rate_reference_range_km", l.rate_reference_range_km, 0.0));
  return r.Finish();
}

absl::Status ParseFaults(TableReader& r, FaultConfig& f) {
  int64_t seed = static_cast<int64_t>(f.seed);
  RETURN_IF_ERROR(r.Int("seed", seed, 0, std::numeric_limits<int64_t>::max()));
  f.seed = static_cast<uint64_t>(seed);
  RETURN_IF_ERROR(r.Double("link_mtbf_s", f.link_mtbf_s, 0.0));
  RETURN_IF_ERROR(r.Double("link_mttr_s", f.link_mttr_s, 0.0));
  RETURN_IF_ERROR(r.Double("satellite_mtbf_s", f.satellite_mtbf_s, 0.0));
  RETURN_IF_ERROR(r.Double("satellite_mttr_s", f.satellite_mttr_s, 0.0));
  RETURN_IF_ERROR(r.Double("corruption_mtbf_s", f.corruption_mtbf_s, 0.0));
  // A failure process needs both halves: a mean time between failures without a repair time
  // would take links down for ever, which is certainly not what the user meant.
  if ((f.link_mtbf_s > 0) != (f.link_mttr_s > 0)) {
    return r.Error("link_mttr_s", "link_mtbf_s and link_mttr_s must both be set (> 0) or both 0");
  }
  if ((f.satellite_mtbf_s > 0) != (f.satellite_mttr_s > 0)) {
    return r.Error("satellite_mttr_s",
                   "satellite_mtbf_s and satellite_mttr_s must both be set (> 0) or both 0");
  }
  return r.Finish();
}

absl::Status ParseCluster(TableReader& r, ClusterConfig& c) {
  RETURN_IF_ERROR(StringList(r, "satellites", /*allow_integers=*/false, c.rank_satellites));
  std::set<std::string> seen;
  for (const std::string& name : c.rank_satellites) {
    if (!seen.insert(name).second) {
      return r.Error("satellites", absl::StrCat("satellite \"", name, "\" hosts two ranks"));
    }
  }
  return r.Finish();
}

// The table under `key` of the root, or null when absent; an error when it is not a table.
absl::StatusOr<const toml::table*> Section(TableReader& root, std::string_view key) {
  const toml::node* node = root.Get(key);
  if (node == nullptr) return nullptr;
  if (!node->is_table()) {
    return root.Error(
        key, absl::StrCat("expected a table [", Sv(key), "], got ", TableReader::TypeName(*node)),
        node);
  }
  return node->as_table();
}

absl::StatusOr<Scenario> ParseScenarioFile(std::string_view toml_text, std::string_view name,
                                           const std::filesystem::path& source_dir,
                                           const std::string& file) {
  toml::table root_table;
  try {
    root_table = toml::parse(toml_text, file);
  } catch (const toml::parse_error& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("scenario ", file, ": TOML syntax error at line ", e.source().begin.line,
                     ", column ", e.source().begin.column, ": ", Sv(e.description())));
  }

  Scenario s;
  s.name = std::string(name);
  s.source_dir = source_dir;
  TableReader root(&root_table, file, "");

  ASSIGN_OR_RETURN(const toml::table* time, Section(root, "time"));
  TableReader time_reader(time, file, "time");
  RETURN_IF_ERROR(ParseTime(time_reader, s.time));

  ASSIGN_OR_RETURN(const toml::table* constellation, Section(root, "constellation"));
  TableReader constellation_reader(constellation, file, "constellation");
  RETURN_IF_ERROR(ParseConstellation(constellation_reader, source_dir, s.constellation));

  ASSIGN_OR_RETURN(const toml::table* links, Section(root, "links"));
  TableReader links_reader(links, file, "links");
  RETURN_IF_ERROR(ParseLinks(links_reader, s.links));

  ASSIGN_OR_RETURN(const toml::table* faults, Section(root, "faults"));
  TableReader faults_reader(faults, file, "faults");
  RETURN_IF_ERROR(ParseFaults(faults_reader, s.faults));

  ASSIGN_OR_RETURN(const toml::table* cluster, Section(root, "cluster"));
  TableReader cluster_reader(cluster, file, "cluster");
  RETURN_IF_ERROR(ParseCluster(cluster_reader, s.cluster));

  RETURN_IF_ERROR(root.Finish());
  return s;
}

}  // namespace

absl::StatusOr<Scenario> ParseScenario(std::string_view toml_text, std::string_view name,
                                       const std::filesystem::path& source_dir) {
  return ParseScenarioFile(toml_text, name, source_dir,
                           (source_dir / absl::StrCat(std::string(name), ".toml")).string());
}

absl::StatusOr<Scenario> LoadScenario(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::error_code ec;
    if (!std::filesystem::exists(file, ec)) {
      return absl::NotFoundError(absl::StrCat("scenario file ", file.string(), " does not exist"));
    }
    return absl::PermissionDeniedError(
        absl::StrCat("scenario file ", file.string(), " cannot be opened for reading"));
  }
  std::stringstream text;
  text << in.rdbuf();
  std::filesystem::path dir = file.parent_path();
  if (dir.empty()) dir = ".";
  return ParseScenarioFile(text.str(), file.stem().string(), dir, file.string());
}

}  // namespace crosslink::linkmodel
