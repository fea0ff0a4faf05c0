// Real config.json files of each plan-based family (../shared/testdata/configs) parse, resolve
// to their family and give the published parameter count from the family's tensor table
// (no weights read). The IPEX config.1layer.json files are the real configs with only the
// layer count reduced: the test restores the real count before counting. Published counts:
//   bigscience/bloom-1b7        1,722,408,960  (keras-hub preset "bloom_1.7b_multi" params;
//                                               calflops model table)
//   bigcode/starcoder (15.5B)  15,517,456,384  (count listed for StarCoder-15B fine-tunes,
//                                               same shapes; HF page: 15.5B)
//   microsoft/Phi-3-mini-4k    3,821,079,552  (keras-hub preset phi3_mini_4k_instruct_en;
//                                               ollama's HF metadata test NumWeights)
//   stabilityai/stablelm-2-1_6b 1,644,515,328  (model comparison table; HF page: 1.64B)
//   CohereForAI/c4ai-command-r-v01  "35B"       (model card; no exact count found: 34.98B
//                                               is checked to round to 35.0B)
#include <cmath>

#include <gtest/gtest.h>

#include "models/loader/model_config.h"
#include "models/model.h"

using namespace lightllm;

namespace {

struct Case {
  const char* file;
  const char* layers_key;  // the key holding the layer count in that config
  int64_t real_layers;
  int64_t published;  // 0: only a rounded figure is published (see rounded_billions)
  double rounded_billions = 0;
};

const Case kCases[] = {
    {"bloom-1b7/config.1layer.json", "n_layer", 24, 1722408960},
    {"starcoder-15b/config.1layer.json", "n_layer", 40, 15517456384},
    {"phi3-mini-4k/config.1layer.json", "num_hidden_layers", 32, 3821079552},
    {"stablelm-2-1.6b/config.1layer.json", "num_hidden_layers", 24, 1644515328},
    {"cohere-command-r-v01/config.json", "num_hidden_layers", 40, 0, 35.0},
};

std::string path_of(const char* f) {
  return std::string(LIGHTLLM_SHARED_TESTDATA) + "/configs/" + f;
}

TEST(ParamCount, RealConfigsGiveThePublishedSize) {
  for (const Case& c : kCases) {
    auto j = loader::read_json_file(path_of(c.file));
    ASSERT_TRUE(j.ok()) << j.status().to_string();
    (*j)[c.layers_key] = c.real_layers;
    auto cfg = loader::parse_model_config(*j, path_of(c.file));
    ASSERT_TRUE(cfg.ok()) << cfg.status().to_string();
    ASSERT_TRUE(models::resolve_architecture(*cfg).ok()) << c.file;
    auto n = models::parameter_count(*cfg);
    ASSERT_TRUE(n.ok()) << c.file << ": " << n.status().to_string();
    std::printf("%-40s %-24s %2lld layers: %lld parameters\n", c.file, cfg->architecture.c_str(),
                static_cast<long long>(c.real_layers), static_cast<long long>(*n));
    if (c.published > 0) {
      EXPECT_EQ(*n, c.published) << c.file;
    } else {
      EXPECT_EQ(std::round(static_cast<double>(*n) / 1e8) / 10, c.rounded_billions) << c.file;
    }
  }
}

// The 1-layer configs as given count one layer; one layer more adds exactly one layer's
// tensors, and (real_layers - 1) of them reach the published size.
TEST(ParamCount, OneLayerConfigsCountOneLayer) {
  for (const Case& c : kCases) {
    if (c.published == 0) continue;
    auto cfg1 = loader::load_model_config(path_of(c.file));
    ASSERT_TRUE(cfg1.ok()) << cfg1.status().to_string();
    auto j = loader::read_json_file(path_of(c.file));
    (*j)[c.layers_key] = 2;
    auto cfg2 = loader::parse_model_config(*j, path_of(c.file));
    ASSERT_TRUE(cfg2.ok());
    auto n1 = models::parameter_count(*cfg1), n2 = models::parameter_count(*cfg2);
    ASSERT_TRUE(n1.ok() && n2.ok());
    const int64_t per_layer = *n2 - *n1;
    EXPECT_EQ(*n1 + (c.real_layers - 1) * per_layer, c.published) << c.file;
  }
}

TEST(ParamCount, LlamaFamilyHasNoTableYet) {
  auto cfg = loader::load_model_config(path_of("llama2-7b/config.json"));
  ASSERT_TRUE(cfg.ok()) << cfg.status().to_string();
  EXPECT_EQ(models::parameter_count(*cfg).status().code(), core::StatusCode::unimplemented);
}

}  // namespace
