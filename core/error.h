// ts::Error and the checking macros every public function uses.
// Messages name the function, what it got (shapes, dtypes, values) and what it expected.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace taesan {

/// The one exception type taesan throws for bad input or unsupported use.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

/// Throws ts::Error with a fmt-formatted message.
template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace taesan

/// TS_CHECK(cond, "fmt {}", args...): throws ts::Error with the message when cond is false.
#define TS_CHECK(cond, ...)                   \
  do {                                        \
    if (!(cond)) ::taesan::fail(__VA_ARGS__); \
  } while (0)
