// JSON module throughput on a TUF-shaped targets role of 10,000 and 100,000 targets (about
// 1.2 and 12 MB canonical). Parse input is the compact standard form (and, separately, the
// indent=1 form python-tuf writes); bytes/second counts the document size in each case.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>

#include "core/json/parser.h"
#include "core/json/value.h"
#include "core/json/writer.h"

namespace mdu::json {
namespace {

std::string PseudoHex(uint64_t* state, size_t digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(digits, '0');
  for (char& c : out) {
    *state = *state * 6364136223846793005u + 1442695040888963407u;  // LCG: fixed, reproducible
    c = kHex[(*state >> 60) & 0x0F];
  }
  return out;
}

Value MakeTargetsRole(int count) {
  uint64_t state = 12345;
  Object targets;
  targets.reserve(static_cast<size_t>(count));
  for (int i = 0; i < count; ++i) {
    std::string path =
        "products/pump-" + std::to_string(i % 97) + "/firmware-" + std::to_string(i) + ".bin";
    Value hashes =
        Value::MakeObject({{"sha256", PseudoHex(&state, 64)}, {"sha512", PseudoHex(&state, 128)}});
    targets.emplace_back(
        std::move(path),
        Value::MakeObject({{"length", int64_t{1000000} + i},
                           {"hashes", std::move(hashes)},
                           {"custom", Value::MakeObject({{"version", "1.2.3"}})}}));
  }
  Value signed_part = Value::MakeObject({{"_type", "targets"},
                                         {"expires", "2030-01-01T00:00:00Z"},
                                         {"spec_version", "1.0.31"},
                                         {"version", 1},
                                         {"targets", Value::MakeObject(std::move(targets))}});
  Array signatures;
  for (int i = 0; i < 2; ++i) {
    signatures.push_back(
        Value::MakeObject({{"keyid", PseudoHex(&state, 64)}, {"sig", PseudoHex(&state, 128)}}));
  }
  return Value::MakeObject({{"signed", std::move(signed_part)}, {"signatures", signatures}});
}

const Value& Role(int count) {
  static auto* cache = new std::map<int, Value>();
  auto it = cache->find(count);
  if (it == cache->end()) it = cache->emplace(count, MakeTargetsRole(count)).first;
  return it->second;
}

const std::string& Text(int count, int indent) {
  static auto* cache = new std::map<std::pair<int, int>, std::string>();
  auto key = std::make_pair(count, indent);
  auto it = cache->find(key);
  if (it == cache->end()) it = cache->emplace(key, Serialize(Role(count), indent)).first;
  return it->second;
}

// free_tree: whether freeing the parsed tree is timed too (it is a large share: one heap
// block per string and container).
void RunParse(benchmark::State& state, int indent, bool free_tree) {
  const std::string& text = Text(static_cast<int>(state.range(0)), indent);
  for (auto _ : state) {
    auto v = Parse(text);
    if (!v) {
      state.SkipWithError(v.error().message().c_str());
      break;
    }
    benchmark::DoNotOptimize(v);
    if (!free_tree) state.PauseTiming();
    v = Value();
    if (!free_tree) state.ResumeTiming();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["doc_bytes"] = static_cast<double>(text.size());
}

void BM_Parse(benchmark::State& state) { RunParse(state, 0, false); }
void BM_ParseAndFree(benchmark::State& state) { RunParse(state, 0, true); }
void BM_ParseIndent1(benchmark::State& state) { RunParse(state, 1, false); }

void BM_Canonical(benchmark::State& state) {
  const Value& role = Role(static_cast<int>(state.range(0)));
  size_t bytes = 0;
  for (auto _ : state) {
    std::string out = Canonical(role);
    bytes = out.size();
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  state.counters["doc_bytes"] = static_cast<double>(bytes);
}

void RunSerialize(benchmark::State& state, int indent) {
  const Value& role = Role(static_cast<int>(state.range(0)));
  size_t bytes = 0;
  for (auto _ : state) {
    std::string out = Serialize(role, indent);
    bytes = out.size();
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  state.counters["doc_bytes"] = static_cast<double>(bytes);
}

void BM_Serialize(benchmark::State& state) { RunSerialize(state, 0); }
void BM_SerializeIndent1(benchmark::State& state) { RunSerialize(state, 1); }

BENCHMARK(BM_Parse)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ParseAndFree)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ParseIndent1)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Canonical)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Serialize)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_SerializeIndent1)->Arg(10000)->Arg(100000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace mdu::json

BENCHMARK_MAIN();
