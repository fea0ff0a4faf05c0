// src/tokenizer/stop_matcher.h — stop strings matched on the streamed text.
//
//   StopMatcher stops({"\nUser:", "###"});
//   auto r = stops.push(detok.push(id));   // r.text is safe to send now
//   if (r.stopped) finish the request;     // r.text ends right before the stop string
//   else at the end of generation send stops.flush();
//
// Text that could still be the beginning of a stop string is held back until a later push shows
// it is not (or flush()). A stop string may span any number of pushes. Invariants: the
// concatenation of all returned text equals the input text up to the first stop occurrence
// (plus the stop string itself when include_stop_in_output), or all input after flush().
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lightllm::tokenizer {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops, bool include_stop_in_output = false);

  struct Result {
    std::string text;                  // text that can be emitted now
    bool stopped = false;              // a stop string was found
    std::optional<size_t> stop_index;  // which one (index into the constructor list)
  };
  // Feeds new text (after a stop was found, further pushes return nothing).
  Result push(std::string_view text);
  // End of generation without a stop: returns the held-back text.
  std::string flush();

  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  bool include_stop_;
  std::string held_;
  bool stopped_ = false;
};

}  // namespace lightllm::tokenizer
