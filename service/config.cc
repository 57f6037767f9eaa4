#include "service/config.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace kvstash::service {
namespace {

bool IsKeyChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
}

// What follows a closing quote may only be whitespace and a comment.
bool OnlyCommentLeft(absl::string_view rest) {
  rest = absl::StripLeadingAsciiWhitespace(rest);
  return rest.empty() || rest.front() == '#';
}

absl::StatusOr<std::string> ParseDoubleQuoted(absl::string_view v) {
  std::string out;
  for (size_t i = 1; i < v.size(); ++i) {
    const char c = v[i];
    if (c == '"') {
      if (!OnlyCommentLeft(v.substr(i + 1))) {
        return absl::InvalidArgumentError("unexpected text after the closing quote");
      }
      return out;
    }
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    if (++i == v.size()) break;
    switch (v[i]) {
      case '"':
      case '\\':
        out.push_back(v[i]);
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 't':
        out.push_back('\t');
        break;
      default:
        return absl::InvalidArgumentError(
            absl::StrCat("unknown escape '\\", absl::string_view(&v[i], 1), "' in a quoted value"));
    }
  }
  return absl::InvalidArgumentError("missing closing '\"'");
}

absl::StatusOr<std::string> ParseValue(absl::string_view v) {
  if (!v.empty() && v.front() == '"') return ParseDoubleQuoted(v);
  if (!v.empty() && v.front() == '\'') {
    const size_t close = v.find('\'', 1);
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError("missing closing \"'\"");
    }
    if (!OnlyCommentLeft(v.substr(close + 1))) {
      return absl::InvalidArgumentError("unexpected text after the closing quote");
    }
    return std::string(v.substr(1, close - 1));
  }
  const size_t hash = v.find('#');
  if (hash != absl::string_view::npos) v = v.substr(0, hash);
  return std::string(absl::StripTrailingAsciiWhitespace(v));
}

// Parses one non-blank, non-comment line into `config`.
absl::Status ParseLine(absl::string_view line, int line_no, ConfigMap& config) {
  const std::string where = absl::StrCat(config.source(), ":", line_no, ": ");
  const size_t eq = line.find('=');
  if (eq == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, "expected 'key = value', got '", line, "'"));
  }
  const absl::string_view key = absl::StripTrailingAsciiWhitespace(line.substr(0, eq));
  if (key.empty()) return absl::InvalidArgumentError(absl::StrCat(where, "missing key before '='"));
  for (char c : key) {
    if (!IsKeyChar(c)) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, "invalid key '", key, "' (keys are letters, digits, '_', '.' and '-')"));
    }
  }
  absl::StatusOr<std::string> value =
      ParseValue(absl::StripLeadingAsciiWhitespace(line.substr(eq + 1)));
  if (!value.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(where, key, ": ", value.status().message()));
  }
  return config.Insert(std::string(key), *std::move(value), line_no);
}

}  // namespace

bool ConfigMap::Has(absl::string_view key) const { return entries_.find(key) != entries_.end(); }

const ConfigValue* ConfigMap::Find(absl::string_view key) const {
  auto it = entries_.find(key);
  return it == entries_.end() ? nullptr : &it->second;
}

std::vector<std::string> ConfigMap::KeysInOrder() const {
  std::vector<std::pair<int, std::string>> by_line;
  for (const auto& [key, v] : entries_) by_line.emplace_back(v.line, key);
  std::sort(by_line.begin(), by_line.end());
  std::vector<std::string> keys;
  for (auto& [line, key] : by_line) keys.push_back(std::move(key));
  return keys;
}

std::string ConfigMap::Where(absl::string_view key) const {
  const ConfigValue* v = Find(key);
  return v == nullptr ? source_ : absl::StrCat(source_, ":", v->line);
}

absl::Status ConfigMap::Annotate(absl::string_view key, const absl::Status& status) const {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(Where(key), ": ", key, ": ", status.message()));
}

absl::Status ConfigMap::Insert(std::string key, std::string value, int line) {
  auto [it, inserted] = entries_.try_emplace(std::move(key), ConfigValue{std::move(value), line});
  if (!inserted) {
    return absl::InvalidArgumentError(absl::StrCat(source_, ":", line, ": duplicate key '",
                                                   it->first, "' (first set on line ",
                                                   it->second.line, ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<ConfigMap> ParseConfig(absl::string_view text, absl::string_view source_name) {
  ConfigMap config{std::string(source_name)};
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line);  // also drops a CR before the LF
    if (line.empty() || line.front() == '#') continue;
    absl::Status s = ParseLine(line, line_no, config);
    if (!s.ok()) return s;
  }
  return config;
}

absl::StatusOr<ConfigMap> LoadConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    const std::string msg = absl::StrCat("cannot open config file '", path, "': ", strerror(err));
    if (err == ENOENT) return absl::NotFoundError(msg);
    if (err == EACCES) return absl::PermissionDeniedError(msg);
    return absl::UnavailableError(msg);
  }
  std::string text(kMaxConfigFileBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) {
    return absl::UnavailableError(absl::StrCat("cannot read config file '", path, "'"));
  }
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxConfigFileBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("config file '", path, "' is larger than ", kMaxConfigFileBytes, " bytes"));
  }
  return ParseConfig(text, path);
}

absl::StatusOr<uint64_t> ParseUint(absl::string_view text, uint64_t max) {
  uint64_t v = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ptr != end || ec == std::errc::invalid_argument) {
    return absl::InvalidArgumentError(absl::StrCat("'", text, "' is not a non-negative integer"));
  }
  if (ec == std::errc::result_out_of_range || v > max) {
    return absl::OutOfRangeError(absl::StrCat("'", text, "' is larger than ", max));
  }
  return v;
}

absl::StatusOr<double> ParseDouble(absl::string_view text) {
  double v = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, v, std::chars_format::general);
  if (text.empty() || ec != std::errc() || ptr != end || !std::isfinite(v)) {
    return absl::InvalidArgumentError(absl::StrCat("'", text, "' is not a finite number"));
  }
  return v;
}

absl::StatusOr<double> ParseNonNegative(absl::string_view text) {
  absl::StatusOr<double> v = ParseDouble(text);
  if (!v.ok() || *v < 0) {
    return absl::InvalidArgumentError(absl::StrCat("'", text, "' is not a non-negative number"));
  }
  return v;
}

absl::StatusOr<std::vector<float>> ParseFloatList(absl::string_view text) {
  std::vector<float> out;
  int index = 0;
  for (absl::string_view item : absl::StrSplit(text, ',')) {
    item = absl::StripAsciiWhitespace(item);
    absl::StatusOr<double> v = ParseDouble(item);
    if (v.ok() && std::abs(*v) > std::numeric_limits<float>::max()) {
      v = absl::InvalidArgumentError(absl::StrCat("'", item, "' does not fit in a float"));
    }
    if (!v.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("item ", index, ": ", v.status().message()));
    }
    out.push_back(static_cast<float>(*v));
    ++index;
  }
  return out;
}

}  // namespace kvstash::service
