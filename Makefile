# The README's two commands: `make demo` and `make test`. Both set everything up first.
VENV   := .venv
PYTHON := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
ARCH   := $(shell uname -m)
# The torch/torchvision pair that lies on this project's machines (no multi-GB download).
ifeq ($(ARCH),aarch64)
TORCH := torch==2.9.1 torchvision==0.24.1
else
TORCH := torch==2.14.1 torchvision==0.29.1
endif
FASHION_MNIST := /usr/share/datasets/fashion-mnist

.PHONY: setup data browser demo test bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install -q --disable-pip-version-check $(TORCH)
	$(PYTHON) -m pip install -q --disable-pip-version-check -e '.[all]'
	touch $(STAMP)

# The built-in dataset: Debian's real Fashion-MNIST when apt-get can install it.
data:
	@if [ ! -d $(FASHION_MNIST) ] && command -v apt-get >/dev/null 2>&1; then \
		(apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist) >/dev/null 2>&1 \
		|| echo "note: could not install dataset-fashion-mnist; torchvision's downloader will be used"; \
	fi

# The browser the page's tests drive (through Playwright, from the serve extra): Debian's
# chromium, never `playwright install`'s download. Without it those tests skip, saying why.
CHROMIUM := /usr/bin/chromium
browser:
	@if [ ! -x $(CHROMIUM) ] && command -v apt-get >/dev/null 2>&1; then \
		(apt-get update -qq && apt-get install -y -qq chromium) >/dev/null 2>&1 \
		|| echo "note: could not install chromium; the browser tests of tests/serve will be skipped"; \
	fi

# A 0.5 MobileNet at 32 px on the real Fashion-MNIST, on the CPU; --force: runs/demo is the demo's own.
# One compute thread: on the shared 2-core machine, two OpenMP threads ran at 15 img/s next to
# another job, one at 470 img/s (2026-11-25).
DEMO_RUN := runs/demo
demo: setup data
	OMP_NUM_THREADS=1 $(VENV)/bin/mobilenets train --data fashion-mnist --alpha 0.5 --resolution 32 --epochs 4 --batch-size 64 \
		--optimizer adamw --lr 0.003 --schedule cosine --warmup-epochs 0.2 --no-augment --cache --seed 0 \
		--out $(DEMO_RUN) --force
	$(VENV)/bin/mobilenets eval --checkpoint $(DEMO_RUN) --force

test: setup data browser
	$(PYTHON) -m pytest -q

bench: setup data
	@for script in benchmarks/*.py; do \
		case $$script in *_gpu.py) echo "== $$script: for a CUDA machine, skipped (run it there)"; continue;; esac; \
		echo "== $$script"; $(PYTHON) $$script || exit 1; \
	done

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
