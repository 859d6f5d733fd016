# The two commands of README.md:  `make book` (run every notebook, build the book) and `make test`.
# PROFILE=auto runs `paper` on a CUDA GPU, else `smoke`; override with PROFILE=quick etc.
PROFILE ?= auto
PY = $(shell scripts/setup_env.sh | tail -n 1)
NOTEBOOKS := $(wildcard notebooks/*.ipynb)

.PHONY: book test env clean

env:
	@scripts/setup_env.sh

book:
	@py="$(PY)"; bin=$$(dirname $$py); set -e; mkdir -p book/chapters; \
	for nb in $(NOTEBOOKS); do \
	  echo "== papermill $$nb (profile $(PROFILE))"; \
	  $$py -m papermill $$nb book/chapters/$$(basename $$nb) -p profile $(PROFILE) -p results_dir _build/results \
	    --cwd . --no-progress-bar; \
	done; \
	$$bin/jupyter-book build . -W -n --keep-going; \
	echo "open _build/html/index.html"

test:
	@py="$(PY)"; $$py -m pytest -q

clean:
	rm -rf _build book/chapters
