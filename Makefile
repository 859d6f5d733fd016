# The two commands of README.md:  `make book` (run every notebook, build the book) and `make test`.
# PROFILE=auto runs `paper` on a CUDA GPU, else `smoke`; override with PROFILE=quick etc.
PROFILE ?= auto
NOTEBOOKS := $(wildcard notebooks/*.ipynb)
# scripts/setup_env.sh creates/reuses the environment and prints its python on stdout (logs go to stderr)
ENV = py=$$(scripts/setup_env.sh) || exit 1; bin=$$(dirname $$py)

.PHONY: book test env clean

env:
	@$(ENV); echo "environment ready: $$py"

book:
	@$(ENV); set -e; mkdir -p book/chapters; \
	for nb in $(NOTEBOOKS); do \
	  echo "== papermill $$nb (profile $(PROFILE))"; \
	  $$py -m papermill $$nb book/chapters/$$(basename $$nb) -p profile $(PROFILE) -p results_dir _build/results \
	    --cwd . --no-progress-bar; \
	  $$py -m reproduce.chapter book/chapters/$$(basename $$nb); \
	done; \
	$$bin/jupyter-book build . -W -n --keep-going; \
	echo "open _build/html/index.html"

test:
	@$(ENV); $$py -m pytest -q

clean:
	rm -rf _build book/chapters
