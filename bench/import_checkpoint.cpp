// Issue 15 target: importing a 2 GB checkpoint layer stays under 256 MB peak RSS.
// Generates, in a temp dir, a DeepSeek-V3-shaped FP8 layer (hidden 7168, moe_intermediate
// 2048, 128x128 weight_scale_inv) with 48 routed experts in one safetensors shard (2.1 GB,
// written in 4 MiB pieces), then runs the real `moesim import hf-checkpoint` as a child process
// and prints its peak RSS (getrusage RUSAGE_CHILDREN ru_maxrss) next to the layer size and the
// 256 MB budget. The temp dir is removed afterwards (MOESIM_BENCH_KEEP=1 keeps it).
#include <sys/resource.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "sim/core/rng.hpp"

namespace {

namespace fs = std::filesystem;

constexpr std::int64_t E = 48, H = 7168, I = 2048, LAYER = 3;

struct Entry {
  std::string name, dtype;
  std::vector<std::int64_t> shape;
  std::uint64_t bytes;
};

std::vector<Entry> layout() {
  std::vector<Entry> v;
  for (std::int64_t e = 0; e < E; ++e)
    for (const char* p : {"gate_proj", "up_proj", "down_proj"}) {
      const std::string base = "model.layers." + std::to_string(LAYER) + ".mlp.experts." + std::to_string(e) + "." + p;
      const std::int64_t r = std::string(p) == "down_proj" ? H : I, c = std::string(p) == "down_proj" ? I : H;
      v.push_back({base + ".weight", "F8_E4M3", {r, c}, static_cast<std::uint64_t>(r * c)});
      v.push_back({base + ".weight_scale_inv", "F32", {(r + 127) / 128, (c + 127) / 128}, static_cast<std::uint64_t>((r + 127) / 128 * ((c + 127) / 128) * 4)});
    }
  return v;
}

std::uint64_t write_checkpoint(const fs::path& dir) {
  fs::create_directories(dir);
  std::ofstream(dir / "config.json") << R"({"model_type": "deepseek_v3", "num_hidden_layers": 61, "n_routed_experts": )" << E
                                     << R"(, "num_experts_per_tok": 8, "hidden_size": 7168, "moe_intermediate_size": 2048, "n_shared_experts": 1,
 "first_k_dense_replace": 3, "quantization_config": {"activation_scheme": "dynamic", "fmt": "e4m3", "quant_method": "fp8", "weight_block_size": [128, 128]}})";
  const auto v = layout();
  std::string h = "{";
  std::uint64_t off = 0;
  for (const auto& t : v) {
    h += (h.size() > 1 ? "," : "") + ("\"" + t.name + "\":{\"dtype\":\"" + t.dtype + "\",\"shape\":[" + std::to_string(t.shape[0]) + "," +
                                     std::to_string(t.shape[1]) + "],\"data_offsets\":[" + std::to_string(off) + "," + std::to_string(off + t.bytes) + "]}");
    off += t.bytes;
  }
  h += "}";
  while (h.size() % 8) h += ' ';
  std::ofstream f(dir / "model.safetensors", std::ios::binary);
  std::uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) f.put(static_cast<char>(n >> (8 * i)));
  f << h;
  moesim::Rng rng(15, 0);
  std::vector<char> buf(4 << 20);
  for (const auto& t : v) {
    for (std::uint64_t done = 0; done < t.bytes;) {
      const std::size_t m = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), t.bytes - done));
      if (t.dtype == "F32") {
        for (std::size_t i = 0; i + 4 <= m; i += 4) {
          const float s = static_cast<float>(0.5 + rng.uniform()) / 256.f;
          std::memcpy(buf.data() + i, &s, 4);
        }
      } else {
        // Pseudo-random e4m3 bytes with the lowest bit and the sign cleared (never the NaN code 0x7F).
        std::uint64_t x = 0;
        for (std::size_t i = 0; i < m; ++i) {
          if (i % 8 == 0) x = static_cast<std::uint64_t>(rng.uniform() * 0x1.0p53);
          buf[i] = static_cast<char>((x >> (8 * (i % 8))) & 0x7E);
        }
      }
      f.write(buf.data(), static_cast<std::streamsize>(m));
      done += m;
    }
  }
  return 8 + n + off;
}

int run(const std::string& cmd) {
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string bin = argc > 1 ? argv[1] : MOESIM_BINARY;
  const fs::path dir = fs::temp_directory_path() / ("moesim-bench-import-" + std::to_string(::getpid()));
  const auto t0 = std::chrono::steady_clock::now();
  const std::uint64_t size = write_checkpoint(dir / "ckpt");
  const double gen_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (run(bin + " synth -p deepseek-v3 --experts " + std::to_string(E) + " -t 16 --activations -o " + (dir / "calls.h5").string() + " > /dev/null") != 0) {
    std::fprintf(stderr, "bench: synth failed\n");
    return 1;
  }
  rusage before{};
  getrusage(RUSAGE_CHILDREN, &before);
  const auto t1 = std::chrono::steady_clock::now();
  const int rc = run(bin + " import hf-checkpoint " + (dir / "ckpt").string() + " --layer " + std::to_string(LAYER) + " --calls " +
                     (dir / "calls.h5").string() + " -o " + (dir / "layer.h5").string() + " > /dev/null");
  const double imp_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
  rusage after{};
  getrusage(RUSAGE_CHILDREN, &after);
  if (rc != 0) {
    std::fprintf(stderr, "bench: import failed (%d)\n", rc);
    return 1;
  }
  // ru_maxrss of children is the largest child so far (KiB); synth ran first and is small.
  const double rss_mb = static_cast<double>(after.ru_maxrss) / 1024.0;
  const double layer_mb = static_cast<double>(size) / (1 << 20);
  std::printf("import_checkpoint: DeepSeek-V3-shaped FP8 layer, %lld experts x (2 x [%lld,%lld] + [%lld,%lld]) + 128x128 scales\n",
              static_cast<long long>(E), static_cast<long long>(I), static_cast<long long>(H), static_cast<long long>(H), static_cast<long long>(I));
  std::printf("  checkpoint file   %.0f MB (generated in %.1f s)\n", layer_mb, gen_s);
  std::printf("  import wall time  %.1f s (%.0f MB/s)\n", imp_s, layer_mb / imp_s);
  std::printf("  peak RSS          %.1f MB   budget 256 MB   ratio %.3f   (%.4f of the layer)\n", rss_mb, rss_mb / 256.0, rss_mb / layer_mb);
  std::printf("  %s\n", rss_mb < 256.0 ? "PASS: under budget" : "FAIL: over budget");
  if (!std::getenv("MOESIM_BENCH_KEEP")) fs::remove_all(dir);
  return rss_mb < 256.0 ? 0 : 1;
}
