// kvstash bench (no subcommand) and kvstash bench all: runs every selected
// family as a child process of this binary (`<self> bench <family> --json
// <settings>`), one after another so that they do not compete for cores,
// and prints one merged report (bench/bench_all.h). Progress goes to stderr;
// a child's own stderr is kept in a temp file and shown only in part: its
// "# " notes, and its last lines when it fails.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "bench/bench_all.h"
#include "bench/report.h"
#include "bench/subprocess.h"
#include "tools/commands.h"
#include "tools/flags.h"

namespace kvstash::tools {
namespace {

constexpr size_t kTailLines = 20;        // of a failed child's stderr
constexpr double kQuickTimeoutS = 1200;  // per family, unless --timeout or --full
constexpr double kExitGraceS = 60;       // from closing stdout to exiting
constexpr double kPollS = 3600;          // longest single wait on a child's stdout

std::string SelfPath() {
  char self[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  return n > 0 ? std::string(self, static_cast<size_t>(n)) : "kvstash";
}

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// An empty file under $TMPDIR (else /tmp), removed on destruction.
class TempFile {
 public:
  static absl::StatusOr<std::unique_ptr<TempFile>> Create() {
    const char* tmp = std::getenv("TMPDIR");
    std::string path = absl::StrCat(tmp && *tmp ? tmp : "/tmp", "/kvstash-bench-XXXXXX");
    const int fd = ::mkstemp(path.data());
    if (fd < 0) {
      return absl::InternalError(absl::StrCat("cannot create ", path, ": ", std::strerror(errno)));
    }
    ::close(fd);
    return std::unique_ptr<TempFile>(new TempFile(std::move(path)));
  }
  ~TempFile() { ::unlink(path_.c_str()); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  const std::string& path() const { return path_; }
  std::string Read() const {
    std::ifstream in(path_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

 private:
  explicit TempFile(std::string path) : path_(std::move(path)) {}
  const std::string path_;
};

// OK for exit status 0, else what happened to the child.
absl::Status ExitStatus(int wait_status) {
  if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0) return absl::OkStatus();
  if (WIFEXITED(wait_status)) {
    return absl::InternalError(absl::StrCat("exited with status ", WEXITSTATUS(wait_status)));
  }
  if (WIFSIGNALED(wait_status)) {
    return absl::InternalError(absl::StrCat("killed by signal ", WTERMSIG(wait_status), " (",
                                            strsignal(WTERMSIG(wait_status)), ")"));
  }
  return absl::InternalError(absl::StrCat("ended with wait status ", wait_status));
}

// Reads the child's stdout to its end, or stops the child after `timeout_s`
// seconds (0: never).
absl::Status ReadAll(bench::Subprocess& child, double timeout_s, std::string* out) {
  const double deadline = Now() + (timeout_s > 0 ? timeout_s : 1e9);
  for (;;) {
    absl::StatusOr<std::string> line = child.ReadLine(std::clamp(deadline - Now(), 0.0, kPollS));
    if (line.ok()) {
      absl::StrAppend(out, *line, "\n");
    } else if (absl::IsUnavailable(line.status())) {
      return absl::OkStatus();  // EOF
    } else if (absl::IsDeadlineExceeded(line.status())) {
      if (Now() < deadline) continue;
      child.Stop(SIGTERM, 10);
      return absl::DeadlineExceededError(
          absl::StrCat("stopped after ", timeout_s, " s (raise --timeout)"));
    } else {
      child.Stop(SIGKILL, 10);
      return line.status();
    }
  }
}

// Runs `<self> bench <family> --json <flags>` with a limit of `timeout_s`
// seconds (0: none) and returns what it printed and how it ended.
bench::FamilyRun RunFamily(const std::string& family, const std::vector<std::string>& flags,
                           double timeout_s) {
  bench::FamilyRun run{family, absl::OkStatus(), "", ""};
  absl::StatusOr<std::unique_ptr<TempFile>> err = TempFile::Create();
  if (!err.ok()) {
    run.status = err.status();
    return run;
  }
  bench::SubprocessSpec spec;
  spec.argv = {SelfPath(), "bench", family, "--json"};
  spec.argv.insert(spec.argv.end(), flags.begin(), flags.end());
  spec.pipe_stdout = true;
  spec.stderr_file = (*err)->path();
  absl::StatusOr<std::unique_ptr<bench::Subprocess>> child = bench::Subprocess::Start(spec);
  if (!child.ok()) {
    run.status = child.status();
    return run;
  }
  run.status = ReadAll(**child, timeout_s, &run.stdout_text);
  const int wait_status = (*child)->Stop(0, kExitGraceS);
  if (run.status.ok()) run.status = ExitStatus(wait_status);
  run.stderr_text = (*err)->Read();
  return run;
}

struct Settings {
  std::vector<std::string> families;
  bool full = false;
  bool json = false;
  double timeout_s = kQuickTimeoutS;
};

absl::StatusOr<Settings> ParseSettings(const FlagSet& flags) {
  Settings s;
  absl::StatusOr<std::vector<std::string>> families =
      bench::SelectFamilies(flags.Get("only"), flags.Get("skip"));
  if (!families.ok()) return families.status();
  if (families->empty()) {
    return absl::InvalidArgumentError("--only and --skip leave no bench to run");
  }
  s.families = *std::move(families);
  s.full = flags.GetBool("full");
  s.json = flags.GetBool("json");
  s.timeout_s = s.full ? 0 : kQuickTimeoutS;
  if (flags.Has("timeout")) {
    absl::StatusOr<double> t = flags.GetDouble("timeout");
    if (!t.ok()) return t.status();
    if (!(*t >= 0)) return absl::InvalidArgumentError("flag --timeout: must be >= 0");
    s.timeout_s = *t;
  }
  return s;
}

// Runs family `i` of `s`, reports progress and failures on stderr, and adds
// its rows and notes to `report` (a failure also to report->failed).
void RunOne(const Settings& s, size_t i, bench::MergedReport* report) {
  const std::string& family = s.families[i];
  const std::vector<std::string> flags =
      s.full ? std::vector<std::string>{} : bench::QuickFlags(family);
  const std::string step = absl::StrFormat("bench: [%d/%d] %s", i + 1, s.families.size(), family);
  std::cerr << step << " (" << (flags.empty() ? "its own defaults" : absl::StrJoin(flags, " "))
            << ") ...\n";
  const double start = Now();
  const bench::FamilyRun run = RunFamily(family, flags, s.timeout_s);
  const size_t rows_before = report->results.size();
  const absl::Status merged = bench::MergeFamilyRun(run, report);
  const double seconds = Now() - start;
  if (merged.ok()) {
    std::cerr << absl::StrFormat("%s done in %.1f s, %d results\n", step, seconds,
                                 report->results.size() - rows_before);
    return;
  }
  std::cerr << absl::StrFormat("%s FAILED after %.1f s: %s\n", step, seconds, merged.message());
  const std::string tail = bench::TailLines(run.stderr_text, kTailLines);
  if (!tail.empty()) std::cerr << "  last lines of its stderr:\n" << tail;
}

// `summary`, then the quick settings of every family.
std::string Summary(const std::string& summary) {
  std::string out = absl::StrCat(summary, "\n\nquick settings (without --full):");
  for (const std::string& family : bench::BenchFamilies()) {
    absl::StrAppend(&out, absl::StrFormat("\n  %-9s %s", family,
                                          absl::StrJoin(bench::QuickFlags(family), " ")));
  }
  return out;
}

}  // namespace

int RunBenchAll(const Args& args, const std::string& summary) {
  FlagSet flags("kvstash bench [all] [flags] | kvstash bench <family> [flags]", Summary(summary));
  flags.Bool("json", "print one JSON object instead of a table; notes go to stderr");
  flags.Bool("full", "run each family with its own defaults (a real measurement; long)");
  flags.String("only", "families to run, comma-separated (default: all)", std::nullopt,
               /*optional=*/true);
  flags.String("skip", "families not to run, comma-separated", std::nullopt, /*optional=*/true);
  flags.String("timeout",
               "seconds each family may run before it is stopped and counted as failed, 0 for no "
               "limit (default: 1200, or 0 with --full)",
               std::nullopt, /*optional=*/true);
  if (const int rc = ParseOrExit(flags, args); rc >= 0) return rc;
  absl::StatusOr<Settings> settings = ParseSettings(flags);
  if (!settings.ok()) {
    std::cerr << "error: " << settings.status().message() << "\n";
    return 2;
  }
  const double start = Now();
  bench::MergedReport report;
  for (size_t i = 0; i < settings->families.size(); ++i) RunOne(*settings, i, &report);
  bench::PrintReport(report.results, report.notes, settings->json);
  std::cerr << absl::StrFormat("bench: %d families in %.1f s", settings->families.size(),
                               Now() - start);
  if (report.failed.empty()) {
    std::cerr << "\n";
    return 0;
  }
  std::cerr << "; failed: " << absl::StrJoin(report.failed, ", ") << "\n";
  return 1;
}

}  // namespace kvstash::tools
