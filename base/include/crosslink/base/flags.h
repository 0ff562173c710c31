// Command-line flags for Crosslink's programs (crosslink-run, crosslink-bench and its modes,
// crosslink-sim, crosslink-linkmodel's subcommands, the examples and benchmarks): each program or
// subcommand declares its flags in one FlagSet, which parses them, checks their values and writes
// --help. One FlagSet per command, not a global registry, so subcommands with different flags
// cannot collide and a library can parse a command line (crosslink-run's does) without owning
// process-wide state.
//
// Syntax: `--name value` and `--name=value`; switches take no value (`--predicted`); a flag may
// have other spellings (`-n` for crosslink-run's --num-ranks). `-h` and `--help` ask for help.
// `--` ends the flags; what follows is returned untouched. Numbers are checked for their type and
// for the bounds a flag states (Min, Above, Max, Below); byte sizes take K, M, G suffixes
// (ParseByteSize).
//
// Mains use ParseMain: --help prints Help() to stdout and exits 0; a usage error (unknown flag,
// missing or bad value, missing required flag, unexpected argument) prints
// "<command>: <message>" and the synopsis to stderr and exits 2.
//
// Ownership: a FlagSet keeps pointers to the variables it writes; they must outlive Parse.
// Thread-compatible.
#ifndef CROSSLINK_BASE_FLAGS_H_
#define CROSSLINK_BASE_FLAGS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace crosslink::base {

// A byte count with an optional binary suffix: 4096, 64K, 16M, 1G (also 64KiB, 64KB forms; powers
// of 1024). kInvalidArgument naming `flag` for anything else or a size <= 0.
absl::StatusOr<int64_t> ParseByteSize(absl::string_view flag, absl::string_view text);

// "-h" or "--help": for programs that dispatch on a subcommand before a FlagSet parses.
bool IsHelpArgument(absl::string_view arg);

class FlagSet {
 public:
  // What the arguments that are not flags mean.
  enum class Positionals {
    kReject,       // none allowed: an argument that is not a flag is a usage error
    kCollect,      // returned in order, flags may follow them
    kStopAtFirst,  // the first one ends the flags: it and everything after are returned
  };

  // One declared flag. The setters return *this to chain: `.Int(...).Min(1).Required()`.
  class Flag {
   public:
    Flag& Min(double lo);                 // numbers: value >= lo
    Flag& Above(double lo);               // numbers: value > lo
    Flag& Max(double hi);                 // numbers: value <= hi
    Flag& Below(double hi);               // numbers: value < hi
    Flag& Required();                     // a usage error when not given
    Flag& Alias(std::string spelling);    // another spelling, dashes included ("-n")
    Flag& ValueName(std::string name);    // the value's name in --help ("SECONDS")
    Flag& DefaultText(std::string text);  // the default --help shows ("" hides it)

   private:
    friend class FlagSet;
    std::string name_;  // without the leading "--"
    std::vector<std::string> aliases_;
    std::string help_;
    std::string value_name_;
    std::string default_text_;
    bool takes_value_ = true;
    bool required_ = false;
    bool given_ = false;
    struct Bounds {
      std::optional<double> min, above, max, below;
    } bounds_;
    std::function<absl::Status(const Flag& flag, absl::string_view value)> set_;
  };

  struct Parsed {
    bool help = false;              // -h or --help was given (nothing else was checked)
    std::vector<std::string> rest;  // positionals (see Positionals) and everything after "--"
  };

  // `command` names the program in errors ("crosslink-bench allreduce"); `synopsis` is the usage
  // text (one or more lines, newline-terminated) that --help prints above the flag list.
  FlagSet(std::string command, std::string synopsis,
          Positionals positionals = Positionals::kReject);
  FlagSet(const FlagSet&) = delete;
  FlagSet& operator=(const FlagSet&) = delete;

  // Declarations. `name` has no leading dashes; `help` is one line. A variable keeps its value
  // unless its flag is given, so what it holds now is the default (--help shows it).
  Flag& String(absl::string_view name, std::string* dest, absl::string_view help);
  Flag& Int(absl::string_view name, int* dest, absl::string_view help);
  Flag& Int64(absl::string_view name, int64_t* dest, absl::string_view help);
  Flag& Uint64(absl::string_view name, uint64_t* dest, absl::string_view help);
  Flag& Double(absl::string_view name, double* dest, absl::string_view help);
  Flag& ByteSize(absl::string_view name, int64_t* dest, absl::string_view help);
  // One of `choices`, stored as given.
  Flag& Choice(absl::string_view name, std::string* dest, std::vector<std::string> choices,
               absl::string_view help);
  // A switch: no value; sets *dest to true.
  Flag& Switch(absl::string_view name, bool* dest, absl::string_view help);
  // Any other value: `set` parses it (and may be called once per occurrence, for flags that
  // repeat); its error becomes "--name: <message>".
  Flag& Custom(absl::string_view name, absl::string_view value_name,
               std::function<absl::Status(absl::string_view value)> set, absl::string_view help);

  // Parses `args` (without the program name). kInvalidArgument with a message that names the flag
  // or argument. Stops at the first help flag, returning {help = true}.
  absl::StatusOr<Parsed> Parse(absl::Span<const std::string> args);
  // Parses argv[first..argc) as a main does (see the file comment): nullopt to carry on, else the
  // exit code (0 after --help, 2 after a usage error). `rest`, when given, receives Parsed::rest.
  std::optional<int> ParseMain(int argc, char** argv, int first = 1,
                               std::vector<std::string>* rest = nullptr);

  // Whether the flag was given on the parsed command line.
  bool Given(absl::string_view name) const;
  const std::string& command() const { return command_; }
  // The synopsis, then one line per flag: spellings, value name, help, default.
  std::string Help() const;
  // A usage error as ParseMain prints it: "<command>: <message>\n<synopsis>(--help lists ...)".
  std::string UsageError(absl::string_view message) const;

 private:
  Flag& Add(absl::string_view name, absl::string_view help, std::string value_name,
            std::string default_text,
            std::function<absl::Status(const Flag&, absl::string_view)> set);
  // Int, Int64, Uint64, Double: `kind` names the type in errors ("an integer").
  template <typename T>
  Flag& Number(absl::string_view name, T* dest, absl::string_view help, absl::string_view kind,
               std::string value_name);
  Flag* Find(absl::string_view spelling);

  std::string command_;
  std::string synopsis_;
  Positionals positionals_;
  std::vector<std::unique_ptr<Flag>> flags_;
};

}  // namespace crosslink::base

#endif  // CROSSLINK_BASE_FLAGS_H_
