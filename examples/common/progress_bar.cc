#include "common/progress_bar.h"

#include <unistd.h>

#include <cstdio>
#include <string>

namespace crosslink::examples {

ProgressBar::ProgressBar(int epoch, int64_t total_steps)
    : epoch_(epoch), total_steps_(total_steps > 0 ? total_steps : 1), tty_(isatty(2) != 0) {}

void ProgressBar::Update(int64_t step, double mean_loss) {
  const double fraction = static_cast<double>(step) / static_cast<double>(total_steps_);
  if (tty_) {
    constexpr int kWidth = 40;
    const int filled = static_cast<int>(fraction * kWidth);
    std::string bar(filled, '#');
    bar.resize(kWidth, '.');
    std::fprintf(stderr, "\repoch %d [%s] %3d%% loss %.4f", epoch_, bar.c_str(),
                 static_cast<int>(fraction * 100), mean_loss);
    std::fflush(stderr);
    return;
  }
  const int tenth = static_cast<int>(fraction * 10);
  if (tenth > last_tenth_) {
    last_tenth_ = tenth;
    std::fprintf(stderr, "epoch %d: %3d%% (%lld/%lld steps) loss %.4f\n", epoch_, tenth * 10,
                 static_cast<long long>(step), static_cast<long long>(total_steps_), mean_loss);
  }
}

void ProgressBar::Finish() {
  if (tty_) std::fprintf(stderr, "\n");
}

}  // namespace crosslink::examples
