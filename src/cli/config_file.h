// src/cli/config_file.h — YAML config files for CLI11 (`--config FILE.yaml`).
//
// Every long flag of a command can be set in the file under the same name, with dashes or
// underscores (`max-total-token-num: 8192` or `max_total_token_num: 8192`); lists become
// repeated values, booleans set flags. Flags given on the command line win over the file
// (CLI11 only fills options that the command line left unset). Unknown keys, nested maps and
// YAML syntax errors are errors that name the key / line.
#pragma once

#include <CLI/CLI.hpp>

namespace lightllm::cli {

class YamlConfig : public CLI::Config {
 public:
  std::string to_config(const CLI::App* app, bool default_also, bool write_description,
                        std::string prefix) const override;
  std::vector<CLI::ConfigItem> from_config(std::istream& input) const override;
};

// Adds `--config FILE.yaml` to `cmd` (YAML format, unknown keys rejected).
void add_yaml_config_option(CLI::App& cmd);

}  // namespace lightllm::cli
