// The safetensors reader on hostile files: every malformed header or offset table is an
// InputError naming the file (and tensor), never a crash or an out-of-bounds read. Valid files
// here are written by write_safetensors and checked byte for byte against the format rules
// (u64 LE length, '{', 8-byte padded header, contiguous offsets), and read back by rows.
#include "traces/import/safetensors.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "sim/core/error.hpp"

namespace {

using moesim::InputError;
using namespace moesim::traces::import;

std::string tmp(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("moesim_st_" + std::to_string(::getpid()) + "_" + name)).string();
}

std::string write_raw(const std::string& name, const std::string& header, std::size_t data_bytes, std::int64_t len_override = -1) {
  const std::string p = tmp(name);
  std::ofstream f(p, std::ios::binary);
  std::uint64_t n = len_override >= 0 ? static_cast<std::uint64_t>(len_override) : header.size();
  for (int i = 0; i < 8; ++i) f.put(static_cast<char>(n >> (8 * i)));
  f << header << std::string(data_bytes, '\x01');
  return p;
}

std::string error_of(const std::string& path) {
  try {
    SafetensorsFile f(path);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(Safetensors, HostileHeadersAreInputErrors) {
  const std::string ok = R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})";
  EXPECT_EQ(error_of(write_raw("ok", ok, 16)), "");
  struct Case {
    const char* name;
    std::string header;
    std::size_t data;
    std::int64_t len;
    const char* expect;
  };
  const Case cases[] = {
      {"len_past_eof", ok, 16, 1 << 20, "exceeds the file size"},
      {"len_huge", ok, 16, 200'000'000, "100000000-byte limit"},
      {"not_brace", " " + ok, 16, -1, "begin with '{'"},
      {"bad_json", R"({"a":{"dtype":"F32",)", 16, -1, "malformed JSON"},
      {"unknown_dtype", R"({"a":{"dtype":"F7","shape":[4],"data_offsets":[0,16]}})", 16, -1, "unknown safetensors dtype 'F7'"},
      {"span_mismatch", R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}})", 12, -1, "needs 16"},
      {"end_past_buffer", R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})", 8, -1, "beyond the byte buffer"},
      {"hole", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8, -1, "hole"},
      {"overlap", R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12, -1, "overlap"},
      {"unindexed_tail", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 8, -1, "not fully indexed"},
      {"overflow", R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,16]}})", 16, -1, "overflows"},
      {"negative_dim", R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4, -1, "negative"},
      {"end_before_begin", R"({"a":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}})", 4, -1, "before BEGIN"},
      {"metadata_not_string", R"({"__metadata__":{"x":1},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})", 1, -1, "must be strings"},
      {"offsets_not_pair", R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0]}})", 1, -1, "[BEGIN, END]"},
      {"f4_half_byte", R"({"a":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}})", 2, -1, "whole number of bytes"},
  };
  for (const auto& c : cases) {
    const std::string p = write_raw(c.name, c.header, c.data, c.len);
    const std::string e = error_of(p);
    EXPECT_NE(e.find(p), std::string::npos) << c.name << ": " << e;
    EXPECT_NE(e.find(c.expect), std::string::npos) << c.name << ": " << e;
  }
  const std::string trunc = tmp("short");
  std::ofstream(trunc, std::ios::binary) << "abc";
  EXPECT_NE(error_of(trunc).find("truncated"), std::string::npos);
}

TEST(Safetensors, WriterFollowsTheFormatAndRowsReadBack) {
  std::vector<std::uint8_t> a(24), b(3);
  for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<std::uint8_t>(i);
  b = {7, 8, 9};
  const std::string p = tmp("rt.safetensors");
  write_safetensors(p, {{"x", "BF16", {3, 4}, a.data(), a.size()}, {"y", "U8", {3}, b.data(), b.size()}}, {{"format", "pt"}});
  std::ifstream in(p, std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(all[static_cast<std::size_t>(i)]);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(all[8], '{');
  EXPECT_EQ(all.size(), 8 + n + 27);
  SafetensorsFile f(p);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  EXPECT_EQ(f.info("x").shape, (std::vector<std::int64_t>{3, 4}));
  const auto row = f.read_rows("x", 1, 2);
  ASSERT_EQ(row.size(), 16u);
  EXPECT_EQ(row[0], 8);
  EXPECT_EQ(f.read("y"), b);
  EXPECT_THROW(f.read_rows("x", 2, 2), InputError);
  EXPECT_THROW(f.read("z"), InputError);
}

}  // namespace
