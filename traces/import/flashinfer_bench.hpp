#pragma once
// moesim import flashinfer-bench / moesim export flashinfer-bench: flashinfer-bench (FIB)
// Definitions, Workloads and Traces (FIB flashinfer_bench/data/{definition,workload,trace}.py
// @40e6ca7; ecosystem.md s1.2-1.5, capture_formats.md s2.6). A Definition names the FlashInfer
// entry point (tag fi_api:flashinfer.fused_moe.core.<entry point>) whose parameter names are its
// input names, so the entry-point table and the routing recomputation are the flashinfer-dump
// importer's (traces/import/fi_moe_table.hpp). Each workload line is one call; tensors come from
// safetensors blobs relative to the dataset root (memory-mapped, validated, never outside it).
// FlashInfer-emitted definitions are accepted as FI writes them: dtype "uint8" (packed FP4),
// "unknown" (optional tensors not passed), extra top-level keys (check, init), no reference.
// Names and spellings: models/capture/flashinfer_bench_moe.json.
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "traces/import/flashinfer_dump.hpp"
#include "traces/import/import_result.hpp"
#include "traces/trace.hpp"

namespace moesim::traces::import {

struct FibImportRequest {
  std::string definition;    // DEFINITION.json, or a dataset root (definitions/moe/*.json)
  std::string workloads;     // WORKLOADS.jsonl ("" with a dataset root: workloads/moe/<name>.jsonl)
  std::string name;          // with a dataset root holding several moe definitions: which one
  std::string dataset_root;  // blob paths are relative to it ("" = derived, see docs/import.md)
  std::string output;
  std::string device;        // recording device (FIB workloads do not record one)
  bool random_routing = false;  // {"type":"random"} routing_logits: generate them (moesim.gen/1)
  std::uint64_t random_seed = 0;
  std::string models_dir;
};

ImportResult import_flashinfer_bench(const FibImportRequest& req);

struct FibExportRequest {
  std::string trace;
  std::string output_dir;  // dataset root to create (must not exist or be empty)
  std::string models_dir;
};

// definitions/moe/<name>.json, workloads/moe/<name>.jsonl (workload Traces: solution and
// evaluation null) and blob/workloads/moe/<name>/<name>_<uuid>.safetensors, one per call.
ExportResult export_flashinfer_bench(const FibExportRequest& req);

// One FIB Evaluation (trace.py Evaluation): status PASSED needs correctness and performance,
// INCORRECT_NUMERICAL correctness only, every other status neither (trace.py validator).
struct FibEvaluation {
  std::string status;
  std::string hardware;
  std::map<std::string, std::string> libs;
  std::string timestamp;
  std::string log;
  bool correctness = false;
  double max_relative_error = 0.0, max_absolute_error = 0.0;
  std::vector<std::pair<std::string, double>> extra_numbers;
  std::vector<std::pair<std::string, std::string>> extra_strings;
  bool performance = false;  // moesim measures no latency: all three fields are written as 0
};

// The definition name moesim export writes for a trace's model (models/.../export/name).
std::string fib_definition_name(const ModelShape& m, const std::string& models_dir);
// One FIB Trace JSONL line for call `call` of `t`: the definition name and the workload exactly
// as `moesim export flashinfer-bench` writes them (same uuid, same blob paths), `solution` and
// the evaluation. InputError when the call cannot be exported (export's rules).
std::string fib_trace_line(const Trace& t, std::size_t call, const std::string& solution, const FibEvaluation& ev,
                           const std::string& models_dir);

}  // namespace moesim::traces::import
