// crosslink-run: starts a Crosslink job of N local ranks with an in-process coordinator. All the
// work lives in crosslink/runtime/launcher.h; this file only turns argv into options and the
// result into an exit code.
#include <signal.h>

#include <iostream>
#include <string>
#include <vector>

#include "crosslink/runtime/launcher.h"

int main(int argc, char** argv) {
  // Block the signals the launcher reads from a signalfd before any thread exists, so no thread
  // the coordinator starts can take them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  const std::vector<std::string> args(argv + 1, argv + argc);
  absl::StatusOr<crosslink::runtime::LaunchOptions> options =
      crosslink::runtime::ParseLaunchArgs(args);
  if (!options.ok()) {
    std::cerr << "crosslink-run: " << options.status().message() << "\n"
              << crosslink::runtime::LaunchUsage();
    return 2;
  }
  if (options->help) {
    std::cout << crosslink::runtime::LaunchUsage();
    return 0;
  }
  absl::StatusOr<crosslink::runtime::LaunchResult> result =
      crosslink::runtime::RunLocalJob(*options);
  if (!result.ok()) {
    std::cerr << result.status().message() << "\n";
    return 2;
  }
  std::cerr << "crosslink-run: " << result->summary << "\n";
  return result->exit_code;
}
