#pragma once
// moesim import flashinfer-dump / moesim export flashinfer-dump: FlashInfer API-logging level-10
// dumps (FLASHINFER_LOGLEVEL=10; flashinfer/api_logging.py @fb28d72, capture_formats.md s2):
//   <dump>/session.jsonl, <dump>/<ts>_pid<P>_<func>_call<NNNN>/{metadata.jsonl,
//   inputs.safetensors|inputs.pt, outputs.*, graph_flushes/flush_NNNN/...}
// metadata.jsonl: line 1 "inputs_saved" before the kernel runs, a second "completed" record
// after it returns; the last record wins (_read_jsonl_last_record). A call whose last record is
// not "completed" and that has no outputs is the crash point. Parameter names: kwarg_<name> as
// engines pass them, arg_<i> resolved through the record's function_signature (or the table
// in models/capture/flashinfer_api_logging_moe.json). .pt tensors go through
// scripts/capture/pt_to_safetensors.py (Debian python3-torch); safetensors are read natively.
#include <string>
#include <vector>

#include "traces/import/import_result.hpp"

namespace moesim::traces::import {

struct FlashinferDumpRequest {
  std::string input;         // a call directory, a dump root (its call directories), or session.jsonl
  std::string output;
  std::string device;        // the dump does not record the GPU; --device or --log
  std::string log;           // FLASHINFER_LOGDEST file: "Compute capability: X.Y (SMxy)" gives the device
  std::string models_dir, source_dir, python;  // python: interpreter for the .pt converter
};

ImportResult import_flashinfer_dump(const FlashinferDumpRequest& req);

struct FlashinferExportRequest {
  std::string trace;
  std::string output_dir;    // dump root to create (must not exist or be empty)
  std::string function = "cutlass_fused_moe";
  std::string models_dir;
};

struct ExportResult {
  std::string output_dir;
  std::vector<std::string> call_dirs;
  std::vector<std::string> notes;
};

// Writes each trace call as a call directory with inputs.safetensors (kwarg_* keys),
// metadata.jsonl (tensor_format "safetensors", execution_status "inputs_saved") and, when the
// trace has a golden output, outputs.safetensors ("result") and a "completed" record.
ExportResult export_flashinfer_dump(const FlashinferExportRequest& req);

}  // namespace moesim::traces::import
