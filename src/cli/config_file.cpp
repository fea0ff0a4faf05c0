// src/cli/config_file.cpp — see config_file.h.
#include "cli/config_file.h"

#include <sstream>

#include <yaml-cpp/yaml.h>

namespace lightllm::cli {

std::string YamlConfig::to_config(const CLI::App* app, bool default_also, bool, std::string) const {
  YAML::Emitter out;
  out << YAML::BeginMap;
  for (const CLI::Option* opt : app->get_options()) {
    if (opt->get_lnames().empty() || !opt->get_configurable()) continue;
    std::string value;
    if (opt->count() > 0) {
      value = opt->as<std::string>();
    } else if (default_also) {
      value = opt->get_default_str();
    }
    if (value.empty()) continue;
    out << YAML::Key << opt->get_lnames()[0] << YAML::Value << value;
  }
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

std::vector<CLI::ConfigItem> YamlConfig::from_config(std::istream& input) const {
  YAML::Node root;
  try {
    root = YAML::Load(input);
  } catch (const YAML::Exception& e) {
    throw CLI::ConfigError("config file: invalid YAML: " + std::string(e.what()));
  }
  std::vector<CLI::ConfigItem> items;
  if (root.IsNull()) return items;
  if (!root.IsMap())
    throw CLI::ConfigError("config file: the top level must be a map of flag: value");
  for (const auto& kv : root) {
    std::string key = kv.first.as<std::string>();
    for (auto& c : key) {
      if (c == '_') c = '-';
    }
    CLI::ConfigItem item;
    item.name = key;
    const YAML::Node& v = kv.second;
    if (v.IsScalar()) {
      item.inputs.push_back(v.as<std::string>());
    } else if (v.IsSequence()) {
      for (const auto& e : v) {
        if (!e.IsScalar())
          throw CLI::ConfigError("config file: " + key + ": list items must be scalars");
        item.inputs.push_back(e.as<std::string>());
      }
    } else if (v.IsNull()) {
      continue;  // `key:` with no value leaves the default
    } else {
      throw CLI::ConfigError("config file: " + key + ": expected a value or a list, got a map");
    }
    items.push_back(std::move(item));
  }
  return items;
}

void add_yaml_config_option(CLI::App& cmd) {
  cmd.config_formatter(std::make_shared<YamlConfig>());
  cmd.set_config("--config", "",
                 "YAML file setting any flag by its long name; flags on the command line win");
  cmd.allow_config_extras(CLI::config_extras_mode::error);
}

}  // namespace lightllm::cli
