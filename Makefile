# The two Quickstart commands: `make app` and `make test`.
# Both run in the project's own virtual environment ($(VENV), made on first use with `python3 -m venv`):
# Debian/Ubuntu and Homebrew Pythons refuse `pip install` outside one (PEP 668, "externally-managed-environment").
PYTHON ?= python3
VENV ?= .venv
PORT ?= 8501
VENV_PYTHON := $(VENV)/bin/python

.PHONY: app test install install-test samples lint

$(VENV_PYTHON):
	$(PYTHON) -m venv $(VENV)

install: $(VENV_PYTHON)
	$(VENV_PYTHON) -m pip install -q -e .

install-test: $(VENV_PYTHON)
	$(VENV_PYTHON) -m pip install -q -e ".[test]"

app: install
	$(VENV_PYTHON) -m streamlit run app/main.py --server.port $(PORT)

# TensorFlow turns oneDNN on only on CPUs with AVX-512-class features: the channels-first tests run again on the
# other side of that switch, so the suite passes whatever the CPU (tests/test_channels_first.py)
test: install-test
	$(VENV_PYTHON) -m ruff check inspector app tests bench sample_models
	$(VENV)/bin/lint-imports
	$(VENV_PYTHON) -m pytest
	TF_ENABLE_ONEDNN_OPTS=0 $(VENV_PYTHON) -m pytest -q -m channels_first -p no:cacheprovider

samples: install
	$(VENV_PYTHON) sample_models/build.py

lint: install-test
	$(VENV_PYTHON) -m ruff check inspector app tests bench sample_models
