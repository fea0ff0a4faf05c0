// tests/dist/tp_flags_test.cpp — the tensor-parallel flags on the command line and in the
// YAML config (--tp, --nnodes, --node-rank, --nccl-host, --nccl-port): parsed into
// EngineConfig, flags win over the file, out-of-range values are CLI errors.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "cli/config_file.h"
#include "cli/engine_flags.h"

namespace lightllm::cli {
namespace {

// Parses `args` (without the program name); returns false on a CLI11 error.
bool parse(std::vector<std::string> args, EngineConfig& cfg, std::string* error = nullptr) {
  CLI::App app("test");
  add_engine_flags(app, cfg);
  add_yaml_config_option(app);
  std::reverse(args.begin(), args.end());  // CLI11 takes a reversed vector
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    if (error) *error = e.what();
    return false;
  }
  return true;
}

TEST(TpFlagsCli, CommandLine) {
  EngineConfig cfg;
  ASSERT_TRUE(parse({"--device", "cuda", "--tp", "8", "--nnodes", "2", "--node-rank", "1",
                     "--nccl-host", "10.1.2.3", "--nccl-port", "29000"},
                    cfg));
  EXPECT_EQ(cfg.tp, 8);
  EXPECT_EQ(cfg.nnodes, 2);
  EXPECT_EQ(cfg.node_rank, 1);
  EXPECT_EQ(cfg.nccl_host, "10.1.2.3");
  EXPECT_EQ(cfg.nccl_port, 29000);

  EngineConfig defaults;
  ASSERT_TRUE(parse({}, defaults));
  EXPECT_EQ(defaults.tp, 1);
  EXPECT_EQ(defaults.nnodes, 1);
  EXPECT_EQ(defaults.node_rank, 0);
  EXPECT_EQ(defaults.nccl_port, 28765);
}

TEST(TpFlagsCli, OutOfRangeValuesAreErrors) {
  for (const auto& bad : std::vector<std::vector<std::string>>{{"--tp", "0"},
                                                               {"--nnodes", "0"},
                                                               {"--node-rank", "-1"},
                                                               {"--nccl-port", "0"},
                                                               {"--nccl-port", "70000"}}) {
    EngineConfig cfg;
    std::string error;
    EXPECT_FALSE(parse(bad, cfg, &error)) << bad[0] << " " << bad[1];
    EXPECT_FALSE(error.empty());
  }
}

TEST(TpFlagsCli, YamlConfigWithFlagsWinning) {
  const auto path =
      std::filesystem::temp_directory_path() / ("tp_flags_" + std::to_string(::getpid()) + ".yaml");
  {
    std::ofstream f(path);
    f << "tp: 4\nnnodes: 2\nnode_rank: 1\nnccl-host: node0.example\nnccl_port: 30000\n";
  }
  EngineConfig cfg;
  ASSERT_TRUE(parse({"--config", path.string(), "--node-rank", "0"}, cfg));
  std::filesystem::remove(path);
  EXPECT_EQ(cfg.tp, 4);
  EXPECT_EQ(cfg.nnodes, 2);
  EXPECT_EQ(cfg.node_rank, 0);  // the command line wins
  EXPECT_EQ(cfg.nccl_host, "node0.example");
  EXPECT_EQ(cfg.nccl_port, 30000);
}

}  // namespace
}  // namespace lightllm::cli
