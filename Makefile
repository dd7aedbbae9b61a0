# Two entry points do everything on a fresh machine (see README.md):
#   make demo   -- set up, then run the built-in default job
#   make test   -- set up, then run the full test suite, on the optimised build and then on a
#                  debug build (bounds checking, line tracing) of the same tree
VENV   := .venv
PY     := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: setup demo test test-fast test-debug bench fuzz annotate clean

setup:
	@tools/setup-env.sh

demo: setup
	$(VENV)/bin/fastpath demo

test: setup
	$(PY) -m pytest tests $(PYTEST_ARGS)
	tools/test-debug.sh -q tests $(PYTEST_ARGS)

test-fast: setup
	$(PY) -m pytest tests $(PYTEST_ARGS)

# The same suite against a build with bounds checking and line tracing on (built in a copy
# of the tree so the optimised in-place build is not disturbed).
test-debug: setup
	tools/test-debug.sh $(PYTEST_ARGS)

bench: setup
	OPENBLAS_NUM_THREADS=1 $(PY) -m pytest bench --benchmark-only --benchmark-columns=min,median,iqr,rounds $(PYTEST_ARGS)

fuzz: setup
	tools/fuzz.sh

annotate: setup
	FASTPATH_ANNOTATE=1 FASTPATH_FORCE=1 $(PY) setup.py -q build_ext --inplace -j 2
	@echo "HTML annotation written next to each .pyx under pyx/"

clean:
	rm -rf build $(VENV) *.egg-info
	find fastpath -name '*.so' -delete
	find pyx -name '*.c' -delete -o -name '*.html' -delete
