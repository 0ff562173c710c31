#include "crosslink/base/flags.h"

#include <cmath>
#include <iostream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace crosslink::base {
namespace {

// "an integer >= 1 and <= 65535", from a flag's bounds.
template <typename Bounds>
std::string Expectation(absl::string_view kind, const Bounds& b) {
  std::vector<std::string> parts;
  if (b.min.has_value()) parts.push_back(absl::StrCat(">= ", *b.min));
  if (b.above.has_value()) parts.push_back(absl::StrCat("> ", *b.above));
  if (b.max.has_value()) parts.push_back(absl::StrCat("<= ", *b.max));
  if (b.below.has_value()) parts.push_back(absl::StrCat("< ", *b.below));
  return parts.empty() ? std::string(kind) : absl::StrCat(kind, " ", absl::StrJoin(parts, " and "));
}

}  // namespace

bool IsHelpArgument(absl::string_view arg) { return arg == "-h" || arg == "--help"; }

absl::StatusOr<int64_t> ParseByteSize(absl::string_view flag, absl::string_view text) {
  const std::string original(text);
  int64_t scale = 1;
  for (absl::string_view suffix : {"iB", "B"}) {
    if (text.size() > suffix.size() && absl::EndsWith(text, suffix)) {
      text.remove_suffix(suffix.size());
      break;
    }
  }
  if (!text.empty()) {
    switch (text.back()) {
      case 'K':
      case 'k':
        scale = int64_t{1} << 10;
        break;
      case 'M':
      case 'm':
        scale = int64_t{1} << 20;
        break;
      case 'G':
      case 'g':
        scale = int64_t{1} << 30;
        break;
      default:
        break;
    }
    if (scale != 1) text.remove_suffix(1);
  }
  int64_t value = 0;
  if (!absl::SimpleAtoi(text, &value) || value <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": not a positive size: \"", original, "\""));
  }
  return value * scale;
}

FlagSet::Flag& FlagSet::Flag::Min(double lo) {
  bounds_.min = lo;
  return *this;
}
FlagSet::Flag& FlagSet::Flag::Above(double lo) {
  bounds_.above = lo;
  return *this;
}
FlagSet::Flag& FlagSet::Flag::Max(double hi) {
  bounds_.max = hi;
  return *this;
}
FlagSet::Flag& FlagSet::Flag::Below(double hi) {
  bounds_.below = hi;
  return *this;
}
FlagSet::Flag& FlagSet::Flag::Required() {
  required_ = true;
  return *this;
}
FlagSet::Flag& FlagSet::Flag::Alias(std::string spelling) {
  aliases_.push_back(std::move(spelling));
  return *this;
}
FlagSet::Flag& FlagSet::Flag::ValueName(std::string name) {
  value_name_ = std::move(name);
  return *this;
}
FlagSet::Flag& FlagSet::Flag::DefaultText(std::string text) {
  default_text_ = std::move(text);
  return *this;
}

FlagSet::FlagSet(std::string command, std::string synopsis, Positionals positionals)
    : command_(std::move(command)), synopsis_(std::move(synopsis)), positionals_(positionals) {}

FlagSet::Flag& FlagSet::Add(absl::string_view name, absl::string_view help, std::string value_name,
                            std::string default_text,
                            std::function<absl::Status(const Flag&, absl::string_view)> set) {
  auto flag = std::make_unique<Flag>();
  flag->name_ = std::string(name);
  flag->help_ = std::string(help);
  flag->value_name_ = std::move(value_name);
  flag->default_text_ = std::move(default_text);
  flag->set_ = std::move(set);
  flags_.push_back(std::move(flag));
  return *flags_.back();
}

// Numbers share one check: the type, then the bounds the flag states.
template <typename Bounds>
bool InBounds(double x, const Bounds& b) {
  return (!b.min.has_value() || x >= *b.min) && (!b.above.has_value() || x > *b.above) &&
         (!b.max.has_value() || x <= *b.max) && (!b.below.has_value() || x < *b.below);
}

template <typename T, typename Bounds>
absl::Status SetNumber(absl::string_view name, absl::string_view kind, const Bounds& bounds,
                       absl::string_view value, T* dest) {
  T parsed{};
  bool ok;
  if constexpr (std::is_floating_point_v<T>) {
    ok = absl::SimpleAtod(value, &parsed) && std::isfinite(parsed);
  } else {
    ok = absl::SimpleAtoi(value, &parsed);
  }
  if (!ok || !InBounds(static_cast<double>(parsed), bounds)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, " expects ", Expectation(kind, bounds), ", got '", value, "'"));
  }
  *dest = parsed;
  return absl::OkStatus();
}

FlagSet::Flag& FlagSet::String(absl::string_view name, std::string* dest, absl::string_view help) {
  return Add(name, help, "S", *dest, [dest](const Flag&, absl::string_view value) {
    *dest = std::string(value);
    return absl::OkStatus();
  });
}

template <typename T>
FlagSet::Flag& FlagSet::Number(absl::string_view name, T* dest, absl::string_view help,
                               absl::string_view kind, std::string value_name) {
  return Add(name, help, std::move(value_name), absl::StrCat(*dest),
             [dest, kind](const Flag& f, absl::string_view value) {
               return SetNumber(f.name_, kind, f.bounds_, value, dest);
             });
}

FlagSet::Flag& FlagSet::Int(absl::string_view name, int* dest, absl::string_view help) {
  return Number(name, dest, help, "an integer", "N");
}
FlagSet::Flag& FlagSet::Int64(absl::string_view name, int64_t* dest, absl::string_view help) {
  return Number(name, dest, help, "an integer", "N");
}
FlagSet::Flag& FlagSet::Uint64(absl::string_view name, uint64_t* dest, absl::string_view help) {
  return Number(name, dest, help, "an unsigned integer", "N");
}
FlagSet::Flag& FlagSet::Double(absl::string_view name, double* dest, absl::string_view help) {
  return Number(name, dest, help, "a number", "X");
}

FlagSet::Flag& FlagSet::ByteSize(absl::string_view name, int64_t* dest, absl::string_view help) {
  return Add(name, help, "SIZE", *dest > 0 ? absl::StrCat(*dest) : "",
             [dest](const Flag& f, absl::string_view value) -> absl::Status {
               absl::StatusOr<int64_t> bytes = ParseByteSize(absl::StrCat("--", f.name_), value);
               if (!bytes.ok()) return bytes.status();
               if (!InBounds(static_cast<double>(*bytes), f.bounds_)) {
                 return absl::InvalidArgumentError(absl::StrCat("--", f.name_, " expects ",
                                                                Expectation("a size", f.bounds_),
                                                                " bytes, got '", value, "'"));
               }
               *dest = *bytes;
               return absl::OkStatus();
             });
}

FlagSet::Flag& FlagSet::Choice(absl::string_view name, std::string* dest,
                               std::vector<std::string> choices, absl::string_view help) {
  std::string value_name = absl::StrJoin(choices, "|");
  return Add(
      name, help, std::move(value_name), *dest,
      [dest, choices = std::move(choices)](const Flag& f, absl::string_view value) -> absl::Status {
        for (const std::string& c : choices) {
          if (c == value) {
            *dest = c;
            return absl::OkStatus();
          }
        }
        return absl::InvalidArgumentError(absl::StrCat("--", f.name_, " expects one of ",
                                                       absl::StrJoin(choices, ", "), ", got '",
                                                       value, "'"));
      });
}

FlagSet::Flag& FlagSet::Switch(absl::string_view name, bool* dest, absl::string_view help) {
  Flag& flag = Add(name, help, "", "", [dest](const Flag&, absl::string_view) {
    *dest = true;
    return absl::OkStatus();
  });
  flag.takes_value_ = false;
  return flag;
}

FlagSet::Flag& FlagSet::Custom(absl::string_view name, absl::string_view value_name,
                               std::function<absl::Status(absl::string_view value)> set,
                               absl::string_view help) {
  return Add(name, help, std::string(value_name), "",
             [set = std::move(set)](const Flag& f, absl::string_view value) -> absl::Status {
               absl::Status status = set(value);
               if (status.ok()) return status;
               return absl::Status(status.code(),
                                   absl::StrCat("--", f.name_, ": ", status.message()));
             });
}

FlagSet::Flag* FlagSet::Find(absl::string_view spelling) {
  for (const std::unique_ptr<Flag>& flag : flags_) {
    if (absl::StartsWith(spelling, "--") && spelling.substr(2) == flag->name_) return flag.get();
    for (const std::string& alias : flag->aliases_) {
      if (spelling == alias) return flag.get();
    }
  }
  return nullptr;
}

absl::StatusOr<FlagSet::Parsed> FlagSet::Parse(absl::Span<const std::string> args) {
  Parsed parsed;
  for (auto& flag : flags_) flag->given_ = false;
  size_t i = 0;
  for (; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (IsHelpArgument(arg)) {
      parsed.help = true;
      return parsed;
    }
    if (arg == "--") {
      ++i;
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      if (positionals_ == Positionals::kStopAtFirst) break;
      if (positionals_ == Positionals::kReject) {
        return absl::InvalidArgumentError(absl::StrCat("unexpected argument '", arg, "'"));
      }
      parsed.rest.push_back(arg);
      continue;
    }
    absl::string_view spelling = arg;
    std::optional<absl::string_view> inline_value;
    if (const size_t eq = spelling.find('='); eq != absl::string_view::npos) {
      inline_value = spelling.substr(eq + 1);
      spelling = spelling.substr(0, eq);
    }
    Flag* flag = Find(spelling);
    if (flag == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag '", spelling, "'"));
    }
    absl::string_view value;
    if (!flag->takes_value_) {
      if (inline_value.has_value()) {
        return absl::InvalidArgumentError(absl::StrCat(spelling, " takes no value"));
      }
    } else if (inline_value.has_value()) {
      value = *inline_value;
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return absl::InvalidArgumentError(absl::StrCat(spelling, " needs a value"));
    }
    if (absl::Status status = flag->set_(*flag, value); !status.ok()) return status;
    flag->given_ = true;
  }
  parsed.rest.insert(parsed.rest.end(), args.begin() + std::min(i, args.size()), args.end());
  for (const auto& flag : flags_) {
    if (flag->required_ && !flag->given_) {
      return absl::InvalidArgumentError(absl::StrCat("--", flag->name_, " is required"));
    }
  }
  return parsed;
}

std::optional<int> FlagSet::ParseMain(int argc, char** argv, int first,
                                      std::vector<std::string>* rest) {
  const std::vector<std::string> args(argv + std::min(first, argc), argv + argc);
  absl::StatusOr<Parsed> parsed = Parse(args);
  if (!parsed.ok()) {
    std::cerr << UsageError(parsed.status().message());
    return 2;
  }
  if (parsed->help) {
    std::cout << Help();
    return 0;
  }
  if (rest != nullptr) *rest = std::move(parsed->rest);
  return std::nullopt;
}

bool FlagSet::Given(absl::string_view name) const {
  for (const auto& flag : flags_) {
    if (flag->name_ == name) return flag->given_;
  }
  return false;
}

std::string FlagSet::Help() const {
  // Help texts start in one column; a flag spelled wider than kMaxColumn gets a line of its own.
  constexpr size_t kMaxColumn = 24;
  std::vector<std::pair<std::string, const Flag*>> lines;
  size_t width = 0;
  for (const auto& flag : flags_) {
    std::string spellings;
    for (const std::string& alias : flag->aliases_) absl::StrAppend(&spellings, alias, ", ");
    absl::StrAppend(&spellings, "--", flag->name_);
    if (flag->takes_value_) absl::StrAppend(&spellings, " ", flag->value_name_);
    if (spellings.size() <= kMaxColumn) width = std::max(width, spellings.size());
    lines.emplace_back(std::move(spellings), flag.get());
  }
  lines.emplace_back("-h, --help", nullptr);
  width = std::max(width, lines.back().first.size());
  std::string help = absl::StrCat(synopsis_, "flags:\n");
  for (const auto& [spellings, flag] : lines) {
    absl::StrAppend(&help, "  ", spellings);
    if (spellings.size() > width) {
      absl::StrAppend(&help, "\n", std::string(width + 4, ' '));
    } else {
      absl::StrAppend(&help, std::string(width + 2 - spellings.size(), ' '));
    }
    if (flag == nullptr) {
      absl::StrAppend(&help, "print this help and exit\n");
      continue;
    }
    absl::StrAppend(&help, flag->help_);
    if (flag->required_) {
      absl::StrAppend(&help, " (required)");
    } else if (!flag->default_text_.empty()) {
      absl::StrAppend(&help, " (default ", flag->default_text_, ")");
    }
    absl::StrAppend(&help, "\n");
  }
  return help;
}

std::string FlagSet::UsageError(absl::string_view message) const {
  return absl::StrCat(command_, ": ", message, "\n", synopsis_, "(", command_,
                      " --help lists the flags)\n");
}

}  // namespace crosslink::base
