#include "bench/chaos/worker_events.h"

#include <array>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace crosslink::chaos {
namespace {

constexpr std::array<std::pair<EventKind, const char*>, 9> kNames = {{
    {EventKind::kBroken, "broken"},
    {EventKind::kReady, "ready"},
    {EventKind::kStep, "step"},
    {EventKind::kError, "error"},
    {EventKind::kDataLoss, "dataloss"},
    {EventKind::kWrong, "wrong"},
    {EventKind::kRefused, "refused"},
    {EventKind::kFinal, "final"},
    {EventKind::kFatal, "fatal"},
}};

}  // namespace

const char* EventName(EventKind kind) {
  for (const auto& [k, name] : kNames) {
    if (k == kind) return name;
  }
  return "?";
}

std::string FormatEvent(const WorkerEvent& e) {
  std::string line = absl::StrCat("chaos ", EventName(e.kind), " t_us=", e.t_us);
  switch (e.kind) {
    case EventKind::kReady:
      absl::StrAppend(&line, " restart=", e.restart);
      break;
    case EventKind::kStep:
      absl::StrAppend(&line, " step=", e.step, " epoch=", e.epoch, " live=", e.live,
                      " dur_us=", e.dur_us, " outages=", e.outages);
      break;
    case EventKind::kFinal:
      absl::StrAppend(&line, " step=", e.step, " hash=", e.hash);
      break;
    case EventKind::kDataLoss:
      absl::StrAppend(&line, " seq=", e.seq);
      break;
    case EventKind::kError:
      absl::StrAppend(&line, " stage=", e.stage, " code=", e.code);
      break;
    default:
      break;
  }
  if (!e.msg.empty()) {
    absl::StrAppend(&line, " msg=", absl::StrReplaceAll(e.msg, {{"\n", " "}, {"\r", " "}}));
  }
  return line;
}

std::optional<WorkerEvent> ParseEvent(std::string_view text) {
  absl::string_view line(text.data(), text.size());
  if (!absl::ConsumePrefix(&line, "chaos ")) return std::nullopt;
  WorkerEvent e;
  // msg= runs to the end of the line.
  if (size_t at = line.find(" msg="); at != absl::string_view::npos) {
    e.msg = std::string(line.substr(at + 5));
    line = line.substr(0, at);
  }
  std::vector<absl::string_view> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
  if (fields.empty()) return std::nullopt;
  bool known = false;
  for (const auto& [k, name] : kNames) {
    if (fields[0] == name) {
      e.kind = k;
      known = true;
    }
  }
  if (!known) return std::nullopt;
  for (size_t i = 1; i < fields.size(); ++i) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(fields[i], '=');
    const auto& [key, value] = kv;
    bool ok = true;
    if (key == "t_us") {
      ok = absl::SimpleAtoi(value, &e.t_us);
    } else if (key == "step") {
      ok = absl::SimpleAtoi(value, &e.step);
    } else if (key == "epoch") {
      ok = absl::SimpleAtoi(value, &e.epoch);
    } else if (key == "live") {
      ok = absl::SimpleAtoi(value, &e.live);
    } else if (key == "dur_us") {
      ok = absl::SimpleAtoi(value, &e.dur_us);
    } else if (key == "outages") {
      ok = absl::SimpleAtoi(value, &e.outages);
    } else if (key == "restart") {
      ok = absl::SimpleAtoi(value, &e.restart);
    } else if (key == "hash") {
      ok = absl::SimpleAtoi(value, &e.hash);
    } else if (key == "seq") {
      ok = absl::SimpleAtoi(value, &e.seq);
    } else if (key == "stage") {
      e.stage = std::string(value);
    } else if (key == "code") {
      e.code = std::string(value);
    } else {
      ok = false;
    }
    if (!ok) return std::nullopt;
  }
  return e;
}

}  // namespace crosslink::chaos
