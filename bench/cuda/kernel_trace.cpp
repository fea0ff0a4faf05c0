// bench/cuda/kernel_trace.cpp — a kernel timeline of any unmodified program (issue #7): a
// CUPTI injection library. The CUDA driver loads it when CUDA_INJECTION64_PATH names it (the way
// Nsight tools attach), before the program's first CUDA call, and calls InitializeInjection();
// from then on CUPTI records every kernel, memory copy and memset the GPU runs, graph nodes
// included, with the GPU's start and end timestamps (ns). At exit the records go to
// $KERNEL_TRACE_OUT (default kernel_trace.csv), one line per operation in start order:
//   start_ns,end_ns,stream,graph_id,graph_node_id,correlation_id,grid,block,regs,smem,name
// (graph_id 0: not from a graph; the operations of one graph launch share correlation_id;
// copies and memsets have grid = block = 0 and a name like "memcpy HtoD 96 B"). With
// KERNEL_TRACE_API=1 the CUDA runtime calls are recorded too, with the host's timestamps (the
// same clock) and grid = block = -1, named "host cudaMemcpyAsync" etc.: when the host queued
// what the device ran.
// tools/kernel_trace_report.py turns the file into per-kernel costs inside a step.
// Built by tools/kernel_trace.sh. Tracing adds a few hundred ns of host work per launch and
// none per kernel on the GPU (concurrent-kernel records; PDL overlap is kept), so compare a
// traced step with an untraced one before trusting small differences.
#include <cupti.h>
#include <cxxabi.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

namespace {

struct Record {
  uint64_t start, end, graph_node_id;
  uint32_t stream, graph_id, correlation_id;
  int32_t grid, block;
  uint16_t regs;
  int32_t smem;
  std::string name;
};

std::mutex g_mutex;
std::vector<Record> g_records;
constexpr size_t kBufferBytes = size_t{8} << 20;

void report(CUptiResult r, const char* what) {
  if (r == CUPTI_SUCCESS) return;
  const char* text = nullptr;
  cuptiGetResultString(r, &text);
  std::fprintf(stderr, "kernel_trace: %s failed: %s\n", what, text ? text : "?");
}

void CUPTIAPI buffer_requested(uint8_t** buffer, size_t* size, size_t* max_records) {
  *buffer = static_cast<uint8_t*>(std::aligned_alloc(8, kBufferBytes));
  *size = *buffer ? kBufferBytes : 0;
  *max_records = 0;  // as many as fit
}

// "lightllm::kernels::cuda::(anonymous namespace)::gemv_kernel<__nv_bfloat16, 1, ...>(...)"
// -> "gemv_kernel<__nv_bfloat16, 1, ...>": namespaces and the parameter list dropped.
std::string short_name(const char* mangled) {
  int status = 0;
  char* d = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  std::string s = status == 0 && d ? d : mangled;
  std::free(d);
  const std::string anon = "(anonymous namespace)::";
  for (size_t at; (at = s.find(anon)) != std::string::npos;) s.erase(at, anon.size());
  int depth = 0;
  size_t cut = s.size(), base = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '<') ++depth;
    if (c == '>') --depth;
    if (depth == 0 && c == '(') {
      cut = i;
      break;
    }
    if (depth == 0 && c == ':' && i + 1 < s.size() && s[i + 1] == ':') base = i + 2;
  }
  s = s.substr(base, cut - base);
  for (char& c : s)
    if (c == ',') c = ';';  // one CSV field
  return s;
}

const char* copy_kind(uint8_t kind) {
  switch (kind) {
    case CUPTI_ACTIVITY_MEMCPY_KIND_HTOD: return "HtoD";
    case CUPTI_ACTIVITY_MEMCPY_KIND_DTOH: return "DtoH";
    case CUPTI_ACTIVITY_MEMCPY_KIND_DTOD: return "DtoD";
    case CUPTI_ACTIVITY_MEMCPY_KIND_HTOH: return "HtoH";
    default: return "other";
  }
}

void CUPTIAPI buffer_completed(CUcontext, uint32_t, uint8_t* buffer, size_t, size_t valid) {
  CUpti_Activity* record = nullptr;
  std::vector<Record> batch;
  while (cuptiActivityGetNextRecord(buffer, valid, &record) == CUPTI_SUCCESS) {
    if (record->kind == CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL ||
        record->kind == CUPTI_ACTIVITY_KIND_KERNEL) {
      const auto* k = reinterpret_cast<const CUpti_ActivityKernel10*>(record);
      batch.push_back({k->start, k->end, k->graphNodeId, k->streamId, k->graphId, k->correlationId,
                       k->gridX * k->gridY * k->gridZ, k->blockX * k->blockY * k->blockZ,
                       k->registersPerThread, k->staticSharedMemory + k->dynamicSharedMemory,
                       short_name(k->name)});
    } else if (record->kind == CUPTI_ACTIVITY_KIND_MEMCPY) {
      const auto* m = reinterpret_cast<const CUpti_ActivityMemcpy6*>(record);
      batch.push_back({m->start, m->end, m->graphNodeId, m->streamId, m->graphId, m->correlationId,
                       0, 0, 0, 0,
                       std::string("memcpy ") + copy_kind(m->copyKind) + " " +
                           std::to_string(m->bytes) + " B"});
    } else if (record->kind == CUPTI_ACTIVITY_KIND_RUNTIME) {
      const auto* a = reinterpret_cast<const CUpti_ActivityAPI*>(record);
      const char* name = nullptr;
      cuptiGetCallbackName(CUPTI_CB_DOMAIN_RUNTIME_API, a->cbid, &name);
      batch.push_back({a->start, a->end, 0, 0, 0, a->correlationId, -1, -1, 0, 0,
                       std::string("host ") + (name ? name : "?")});
    } else if (record->kind == CUPTI_ACTIVITY_KIND_MEMSET) {
      const auto* m = reinterpret_cast<const CUpti_ActivityMemset4*>(record);
      batch.push_back({m->start, m->end, m->graphNodeId, m->streamId, m->graphId, m->correlationId,
                       0, 0, 0, 0, "memset " + std::to_string(m->bytes) + " B"});
    }
  }
  std::free(buffer);
  std::lock_guard<std::mutex> lock(g_mutex);
  g_records.insert(g_records.end(), std::make_move_iterator(batch.begin()),
                   std::make_move_iterator(batch.end()));
}

void write_trace() {
  report(cuptiActivityFlushAll(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED), "cuptiActivityFlushAll");
  std::lock_guard<std::mutex> lock(g_mutex);
  std::sort(g_records.begin(), g_records.end(),
            [](const Record& a, const Record& b) { return a.start < b.start; });
  const char* path = std::getenv("KERNEL_TRACE_OUT");
  if (path == nullptr) path = "kernel_trace.csv";
  FILE* f = std::fopen(path, "w");
  if (f == nullptr) {
    std::fprintf(stderr, "kernel_trace: cannot write %s\n", path);
    return;
  }
  std::fprintf(f,
               "start_ns,end_ns,stream,graph_id,graph_node_id,correlation_id,grid,block,regs,"
               "smem,name\n");
  for (const Record& r : g_records)
    std::fprintf(f, "%llu,%llu,%u,%u,%llu,%u,%d,%d,%u,%d,%s\n",
                 static_cast<unsigned long long>(r.start), static_cast<unsigned long long>(r.end),
                 r.stream, r.graph_id, static_cast<unsigned long long>(r.graph_node_id),
                 r.correlation_id, r.grid, r.block, r.regs, r.smem, r.name.c_str());
  std::fclose(f);
  std::fprintf(stderr, "kernel_trace: %zu operations -> %s\n", g_records.size(), path);
}

}  // namespace

extern "C" int InitializeInjection(void) {
  report(cuptiActivityRegisterCallbacks(buffer_requested, buffer_completed),
         "cuptiActivityRegisterCallbacks");
  report(cuptiActivityEnable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL),
         "cuptiActivityEnable(CONCURRENT_KERNEL)");
  report(cuptiActivityEnable(CUPTI_ACTIVITY_KIND_MEMCPY), "cuptiActivityEnable(MEMCPY)");
  report(cuptiActivityEnable(CUPTI_ACTIVITY_KIND_MEMSET), "cuptiActivityEnable(MEMSET)");
  if (const char* api = std::getenv("KERNEL_TRACE_API"); api != nullptr && api[0] == '1')
    report(cuptiActivityEnable(CUPTI_ACTIVITY_KIND_RUNTIME), "cuptiActivityEnable(RUNTIME)");
  std::atexit(write_trace);
  return 1;
}
