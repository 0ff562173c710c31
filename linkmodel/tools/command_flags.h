// A minimal `--name value` / `--name=value` / `--switch` parser for crosslink-linkmodel's
// subcommands: each subcommand states its flags, and anything else is a usage error that names
// the offending argument (no global flag registry, so subcommands cannot collide).
#ifndef CROSSLINK_LINKMODEL_TOOLS_COMMAND_FLAGS_H_
#define CROSSLINK_LINKMODEL_TOOLS_COMMAND_FLAGS_H_

#include <map>
#include <set>
#include <string>
#include <string_view>

namespace crosslink::linkmodel::tools {

struct ParsedFlags {
  std::map<std::string, std::string> values;  // flags that take a value
  std::set<std::string> switches;             // flags present without a value
  std::string error;                          // non-empty: usage error
  bool help = false;

  bool Has(const std::string& name) const { return values.contains(name); }
  std::string Get(const std::string& name) const {
    auto it = values.find(name);
    return it == values.end() ? std::string() : it->second;
  }
};

// Parses argv[first..argc). `with_value` and `switches` list names without the leading "--".
inline ParsedFlags ParseFlags(int argc, char** argv, int first,
                              const std::set<std::string>& with_value,
                              const std::set<std::string>& switches) {
  ParsedFlags flags;
  for (int i = first; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      flags.help = true;
      continue;
    }
    if (arg.substr(0, 2) != "--") {
      flags.error = "unexpected argument '" + std::string(arg) + "'";
      return flags;
    }
    std::string name(arg.substr(2));
    std::string value;
    bool has_inline_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_inline_value = true;
    }
    if (switches.contains(name) && !has_inline_value) {
      flags.switches.insert(name);
    } else if (with_value.contains(name)) {
      if (!has_inline_value) {
        if (i + 1 >= argc) {
          flags.error = "--" + name + " needs a value";
          return flags;
        }
        value = argv[++i];
      }
      flags.values[name] = value;
    } else {
      flags.error = "unknown option --" + name;
      return flags;
    }
  }
  return flags;
}

}  // namespace crosslink::linkmodel::tools

#endif  // CROSSLINK_LINKMODEL_TOOLS_COMMAND_FLAGS_H_
