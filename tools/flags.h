// A small flag parser for the kvstash CLI's subcommands. Each subcommand
// declares its flags (name, help, default) on a FlagSet, then parses its
// arguments once at the edge (STYLE.md 5). Accepts --name value, --name=value
// and bare --name for booleans. Unknown flags, missing values and stray
// positional arguments are errors that name the offender. --help/-h is always
// known and makes Parse() return a Status with code kCancelled after the
// caller prints Help().
#ifndef KVSTASH_TOOLS_FLAGS_H_
#define KVSTASH_TOOLS_FLAGS_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace kvstash::tools {

class FlagSet {
 public:
  // `usage` is the first help line, e.g. "kvstash codec encode [flags]".
  FlagSet(std::string usage, std::string summary);

  // Declare flags. A string flag with no default is required unless
  // `optional` is set; the default is shown in --help.
  void String(const std::string& name, const std::string& help,
              std::optional<std::string> default_value = std::nullopt, bool optional = false);
  void Bool(const std::string& name, const std::string& help);

  // Parses args (without the program and subcommand names).
  absl::Status Parse(const std::vector<std::string>& args);

  bool Has(const std::string& name) const;
  std::string Get(const std::string& name) const;  // value or default or ""
  bool GetBool(const std::string& name) const;
  absl::StatusOr<uint64_t> GetU64(const std::string& name) const;  // decimal or 0x-hex
  absl::StatusOr<double> GetDouble(const std::string& name) const;

  std::string Help() const;

 private:
  struct Flag {
    std::string help;
    std::optional<std::string> default_value;
    bool is_bool = false;
    bool optional = false;
  };
  std::string usage_;
  std::string summary_;
  std::vector<std::string> order_;
  std::map<std::string, Flag> flags_;
  std::map<std::string, std::string> values_;
};

// Runs `parse` and handles --help and errors uniformly: returns -1 when the
// command should go on, else the exit code (0 after --help, 2 on a usage
// error, with the message on stderr).
int ParseOrExit(FlagSet& flags, const std::vector<std::string>& args);

}  // namespace kvstash::tools

#endif  // KVSTASH_TOOLS_FLAGS_H_
