// src/cli/tokenize_command.cpp — `lightllm tokenize --model DIR`: text on stdin -> {"ids": [...]};
// `--decode`: a JSON id list on stdin -> {"text": "..."}; `--chat FILE.json`: renders the
// folder's chat template over {"messages": [...], "add_generation_prompt": true} and prints
// {"prompt": "...", "ids": [...]}. Bad input: a message on stderr and exit status 2.
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace lightllm::cli {

namespace {

struct TokenizeOptions {
  std::string model_dir;
  bool decode = false;
  std::string chat_file;
  bool no_special = false;
};

int fail(int code, const std::string& msg) {
  std::cerr << "lightllm tokenize: " << msg << "\n";
  return code;
}

int run_tokenize(const TokenizeOptions& o) {
  auto tok = tokenizer::Tokenizer::from_dir(o.model_dir);
  if (!tok.ok()) return fail(kExitBadInput, tok.status().to_string());
  const auto& t = **tok;
  if (!o.chat_file.empty()) {
    std::ifstream f(o.chat_file, std::ios::binary);
    if (!f) return fail(kExitBadInput, "cannot open '" + o.chat_file + "'");
    const std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    auto req = nlohmann::ordered_json::parse(text, nullptr, false);
    if (req.is_discarded() || !req.is_object() || !req.contains("messages") ||
        !req["messages"].is_array())
      return fail(kExitBadInput,
                  "'" + o.chat_file + "' must be a JSON object with a 'messages' list");
    if (!t.config().chat_template)
      return fail(kExitBadInput,
                  "'" + o.model_dir + "' has no chat_template in tokenizer_config.json");
    auto tmpl = tokenizer::ChatTemplate::parse(*t.config().chat_template);
    if (!tmpl.ok()) return fail(kExitBadInput, "chat_template: " + tmpl.status().to_string());
    nlohmann::ordered_json ctx = req;
    ctx["add_generation_prompt"] = req.value("add_generation_prompt", true);
    if (!ctx.contains("bos_token")) ctx["bos_token"] = t.bos_token();
    if (!ctx.contains("eos_token")) ctx["eos_token"] = t.eos_token();
    auto prompt = tmpl->render(ctx);
    if (!prompt.ok()) return fail(kExitBadInput, "chat_template: " + prompt.status().to_string());
    // The rendered prompt already holds the template's special tokens.
    const auto ids = t.encode(*prompt, false);
    std::cout << nlohmann::json{{"prompt", *prompt}, {"ids", ids}}.dump() << "\n";
    return kExitOk;
  }
  std::ostringstream ss;
  ss << std::cin.rdbuf();
  const std::string input = ss.str();
  if (o.decode) {
    auto j = nlohmann::json::parse(input, nullptr, false);
    if (j.is_discarded() || !j.is_array())
      return fail(kExitBadInput, "--decode expects a JSON list of token ids on stdin");
    std::vector<int32_t> ids;
    for (const auto& x : j) {
      if (!x.is_number_integer()) return fail(kExitBadInput, "--decode: ids must be integers");
      ids.push_back(x.get<int32_t>());
    }
    const std::string text = t.decode(ids, o.no_special);
    std::cout << nlohmann::json{{"text", text}}.dump() << "\n";
    return kExitOk;
  }
  const auto ids = t.encode(input, !o.no_special);
  std::cout << nlohmann::json{{"ids", ids}}.dump() << "\n";
  return kExitOk;
}

}  // namespace

void add_tokenize_command(CLI::App& app, int& exit_code) {
  auto opts = std::make_shared<TokenizeOptions>();
  CLI::App* cmd = app.add_subcommand("tokenize", "Encode stdin text, decode ids, or render a chat");
  cmd->add_option("--model", opts->model_dir, "Folder with tokenizer files")->required();
  cmd->add_flag("--decode", opts->decode, "Read a JSON id list on stdin and print its text");
  cmd->add_option("--chat", opts->chat_file, "JSON file {\"messages\": [...]} to render");
  cmd->add_flag("--no-special", opts->no_special,
                "Encode without special tokens / decode skipping them");
  cmd->callback([opts, &exit_code] { exit_code = run_tokenize(*opts); });
}

}  // namespace lightllm::cli
