#include "tools/flags.h"

#include <cstdlib>
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace kvstash::tools {

FlagSet::FlagSet(std::string usage, std::string summary)
    : usage_(std::move(usage)), summary_(std::move(summary)) {}

void FlagSet::String(const std::string& name, const std::string& help,
                     std::optional<std::string> default_value, bool optional) {
  order_.push_back(name);
  flags_[name] = Flag{help, std::move(default_value), false, optional};
}

void FlagSet::Bool(const std::string& name, const std::string& help) {
  order_.push_back(name);
  flags_[name] = Flag{help, std::nullopt, true, true};
}

absl::Status FlagSet::Parse(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") return absl::CancelledError("help");
    if (arg.rfind("--", 0) != 0) {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument '", arg, "'"));
    }
    std::string name = arg.substr(2), value;
    const size_t eq = name.find('=');
    const bool inline_value = eq != std::string::npos;
    if (inline_value) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    auto it = flags_.find(name);
    if (it == flags_.end()) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name));
    }
    if (it->second.is_bool) {
      if (inline_value && value != "true" && value != "false") {
        return absl::InvalidArgumentError(
            absl::StrCat("flag --", name, " takes true or false, got '", value, "'"));
      }
      values_[name] = inline_value ? value : "true";
      continue;
    }
    if (!inline_value) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrCat("flag --", name, " needs a value"));
      }
      value = args[++i];
    }
    values_[name] = value;
  }
  for (const std::string& name : order_) {
    const Flag& f = flags_[name];
    if (!f.optional && !f.default_value && !values_.count(name)) {
      return absl::InvalidArgumentError(absl::StrCat("missing required flag --", name));
    }
  }
  return absl::OkStatus();
}

bool FlagSet::Has(const std::string& name) const { return values_.count(name) > 0; }

std::string FlagSet::Get(const std::string& name) const {
  auto v = values_.find(name);
  if (v != values_.end()) return v->second;
  auto f = flags_.find(name);
  if (f != flags_.end() && f->second.default_value) return *f->second.default_value;
  return "";
}

bool FlagSet::GetBool(const std::string& name) const { return Get(name) == "true"; }

absl::StatusOr<uint64_t> FlagSet::GetU64(const std::string& name) const {
  const std::string v = Get(name);
  uint64_t out = 0;
  const bool hex = v.rfind("0x", 0) == 0 || v.rfind("0X", 0) == 0;
  const bool ok = hex ? absl::SimpleHexAtoi(v.substr(2), &out) : absl::SimpleAtoi(v, &out);
  if (!ok || (hex && v.size() == 2)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "flag --", name, ": '", v, "' is not an unsigned 64-bit integer (decimal or 0x-hex)"));
  }
  return out;
}

absl::StatusOr<double> FlagSet::GetDouble(const std::string& name) const {
  const std::string v = Get(name);
  double out = 0;
  if (!absl::SimpleAtod(v, &out)) {
    return absl::InvalidArgumentError(absl::StrCat("flag --", name, ": '", v, "' is not a number"));
  }
  return out;
}

std::string FlagSet::Help() const {
  std::string out = absl::StrCat("usage: ", usage_, "\n\n", summary_, "\n\nflags:\n");
  for (const std::string& name : order_) {
    const Flag& f = flags_.at(name);
    std::string left = absl::StrCat("  --", name, f.is_bool ? "" : " VALUE");
    std::string right = f.help;
    if (f.default_value) absl::StrAppend(&right, " (default: ", *f.default_value, ")");
    if (!f.is_bool && !f.optional && !f.default_value) absl::StrAppend(&right, " (required)");
    absl::StrAppend(&out, absl::StrFormat("%-28s %s\n", left, right));
  }
  absl::StrAppend(&out, absl::StrFormat("%-28s %s\n", "  --help", "show this help"));
  return out;
}

int ParseOrExit(FlagSet& flags, const std::vector<std::string>& args) {
  const absl::Status s = flags.Parse(args);
  if (s.ok()) return -1;
  if (absl::IsCancelled(s)) {
    std::cout << flags.Help();
    return 0;
  }
  std::cerr << "error: " << s.message() << "\n(run with --help for usage)\n";
  return 2;
}

}  // namespace kvstash::tools
