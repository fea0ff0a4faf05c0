// tests/tokenizer/chat_template_test.cpp — chat templates must render exactly as jinja2 does
// (expected outputs from tools/tokenizer/gen_chat_templates.py) and report errors with line and
// column instead of crashing.
#include <gtest/gtest.h>

#include "tokenizer/chat_template.h"
#include "tokenizer/test_util.h"

namespace lightllm::tokenizer {
namespace {

using testing::data_dir;
using testing::load_json;
using testing::shared_dir;
using testing::slurp;

TEST(ChatTemplate, MatchesJinja2) {
  const auto expected =
      nlohmann::ordered_json::parse(slurp(data_dir() + "/templates/expected.json"));
  size_t checked = 0;
  for (const auto& row : expected["rows"]) {
    const std::string name = row["template"];
    const std::string path = name.rfind("shared:", 0) == 0
                                 ? shared_dir() + "/chat-templates/" + name.substr(7)
                                 : data_dir() + "/templates/" + name;
    const std::string where = name + " / " + row["conversation"].get<std::string>() +
                              " / gen=" + (row["add_generation_prompt"].get<bool>() ? "1" : "0");
    auto tmpl = ChatTemplate::parse(slurp(path));
    ASSERT_TRUE(tmpl.ok()) << where << ": " << tmpl.status().to_string();
    nlohmann::ordered_json ctx = {
        {"messages", expected["conversations"][row["conversation"].get<std::string>()]},
        {"add_generation_prompt", row["add_generation_prompt"]},
        {"bos_token", "<s>"},
        {"eos_token", "</s>"},
        {"date_string", "26 Jul 2024"}};
    auto out = tmpl->render(ctx);
    if (row.value("error", false)) {
      EXPECT_FALSE(out.ok()) << where << " should fail like jinja2: " << row["message"];
    } else {
      ASSERT_TRUE(out.ok()) << where << ": " << out.status().to_string();
      EXPECT_EQ(*out, row["output"].get<std::string>()) << where;
    }
    ++checked;
  }
  EXPECT_GE(checked, 200u);
}

TEST(ChatTemplate, SyntaxErrorsNameLineAndColumn) {
  auto t = ChatTemplate::parse("hello\n{% if x %}\n  {{ x + }}\n{% endif %}");
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().message().find("line 3"), std::string::npos) << t.status().message();
  auto u = ChatTemplate::parse("{% for x in y %}{{ x }}");
  ASSERT_FALSE(u.ok());
  EXPECT_NE(u.status().message().find("endfor"), std::string::npos) << u.status().message();
  auto v = ChatTemplate::parse("{{ 'unterminated }}");
  EXPECT_FALSE(v.ok());
}

TEST(ChatTemplate, RaiseExceptionIsAnError) {
  auto t = ChatTemplate::parse("{{ raise_exception('bad role') }}");
  ASSERT_TRUE(t.ok());
  auto out = t->render(nlohmann::json::object());
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("bad role"), std::string::npos);
  EXPECT_NE(out.status().message().find("line 1"), std::string::npos);
}

// Inputs the fuzzer (tests/fuzz/chat_template_fuzz) found crashing or hanging: each now
// renders like Python (no int overflow) or is refused with an error, never a crash.
TEST(ChatTemplate, FuzzFindingsAreErrorsNotCrashes) {
  auto render = [](const std::string& src) -> core::Result<std::string> {
    auto t = ChatTemplate::parse(src);
    if (!t.ok()) return t.status();
    return t->render(nlohmann::json::object());
  };
  // Python ints are unbounded: exact while int64 holds, float beyond.
  EXPECT_EQ(*render("{{ 2 ** 62 }}"), "4611686018427387904");
  EXPECT_EQ(*render("{{ 1 ** 999339999292 }}"), "1");  // was a 1e12-step loop
  EXPECT_TRUE(render("{{ 9223372036854775807 * 3 }}").ok());
  EXPECT_TRUE(render("{{ 99999999999999999999999 }}").ok());  // was std::stoll throwing
  const auto empty_index = render("{{ x[] }}");
  ASSERT_FALSE(empty_index.ok());
  EXPECT_NE(empty_index.status().message().find("line 1"), std::string::npos);
  EXPECT_FALSE(render("{{ " + std::string(5000, '-') + "1 }}").ok());  // was a stack overflow
  EXPECT_FALSE(render("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}").ok());
}

}  // namespace
}  // namespace lightllm::tokenizer
